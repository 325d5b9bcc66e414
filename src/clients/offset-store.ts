/**
 * Committed consumer-group offsets, in the engine's LevelDB (`level`), next to the topic records.
 *
 * | key                                             | value (JSON)                                  |
 * |-------------------------------------------------|-----------------------------------------------|
 * | `offset:<groupId>\0<topic>\0<partition, 10 digits>` | `{ offset, metadata, commitTimestamp }`    |
 * | `group:<groupId>`                               | `{ groupId, createdAt }` (known groups)       |
 *
 * The committed offset is the **next** offset to read (Kafka's rule). A commit of many partitions is one
 * LevelDB batch written with `sync: true`: after a crash either all of it is there or none of it. Commits that
 * arrive while a batch is being written are written together in the next one (each still whole, in arrival
 * order, a later offset for a partition replacing an earlier one), and each resolves once that batch is synced.
 * Group ids and topic names cannot contain `\0` (topic names are `[a-zA-Z0-9._-]`; group ids are checked).
 *
 * What losing them means: the offsets live only here (not beside the data, unlike topic configs). The store's
 * files are checked at open, so a damaged one fails the open with CORRUPT_LOG rather than dropping commits; a
 * store rebuilt after missing files (or a deleted `.seglog/meta`) has lost the commits only those files held,
 * and a group without a committed offset for a partition starts where `fromBeginning`/`autoOffsetReset` say:
 * the earliest offset re-delivers (at-least-once holds), `'latest'` skips what was not yet consumed.
 *
 * Why it lives with the clients: its records are group state (Kafka keeps them in the group coordinator's
 * `__consumer_offsets`), and only consumers and group admin read or write them. The engine merely hands it the
 * metadata LevelDB at open and, when a topic is deleted, asks for the topic's keys so they go in the same
 * atomic batch as the topic record.
 *
 * Concurrency: calls may overlap; each commit lands atomically in one LevelDB batch. Writes of this store
 * (commits, `register`, `deleteGroup`) are applied in call order, and `topicKeys` sees every commit called before it.
 */
import type { Level } from 'level'
import { levelError } from '../engine/metadata.js'
import { corruptLog } from '../errors.js'

export interface CommittedOffset {
  topic: string
  partition: number
  offset: number
  metadata: string | null
  commitTimestamp: number
}

export interface OffsetCommit {
  topic: string
  partition: number
  offset: number
  metadata?: string | null
}

const OFFSET_PREFIX = 'offset:'
const GROUP_PREFIX = 'group:'

/** A stored offset value, checked: a value that is not one is CORRUPT_LOG (never a NaN offset). */
function parseOffset(key: string, value: string, location: string): Omit<CommittedOffset, 'topic' | 'partition'> {
  let v: Record<string, unknown> | null = null
  try {
    const parsed = JSON.parse(value) as unknown
    if (parsed !== null && typeof parsed === 'object') v = parsed as Record<string, unknown>
  } catch {
    // not JSON: reported below
  }
  const offset = v?.offset
  const metadata = v?.metadata
  const commitTimestamp = v?.commitTimestamp
  if (
    typeof offset !== 'number' ||
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    (metadata !== null && typeof metadata !== 'string') ||
    typeof commitTimestamp !== 'number'
  ) {
    throw corruptLog(`committed offset '${key.replace(/\0/g, '/')}' is not a valid record`, location)
  }
  return { offset, metadata, commitTimestamp }
}

function offsetKey(groupId: string, topic: string, partition: number): string {
  return `${OFFSET_PREFIX}${groupId}\0${topic}\0${String(partition).padStart(10, '0')}`
}

/** Commits gathered while a write is in progress: their puts (key → value, later ones replacing) and callers. */
interface PendingCommits {
  puts: Map<string, string>
  /** The groups that committed, with the time of their first commit here (their record's `createdAt`). */
  groups: Map<string, number>
  done: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

export class OffsetStore {
  /**
   * Groups whose `group:` record this store wrote or found: a commit of theirs need not write it again (it did
   * on every commit, one more op per LevelDB batch). A deleted group is forgotten.
   */
  private readonly knownGroups = new Set<string>()
  /** Commits not yet written, queued behind the writes called before them; later commits join them. */
  private pending: PendingCommits | null = null
  /** The last write queued (commits, register and deleteGroup are written one at a time, in call order). */
  private tail: Promise<void> = Promise.resolve()

  constructor(
    private readonly db: Level<string, string>,
    private readonly clock: () => number,
  ) {}

  /**
   * Commits all `offsets` of `groupId` atomically and durably. Measured in the clients bench (3 consumers
   * committing after every batch): one LevelDB batch per commit cost ~12% of the process's CPU, mostly
   * per-call and per-op work in abstract-level and the binding, hence the shared batches and no group record
   * per commit.
   */
  commit(groupId: string, offsets: readonly OffsetCommit[]): Promise<void> {
    const now = this.clock()
    const puts: [key: string, value: string][] = []
    try {
      for (const o of offsets) {
        const value = JSON.stringify({ offset: o.offset, metadata: o.metadata ?? null, commitTimestamp: now })
        puts.push([offsetKey(groupId, o.topic, o.partition), value])
      }
    } catch (err) {
      return Promise.reject(err)
    }
    let batch = this.pending
    if (batch === null) {
      let resolve!: () => void
      let reject!: (err: unknown) => void
      const done = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      const created: PendingCommits = { puts: new Map(), groups: new Map(), done, resolve, reject }
      void this.enqueue(() => this.writeCommits(created)).catch(() => {})
      this.pending = batch = created
    }
    if (!batch.groups.has(groupId)) batch.groups.set(groupId, now)
    for (const [key, value] of puts) batch.puts.set(key, value)
    return batch.done
  }

  /**
   * Runs `write` after every write called before it (writes never overlap). Pending commits are closed first:
   * a commit called after this write goes after it.
   */
  private enqueue(write: () => Promise<void>): Promise<void> {
    this.pending = null
    const run = this.tail.then(write)
    this.tail = run.catch(() => {})
    return run
  }

  /**
   * Writes gathered commits as one synced batch (with the record of each group not known yet) and settles their
   * callers. Whether a group is known is decided here, in write order, so a deleteGroup before it is seen.
   */
  private async writeCommits(batch: PendingCommits): Promise<void> {
    if (this.pending === batch) this.pending = null
    const ops: { type: 'put'; key: string; value: string }[] = []
    for (const [groupId, createdAt] of batch.groups) {
      if (this.knownGroups.has(groupId)) continue
      ops.push({ type: 'put', key: GROUP_PREFIX + groupId, value: JSON.stringify({ groupId, createdAt }) })
    }
    for (const [key, value] of batch.puts) ops.push({ type: 'put', key, value })
    try {
      await this.db.batch(ops, { sync: true })
    } catch (err) {
      batch.reject(levelError(err, 'commit offsets', this.db.location))
      return
    }
    for (const groupId of batch.groups.keys()) this.knownGroups.add(groupId)
    batch.resolve()
  }

  /** Every committed offset of a group (optionally of one topic). */
  async fetch(groupId: string, topic?: string): Promise<CommittedOffset[]> {
    const base = topic === undefined ? `${OFFSET_PREFIX}${groupId}\0` : `${OFFSET_PREFIX}${groupId}\0${topic}\0`
    const out: CommittedOffset[] = []
    try {
      for await (const [key, value] of this.db.iterator({ gte: base, lt: `${base}\xff` })) {
        const [, t, p] = key.slice(OFFSET_PREFIX.length).split('\0')
        out.push({ topic: t, partition: Number(p), ...parseOffset(key, value, this.db.location) })
      }
    } catch (err) {
      throw levelError(err, 'read offsets', this.db.location)
    }
    return out
  }

  /** Group ids that ever committed (or were registered). */
  async groups(): Promise<string[]> {
    const out: string[] = []
    try {
      for await (const key of this.db.keys({ gte: GROUP_PREFIX, lt: `${GROUP_PREFIX}\xff` })) {
        out.push(key.slice(GROUP_PREFIX.length))
      }
    } catch (err) {
      throw levelError(err, 'read groups', this.db.location)
    }
    return out
  }

  register(groupId: string): Promise<void> {
    return this.enqueue(async () => {
      if (this.knownGroups.has(groupId)) return
      try {
        if ((await this.db.get(GROUP_PREFIX + groupId)) === undefined) {
          await this.db.put(GROUP_PREFIX + groupId, JSON.stringify({ groupId, createdAt: this.clock() }), {
            sync: true,
          })
        }
      } catch (err) {
        throw levelError(err, 'register group', this.db.location)
      }
      this.knownGroups.add(groupId)
    })
  }

  /** Deletes a group and all its committed offsets (those of every commit called before), atomically. */
  deleteGroup(groupId: string): Promise<void> {
    return this.enqueue(async () => {
      this.knownGroups.delete(groupId)
      const ops: { type: 'del'; key: string }[] = [{ type: 'del', key: GROUP_PREFIX + groupId }]
      const base = `${OFFSET_PREFIX}${groupId}\0`
      try {
        for await (const key of this.db.keys({ gte: base, lt: `${base}\xff` })) ops.push({ type: 'del', key })
        await this.db.batch(ops, { sync: true })
      } catch (err) {
        throw levelError(err, 'delete group', this.db.location)
      }
    })
  }

  /**
   * Keys of every group's offsets for `topic`, after every commit called before (deleteTopic removes them in the
   * batch that deletes the topic).
   */
  async topicKeys(topic: string): Promise<string[]> {
    await this.tail
    const keys: string[] = []
    try {
      for await (const key of this.db.keys({ gte: OFFSET_PREFIX, lt: `${OFFSET_PREFIX}\xff` })) {
        if (key.split('\0')[1] === topic) keys.push(key)
      }
    } catch (err) {
      throw levelError(err, 'read offsets', this.db.location)
    }
    return keys
  }
}
