/**
 * Seglog: the engine. One instance owns one directory of topics; a topic is N partitions, each a PartitionLog
 * in `<dir>/<topic>-<partition>/`. Topic metadata lives in a LevelDB under `<dir>/.seglog/meta` and, for
 * recovery, in each partition's `topic.json`; the OS lock of `<dir>/.seglog/lock` is the ownership lock.
 *
 * Lifecycle: `opening → open → closing → closed`, checked first in every public method (ENGINE_CLOSED after
 * close). `close()` waits for in-flight appends, fsyncs every partition, leaves each partition's clean-shutdown
 * mark, stops timers, ends live streams and releases the lock.
 *
 * Crash order of metadata changes. The LevelDB write is the commit point; directory names say what an
 * interrupted operation was doing, and the open finishes it one way or the other (src/topic-dirs.ts). No open
 * ever removes a `<topic>-<p>` directory:
 * - createTopic / createPartitions: each new partition is a `<topic>-<p>.<id>-create` directory holding its
 *   topic file, fsynced → metadata put → renamed to `<topic>-<p>` → partition opened. Before the put: the
 *   `-create` directories are removed at open (old state); after it: renamed into place (new state).
 * - deleteTopic: partitions closed → each renamed `<topic>-<p>.<id>-delete`, fsynced → record and committed
 *   offsets deleted in one batch → directories removed. Before the batch: renamed back at open (old state);
 *   after it: removed (new state).
 * - alterTopicConfig: metadata put → topic files rewritten. A topic file never runs ahead of the store, and
 *   one with a higher epoch than the store's record (the store lost the write) wins at open.
 *
 * Concurrency: one event loop. Appends write synchronously (so calls to one partition keep their call order)
 * and then, for acks -1, wait for a shared fsync. Metadata operations are serialised through one queue.
 */
import * as nodeFs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { checkBoolean, checkInteger, describeValue } from './check.js'
import { Cleaner } from './compaction/cleaner.js'
import { type CompactionResult, compactPartition } from './compaction/compactor.js'
import { CodecRegistry } from './compression.js'
import {
  DEFAULT_TOPIC_CONFIG,
  type TopicConfig,
  type ValueFormatName,
  validateTopicConfig,
  validateTopicName,
} from './config.js'
import { Consumer, type ConsumerOptions, type PartitionLag } from './consumer.js'
import { appendChannel, engineChannel } from './diagnostics.js'
import { ioError, SeglogError } from './errors.js'
import { decodeHeaders, decodeValue, encodeValue, type RecordHeaders } from './format.js'
import { GroupCoordinator, type GroupState, type PartitionAssigner } from './group.js'
import { BoundedFileSystem } from './io/bounded-fs.js'
import { type FileSystem, nodeFileSystem, writeFileAtomic } from './io/file-system.js'
import { holdProcess } from './keep-alive.js'
import { CREATE_DIR_SUFFIX, DELETE_DIR_SUFFIX } from './log/file-names.js'
import { type LogConfig, type LogEvent, PartitionLog, type PreparedBatch } from './log/partition-log.js'
import { checkMessage } from './messages.js'
import { MetadataStore, newTopicId, type TopicRecord } from './metadata.js'
import { type CommittedOffset, OffsetStore } from './offset-store.js'
import { checkOpenOptions } from './open-options.js'
import { partitionForKey, StickyPartitioner } from './partitioner.js'
import { Producer, type ProducerOptions } from './producer.js'
import { applyRetention, type RetentionResult } from './retention/retention.js'
import { type BatchRecordInput, type DecodedRecord, TimestampType } from './segment/record-batch.js'
import { applyTopicDirs, partitionDirName, pendingDirName, planTopicDirs, writeTopicFiles } from './topic-dirs.js'

export type Acks = -1 | 0 | 1

export interface SeglogOptions {
  /** Engine-wide topic defaults (validated like topic config). */
  defaults?: Partial<TopicConfig>
  /** Default `acks` for appends. -1 (fsync before resolving) unless set. */
  acks?: Acks
  /** Bound on open file descriptors used by partition files (default 512). */
  maxOpenFiles?: number
  /** Wall clock in ms (for tests). */
  clock?: () => number
  /** Receives recovery reports, rolls, segment deletions, background flush failures. */
  onEvent?: (event: EngineEvent) => void
  /** Extra compression codecs (`lz4`, `snappy`, or replacements). */
  codecs?: Partial<Record<'gzip' | 'snappy' | 'lz4' | 'zstd', import('./compression.js').Codec>>
  /** File-system layer (tests inject faults here). */
  fs?: FileSystem
  /** Test hook: called at named points of metadata operations (crash tests kill the process there). */
  crashPoint?: (point: string) => void
  /** How often background retention runs (Kafka's log.retention.check.interval.ms). Default 300,000; 0 = never. */
  retentionCheckIntervalMs?: number
  /** How often the cleaner looks for compactable partitions (Kafka's log.cleaner.backoff.ms). Default 15,000; 0 = never. */
  cleanerBackoffMs?: number
  /** Memory budget of the compaction offset map (Kafka's log.cleaner.dedupe.buffer.size). Default 16 MiB. */
  cleanerMapBytes?: number
}

export type EngineEvent =
  | (LogEvent & { topic: string; partition: number })
  | { type: 'flush-failed'; topic: string; partition: number; error: SeglogError }
  /** The metadata store's files needed a repair that loses nothing acknowledged, or something was missing. */
  | { type: 'metadata-repaired'; path: string; reason: string }
  /** A topic record rebuilt from the partition directories' topic files (the store had none, or an older one). */
  | { type: 'topic-restored'; topic: string; partitions: number; reason: string }
  /** Partition directories kept but not opened: the metadata does not account for them (never removed). */
  | { type: 'unknown-dirs'; dirs: { name: string; reason: string }[] }
  /** Partitions of a known topic without a directory: created empty. */
  | { type: 'partitions-missing'; topic: string; partitions: number[] }
  /** Leftovers of interrupted createTopic/createPartitions/deleteTopic calls finished at open. */
  | { type: 'interrupted-operations'; removed: string[]; renamed: { from: string; to: string }[] }
  | ({ type: 'retention'; topic: string; partition: number; durationMs: number } & RetentionResult)
  | { type: 'retention-failed'; topic: string; partition: number; error: SeglogError }
  | ({ type: 'compaction'; topic: string; partition: number } & Omit<CompactionResult, 'plan'>)
  | { type: 'compaction-failed'; topic: string; partition: number; error: SeglogError }

/** One header value as given: a string (written as UTF-8), bytes, or null/undefined (a header with a null value). */
export type HeaderInput = string | Buffer | Uint8Array | null | undefined

/** Headers as given (KafkaJS's shape): an array writes one header per element, in order (a repeated key). */
export type MessageHeaders = Record<string, HeaderInput | HeaderInput[]>

export type { HeaderValue, RecordHeaders } from './format.js'

export interface Message {
  key?: string | Buffer | Uint8Array | null
  /** Encoded per the topic's format; null/undefined is a tombstone. */
  value?: unknown
  headers?: MessageHeaders | null
  /** Explicit partition (an integer); else by key (murmur2), else sticky. */
  partition?: number | null
  /**
   * Milliseconds since the epoch, an integer in [0, 2^53 − 1], or the same as a canonical decimal string (as
   * KafkaJS passes it). Default: now.
   */
  timestamp?: number | string | null
}

export interface AppendOptions {
  acks?: Acks
}

export interface RecordMetadata {
  partition: number
  offset: number
  timestamp: number
}

export interface SeglogRecord<V = unknown> {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: Buffer | null
  value: V
  /**
   * Per key: its value (a Buffer, or null for a null value), or an array of all its values, in order, when the
   * key occurs more than once (KafkaJS's shape).
   */
  headers: RecordHeaders
}

export interface PartitionDescription {
  partition: number
  logStartOffset: number
  logEndOffset: number
  segments: number
  bytes: number
}

export interface TopicDescription {
  name: string
  config: TopicConfig
  partitions: PartitionDescription[]
}

export interface ReadOptions {
  maxRecords?: number
  maxBytes?: number
}

export type StreamFrom = number | 'earliest' | 'latest' | { timestamp: number }

export interface StreamOptions {
  from?: StreamFrom
  /** Keep waiting for new records at the log end instead of finishing. */
  live?: boolean
  signal?: AbortSignal
  /** Records fetched per read (default 500). */
  maxRecords?: number
}

export type EngineStatus = 'opening' | 'open' | 'closing' | 'closed'

interface PartitionState {
  readonly topic: TopicState
  readonly index: number
  readonly log: PartitionLog
  readonly waiters: Set<() => void>
  flushTimer: NodeJS.Timeout | null
}

interface TopicState {
  record: TopicRecord
  config: TopicConfig
  partitions: PartitionState[]
  sticky: StickyPartitioner
}

/** Real paths owned by a Seglog in this process (LevelDB's per-process lock cannot tell them apart). */
const ownedInProcess = new Set<string>()

const META_DIR = '.seglog'
const OWNER_FILE = 'owner.json'

function checkAcks(acks: unknown): Acks {
  if (acks !== -1 && acks !== 0 && acks !== 1) throw new TypeError(`acks must be -1, 0 or 1, got ${String(acks)}`)
  return acks
}

let keyScratch = Buffer.allocUnsafe(256)

/** UTF-8 bytes of a string key in a reused buffer, for hashing only (valid until the next call). */
function keyBytes(key: string): Buffer {
  const len = Buffer.byteLength(key, 'utf8')
  if (len > keyScratch.length) keyScratch = Buffer.allocUnsafe(Math.max(len, keyScratch.length * 2))
  keyScratch.write(key, 0, len, 'utf8')
  return keyScratch.subarray(0, len)
}

function logConfigOf(config: TopicConfig): Partial<LogConfig> {
  return {
    segmentBytes: config.segmentBytes,
    // Kafka: compacted topics roll at min(segment.ms, max.compaction.lag.ms), so the max lag can force cleaning.
    segmentMs:
      config.cleanupPolicy === 'delete' ? config.segmentMs : Math.min(config.segmentMs, config.maxCompactionLagMs),
    indexIntervalBytes: config.indexIntervalBytes,
    segmentIndexBytes: config.segmentIndexBytes,
    maxMessageBytes: config.maxMessageBytes,
    fileDeleteDelayMs: config.fileDeleteDelayMs,
  }
}

export class Seglog {
  /** The directory as given to `open`. */
  readonly dir: string
  /** Its real path (what ownership is about). */
  readonly realDir: string
  private status_: EngineStatus = 'opening'
  private readonly fs: FileSystem
  private readonly clock: () => number
  private readonly onEvent: (event: EngineEvent) => void
  private readonly crashPoint: (point: string) => void
  private readonly defaultAcks: Acks
  private readonly engineDefaults: Partial<TopicConfig>
  private readonly codecs = new CodecRegistry()
  private meta!: MetadataStore
  private readonly topics = new Map<string, TopicState>()
  private readonly inflight = new Set<Promise<unknown>>()
  private metaQueue: Promise<unknown> = Promise.resolve()
  private offsetStore_!: OffsetStore
  private readonly coordinators = new Map<string, GroupCoordinator>()
  private readonly clients = new Set<{ stop(): Promise<void> }>()
  private readonly retentionIntervalMs: number
  private retentionTimer: NodeJS.Timeout | null = null
  private readonly cleanerBackoffMs: number
  private readonly cleanerMapBytes: number
  private cleanerTimer: NodeJS.Timeout | null = null
  private cleaner: Cleaner | null = null
  private readonly cleanerAbort = new AbortController()
  private cleanerPass: Promise<unknown> | null = null

  private constructor(dir: string, realDir: string, options: SeglogOptions, engineDefaults: Partial<TopicConfig>) {
    this.dir = dir
    this.realDir = realDir
    const maxOpenFiles = options.maxOpenFiles ?? 512
    this.fs = new BoundedFileSystem(options.fs ?? nodeFileSystem, { maxOpenFiles })
    this.clock = options.clock ?? Date.now
    const listener = options.onEvent ?? (() => {})
    this.onEvent = (event) => {
      if (engineChannel.hasSubscribers) engineChannel.publish({ dir: this.realDir, ...event })
      listener(event)
    }
    this.crashPoint = options.crashPoint ?? (() => {})
    this.defaultAcks = options.acks === undefined ? -1 : checkAcks(options.acks)
    this.engineDefaults = engineDefaults
    this.retentionIntervalMs = options.retentionCheckIntervalMs ?? 300_000
    this.cleanerBackoffMs = options.cleanerBackoffMs ?? 15_000
    this.cleanerMapBytes = options.cleanerMapBytes ?? 16 * 1024 * 1024
    for (const [name, codec] of Object.entries(options.codecs ?? {})) {
      if (codec) this.codecs.register(name as 'gzip' | 'snappy' | 'lz4' | 'zstd', codec)
    }
  }

  /**
   * Opens `dir` (creating it if missing) and becomes its exclusive owner. Another owner — another process, or a
   * second open in this process, through any path or symlink to the same directory — gets ENGINE_LOCKED.
   */
  static async open(dir: string, given: SeglogOptions = {}): Promise<Seglog> {
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty string')
    // Every option is checked (and the clock read once) before anything is created or locked.
    const { options, defaults } = checkOpenOptions(given)
    let realDir: string
    try {
      nodeFs.mkdirSync(dir, { recursive: true })
      realDir = nodeFs.realpathSync(dir)
    } catch (err) {
      throw ioError(err, 'open engine directory', dir)
    }
    if (ownedInProcess.has(realDir)) {
      throw new SeglogError('ENGINE_LOCKED', `${realDir} is already open in this process (pid ${process.pid})`, {
        path: realDir,
      })
    }
    ownedInProcess.add(realDir)
    const engine = new Seglog(dir, realDir, options, defaults)
    try {
      await engine.load()
    } catch (err) {
      ownedInProcess.delete(realDir)
      await engine.meta?.close().catch(() => {})
      for (const t of engine.topics.values()) for (const p of t.partitions) await p.log.close().catch(() => {})
      throw err
    }
    engine.status_ = 'open'
    engine.startTimers()
    return engine
  }

  private async load(): Promise<void> {
    const metaDir = path.join(this.realDir, META_DIR)
    try {
      this.fs.mkdir(metaDir)
    } catch (err) {
      throw ioError(err, 'mkdir', metaDir)
    }
    const { store, repairs } = await MetadataStore.open(metaDir, {
      fs: this.fs,
      lockedMessage: () => this.lockedMessage(metaDir),
    })
    this.meta = store
    this.offsetStore_ = new OffsetStore(this.meta.db, this.clock)
    const owner = { pid: process.pid, hostname: os.hostname(), since: new Date(this.clock()).toISOString() }
    try {
      writeFileAtomic(this.fs, metaDir, OWNER_FILE, Buffer.from(JSON.stringify(owner)))
    } catch (err) {
      throw ioError(err, 'write', path.join(metaDir, OWNER_FILE))
    }
    for (const r of repairs) this.onEvent({ type: 'metadata-repaired', ...r })
    // The directories are the truth about which partitions exist: reconcile them with the records.
    const plan = planTopicDirs(this.fs, this.realDir, await this.meta.listTopics())
    if (plan.restored.length > 0) await this.meta.putTopics(plan.restored.map((r) => r.record))
    await applyTopicDirs(this.fs, this.realDir, plan)
    for (const { record, reason } of plan.restored) {
      this.onEvent({ type: 'topic-restored', topic: record.name, partitions: record.partitions, reason })
    }
    if (plan.removals.length > 0 || plan.renames.length > 0) {
      this.onEvent({ type: 'interrupted-operations', removed: plan.removals, renamed: plan.renames })
    }
    for (const m of plan.missing) this.onEvent({ type: 'partitions-missing', ...m })
    if (plan.unknown.length > 0) this.onEvent({ type: 'unknown-dirs', dirs: plan.unknown })
    for (const record of plan.topics.values()) this.topics.set(record.name, this.newTopicState(record))
    for (const topic of this.topics.values()) {
      for (let p = 0; p < topic.record.partitions; p++) topic.partitions.push(await this.openPartition(topic, p))
    }
  }

  private lockedMessage(metaDir: string): string {
    let who = 'another process'
    try {
      const raw = nodeFs.readFileSync(path.join(metaDir, OWNER_FILE), 'utf8')
      const owner = JSON.parse(raw) as { pid?: number; hostname?: string }
      if (typeof owner.pid === 'number') who = `process ${owner.pid}${owner.hostname ? ` on ${owner.hostname}` : ''}`
    } catch {
      // The owner file is informational; the lock itself is what counts.
    }
    return `${this.realDir} is owned by ${who}`
  }

  private newTopicState(record: TopicRecord): TopicState {
    const config: TopicConfig = {
      ...DEFAULT_TOPIC_CONFIG,
      ...this.engineDefaults,
      ...record.overrides,
      partitions: record.partitions,
      format: record.format,
    }
    return { record, config, partitions: [], sticky: new StickyPartitioner() }
  }

  private partitionDir(topic: string, partition: number): string {
    return path.join(this.realDir, partitionDirName(topic, partition))
  }

  private async openPartition(topic: TopicState, index: number): Promise<PartitionState> {
    const name = topic.record.name
    const log = await PartitionLog.open(this.partitionDir(name, index), {
      config: logConfigOf(topic.config),
      fs: this.fs,
      clock: this.clock,
      decompress: this.codecs.decompressor,
      onEvent: (e) => this.onEvent({ ...e, topic: name, partition: index }),
    })
    return { topic, index, log, waiters: new Set(), flushTimer: null }
  }

  // ---- lifecycle ----

  get status(): EngineStatus {
    return this.status_
  }

  /** Throws ENGINE_CLOSED unless the engine is open (also used by producers and consumers). */
  assertOpen(): void {
    if (this.status_ !== 'open') throw new SeglogError('ENGINE_CLOSED', `seglog at ${this.dir} is ${this.status_}`)
  }

  /** Serialises metadata operations (create/delete/alter/grow). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.metaQueue.then(fn, fn)
    this.metaQueue = run.catch(() => {})
    return this.track(run)
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p)
    const done = () => this.inflight.delete(p)
    p.then(done, done)
    return p
  }

  /**
   * Waits for in-flight appends and metadata operations, fsyncs and closes every partition (each leaves its
   * clean-shutdown mark), ends live streams, and releases the directory. Idempotent.
   */
  async close(): Promise<void> {
    if (this.status_ === 'closing' || this.status_ === 'closed') return
    // Consumers commit what they processed and producers deliver what they queued while the engine is still open.
    await Promise.allSettled([...this.clients].map((c) => c.stop()))
    this.status_ = 'closing'
    if (this.retentionTimer) clearInterval(this.retentionTimer)
    this.retentionTimer = null
    if (this.cleanerTimer) clearInterval(this.cleanerTimer)
    this.cleanerTimer = null
    // A compaction in progress is stopped safely: the worker is terminated and its `.cleaned` files removed.
    this.cleanerAbort.abort()
    if (this.cleanerPass) await this.cleanerPass.catch(() => {})
    await this.cleaner?.close().catch(() => {})
    try {
      while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
      let firstError: unknown = null
      for (const topic of this.topics.values()) {
        for (const p of topic.partitions) {
          if (p.flushTimer) clearTimeout(p.flushTimer)
          p.flushTimer = null
          this.wake(p)
          try {
            await p.log.close()
          } catch (err) {
            firstError ??= err
          }
        }
      }
      await this.meta.close().catch((err) => {
        firstError ??= ioError(err, 'close metadata store', this.realDir)
      })
      if (firstError !== null) throw firstError
    } finally {
      this.status_ = 'closed'
      ownedInProcess.delete(this.realDir)
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  // ---- topics ----

  async createTopic(name: string, options: { partitions?: number; config?: Partial<TopicConfig> } = {}): Promise<void> {
    this.assertOpen()
    validateTopicName(name)
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const overrides = validateTopicConfig(options.config)
    let partitions = options.partitions ?? overrides.partitions ?? this.engineDefaults.partitions ?? 1
    if (options.partitions !== undefined)
      partitions = validateTopicConfig({ partitions: options.partitions }).partitions!
    delete overrides.partitions
    const format: ValueFormatName = overrides.format ?? this.engineDefaults.format ?? DEFAULT_TOPIC_CONFIG.format
    delete overrides.format
    return this.exclusive(async () => {
      this.assertOpen()
      if (this.topics.has(name)) throw new SeglogError('TOPIC_EXISTS', `topic '${name}' already exists`)
      const record: TopicRecord = {
        name,
        id: newTopicId(),
        epoch: 1,
        partitions,
        format,
        overrides,
        createdAt: this.clock(),
      }
      const topic = this.newTopicState(record)
      this.checkCompression(topic.config)
      const staged = await this.stagePartitions(record, 0)
      this.crashPoint('createTopic:before-commit')
      await this.commitStaged(staged, () => this.meta.putTopic(record))
      this.crashPoint('createTopic:after-commit')
      await this.placeStaged(record, staged, 'createTopic', [])
      for (let p = 0; p < partitions; p++) topic.partitions.push(await this.openPartition(topic, p))
      this.topics.set(name, topic)
      this.topicsChanged()
    })
  }

  /**
   * First half of adding partitions [from, record.partitions): each new one becomes a `-create` directory
   * holding its topic file, all fsynced. An existing `<topic>-<p>` directory (one kept as unknown) is adopted
   * instead: its data becomes the partition's. Nothing is committed yet; on failure the staged directories are
   * removed.
   */
  private async stagePartitions(
    record: TopicRecord,
    from: number,
  ): Promise<{ staged: { partition: number; name: string }[]; adopted: number[] }> {
    const staged: { partition: number; name: string }[] = []
    const adopted: number[] = []
    try {
      for (let p = from; p < record.partitions; p++) {
        if (this.fs.exists(this.partitionDir(record.name, p))) {
          adopted.push(p)
          continue
        }
        const dir = pendingDirName(record.name, p, record.id, CREATE_DIR_SUFFIX)
        this.fs.mkdir(path.join(this.realDir, dir))
        staged.push({ partition: p, name: dir })
      }
      await writeTopicFiles(
        this.fs,
        staged.map((s) => ({ dir: path.join(this.realDir, s.name), record, partition: s.partition })),
      )
      await this.fs.syncDir(this.realDir)
    } catch (err) {
      this.removeStaged(staged)
      throw ioError(err, 'create partition directories in', this.realDir)
    }
    return { staged, adopted }
  }

  private removeStaged(staged: readonly { name: string }[]): void {
    for (const s of staged) {
      try {
        this.fs.rmdir(path.join(this.realDir, s.name))
      } catch {
        // Left for the next open, which removes uncommitted `-create` directories.
      }
    }
  }

  /** The commit of a topic creation or growth: on failure nothing was committed and the staging is removed. */
  private async commitStaged(staged: { staged: { name: string }[] }, commit: () => Promise<void>): Promise<void> {
    try {
      await commit()
    } catch (err) {
      this.removeStaged(staged.staged)
      throw err
    }
  }

  /**
   * Second half, after the commit: `-create` directories renamed into place (fsynced), topic files written into
   * adopted directories and into the topic's existing partitions `rewrite`. A failure here leaves the commit in
   * force; the next open finishes the renames and rewrites.
   */
  private async placeStaged(
    record: TopicRecord,
    { staged, adopted }: { staged: { partition: number; name: string }[]; adopted: number[] },
    op: 'createTopic' | 'createPartitions',
    rewrite: number[],
  ): Promise<void> {
    try {
      for (const [i, s] of staged.entries()) {
        this.fs.rename(path.join(this.realDir, s.name), this.partitionDir(record.name, s.partition))
        if (i === 0) this.crashPoint(`${op}:after-rename`)
      }
      await this.fs.syncDir(this.realDir)
      await writeTopicFiles(
        this.fs,
        [...adopted, ...rewrite].map((p) => ({ dir: this.partitionDir(record.name, p), record, partition: p })),
      )
    } catch (err) {
      const e = ioError(err, 'place new partitions of', this.realDir)
      throw new SeglogError(
        'IO_ERROR',
        `topic '${record.name}' was committed with ${record.partitions} partitions, but placing them failed ` +
          `(the next open finishes it): ${e.message}`,
        { cause: e, path: e.path, errno: e.errno },
      )
    }
  }

  private checkCompression(config: TopicConfig): void {
    if (config.compressionType !== 'none') this.codecs.compressionFor(config.compressionType)
  }

  listTopics(): string[] {
    this.assertOpen()
    return [...this.topics.keys()].sort()
  }

  private topic(name: string): TopicState {
    if (typeof name !== 'string') throw new TypeError(`topic must be a string, got ${typeof name}`)
    const t = this.topics.get(name)
    if (t === undefined) throw new SeglogError('TOPIC_NOT_FOUND', `topic '${name}' does not exist`)
    return t
  }

  private partition(topic: TopicState, partition: number): PartitionState {
    if (typeof partition !== 'number' || !Number.isInteger(partition)) {
      throw new TypeError(`partition must be an integer, got ${String(partition)}`)
    }
    const p = topic.partitions[partition]
    if (p === undefined) {
      throw new SeglogError(
        'PARTITION_NOT_FOUND',
        `topic '${topic.record.name}' has partitions 0..${topic.partitions.length - 1}, not ${partition}`,
      )
    }
    return p
  }

  describeTopic(name: string): TopicDescription {
    this.assertOpen()
    const t = this.topic(name)
    return {
      name,
      config: { ...t.config },
      partitions: t.partitions.map((p) => {
        const segs = p.log.segmentInfos()
        return {
          partition: p.index,
          logStartOffset: p.log.logStartOffset,
          logEndOffset: p.log.logEndOffset,
          segments: segs.length,
          bytes: segs.reduce((a, s) => a + s.size, 0),
        }
      }),
    }
  }

  async alterTopicConfig(name: string, config: Partial<TopicConfig>): Promise<void> {
    this.assertOpen()
    const changes = validateTopicConfig(config)
    return this.exclusive(async () => {
      this.assertOpen()
      const t = this.topic(name)
      if (changes.format !== undefined && changes.format !== t.record.format) {
        throw new SeglogError('INVALID_CONFIG', `format of topic '${name}' is fixed at creation ('${t.record.format}')`)
      }
      if (changes.partitions !== undefined && changes.partitions !== t.record.partitions) {
        throw new SeglogError('INVALID_CONFIG', `use createPartitions to change the partition count of '${name}'`)
      }
      const { partitions: _p, format: _f, ...rest } = changes
      const record: TopicRecord = {
        ...t.record,
        epoch: t.record.epoch + 1,
        overrides: { ...t.record.overrides, ...rest },
      }
      const next = this.newTopicState(record)
      this.checkCompression(next.config)
      this.crashPoint('alterTopicConfig:before-commit')
      await this.meta.putTopic(record)
      this.crashPoint('alterTopicConfig:after-commit')
      t.record = record
      t.config = next.config
      for (const p of t.partitions) p.log.updateConfig(logConfigOf(t.config))
      // The topic files follow the commit; a crash before they are all rewritten leaves the store's newer record.
      const files = t.partitions.map((p) => ({ dir: this.partitionDir(name, p.index), record, partition: p.index }))
      try {
        await writeTopicFiles(this.fs, files.slice(0, 1))
        this.crashPoint('alterTopicConfig:after-file')
        await writeTopicFiles(this.fs, files.slice(1))
      } catch (err) {
        const e = ioError(err, 'write topic files of', this.realDir)
        throw new SeglogError(
          'IO_ERROR',
          `the config of topic '${name}' was changed and is in effect, but rewriting its topic files failed ` +
            `(the next open rewrites them): ${e.message}`,
          { cause: e, path: e.path, errno: e.errno },
        )
      }
    })
  }

  async createPartitions(name: string, count: number): Promise<void> {
    this.assertOpen()
    if (typeof count !== 'number') throw new TypeError(`count must be a number, got ${typeof count}`)
    validateTopicConfig({ partitions: count })
    return this.exclusive(async () => {
      this.assertOpen()
      const t = this.topic(name)
      if (count < t.record.partitions) {
        throw new SeglogError(
          'INVALID_CONFIG',
          `partitions of '${name}' can only grow: it has ${t.record.partitions}, asked for ${count}`,
        )
      }
      if (count === t.record.partitions) return
      const before = t.record.partitions
      const record: TopicRecord = { ...t.record, epoch: t.record.epoch + 1, partitions: count }
      const staged = await this.stagePartitions(record, before)
      this.crashPoint('createPartitions:before-commit')
      await this.commitStaged(staged, () => this.meta.putTopic(record))
      t.record = record
      t.config = { ...t.config, partitions: count }
      this.crashPoint('createPartitions:after-commit')
      await this.placeStaged(
        record,
        staged,
        'createPartitions',
        t.partitions.map((p) => p.index),
      )
      for (let p = before; p < count; p++) t.partitions.push(await this.openPartition(t, p))
      this.topicsChanged()
    })
  }

  async deleteTopic(name: string): Promise<void> {
    this.assertOpen()
    validateTopicName(name)
    return this.exclusive(async () => {
      this.assertOpen()
      const t = this.topic(name)
      // Gone for new calls from here on; restored below if the deletion fails before its commit.
      this.topics.delete(name)
      for (const p of t.partitions) {
        if (p.flushTimer) clearTimeout(p.flushTimer)
        p.flushTimer = null
        this.wake(p)
        await p.log.close().catch(() => {})
      }
      const renamed: { from: string; to: string }[] = []
      try {
        for (const p of t.partitions) {
          const from = this.partitionDir(name, p.index)
          const to = path.join(this.realDir, pendingDirName(name, p.index, t.record.id, DELETE_DIR_SUFFIX))
          this.fs.rename(from, to)
          renamed.push({ from, to })
          if (renamed.length === 1) this.crashPoint('deleteTopic:after-rename')
        }
        await this.fs.syncDir(this.realDir)
        this.crashPoint('deleteTopic:before-commit')
        // The record and every group's committed offsets of the topic go in one atomic batch.
        await this.meta.deleteTopic(name, await this.offsetStore_.topicKeys(name))
      } catch (err) {
        await this.undoDelete(t, renamed)
        throw ioError(err, 'delete topic in', this.realDir)
      }
      this.crashPoint('deleteTopic:after-commit')
      for (const r of renamed) {
        try {
          this.fs.rmdir(r.to)
        } catch {
          // Removed at the next open: a `-delete` directory whose topic is gone.
        }
        this.crashPoint('deleteTopic:after-partition')
      }
      await this.fs.syncDir(this.realDir).catch(() => {})
      this.topicsChanged()
    })
  }

  /** A deletion failed before its commit: directories renamed back, partitions reopened, topic back in place. */
  private async undoDelete(t: TopicState, renamed: readonly { from: string; to: string }[]): Promise<void> {
    try {
      for (const r of renamed) this.fs.rename(r.to, r.from)
      await this.fs.syncDir(this.realDir)
      const reopened: PartitionState[] = []
      for (const p of t.partitions) reopened.push(await this.openPartition(t, p.index))
      t.partitions = reopened
    } catch {
      // Left for the next open: the record is still there, so `-delete` directories are renamed back.
    }
    this.topics.set(t.record.name, t)
  }

  // ---- background work: retention ----

  private startTimers(): void {
    if (this.cleanerBackoffMs > 0) {
      this.cleanerTimer = setInterval(() => {
        if (this.status_ === 'open' && this.cleanerPass === null) void this.compactionPass(null, false).catch(() => {})
      }, this.cleanerBackoffMs)
      this.cleanerTimer.unref()
    }
    if (this.retentionIntervalMs > 0) {
      // unref'd: background work never keeps a process alive.
      this.retentionTimer = setInterval(() => {
        if (this.status_ === 'open') this.retentionPass()
      }, this.retentionIntervalMs)
      this.retentionTimer.unref()
    }
  }

  /**
   * Applies time and size retention and the log start offset to every partition now (Kafka's rules, see
   * retention/planner.ts) and resolves once the pass is applied on disk. Returns what it did per partition
   * that changed. A partition whose pass fails is reported with a `retention-failed` event and retried next pass.
   */
  async runRetention(): Promise<({ topic: string; partition: number } & RetentionResult)[]> {
    this.assertOpen()
    return this.retentionPass()
  }

  private retentionPass(only: TopicState | null = null): ({ topic: string; partition: number } & RetentionResult)[] {
    const out: ({ topic: string; partition: number } & RetentionResult)[] = []
    const now = this.clock()
    for (const t of only ? [only] : this.topics.values()) {
      const policy = {
        retentionMs: t.config.retentionMs,
        retentionBytes: t.config.retentionBytes,
        deleteEnabled: t.config.cleanupPolicy !== 'compact',
      }
      for (const p of t.partitions) {
        const started = performance.now()
        try {
          const result = applyRetention(p.log, policy, now)
          if (result.segmentsDeleted === 0) continue
          const report = { topic: t.record.name, partition: p.index, ...result }
          out.push(report)
          this.onEvent({ type: 'retention', ...report, durationMs: performance.now() - started })
        } catch (err) {
          const error = err instanceof SeglogError ? err : ioError(err, 'retention', p.log.dir)
          this.onEvent({ type: 'retention-failed', topic: t.record.name, partition: p.index, error })
        }
      }
    }
    return out
  }

  /**
   * Compacts every partition of a `compact` / `compact,delete` topic now (a pass runs even below the dirty-ratio
   * threshold; the active segment is never touched) and resolves once the result is swapped in on disk.
   * For `compact,delete` topics retention runs after the pass. Returns what each partition's pass did.
   */
  async compact(topic: string): Promise<({ topic: string; partition: number } & CompactionResult)[]> {
    this.assertOpen()
    const t = this.topic(topic)
    if (t.config.cleanupPolicy === 'delete') {
      throw new SeglogError('INVALID_CONFIG', `topic '${topic}' has cleanupPolicy 'delete'; compaction needs 'compact'`)
    }
    const results = await this.compactionPass(t, true)
    return results
  }

  private compactionPass(
    only: TopicState | null,
    force: boolean,
  ): Promise<({ topic: string; partition: number } & CompactionResult)[]> {
    const run = (async () => {
      const previous = this.cleanerPass
      if (previous) await previous.catch(() => {})
      const out: ({ topic: string; partition: number } & CompactionResult)[] = []
      const topics = only ? [only] : [...this.topics.values()]
      for (const t of topics) {
        if (t.config.cleanupPolicy === 'delete') continue
        for (const p of t.partitions) {
          if (this.status_ !== 'open' || this.cleanerAbort.signal.aborted) return out
          this.cleaner ??= new Cleaner()
          try {
            const result = await compactPartition(p.log, t.config, {
              now: this.clock(),
              mapBytes: this.cleanerMapBytes,
              signal: this.cleanerAbort.signal,
              force,
              cleaner: this.cleaner,
            })
            out.push({ topic: t.record.name, partition: p.index, ...result })
            if (result.cleaned) {
              const { plan: _plan, ...rest } = result
              this.onEvent({ type: 'compaction', topic: t.record.name, partition: p.index, ...rest })
            }
          } catch (err) {
            const error = err instanceof SeglogError ? err : ioError(err, 'compaction', p.log.dir)
            if (error.code === 'ABORTED' && this.status_ !== 'open') {
              // close() stopped the pass: a manual compact() says so; the background pass just ends.
              if (force) throw error
              return out
            }
            this.onEvent({ type: 'compaction-failed', topic: t.record.name, partition: p.index, error })
            if (force) throw error
          }
        }
        if (t.config.cleanupPolicy === 'compact,delete') this.retentionPass(t)
      }
      return out
    })()
    this.cleanerPass = run
    const clear = () => {
      if (this.cleanerPass === run) this.cleanerPass = null
    }
    run.then(clear, clear)
    return this.track(run)
  }

  /**
   * Makes every record below `beforeOffset` unreadable (Kafka's deleteRecords): raises the log start offset and
   * deletes the segments wholly below it. OFFSET_OUT_OF_RANGE above the log end offset. Returns the new log
   * start offset.
   */
  async deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number> {
    this.assertOpen()
    const p = this.partition(this.topic(topic), partition)
    if (typeof beforeOffset !== 'number' || !Number.isSafeInteger(beforeOffset) || beforeOffset < 0) {
      throw new TypeError('beforeOffset must be a non-negative integer')
    }
    return p.log.advanceLogStartOffset(beforeOffset)
  }

  // ---- clients: producers, consumers, groups ----

  /** KafkaJS-shaped producer (see producer.ts). */
  producer(options: ProducerOptions = {}): Producer {
    this.assertOpen()
    return new Producer(this, options)
  }

  /** KafkaJS-shaped group consumer (see consumer.ts). */
  consumer(options: ConsumerOptions): Consumer {
    this.assertOpen()
    return new Consumer(this, options)
  }

  /** @internal the committed-offset store (consumers). */
  get offsetStore(): OffsetStore {
    return this.offsetStore_
  }

  /** @internal number of partitions of a topic, or undefined when it does not exist. */
  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions.length
  }

  /**
   * @internal resolves once the partition's log end offset is above `offset` (at once if it already is: a caller
   * that read on an earlier tick must not miss an append that happened in between), or on abort, topic deletion
   * or engine close.
   */
  waitForAppend(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<void> {
    const p = this.topics.get(topic)?.partitions[partition]
    if (p === undefined || this.status_ !== 'open' || signal.aborted) return Promise.resolve()
    if (p.log.logEndOffset > offset) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const wake = () => {
        p.waiters.delete(wake)
        signal.removeEventListener('abort', wake)
        resolve()
      }
      p.waiters.add(wake)
      signal.addEventListener('abort', wake, { once: true })
    })
  }

  /** @internal the in-process coordinator of a group. */
  coordinator(groupId: string, assigner: PartitionAssigner): GroupCoordinator {
    let c = this.coordinators.get(groupId)
    if (c === undefined) {
      c = new GroupCoordinator(groupId, (t) => this.partitionCount(t), assigner)
      this.coordinators.set(groupId, c)
    }
    return c
  }

  /** @internal producers and consumers stopped by close(). */
  registerClient(client: { stop(): Promise<void> }): void {
    this.clients.add(client)
  }

  /** @internal */
  unregisterClient(client: { stop(): Promise<void> }): void {
    this.clients.delete(client)
  }

  /** Topics or partition counts changed: groups re-evaluate subscriptions and rebalance. */
  private topicsChanged(): void {
    for (const c of this.coordinators.values()) {
      if (c.members.size > 0) void c.rebalance().catch(() => {})
    }
  }

  /** Groups known to this directory: active in this process or with committed offsets. */
  async listGroups(): Promise<{ groupId: string; state: GroupState; members: number }[]> {
    this.assertOpen()
    const ids = new Set([...(await this.offsetStore_.groups()), ...this.coordinators.keys()])
    return [...ids].sort().map((groupId) => {
      const c = this.coordinators.get(groupId)
      return { groupId, state: c?.state ?? 'Empty', members: c?.members.size ?? 0 }
    })
  }

  /** Members and their assignment, and per committed partition: committed offset, log end and lag. */
  async describeGroup(groupId: string): Promise<{
    groupId: string
    state: GroupState
    members: { memberId: string; assignment: { topic: string; partition: number }[] }[]
    offsets: PartitionLag[]
  }> {
    this.assertOpen()
    if (typeof groupId !== 'string') throw new TypeError('groupId must be a string')
    const c = this.coordinators.get(groupId)
    const committed = await this.offsetStore_.fetch(groupId)
    const offsets: PartitionLag[] = committed
      .filter((o) => this.partitionCount(o.topic) !== undefined && o.partition < this.partitionCount(o.topic)!)
      .map((o) => {
        const { logEndOffset } = this.offsets(o.topic, o.partition)
        return {
          topic: o.topic,
          partition: o.partition,
          committed: o.offset,
          logEndOffset,
          lag: logEndOffset - o.offset,
        }
      })
    return {
      groupId,
      state: c?.state ?? 'Empty',
      members: c ? [...c.members.keys()].map((memberId) => ({ memberId, assignment: c.assignmentOf(memberId) })) : [],
      offsets,
    }
  }

  /** Committed offsets of a group (optionally one topic). */
  async fetchOffsets(groupId: string, topic?: string): Promise<CommittedOffset[]> {
    this.assertOpen()
    if (typeof groupId !== 'string') throw new TypeError('groupId must be a string')
    return this.offsetStore_.fetch(groupId, topic)
  }

  /**
   * Sets a group's committed offsets for every partition of `topic` to the log start ('earliest'), the log end
   * ('latest'), the first offset at or after a timestamp, or explicit offsets. The group must have no active
   * member in this process (as Kafka requires): stop its consumers first.
   */
  async resetOffsets(options: {
    groupId: string
    topic: string
    to: 'earliest' | 'latest' | { timestamp: number } | { offsets: { partition: number; offset: number }[] }
  }): Promise<void> {
    this.assertOpen()
    const { groupId, topic, to } = options ?? ({} as never)
    if (typeof groupId !== 'string' || typeof topic !== 'string')
      throw new TypeError('resetOffsets needs groupId and topic')
    const t = this.topic(topic)
    if ((this.coordinators.get(groupId)?.members.size ?? 0) > 0) {
      throw new SeglogError(
        'INVALID_CONFIG',
        `group '${groupId}' has active members; stop them before resetting offsets`,
      )
    }
    const commits: { topic: string; partition: number; offset: number }[] = []
    if (typeof to === 'object' && to !== null && 'offsets' in to) {
      for (const { partition, offset } of to.offsets) {
        const p = this.partition(t, partition)
        if (!Number.isSafeInteger(offset) || offset < p.log.logStartOffset || offset > p.log.logEndOffset) {
          throw new SeglogError(
            'OFFSET_OUT_OF_RANGE',
            `offset ${offset} is outside partition ${partition} of '${topic}'`,
            {
              offset,
            },
          )
        }
        commits.push({ topic, partition, offset })
      }
    } else {
      for (const p of t.partitions) {
        let offset: number
        if (to === 'earliest') offset = p.log.logStartOffset
        else if (to === 'latest') offset = p.log.logEndOffset
        else if (
          typeof to === 'object' &&
          to !== null &&
          typeof (to as { timestamp?: unknown }).timestamp === 'number'
        ) {
          offset = p.log.offsetForTimestamp((to as { timestamp: number }).timestamp) ?? p.log.logEndOffset
        } else throw new TypeError("to must be 'earliest', 'latest', { timestamp } or { offsets }")
        commits.push({ topic, partition: p.index, offset })
      }
    }
    await this.offsetStore_.commit(groupId, commits)
  }

  /** Deletes a group's committed offsets. The group must have no active member in this process. */
  async deleteGroup(groupId: string): Promise<void> {
    this.assertOpen()
    if (typeof groupId !== 'string') throw new TypeError('groupId must be a string')
    if ((this.coordinators.get(groupId)?.members.size ?? 0) > 0) {
      throw new SeglogError('INVALID_CONFIG', `group '${groupId}' has active members; stop them before deleting it`)
    }
    this.coordinators.delete(groupId)
    await this.offsetStore_.deleteGroup(groupId)
  }

  // ---- append ----

  /**
   * Appends `messages` to `topic`. Each partition's share of the call becomes one batch: all of it lands or none
   * of it does, and nothing is written when any message is invalid. Resolves per `acks` (DESIGN §5) with
   * `{ partition, offset, timestamp }` for each message, in input order.
   */
  append(topic: string, messages: readonly Message[], options: AppendOptions = {}): Promise<RecordMetadata[]> {
    try {
      this.assertOpen()
      if (!Array.isArray(messages)) throw new TypeError('messages must be an array')
      if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
      const acks = options.acks === undefined ? this.defaultAcks : checkAcks(options.acks)
      const t = this.topic(topic)
      const { meta, touched } = this.writeMessages(t, messages)
      if (appendChannel.hasSubscribers) {
        appendChannel.publish({ topic, partitions: touched.map((p) => p.index), records: messages.length, acks })
      }
      if (acks !== -1 || touched.length === 0) {
        for (const p of touched) this.scheduleFlush(p)
        return Promise.resolve(meta)
      }
      const flushed = Promise.all(touched.map((p) => p.log.flush())).then(() => meta)
      return this.track(flushed)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private writeMessages(
    t: TopicState,
    messages: readonly Message[],
  ): { meta: RecordMetadata[]; touched: PartitionState[] } {
    const n = t.partitions.length
    const now = this.clock()
    const compacted = t.config.cleanupPolicy !== 'delete'
    const byPartition = new Map<number, { records: BatchRecordInput[]; slots: number[] }>()
    const partOf = new Array<number>(messages.length)
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]
      const record = checkMessage(m, i, now)
      const key = record.key
      if (compacted && key === null) {
        throw new SeglogError('INVALID_RECORD', `message ${i}: topic '${t.record.name}' is compacted and needs a key`)
      }
      const value = encodeValue(t.config.format, m.value, i)
      record.value = value
      let partition: number
      if (record.partition !== null) {
        const explicit = t.partitions[record.partition]
        if (explicit === undefined) {
          throw new SeglogError(
            'PARTITION_NOT_FOUND',
            `message ${i}: topic '${t.record.name}' has partitions 0..${n - 1}, not ${record.partition}`,
          )
        }
        partition = explicit.index
      } else if (n === 1) {
        partition = 0
      } else if (key !== null) {
        partition = partitionForKey(typeof key === 'string' ? keyBytes(key) : key, n)
      } else {
        partition = t.sticky.partition(t.record.name, n, (value?.length ?? 0) + 16)
      }
      partOf[i] = partition
      let group = byPartition.get(partition)
      if (group === undefined) {
        group = { records: [], slots: [] }
        byPartition.set(partition, group)
      }
      group.slots.push(i)
      group.records.push(record)
    }
    // Encode and size-check every batch before writing any, so a rejected call writes nothing.
    const compression =
      t.config.compressionType === 'none' ? undefined : this.codecs.compressionFor(t.config.compressionType)
    const timestampType =
      t.config.messageTimestampType === 'LogAppendTime' ? TimestampType.LogAppendTime : TimestampType.CreateTime
    const prepared: { p: PartitionState; batch: PreparedBatch; records: BatchRecordInput[]; slots: number[] }[] = []
    for (const [partition, group] of byPartition) {
      const p = t.partitions[partition]
      prepared.push({ p, batch: p.log.prepare(group.records, { timestampType, compression }), ...group })
    }
    const meta = new Array<RecordMetadata>(messages.length)
    const touched: PartitionState[] = []
    for (const { p, batch, records, slots } of prepared) {
      const info = p.log.appendPrepared(batch)
      for (let k = 0; k < slots.length; k++) {
        meta[slots[k]] = {
          partition: p.index,
          offset: info.baseOffset + k,
          timestamp: info.logAppendTime >= 0 ? info.logAppendTime : records[k].timestamp,
        }
      }
      touched.push(p)
      this.wake(p)
    }
    return { meta, touched }
  }

  /** acks 0/1: fsync within `flushMs`, or at once past `flushMessages` unflushed records. */
  private scheduleFlush(p: PartitionState): void {
    const config = p.topic.config
    if (p.log.logEndOffset - p.log.recoveryPoint >= config.flushMessages || config.flushMs === 0) {
      this.backgroundFlush(p)
      return
    }
    if (p.flushTimer !== null) return
    p.flushTimer = setTimeout(() => {
      p.flushTimer = null
      this.backgroundFlush(p)
    }, config.flushMs)
    p.flushTimer.unref()
  }

  private backgroundFlush(p: PartitionState): void {
    if (this.status_ !== 'open') return
    this.track(
      p.log.flush().catch((err) => {
        const error = err instanceof SeglogError ? err : ioError(err, 'fsync', p.log.dir)
        this.onEvent({ type: 'flush-failed', topic: p.topic.record.name, partition: p.index, error })
      }),
    )
  }

  /** fsyncs everything written so far, in every partition. */
  async flush(): Promise<void> {
    this.assertOpen()
    const jobs: Promise<void>[] = []
    for (const t of this.topics.values()) for (const p of t.partitions) jobs.push(p.log.flush())
    await this.track(Promise.all(jobs))
  }

  // ---- reads ----

  private toRecord(t: TopicState, partition: number, r: DecodedRecord): SeglogRecord {
    return {
      topic: t.record.name,
      partition,
      offset: r.offset,
      timestamp: r.timestamp,
      key: r.key,
      value: decodeValue(t.config.format, r.value, r.offset),
      headers: decodeHeaders(r.headers),
    }
  }

  /**
   * Records of one partition with offset >= `offset`, in order (DESIGN §9): `[]` at the log end,
   * OFFSET_OUT_OF_RANGE below the log start or above the log end.
   */
  async read(topic: string, partition: number, offset: number, options: ReadOptions = {}): Promise<SeglogRecord[]> {
    return this.readNow(topic, partition, offset, options)
  }

  private readNow(topic: string, partition: number, offset: number, options: ReadOptions): SeglogRecord[] {
    this.assertOpen()
    const t = this.topic(topic)
    const p = this.partition(t, partition)
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) {
      throw new TypeError(`offset must be an integer, got ${String(offset)}`)
    }
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const { maxRecords, maxBytes } = options
    if (maxRecords !== undefined && (!Number.isInteger(maxRecords) || maxRecords < 1)) {
      throw new TypeError('maxRecords must be a positive integer')
    }
    if (maxBytes !== undefined && (!Number.isInteger(maxBytes) || maxBytes < 1)) {
      throw new TypeError('maxBytes must be a positive integer')
    }
    return p.log.read(offset, { maxRecords, maxBytes }).map((r) => this.toRecord(t, partition, r))
  }

  offsets(topic: string, partition: number): { logStartOffset: number; logEndOffset: number } {
    this.assertOpen()
    const p = this.partition(this.topic(topic), partition)
    return { logStartOffset: p.log.logStartOffset, logEndOffset: p.log.logEndOffset }
  }

  /** First offset whose timestamp >= `timestamp`, or null. */
  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number | null> {
    this.assertOpen()
    const p = this.partition(this.topic(topic), partition)
    if (typeof timestamp !== 'number' || Number.isNaN(timestamp)) throw new TypeError('timestamp must be a number')
    return p.log.offsetForTimestamp(timestamp)
  }

  private wake(p: PartitionState): void {
    if (p.waiters.size === 0) return
    const waiters = [...p.waiters]
    p.waiters.clear()
    for (const w of waiters) w()
  }

  /**
   * Async iterator over one partition from `from` ('earliest' default). With `live: true` it waits at the log
   * end for new appends (woken by the append itself, no polling) until `signal` aborts (ABORTED), the topic is
   * deleted or the engine closes (the iteration then ends). `break` releases everything it held.
   */
  stream(topic: string, partition: number, options: StreamOptions = {}): AsyncGenerator<SeglogRecord, void, undefined> {
    this.assertOpen()
    const t = this.topic(topic)
    const p = this.partition(t, partition)
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const { from = 'earliest', live = false, signal, maxRecords = 500 } = options
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal')
    checkBoolean('live', live)
    checkInteger('maxRecords', maxRecords, 1)
    if (typeof from === 'number') {
      if (!Number.isSafeInteger(from)) throw new TypeError(`from must be an integer offset, got ${describeValue(from)}`)
    } else if (
      from !== 'earliest' &&
      from !== 'latest' &&
      (from === null || typeof from !== 'object' || !Number.isFinite(from.timestamp))
    ) {
      throw new TypeError("from must be an offset, 'earliest', 'latest' or { timestamp } with a finite timestamp")
    }
    return this.streamGenerator(t, p, from, live, signal, maxRecords)
  }

  private async *streamGenerator(
    t: TopicState,
    p: PartitionState,
    from: StreamFrom,
    live: boolean,
    signal: AbortSignal | undefined,
    maxRecords: number,
  ): AsyncGenerator<SeglogRecord, void, undefined> {
    const aborted = () =>
      new SeglogError('ABORTED', `stream of ${t.record.name}-${p.index} was aborted`, { cause: signal?.reason })
    if (signal?.aborted) throw aborted()
    let next: number
    if (from === 'earliest') next = p.log.logStartOffset
    else if (from === 'latest') next = p.log.logEndOffset
    else if (typeof from === 'number') next = from
    else next = p.log.offsetForTimestamp(from.timestamp) ?? p.log.logEndOffset
    for (;;) {
      if (signal?.aborted) throw aborted()
      if (this.status_ !== 'open' || this.topics.get(t.record.name) !== t) return
      const batch = p.log.read(next, { maxRecords })
      if (batch.length > 0) {
        for (const r of batch) {
          yield this.toRecord(t, p.index, r)
          if (signal?.aborted) throw aborted()
        }
        next = batch[batch.length - 1].offset + 1
        continue
      }
      if (!live) return
      // The iteration is awaiting this wait: it keeps the process alive until an append, the signal or close.
      const release = holdProcess()
      await new Promise<void>((resolve) => {
        const wake = () => {
          p.waiters.delete(wake)
          signal?.removeEventListener('abort', wake)
          release()
          resolve()
        }
        p.waiters.add(wake)
        signal?.addEventListener('abort', wake, { once: true })
      })
    }
  }
}
