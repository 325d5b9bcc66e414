/**
 * `Seglog.open(dir, { readOnly: true })`: a directory opened without ownership and without writing a byte, while its
 * owner (another process, or nobody) goes on. What it gives, and where each part comes from:
 * - topics and configs: the partition directories' `topic.json` files (read-only-topics.ts); the engine defaults
 *   are the reader's own `defaults`, else those the last owner recorded in `.seglog/owner.json`;
 * - reads, offsets, `offsetForTimestamp`, `stream` (live streams too): the reads room, over partition logs opened
 *   read-only (src/log/partition-log.ts): complete, CRC-checked batches only, compaction's temporary files ignored,
 *   deleted and replaced segments noticed; a read at the log end looks at the files again;
 * - live streams and waits: woken by file watches on the partition directories, with a slow poll beside them
 *   (read-only-follow.ts);
 * - committed group offsets (`fetchOffsets`, `listGroups`, `describeGroup`): a snapshot copy of the owner's
 *   metadata store (read-only-groups.ts), since LevelDB's process lock keeps a second process out of the store.
 *   Members live in the owner's process, so groups show as `Empty` with their committed offsets and lags.
 * Every writing method throws READ_ONLY (a rejected promise where the method returns one); `flush()` resolves (this
 * open wrote nothing). Every file operation goes through a file system that can only read (read-only-fs.ts).
 * Several read-only opens and one owner may use a directory at once, in any processes.
 *
 * Lifecycle: `open → closed`. `close()` stops following, ends live streams, closes every file and removes the
 * snapshot copy; it is idempotent.
 */
import * as path from 'node:path'
import type { ConsumerOptions } from '../clients/consumer.js'
import type { GroupDescription, Groups } from '../clients/group-admin.js'
import type { CommittedOffset } from '../clients/offset-store.js'
import type { ProducerOptions } from '../clients/producer.js'
import { CodecRegistry } from '../compression.js'
import type { TopicConfig } from '../config.js'
import { engineChannel } from '../diagnostics.js'
import { ioError, SeglogError } from '../errors.js'
import { BoundedFileSystem } from '../io/bounded-fs.js'
import { nodeFileSystem } from '../io/file-system.js'
import { PartitionLog } from '../log/partition-log.js'
import type { AppendOptions, Message, RecordMetadata, SeglogRecord } from '../records.js'
import { BatchCache } from '../segment/batch-cache.js'
import type { EngineContext, TopicState } from './context.js'
import { type EngineEvent, type EngineStatus, type ListenOptions, type SeglogOptions, TEST_HOOKS } from './options.js'
import { Follower } from './read-only-follow.js'
import { dirStamp, fileIdentity, readOnlyFileSystem } from './read-only-fs.js'
import { MetaSnapshot } from './read-only-groups.js'
import { type ReadOnlyPartition, ReadOnlyTopics } from './read-only-topics.js'
import { type ReadOptions, Reads, type StreamOptions } from './reads.js'
import { Seglog } from './seglog.js'
import { recordedDefaults } from './topic-listing.js'
import { logConfigOf, type TopicDescription } from './topics.js'

const META_DIR = '.seglog'

/** Every public member of `Seglog`: what a read-only open must answer, so it can stand for one. */
type SeglogSurface = { [K in keyof Seglog]: Seglog[K] }

function readOnly(what: string, dir: string): SeglogError {
  return new SeglogError('READ_ONLY', `${dir} is open read-only: ${what} needs the directory's owner`)
}

export class ReadOnlySeglog implements SeglogSurface {
  readonly dir: string
  readonly realDir: string
  #closed = false
  readonly #ctx: EngineContext
  readonly #topics: ReadOnlyTopics
  readonly #reads: Reads
  readonly #follower: Follower
  readonly #snapshot: MetaSnapshot
  readonly #batchCache = new BatchCache()

  private constructor(dir: string, realDir: string, options: SeglogOptions, defaults: Partial<TopicConfig>) {
    this.dir = dir
    this.realDir = realDir
    const hooks = options[TEST_HOOKS] ?? {}
    const listener = options.onEvent ?? (() => {})
    const codecs = new CodecRegistry()
    for (const [name, codec] of Object.entries(options.codecs ?? {})) {
      if (codec) codecs.register(name as 'gzip' | 'snappy' | 'lz4' | 'zstd', codec)
    }
    const fs = new BoundedFileSystem(readOnlyFileSystem(hooks.fs ?? nodeFileSystem), {
      maxOpenFiles: options.maxOpenFiles ?? 512,
      // The owner may replace a segment under its name (compaction's swap) while its handle here is evicted.
      sameFileOnReopen: true,
    })
    this.#ctx = {
      dir,
      realDir,
      fs,
      clock: options.clock ?? Date.now,
      onEvent: (event: EngineEvent) => {
        if (engineChannel.hasSubscribers) engineChannel.publish({ dir: realDir, ...event })
        listener(event)
      },
      codecs,
      // A read-only log's batches are checked by the reads that reach them (the owner may still be writing them).
      verifyInBackground: false,
      isOpen: () => !this.#closed,
      assertOpen: () => this.assertOpen(),
      track: (work) => work,
    }
    const ctx = this.#ctx
    // An injected file system (tests) is not the one node:fs sees: without identities every file is read again.
    const identity = hooks.fs === undefined ? fileIdentity : () => null
    this.#follower = new Follower({
      refresh: (p) => p.log.refresh(),
      gone: () => this.#topics.refresh(),
    })
    const engineDefaults = Object.keys(defaults).length > 0 ? defaults : recordedDefaults(ctx.fs, ctx.realDir)
    this.#topics = new ReadOnlyTopics({
      ctx,
      defaults: engineDefaults,
      fileIdentity: identity,
      dirStamp: hooks.fs === undefined ? dirStamp : () => null,
      openLog: (topic: TopicState, partition: number, dir: string) =>
        PartitionLog.openReadOnly(dir, {
          config: logConfigOf(topic.config),
          fs,
          clock: ctx.clock,
          decompress: codecs.decompressor,
          batchCache: this.#batchCache,
          fileIdentity: identity,
          onEvent: (e) => ctx.onEvent({ ...e, topic: topic.record.name, partition }),
        }),
      follow: (p: ReadOnlyPartition) => this.#follower.follow(p),
      unfollow: (p: ReadOnlyPartition) => this.#follower.unfollow(p),
    })
    this.#reads = new Reads(ctx, this.#topics)
    this.#snapshot = new MetaSnapshot(fs, path.join(realDir, META_DIR, 'meta'), ctx.clock)
  }

  /** See `Seglog.open` with `readOnly: true` and the module header. IO_ERROR when `dir` cannot be read. */
  static async open(dir: string, options: SeglogOptions, defaults: Partial<TopicConfig>): Promise<ReadOnlySeglog> {
    let realDir: string
    const fs = options[TEST_HOOKS]?.fs ?? nodeFileSystem
    try {
      realDir = (await import('node:fs')).realpathSync(dir)
      fs.readdir(realDir)
    } catch (err) {
      throw ioError(err, 'open read-only', dir)
    }
    // The topics are read on first use: a caller that lists them right away reads them once.
    return new ReadOnlySeglog(dir, realDir, options, defaults)
  }

  // ---- lifecycle ----

  get status(): EngineStatus {
    return this.#closed ? 'closed' : 'open'
  }

  assertOpen(): void {
    if (this.#closed) throw new SeglogError('ENGINE_CLOSED', `seglog at ${this.dir} is closed`)
  }

  #refuse(what: string): SeglogError {
    this.assertOpen()
    return readOnly(what, this.dir)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#follower.close()
    this.#topics.close()
    await this.#snapshot.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async listen(_options: ListenOptions): Promise<{ host: string; port: number }> {
    throw this.#refuse('listen')
  }

  address(): { host: string; port: number } | null {
    return null
  }

  // ---- topics ----

  async createTopic(_name: string, _options?: unknown): Promise<void> {
    throw this.#refuse('createTopic')
  }

  listTopics(): string[] {
    this.assertOpen()
    this.#topics.refreshNames()
    return this.#topics.names()
  }

  /** As the owner's; each partition's offsets, segments and bytes are read when first looked at (read-only-topics.ts). */
  describeTopic(name: string): TopicDescription {
    this.assertOpen()
    this.#topics.refreshTopic(name)
    return this.#topics.describe(name)
  }

  async alterTopicConfig(_name: string, _config: Partial<TopicConfig>): Promise<void> {
    throw this.#refuse('alterTopicConfig')
  }

  async createPartitions(_name: string, _count: number): Promise<void> {
    throw this.#refuse('createPartitions')
  }

  async deleteTopic(_name: string): Promise<void> {
    throw this.#refuse('deleteTopic')
  }

  async deleteRecords(_topic: string, _partition: number, _beforeOffset: number): Promise<number> {
    throw this.#refuse('deleteRecords')
  }

  async runRetention(): Promise<never[]> {
    throw this.#refuse('runRetention')
  }

  async compact(_topic: string): Promise<never[]> {
    throw this.#refuse('compact')
  }

  // ---- writes ----

  async append(_topic: string, _messages: readonly Message[], _options?: AppendOptions): Promise<RecordMetadata[]> {
    throw this.#refuse('append')
  }

  /** Nothing to fsync: this open wrote nothing. */
  async flush(): Promise<void> {
    this.assertOpen()
  }

  producer(_options?: ProducerOptions): never {
    throw this.#refuse('a producer')
  }

  consumer(_options: ConsumerOptions): never {
    throw this.#refuse('a group consumer (it commits offsets)')
  }

  // ---- reads ----

  /** The partition, brought up to date with its owner. */
  #fresh(topic: string, partition: number): void {
    this.assertOpen()
    this.#topics.partition(this.#topics.topic(topic), partition).log.refresh()
  }

  async read(topic: string, partition: number, offset: number, options: ReadOptions = {}): Promise<SeglogRecord[]> {
    return this.#reads.readSettled(topic, partition, offset, options)
  }

  offsets(topic: string, partition: number): { logStartOffset: number; logEndOffset: number } {
    this.#fresh(topic, partition)
    return this.#reads.offsets(topic, partition)
  }

  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number | null> {
    this.#fresh(topic, partition)
    return this.#reads.offsetForTimestamp(topic, partition, timestamp)
  }

  stream(topic: string, partition: number, options: StreamOptions = {}): AsyncGenerator<SeglogRecord, void, undefined> {
    this.#fresh(topic, partition)
    return this.#reads.stream(topic, partition, options)
  }

  waitForAppend(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<void> {
    return this.#reads.waitPast(topic, partition, offset, signal)
  }

  // ---- groups ----

  get offsetStore(): never {
    throw this.#refuse('the offset store')
  }

  /** Group admin over the current snapshot of the committed offsets (null: the directory has none). */
  async #groups(): Promise<Groups | null> {
    this.assertOpen()
    const offsetStore = await this.#snapshot.offsetStore()
    if (offsetStore === null) return null
    const { Groups } = await import('../clients/group-admin.js')
    // Group admin tells committed partitions of existing topics from others: the topics must be known.
    this.#topics.refreshNames()
    return new Groups({
      offsetStore,
      assertOpen: () => this.assertOpen(),
      partitionCount: (topic) => this.#topics.partitionCount(topic),
      offsets: (topic, partition) => this.offsets(topic, partition),
      offsetForTimestamp: (topic, partition, ts) => {
        this.#fresh(topic, partition)
        return this.#reads.offsetForTimestamp(topic, partition, ts)
      },
    })
  }

  async listGroups(): Promise<{ groupId: string; state: 'Empty'; members: number }[]> {
    const groups = await this.#groups()
    if (groups === null) return []
    return (await groups.listGroups()).map((g) => ({ groupId: g.groupId, state: 'Empty', members: 0 }))
  }

  async describeGroup(groupId: string): Promise<GroupDescription> {
    if (typeof groupId !== 'string') throw new TypeError('groupId must be a string')
    const groups = await this.#groups()
    if (groups === null) return { groupId, state: 'Empty', members: [], offsets: [] }
    return groups.describeGroup(groupId)
  }

  async fetchOffsets(groupId: string, topic?: string): Promise<CommittedOffset[]> {
    if (typeof groupId !== 'string') throw new TypeError('groupId must be a string')
    const groups = await this.#groups()
    if (groups === null) return []
    return groups.fetchOffsets(groupId, topic)
  }

  async resetOffsets(_options: unknown): Promise<void> {
    throw this.#refuse('resetOffsets')
  }

  async deleteGroup(_groupId: string): Promise<void> {
    throw this.#refuse('deleteGroup')
  }
}

// A read-only open stands for a `Seglog` (it answers every public member): `instanceof Seglog` holds for it.
Object.setPrototypeOf(ReadOnlySeglog.prototype, Seglog.prototype)

/** `Seglog.open(dir, { readOnly: true, ... })` with options already checked. */
export async function openReadOnly(
  dir: string,
  options: SeglogOptions,
  defaults: Partial<TopicConfig>,
): Promise<Seglog> {
  return (await ReadOnlySeglog.open(dir, options, defaults)) as unknown as Seglog
}
