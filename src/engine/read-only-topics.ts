/**
 * The topics of a read-only open, as the partition directories' `topic.json` files describe them.
 *
 * Why the files and not the metadata store: LevelDB takes a process lock, so a second process cannot open the
 * owner's store at all, and the owner already mirrors every topic record into each partition directory, written
 * crash-safely (tmp → fsync → rename) right after each change is committed, as the copy it recovers lost metadata
 * from. Reading them needs no lock, no LevelDB and no write, and sees each file whole (a rename replaces it).
 *
 * What a reader sees of a topic operation in progress: a topic exists once its `<topic>-<p>` directories do (an
 * owner renames `-create` directories into place after the commit); a deletion hides the topic once all its
 * directories are renamed to `-delete` (one after another, before the commit); a config change or growth shows once
 * partition 0's topic file is rewritten (the owner rewrites them in partition order, right after the commit). A
 * topic's record is the sound topic file of its lowest-numbered partition directory: every directory holds the same
 * record when no change is under way, and reading one file per topic keeps listing topics quick on directories of
 * thousands of partitions. These rules are topic-listing.ts's `topicsOf`, which `seglog topics` lists by too.
 *
 * The view is refreshed on `refresh()` (a lookup that misses calls it; listing topics calls it when the root
 * directory changed, describing one when its topic file did): only topic files whose identity changed are read
 * again. A partition's log is opened (read-only) on first use.
 * A topic that disappears, or is replaced by one of a new id, is retired: its partitions' waiters are woken (live
 * streams on it end) and its logs closed. A topic whose record changed keeps its state (streams go on): config and
 * partition count follow the record.
 *
 * Concurrency: one event loop; lookups are synchronous.
 */
import type { TopicConfig } from '../config.js'
import { ioError, SeglogError } from '../errors.js'
import type { PartitionLog } from '../log/partition-log.js'
import { StickyPartitioner } from '../partitioner.js'
import { TOPIC_FILE } from '../segment/file-names.js'
import type { EngineContext, PartitionState, TopicState } from './context.js'
import type { TopicRecord } from './metadata.js'
import type { TopicLookup } from './reads.js'
import { NOT_A_DIR, partitionDirName, readTopicFile, type TopicFileRead } from './topic-dirs.js'
import { topicConfigOf, topicsOf } from './topic-listing.js'
import { describePartitionLog, describeTopicState, type PartitionDescription, type TopicDescription } from './topics.js'

/** What the view needs from the read-only engine. */
export interface ReadOnlyTopicsHost {
  readonly ctx: EngineContext
  /** Engine-wide topic defaults (the reader's own, else the owner's). */
  readonly defaults: Partial<TopicConfig>
  /** Identity of a file (see read-only-fs.ts), to read only the topic files that changed. */
  fileIdentity(path: string): string | null
  /** Stamp of a directory (inode and mtime, see read-only-fs.ts), to tell that its entries did not change. */
  dirStamp(path: string): { stamp: string; mtimeMs: number } | null
  /** Opens a partition's log read-only. */
  openLog(topic: TopicState, partition: number, dir: string): PartitionLog
  /** The first waiter of a partition arrived: follow its directory. */
  follow(p: ReadOnlyPartition): void
  /** The partition is going away (topic retired or engine closing): stop following it. */
  unfollow(p: ReadOnlyPartition): void
}

/** A partition's waiters (the reads room's): adding one makes the engine follow the partition's directory. */
class FollowedWaiters extends Set<() => void> {
  constructor(private readonly onAdd: () => void) {
    super()
  }

  override add(waiter: () => void): this {
    super.add(waiter)
    this.onAdd()
    return this
  }
}

/** A partition of a read-only open: its log is opened on first use. */
export class ReadOnlyPartition implements PartitionState {
  flushTimer: NodeJS.Timeout | null = null
  readonly waiters: Set<() => void>
  #log: PartitionLog | null = null

  constructor(
    readonly topic: TopicState,
    readonly index: number,
    readonly dir: string,
    private readonly host: ReadOnlyTopicsHost,
  ) {
    this.waiters = new FollowedWaiters(() => host.follow(this))
  }

  get log(): PartitionLog {
    this.#log ??= this.host.openLog(this.topic, this.index, this.dir)
    return this.#log
  }

  /** The log if it was opened, else null. */
  get opened(): PartitionLog | null {
    return this.#log
  }
}

type LogFields = Omit<PartitionDescription, 'partition'>

/** Per lazy description: its partition, then (once read) its log fields. */
const lazyState = new WeakMap<object, { p: PartitionState; read: LogFields | null }>()

function logFields(d: object): LogFields {
  const s = lazyState.get(d) as { p: PartitionState; read: LogFields | null }
  if (s.read === null) {
    const { log } = s.p
    log.refresh()
    s.read = describePartitionLog(log)
  }
  return s.read
}

/** The accessors of every lazy description, shared (no closure per partition). */
const LAZY_FIELDS: PropertyDescriptorMap = Object.fromEntries(
  (['logStartOffset', 'logEndOffset', 'segments', 'bytes'] as const).map((field) => [
    field,
    {
      enumerable: true,
      get(this: object) {
        return logFields(this)[field]
      },
    },
  ]),
)

/** A partition's description whose log fields are read on first access (see `describe`). */
function lazyDescription(p: PartitionState): PartitionDescription {
  const d = { partition: p.index }
  lazyState.set(d, { p, read: null })
  return Object.defineProperties(d, LAZY_FIELDS) as PartitionDescription
}

/** How long after a directory's last change its mtime is trusted to tell a later change (coarse kernel clock). */
const SETTLED_MS = 50

interface FileEntry {
  identity: string | null
  read: TopicFileRead
}

export class ReadOnlyTopics implements TopicLookup {
  private readonly topics = new Map<string, TopicState>()
  /** The last read of each partition directory's topic file, by directory name. */
  private readonly files = new Map<string, FileEntry>()
  /** The directory whose topic file gave each topic its record. */
  private readonly sources = new Map<string, string>()
  /** The root directory's stamp when it was last listed, and when that was (`refreshNames`). */
  private listed: { stamp: string; mtimeMs: number; at: number } | null = null
  /**
   * The view was refreshed in the current synchronous run (cleared on the next microtask): nothing this process
   * does can have changed the directory since, so `refreshNames` and `refreshTopic` need not look again.
   */
  private freshThisTurn = false

  constructor(private readonly host: ReadOnlyTopicsHost) {}

  /**
   * The set of topics as of now, for `listTopics`: which topics exist changes only with the root directory's
   * entries (partition directories renamed in and out), so an unchanged root is not listed again. Its mtime has the
   * kernel's coarse clock: a listing taken within a few milliseconds of the last change does not count as settled.
   */
  refreshNames(): void {
    if (this.freshThisTurn) return
    const now = this.host.dirStamp(this.host.ctx.realDir)
    const l = this.listed
    if (now !== null && l !== null && now.stamp === l.stamp && l.at - l.mtimeMs > SETTLED_MS) return
    this.refresh()
  }

  /** Reads the directory again (see the header). IO_ERROR when the directory cannot be listed. */
  refresh(): void {
    if (!this.freshThisTurn) {
      this.freshThisTurn = true
      queueMicrotask(() => {
        this.freshThisTurn = false
      })
    }
    const { fs, realDir } = this.host.ctx
    const stamp = this.host.dirStamp(realDir)
    this.listed = stamp === null ? null : { ...stamp, at: Date.now() }
    let names: string[]
    try {
      names = fs.readdir(realDir)
    } catch (err) {
      throw ioError(err, 'readdir', realDir)
    }
    // The rules of what is a topic and which file gives its record are the listing's (topic-listing.ts).
    const { topics: chosen, read: seen } = topicsOf(names, (name) => this.topicFile(name))
    this.sources.clear()
    for (const [topic, { dir }] of chosen) this.sources.set(topic, dir)
    for (const name of this.files.keys()) if (!seen.has(name)) this.files.delete(name)
    for (const [name, t] of this.topics) {
      const record = chosen.get(name)?.record
      if (record === undefined || record.id !== t.record.id) this.retire(name, t)
    }
    for (const [name, { record }] of chosen) {
      const t = this.topics.get(name)
      if (t === undefined) this.topics.set(name, this.newTopic(record))
      else if (record.epoch !== t.record.epoch) this.update(t, record)
    }
  }

  private newTopic(record: TopicRecord): TopicState {
    const t: TopicState = {
      record,
      config: topicConfigOf(record, this.host.defaults),
      partitions: [],
      sticky: new StickyPartitioner(),
    }
    this.grow(t)
    return t
  }

  private grow(t: TopicState): void {
    const { realDir } = this.host.ctx
    for (let p = t.partitions.length; p < t.record.partitions; p++) {
      const dir = `${realDir}/${partitionDirName(t.record.name, p)}`
      t.partitions.push(new ReadOnlyPartition(t, p, dir, this.host))
    }
  }

  /** A newer record of the same topic: config and partition count follow it. */
  private update(t: TopicState, record: TopicRecord): void {
    t.record = record
    t.config = topicConfigOf(record, this.host.defaults)
    this.grow(t)
  }

  private retire(name: string, t: TopicState): void {
    this.topics.delete(name)
    for (const p of t.partitions) this.release(p as ReadOnlyPartition)
  }

  /** Wakes a partition's waiters (they see it gone) and closes its log. */
  private release(p: ReadOnlyPartition): void {
    this.host.unfollow(p)
    const waiters = [...p.waiters]
    p.waiters.clear()
    for (const w of waiters) w()
    p.opened?.close().catch(() => {})
  }

  /** Retires every topic (engine closing). */
  close(): void {
    for (const [name, t] of [...this.topics]) this.retire(name, t)
  }

  // ---- lookups (TopicLookup) ----

  topic(name: string): TopicState {
    if (typeof name !== 'string') throw new TypeError(`topic must be a string, got ${typeof name}`)
    let t = this.topics.get(name)
    if (t === undefined) {
      this.refresh()
      t = this.topics.get(name)
    }
    if (t === undefined) throw new SeglogError('TOPIC_NOT_FOUND', `topic '${name}' does not exist`)
    return t
  }

  partition(topic: TopicState, partition: number): PartitionState {
    if (typeof partition !== 'number' || !Number.isInteger(partition)) {
      throw new TypeError(`partition must be an integer, got ${String(partition)}`)
    }
    if (partition >= topic.partitions.length && this.topics.get(topic.record.name) === topic) this.refresh()
    const p = topic.partitions[partition]
    if (p === undefined) {
      throw new SeglogError(
        'PARTITION_NOT_FOUND',
        `topic '${topic.record.name}' has partitions 0..${topic.partitions.length - 1}, not ${partition}`,
      )
    }
    return p
  }

  find(name: string): TopicState | undefined {
    return this.topics.get(name)
  }

  all(): Iterable<TopicState> {
    return this.topics.values()
  }

  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions.length
  }

  names(): string[] {
    return [...this.topics.keys()].sort()
  }

  /**
   * Brings one topic up to date: its topic files are looked at again (a stat each), and the whole view is
   * refreshed when one changed, a partition directory went, or the topic is not known.
   */
  refreshTopic(name: string): void {
    if (this.freshThisTurn) return
    const t = this.topics.get(name)
    const source = this.sources.get(name)
    if (t === undefined || source === undefined) {
      this.refresh()
      return
    }
    const { realDir } = this.host.ctx
    const identity = this.host.fileIdentity(`${realDir}/${source}/${TOPIC_FILE}`)
    // The directory past the partition count is looked for too: a topic that grew.
    const grown = this.host.fileIdentity(`${realDir}/${partitionDirName(name, t.partitions.length)}/${TOPIC_FILE}`)
    if (identity === null || identity !== this.files.get(source)?.identity || grown !== null) this.refresh()
  }

  /**
   * The topic file of partition directory `name` (read again only when its identity changed); null: not a directory.
   * A file read for the first time is read without its identity (a stat each; ~24 of ~146 ms of the first listing
   * of 1,000 topics, which is all a one-shot reader such as `seglog topics` does): its entry keeps a null identity,
   * which no identity matches, so the next refresh reads it again, and from then on only when it changed.
   */
  private topicFile(name: string): TopicFileRead | null {
    const dir = `${this.host.ctx.realDir}/${name}`
    let entry = this.files.get(name)
    // The identity is taken before the read: a file replaced in between is read again next time.
    const identity = entry === undefined ? null : this.host.fileIdentity(`${dir}/${TOPIC_FILE}`)
    if (entry === undefined || identity === null || entry.identity !== identity) {
      const read = readTopicFile(this.host.ctx.fs, dir)
      if (read === NOT_A_DIR) return null
      entry = { identity, read }
      this.files.set(name, entry)
    }
    return entry.read
  }

  /**
   * As the owner's `describeTopic`. The config is the view's; each partition's offsets, segments and bytes are read
   * (the log opened and brought up to date) when first looked at, all four at once, so describing a topic of many
   * partitions for its config or partition count opens none of them.
   */
  describe(name: string): TopicDescription {
    return describeTopicState(this.topic(name), lazyDescription)
  }
}
