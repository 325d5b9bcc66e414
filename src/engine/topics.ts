/**
 * The topic registry: which topics and partitions exist, their configs, and the metadata operations that change
 * them (createTopic, alterTopicConfig, createPartitions, deleteTopic), each crash-atomic. It owns the metadata
 * store (`metadata.ts`) and every `TopicState`/`PartitionState`.
 *
 * Crash order of metadata changes. The LevelDB write is the commit point; directory names say what an
 * interrupted operation was doing, and the open finishes it one way or the other (`topic-dirs.ts`). No open
 * ever removes a `<topic>-<p>` directory:
 * - createTopic / createPartitions: each new partition is a `<topic>-<p>.<id>-create` directory holding its
 *   topic file, fsynced → metadata put → renamed to `<topic>-<p>` → partition opened. Before the put: the
 *   `-create` directories are removed at open (old state); after it: renamed into place (new state).
 * - deleteTopic: partitions closed → each renamed `<topic>-<p>.<id>-delete`, fsynced → record and committed
 *   offsets deleted in one batch → directories removed. Before the batch: renamed back at open (old state);
 *   after it: removed (new state).
 * - alterTopicConfig: metadata put → topic files rewritten. A topic file never runs ahead of the store, and
 *   one with a higher epoch than the store's record (the store lost the write) wins at open.
 * A rollback (removing staged directories, renaming deleted ones back) that fails never replaces the error of
 * the operation: the call rejects with the first error and the rollback's failure is reported
 * (`rollback-failed`); the next open finishes the cleanup.
 *
 * Concurrency: metadata operations are serialized through one queue (`exclusive`); lookups are synchronous and
 * may run at any time.
 */
import * as path from 'node:path'
import {
  DEFAULT_TOPIC_CONFIG,
  type TopicConfig,
  type ValueFormatName,
  validateTopicConfig,
  validateTopicName,
} from '../config.js'
import { ioError, SeglogError } from '../errors.js'
import { type LogConfig, PartitionLog } from '../log/partition-log.js'
import { StickyPartitioner } from '../partitioner.js'
import { BatchCache } from '../segment/batch-cache.js'
import { CREATE_DIR_SUFFIX, DELETE_DIR_SUFFIX } from '../segment/file-names.js'
import type { EngineContext, PartitionState, TopicState } from './context.js'
import { type MetadataRepair, MetadataStore, newTopicId, type TopicRecord } from './metadata.js'
import { applyTopicDirs, partitionDirName, pendingDirName, planTopicDirs, writeTopicFiles } from './topic-dirs.js'

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

export interface CreateTopicOptions {
  partitions?: number
  config?: Partial<TopicConfig>
}

/** What the registry needs from the rest of the engine. */
export interface TopicRegistryHooks {
  /** Engine-wide topic defaults (already validated). */
  readonly defaults: Partial<TopicConfig>
  /** Test hook: called at named points of metadata operations. */
  readonly crashPoint: (point: string) => void
  /** A partition is about to be closed (topic deleted): stop its timers, wake its waiters. */
  retire(p: PartitionState): void
  /** Topics or partition counts changed (groups rebalance). */
  topicsChanged(): void
  /** Keys of every group's committed offsets of a topic (deleted with it, in one batch). */
  committedKeys(topic: string): Promise<string[]>
}

type Staged = { staged: { partition: number; name: string }[]; adopted: number[] }

/** A partition log's offsets, segment count and bytes, as `describeTopic` shows them. */
export function describePartitionLog(log: PartitionLog): Omit<PartitionDescription, 'partition'> {
  const segs = log.segmentInfos()
  return {
    logStartOffset: log.logStartOffset,
    logEndOffset: log.logEndOffset,
    segments: segs.length,
    bytes: segs.reduce((a, s) => a + s.size, 0),
  }
}

function describePartition(p: PartitionState): PartitionDescription {
  return { partition: p.index, ...describePartitionLog(p.log) }
}

/**
 * `describeTopic` of a topic: a copy of its config and each partition as `partition` describes it (by default its
 * log's fields, read now). The owner and a read-only open (which reads its partitions lazily) both describe with it.
 */
export function describeTopicState(
  t: TopicState,
  partition: (p: PartitionState) => PartitionDescription = describePartition,
): TopicDescription {
  return { name: t.record.name, config: { ...t.config }, partitions: t.partitions.map(partition) }
}

/** The part of a topic's config that its partition logs use. */
export function logConfigOf(config: TopicConfig): Partial<LogConfig> {
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

/**
 * An owned partition. After a clean shutdown of the whole engine (`MetadataStore.takeCleanMark`) its log is
 * opened on first use, so an open costs the same at 1 and at 1,000 partitions and a close touches only the
 * partitions this process used (an unused one keeps its own clean mark, untouched). Otherwise (the first open, or
 * after a crash) every log is opened, and so recovered, by the engine's open. Either way the log's own open
 * checks and recovers it: the engine-wide mark only moves when that happens, never whether it does (Kafka opens
 * the index files of a cleanly shut down log lazily the same way).
 */
class OwnedPartition implements PartitionState {
  readonly waiters = new Set<() => void>()
  flushTimer: NodeJS.Timeout | null = null
  #log: PartitionLog | null = null
  /** Set when the partition goes away (engine closing, topic deleted): a log not opened by then never is. */
  #retired = false

  constructor(
    readonly topic: TopicState,
    readonly index: number,
    readonly dir: string,
    private readonly openLog: (p: OwnedPartition) => PartitionLog,
  ) {}

  get log(): PartitionLog {
    if (this.#log === null) {
      // As a closed log answers: opening now would recreate the directory of a deleted topic.
      if (this.#retired) throw new SeglogError('ENGINE_CLOSED', `partition log ${this.dir} is closed`)
      this.#log = this.openLog(this)
    }
    return this.#log
  }

  retire(): void {
    this.#retired = true
  }

  get opened(): PartitionLog | null {
    return this.#log
  }
}

/** Partitions closed at once by `close` (each runs its fsyncs on the pool, which has 4 threads by default). */
const CLOSE_CONCURRENCY = 16

export class TopicRegistry {
  private readonly topics = new Map<string, TopicState>()
  /** One budget of verified batches for every partition of the engine, so memory does not grow with the partition count. */
  private readonly batchCache: BatchCache
  private metaQueue: Promise<unknown> = Promise.resolve()

  private constructor(
    private readonly ctx: EngineContext,
    readonly meta: MetadataStore,
    private readonly hooks: TopicRegistryHooks,
  ) {
    this.batchCache = new BatchCache(undefined, { verifyInBackground: ctx.verifyInBackground })
  }

  /**
   * Takes the ownership lock and opens the metadata store under `metaDir` (ENGINE_LOCKED, CORRUPT_LOG); the
   * topics are loaded by `load`.
   */
  static async open(
    ctx: EngineContext,
    metaDir: string,
    lockedMessage: () => string,
    hooks: TopicRegistryHooks,
  ): Promise<{ registry: TopicRegistry; repairs: MetadataRepair[] }> {
    const { store, repairs } = await MetadataStore.open(metaDir, { fs: ctx.fs, lockedMessage })
    return { registry: new TopicRegistry(ctx, store, hooks), repairs }
  }

  /** Reconciles the partition directories with the records, finishes interrupted operations, opens every partition. */
  async load(): Promise<void> {
    const { ctx } = this
    // The directories are the truth about which partitions exist: reconcile them with the records.
    const plan = planTopicDirs(ctx.fs, ctx.realDir, await this.meta.listTopics())
    if (plan.restored.length > 0) await this.meta.putTopics(plan.restored.map((r) => r.record))
    await applyTopicDirs(ctx.fs, ctx.realDir, plan)
    for (const { record, reason } of plan.restored) {
      ctx.onEvent({ type: 'topic-restored', topic: record.name, partitions: record.partitions, reason })
    }
    if (plan.removals.length > 0 || plan.renames.length > 0) {
      ctx.onEvent({ type: 'interrupted-operations', removed: plan.removals, renamed: plan.renames })
    }
    for (const m of plan.missing) ctx.onEvent({ type: 'partitions-missing', ...m })
    if (plan.unknown.length > 0) ctx.onEvent({ type: 'unknown-dirs', dirs: plan.unknown })
    for (const record of plan.topics.values()) this.topics.set(record.name, this.newTopicState(record))
    const lazy = await this.meta.takeCleanMark()
    for (const topic of this.topics.values()) {
      for (let p = 0; p < topic.record.partitions; p++) {
        topic.partitions.push(lazy ? this.newPartition(topic, p) : this.openPartition(topic, p))
      }
    }
  }

  /**
   * Closes every partition (each leaves its clean-shutdown mark) and then the metadata store; resolves after all
   * of them were tried, rejecting with the first failure.
   */
  async close(): Promise<void> {
    let firstError: unknown = null
    const all: PartitionLog[] = []
    for (const topic of this.topics.values()) {
      for (const p of topic.partitions) {
        this.retire(p)
        if (p.opened !== null) all.push(p.opened)
      }
    }
    // A few partitions at a time: their fsyncs run side by side on the pool (see PartitionLog.close).
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < all.length) {
        const log = all[next++]
        try {
          await log.close()
        } catch (err) {
          firstError ??= err
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(CLOSE_CONCURRENCY, all.length) }, worker))
    // Every partition is closed cleanly (or was never opened, its own mark untouched): the next open may defer
    // opening them.
    if (firstError === null && all.every((log) => log.closedClean)) {
      await this.meta.putCleanMark().catch((err) => {
        firstError ??= err
      })
    }
    await this.meta.close().catch((err) => {
      firstError ??= ioError(err, 'close metadata store', this.ctx.realDir)
    })
    if (firstError !== null) throw firstError
  }

  /** Closes what `load` opened, ignoring failures (a failed open). */
  async abandon(): Promise<void> {
    await this.meta.close().catch(() => {})
    for (const t of this.topics.values()) for (const p of t.partitions) await p.opened?.close().catch(() => {})
  }

  // ---- lookups ----

  /** The topic, or TOPIC_NOT_FOUND. */
  topic(name: string): TopicState {
    if (typeof name !== 'string') throw new TypeError(`topic must be a string, got ${typeof name}`)
    const t = this.topics.get(name)
    if (t === undefined) throw new SeglogError('TOPIC_NOT_FOUND', `topic '${name}' does not exist`)
    return t
  }

  /** The partition, or PARTITION_NOT_FOUND. */
  partition(topic: TopicState, partition: number): PartitionState {
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

  find(name: string): TopicState | undefined {
    return this.topics.get(name)
  }

  all(): Iterable<TopicState> {
    return this.topics.values()
  }

  /** Number of partitions of a topic, or undefined when it does not exist. */
  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions.length
  }

  names(): string[] {
    return [...this.topics.keys()].sort()
  }

  describe(name: string): TopicDescription {
    return describeTopicState(this.topic(name))
  }

  // ---- metadata operations ----

  /** Serializes metadata operations (create/delete/alter/grow). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.metaQueue.then(fn, fn)
    this.metaQueue = run.catch(() => {})
    return this.ctx.track(run)
  }

  private newTopicState(record: TopicRecord): TopicState {
    const config: TopicConfig = {
      ...DEFAULT_TOPIC_CONFIG,
      ...this.hooks.defaults,
      ...record.overrides,
      partitions: record.partitions,
      format: record.format,
    }
    return { record, config, partitions: [], sticky: new StickyPartitioner() }
  }

  private partitionDir(topic: string, partition: number): string {
    return path.join(this.ctx.realDir, partitionDirName(topic, partition))
  }

  /** The partition goes away: its timers and waiters end, and a log not opened yet stays so. */
  private retire(p: PartitionState): void {
    if (p instanceof OwnedPartition) p.retire()
    this.hooks.retire(p)
  }

  /** A partition whose log opens on first use, with the topic's config at that time. */
  private newPartition(topic: TopicState, index: number): OwnedPartition {
    return new OwnedPartition(topic, index, this.partitionDir(topic.record.name, index), (p) =>
      PartitionLog.openSync(p.dir, {
        config: logConfigOf(p.topic.config),
        fs: this.ctx.fs,
        clock: this.ctx.clock,
        decompress: this.ctx.codecs.decompressor,
        batchCache: this.batchCache,
        onEvent: (e) => this.ctx.onEvent({ ...e, topic: p.topic.record.name, partition: p.index }),
      }),
    )
  }

  /** A partition with its log opened now (CORRUPT_LOG, IO_ERROR). */
  private openPartition(topic: TopicState, index: number): PartitionState {
    const p = this.newPartition(topic, index)
    void p.log
    return p
  }

  private checkCompression(config: TopicConfig): void {
    if (config.compressionType !== 'none') this.ctx.codecs.compressionFor(config.compressionType)
  }

  /** A failed rollback, reported; the error of the operation is what its caller gets. */
  private rollbackFailed(operation: string, where: string, err: unknown): void {
    this.ctx.onEvent({ type: 'rollback-failed', operation, path: where, error: ioError(err, 'roll back', where) })
  }

  async create(name: string, options: CreateTopicOptions): Promise<void> {
    validateTopicName(name)
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    for (const key of Object.keys(options)) {
      if (key !== 'partitions' && key !== 'config') {
        throw new TypeError(
          `unknown createTopic option ${JSON.stringify(key)} (partitions, config; topic settings such as format go in config)`,
        )
      }
    }
    const { defaults, crashPoint } = this.hooks
    const overrides = validateTopicConfig(options.config)
    let partitions = options.partitions ?? overrides.partitions ?? defaults.partitions ?? 1
    if (options.partitions !== undefined)
      partitions = validateTopicConfig({ partitions: options.partitions }).partitions!
    delete overrides.partitions
    const format: ValueFormatName = overrides.format ?? defaults.format ?? DEFAULT_TOPIC_CONFIG.format
    delete overrides.format
    return this.exclusive(async () => {
      this.ctx.assertOpen()
      if (this.topics.has(name)) throw new SeglogError('TOPIC_EXISTS', `topic '${name}' already exists`)
      const record: TopicRecord = {
        name,
        id: newTopicId(),
        epoch: 1,
        partitions,
        format,
        overrides,
        createdAt: this.ctx.clock(),
      }
      const topic = this.newTopicState(record)
      this.checkCompression(topic.config)
      const staged = await this.stagePartitions(record, 0, 'createTopic')
      crashPoint('createTopic:before-commit')
      await this.commitStaged(staged, 'createTopic', () => this.meta.putTopic(record))
      crashPoint('createTopic:after-commit')
      await this.placeStaged(record, staged, 'createTopic', [])
      for (let p = 0; p < partitions; p++) topic.partitions.push(this.openPartition(topic, p))
      this.topics.set(name, topic)
      this.hooks.topicsChanged()
    })
  }

  /**
   * First half of adding partitions [from, record.partitions): each new one becomes a `-create` directory
   * holding its topic file, all fsynced. An existing `<topic>-<p>` directory (one kept as unknown) is adopted
   * instead: its data becomes the partition's. Nothing is committed yet; on failure the staged directories are
   * removed.
   */
  private async stagePartitions(record: TopicRecord, from: number, op: string): Promise<Staged> {
    const { fs, realDir } = this.ctx
    const staged: { partition: number; name: string }[] = []
    const adopted: number[] = []
    try {
      for (let p = from; p < record.partitions; p++) {
        if (fs.exists(this.partitionDir(record.name, p))) {
          adopted.push(p)
          continue
        }
        const dir = pendingDirName(record.name, p, record.id, CREATE_DIR_SUFFIX)
        fs.mkdir(path.join(realDir, dir))
        staged.push({ partition: p, name: dir })
      }
      await writeTopicFiles(
        fs,
        staged.map((s) => ({ dir: path.join(realDir, s.name), record, partition: s.partition })),
      )
      await fs.syncDir(realDir)
    } catch (err) {
      this.removeStaged(staged, op)
      throw ioError(err, 'create partition directories in', realDir)
    }
    return { staged, adopted }
  }

  /** Removes staged `-create` directories; one that cannot be removed is reported and left for the next open. */
  private removeStaged(staged: readonly { name: string }[], op: string): void {
    for (const s of staged) {
      const dir = path.join(this.ctx.realDir, s.name)
      try {
        this.ctx.fs.rmdir(dir)
      } catch (err) {
        this.rollbackFailed(op, dir, err)
      }
    }
  }

  /** The commit of a topic creation or growth: on failure nothing was committed and the staging is removed. */
  private async commitStaged(staged: Staged, op: string, commit: () => Promise<void>): Promise<void> {
    try {
      await commit()
    } catch (err) {
      this.removeStaged(staged.staged, op)
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
    { staged, adopted }: Staged,
    op: 'createTopic' | 'createPartitions',
    rewrite: number[],
  ): Promise<void> {
    const { fs, realDir } = this.ctx
    try {
      for (const [i, s] of staged.entries()) {
        fs.rename(path.join(realDir, s.name), this.partitionDir(record.name, s.partition))
        if (i === 0) this.hooks.crashPoint(`${op}:after-rename`)
      }
      await fs.syncDir(realDir)
      await writeTopicFiles(
        fs,
        [...adopted, ...rewrite].map((p) => ({ dir: this.partitionDir(record.name, p), record, partition: p })),
      )
    } catch (err) {
      const e = ioError(err, 'place new partitions of', realDir)
      throw new SeglogError(
        'IO_ERROR',
        `topic '${record.name}' was committed with ${record.partitions} partitions, but placing them failed ` +
          `(the next open finishes it): ${e.message}`,
        { cause: e, path: e.path, errno: e.errno },
      )
    }
  }

  async alterConfig(name: string, config: Partial<TopicConfig>): Promise<void> {
    const changes = validateTopicConfig(config)
    const { crashPoint } = this.hooks
    return this.exclusive(async () => {
      this.ctx.assertOpen()
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
      crashPoint('alterTopicConfig:before-commit')
      await this.meta.putTopic(record)
      crashPoint('alterTopicConfig:after-commit')
      t.record = record
      t.config = next.config
      for (const p of t.partitions) p.opened?.updateConfig(logConfigOf(t.config))
      // The topic files follow the commit; a crash before they are all rewritten leaves the store's newer record.
      const files = t.partitions.map((p) => ({ dir: this.partitionDir(name, p.index), record, partition: p.index }))
      try {
        await writeTopicFiles(this.ctx.fs, files.slice(0, 1))
        crashPoint('alterTopicConfig:after-file')
        await writeTopicFiles(this.ctx.fs, files.slice(1))
      } catch (err) {
        const e = ioError(err, 'write topic files of', this.ctx.realDir)
        throw new SeglogError(
          'IO_ERROR',
          `the config of topic '${name}' was changed and is in effect, but rewriting its topic files failed ` +
            `(the next open rewrites them): ${e.message}`,
          { cause: e, path: e.path, errno: e.errno },
        )
      }
    })
  }

  async grow(name: string, count: number): Promise<void> {
    if (typeof count !== 'number') throw new TypeError(`count must be a number, got ${typeof count}`)
    validateTopicConfig({ partitions: count })
    const { crashPoint } = this.hooks
    return this.exclusive(async () => {
      this.ctx.assertOpen()
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
      const staged = await this.stagePartitions(record, before, 'createPartitions')
      crashPoint('createPartitions:before-commit')
      await this.commitStaged(staged, 'createPartitions', () => this.meta.putTopic(record))
      t.record = record
      t.config = { ...t.config, partitions: count }
      crashPoint('createPartitions:after-commit')
      await this.placeStaged(
        record,
        staged,
        'createPartitions',
        t.partitions.map((p) => p.index),
      )
      for (let p = before; p < count; p++) t.partitions.push(this.openPartition(t, p))
      this.hooks.topicsChanged()
    })
  }

  async delete(name: string): Promise<void> {
    validateTopicName(name)
    const { crashPoint } = this.hooks
    const { fs, realDir } = this.ctx
    return this.exclusive(async () => {
      this.ctx.assertOpen()
      const t = this.topic(name)
      // Gone for new calls from here on; restored below if the deletion fails before its commit.
      this.topics.delete(name)
      for (const p of t.partitions) {
        this.retire(p)
        await p.opened?.close().catch(() => {})
      }
      const renamed: { from: string; to: string }[] = []
      try {
        for (const p of t.partitions) {
          const from = this.partitionDir(name, p.index)
          const to = path.join(realDir, pendingDirName(name, p.index, t.record.id, DELETE_DIR_SUFFIX))
          fs.rename(from, to)
          renamed.push({ from, to })
          if (renamed.length === 1) crashPoint('deleteTopic:after-rename')
        }
        await fs.syncDir(realDir)
        crashPoint('deleteTopic:before-commit')
        // The record and every group's committed offsets of the topic go in one atomic batch.
        await this.meta.deleteTopic(name, await this.hooks.committedKeys(name))
      } catch (err) {
        await this.undoDelete(t, renamed)
        throw ioError(err, 'delete topic in', realDir)
      }
      crashPoint('deleteTopic:after-commit')
      for (const r of renamed) {
        try {
          fs.rmdir(r.to)
        } catch {
          // Removed at the next open: a `-delete` directory whose topic is gone.
        }
        crashPoint('deleteTopic:after-partition')
      }
      await fs.syncDir(realDir).catch(() => {})
      this.hooks.topicsChanged()
    })
  }

  /**
   * A deletion failed before its commit: directories renamed back, partitions reopened, topic back in place. A
   * failure here is reported and left for the next open (the record is still there, so `-delete` directories are
   * renamed back).
   */
  private async undoDelete(t: TopicState, renamed: readonly { from: string; to: string }[]): Promise<void> {
    try {
      for (const r of renamed) this.ctx.fs.rename(r.to, r.from)
      await this.ctx.fs.syncDir(this.ctx.realDir)
      const reopened: PartitionState[] = []
      for (const p of t.partitions) reopened.push(this.openPartition(t, p.index))
      t.partitions = reopened
    } catch (err) {
      this.rollbackFailed('deleteTopic', this.ctx.realDir, err)
    }
    this.topics.set(t.record.name, t)
  }
}
