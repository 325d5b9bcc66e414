/**
 * Seglog: the engine's facade. One instance owns one directory of topics; a topic is N partitions, each a
 * PartitionLog in `<dir>/<topic>-<partition>/`. Topic metadata lives in a LevelDB under `<dir>/.seglog/meta`
 * and, for recovery, in each partition's `topic.json`; the OS lock of `<dir>/.seglog/lock` is the ownership lock.
 *
 * This module owns the lifecycle and nothing else: `open` (ownership, then the rooms), the one lifecycle guard,
 * and `close`. Each public method checks the guard and hands its arguments to the room that does the work:
 * `topics.ts` (topic registry and metadata operations), `append.ts`, `reads.ts` (reads, streams, waits),
 * `housekeeping.ts` (retention and compaction), and on the clients' side `clients/group-admin.ts`. Producers and
 * consumers see the engine only through the narrow host interfaces built here.
 *
 * Lifecycle: `opening → open → closing → closed`. Every public method checks the one guard (`assertOpen`,
 * ENGINE_CLOSED).
 * `close()` is single-flight (every call returns the first call's promise) and the status is `closing` from its
 * first step. Clients stop first (consumers commit what they processed, producers deliver what they queued);
 * until they have, calls are still accepted, since theirs and those of handlers in flight must run. Then
 * background work stops, in-flight appends and metadata operations finish, every partition is fsynced and
 * closed (each leaves its clean-shutdown mark), live streams end and the directory is released.
 *
 * Concurrency: one event loop. Calls may come at any time; the rooms say what they serialize.
 */
import * as nodeFs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Consumer, ConsumerHost, ConsumerOptions, PartitionLag } from '../clients/consumer.js'
import type { GroupState } from '../clients/group.js'
import type { GroupDescription, Groups, ResetOffsetsTo } from '../clients/group-admin.js'
import type { CommittedOffset, OffsetStore } from '../clients/offset-store.js'
import type { Producer, ProducerHost, ProducerOptions } from '../clients/producer.js'
import type { TopicConfig } from '../config.js'
import { ioError, SeglogError } from '../errors.js'
import type { AppendOptions, Message, RecordMetadata, SeglogRecord } from '../records.js'
import type { WireServer } from '../wire/server.js'
import type { AppendPath } from './append.js'
import type { EngineContext } from './context.js'
import type { Housekeeping, PartitionCompaction, PartitionRetention } from './housekeeping.js'
import { type EngineEvent, type EngineStatus, type ListenOptions, type SeglogOptions, TEST_HOOKS } from './options.js'
import type { ReadOptions, Reads, StreamOptions } from './reads.js'
import type { CreateTopicOptions, TopicDescription, TopicRegistry } from './topics.js'

/**
 * The owner's rooms (owner-rooms.ts), loaded by the first owner open: a process that only opens read-only never
 * loads them. Set before any Seglog is constructed.
 */
let rooms: typeof import('./owner-rooms.js')

/** What every open needs (open-core.ts), loaded by the first open so that importing the package stays small. */
let core: typeof import('./open-core.js')

/** Real paths owned by a Seglog in this process (LevelDB's per-process lock cannot tell them apart). */
const ownedInProcess = new Set<string>()

const META_DIR = '.seglog'
const OWNER_FILE = 'owner.json'

/** What close() stops first: producers and consumers. */
interface Client {
  stop(): Promise<void>
}

export class Seglog {
  /** The directory as given to `open`. */
  readonly dir: string
  /** Its real path (what ownership is about). */
  readonly realDir: string
  /** `stopping-clients` is the first step of close(): reported as `closing`, but calls are still accepted. */
  #phase: EngineStatus | 'stopping-clients' = 'opening'
  #closing: Promise<void> | null = null
  readonly #ctx: EngineContext
  readonly #crashPoint: (point: string) => void
  readonly #engineDefaults: Partial<TopicConfig>
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #clients = new Set<Client>()
  #topics!: TopicRegistry
  #offsetStore!: OffsetStore
  #groups!: Groups
  readonly #reads: Reads
  readonly #append: AppendPath
  readonly #housekeeping: Housekeeping
  readonly #autoCreateTopics: boolean
  /** What `owner.json` says besides the listener: who owns the directory, since when. */
  #owner: { pid: number; hostname: string; since: string } | null = null
  #clusterId: string | null = null
  /** The wire listener while one runs, the start of one in progress, and the hold that keeps the process alive. */
  #listener: WireServer | null = null
  #listenStarting: Promise<unknown> | null = null
  #releaseListenerHold: (() => void) | null = null

  private constructor(dir: string, realDir: string, options: SeglogOptions, engineDefaults: Partial<TopicConfig>) {
    this.dir = dir
    this.realDir = realDir
    const hooks = options[TEST_HOOKS] ?? {}
    const listener = options.onEvent ?? (() => {})
    const codecs = new core.CodecRegistry()
    for (const [name, codec] of Object.entries(options.codecs ?? {})) {
      if (codec) codecs.register(name as 'gzip' | 'snappy' | 'lz4' | 'zstd', codec)
    }
    this.#ctx = {
      dir,
      realDir,
      fs: new core.BoundedFileSystem(hooks.fs ?? core.nodeFileSystem, { maxOpenFiles: options.maxOpenFiles ?? 512 }),
      clock: options.clock ?? Date.now,
      onEvent: (event: EngineEvent) => {
        if (core.engineChannel.hasSubscribers) core.engineChannel.publish({ dir: realDir, ...event })
        listener(event)
      },
      codecs,
      verifyInBackground: hooks.verifyInBackground ?? hooks.fs === undefined,
      isOpen: () => this.#accepting(),
      assertOpen: () => this.assertOpen(),
      track: (work) => this.#track(work),
    }
    this.#crashPoint = hooks.crashPoint ?? (() => {})
    this.#engineDefaults = engineDefaults
    this.#autoCreateTopics = options.autoCreateTopics ?? true
    // The rooms reach the registry through these lookups; it exists once `load` opened the metadata store.
    const topics = {
      topic: (name: string) => this.#topics.topic(name),
      partition: (t: Parameters<TopicRegistry['partition']>[0], p: number) => this.#topics.partition(t, p),
      find: (name: string) => this.#topics?.find(name),
      all: () => this.#topics?.all() ?? [],
    }
    this.#reads = new core.Reads(this.#ctx, topics)
    this.#append = new rooms.AppendPath(
      this.#ctx,
      topics,
      options.acks === undefined ? -1 : core.checkAcks(options.acks),
    )
    this.#housekeeping = new rooms.Housekeeping(this.#ctx, topics, {
      retentionIntervalMs: options.retentionCheckIntervalMs ?? 300_000,
      cleanerBackoffMs: options.cleanerBackoffMs ?? 15_000,
      cleanerMapBytes: options.cleanerMapBytes ?? 16 * 1024 * 1024,
    })
  }

  /**
   * Opens `dir` (creating it if missing) and becomes its exclusive owner. Another owner — another process, or a
   * second open in this process, through any path or symlink to the same directory — gets ENGINE_LOCKED. With
   * `readOnly: true` it neither owns nor writes (see read-only.ts); the directory must exist.
   */
  static async open(dir: string, given: SeglogOptions = {}): Promise<Seglog> {
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty string')
    core ??= await import('./open-core.js')
    // Every option is checked (and the clock read once) before anything is created or locked.
    const { options, defaults } = core.checkOpenOptions(given)
    if (options.readOnly === true) {
      // No ownership, no writes (see read-only.ts); loaded here, so an owner never loads it.
      const { openReadOnly } = await import('./read-only.js')
      return openReadOnly(dir, options, defaults)
    }
    let realDir: string
    try {
      nodeFs.mkdirSync(dir, { recursive: true })
      realDir = nodeFs.realpathSync(dir)
    } catch (err) {
      throw ioError(err, 'open engine directory', dir)
    }
    // Loaded before the in-process ownership check: between that check and the claim nothing may yield.
    rooms ??= await import('./owner-rooms.js')
    if (ownedInProcess.has(realDir)) {
      throw new SeglogError('ENGINE_LOCKED', `${realDir} is already open in this process (pid ${process.pid})`, {
        path: realDir,
      })
    }
    ownedInProcess.add(realDir)
    const engine = new Seglog(dir, realDir, options, defaults)
    try {
      await engine.#load()
    } catch (err) {
      ownedInProcess.delete(realDir)
      await engine.#topics?.abandon()
      throw err
    }
    engine.#phase = 'open'
    engine.#housekeeping.start()
    if (options.listen !== undefined) {
      try {
        await engine.listen(options.listen)
      } catch (err) {
        await engine.close().catch(() => {})
        throw err
      }
    }
    return engine
  }

  async #load(): Promise<void> {
    const { fs, clock, onEvent } = this.#ctx
    const metaDir = path.join(this.realDir, META_DIR)
    try {
      fs.mkdir(metaDir)
    } catch (err) {
      throw ioError(err, 'mkdir', metaDir)
    }
    const { registry, repairs } = await rooms.TopicRegistry.open(
      this.#ctx,
      metaDir,
      () => this.#lockedMessage(metaDir),
      {
        defaults: this.#engineDefaults,
        crashPoint: this.#crashPoint,
        retire: (p) => {
          rooms.cancelFlush(p)
          core.wake(p)
        },
        topicsChanged: () => this.#groups.topicsChanged(),
        committedKeys: (topic) => this.#offsetStore.topicKeys(topic),
      },
    )
    this.#topics = registry
    this.#offsetStore = new rooms.OffsetStore(registry.meta.db, clock)
    this.#groups = new rooms.Groups({
      offsetStore: this.#offsetStore,
      assertOpen: () => this.assertOpen(),
      partitionCount: (topic) => this.#topics.partitionCount(topic),
      offsets: (topic, partition) => this.#reads.offsets(topic, partition),
      offsetForTimestamp: (topic, partition, ts) => this.#reads.offsetForTimestamp(topic, partition, ts),
    })
    this.#owner = { pid: process.pid, hostname: os.hostname(), since: new Date(clock()).toISOString() }
    this.#writeOwner(null)
    for (const r of repairs) onEvent({ type: 'metadata-repaired', ...r })
    await registry.load()
  }

  /**
   * Rewrites `.seglog/owner.json` (crash-safely): the owner's pid, host name and start time, its engine-wide topic
   * defaults (read-only opens show topic configs with them), and while a listener runs its address, so other
   * processes can find it. IO_ERROR when it cannot be written.
   */
  #writeOwner(listener: { host: string; port: number } | null): void {
    const metaDir = path.join(this.realDir, META_DIR)
    const owner = { ...this.#owner, defaults: this.#engineDefaults }
    const body = listener === null ? owner : { ...owner, listener }
    try {
      core.writeFileAtomic(this.#ctx.fs, metaDir, OWNER_FILE, Buffer.from(JSON.stringify(body)))
    } catch (err) {
      throw ioError(err, 'write', path.join(metaDir, OWNER_FILE))
    }
  }

  #lockedMessage(metaDir: string): string {
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

  // ---- lifecycle ----

  get status(): EngineStatus {
    return this.#phase === 'stopping-clients' ? 'closing' : this.#phase
  }

  /**
   * Open, or closing but still stopping its clients: a consumer's last commits, a producer's queued sends and
   * whatever the handlers in flight call must still run then.
   */
  #accepting(): boolean {
    return this.#phase === 'open' || this.#phase === 'stopping-clients'
  }

  /** Throws ENGINE_CLOSED unless the engine accepts calls (the one lifecycle guard). */
  assertOpen(): void {
    if (!this.#accepting()) throw new SeglogError('ENGINE_CLOSED', `seglog at ${this.dir} is ${this.status}`)
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inflight.add(work)
    const done = () => this.#inflight.delete(work)
    work.then(done, done)
    return work
  }

  /**
   * Stops clients and background work, waits for in-flight appends and metadata operations, fsyncs and closes
   * every partition (each leaves its clean-shutdown mark), ends live streams, and releases the directory.
   * Single-flight: a call while a close is under way returns that close's promise; after it, a call resolves at once.
   */
  close(): Promise<void> {
    if (this.#phase === 'closed') return Promise.resolve()
    if (this.#closing === null) this.#closing = this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#phase = 'stopping-clients'
    try {
      // The listener goes first: its connections end cleanly (owed responses written) while the engine still
      // accepts the calls of their handlers in flight.
      await this.#listenStarting?.catch(() => {})
      await this.#stopListener()
      // Consumers commit what they processed and producers deliver what they queued, with calls still accepted.
      await Promise.allSettled([...this.#clients].map((c) => c.stop()))
      this.#phase = 'closing'
      // A compaction in progress is stopped safely: the worker is terminated and its `.cleaned` files removed.
      await this.#housekeeping.stop()
      while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
      await this.#topics.close()
    } finally {
      this.#phase = 'closed'
      ownedInProcess.delete(this.realDir)
    }
  }

  // ---- the wire listener ----

  /**
   * Serves the directory over Kafka's wire protocol (a one-broker cluster) on `host` (default 127.0.0.1: loopback
   * unless another interface is named) and `port` (0 = any free port). Resolves with the bound address once it
   * accepts connections; `owner.json` records it until the listener stops. The listener keeps the process alive
   * until `close()`, which stops it first. A port in use is IO_ERROR with errno EADDRINUSE; an address that cannot
   * be bound is INVALID_CONFIG or IO_ERROR with its errno; a second listener is INVALID_CONFIG.
   */
  async listen(options: ListenOptions): Promise<{ host: string; port: number }> {
    const opts = core.checkListenOptions(options)
    if (this.#phase !== 'open') throw new SeglogError('ENGINE_CLOSED', `seglog at ${this.dir} is ${this.status}`)
    if (this.#listener !== null || this.#listenStarting !== null) {
      const where = this.#listener === null ? 'starting' : `on ${addressText(this.#listener.address())}`
      throw new SeglogError('INVALID_CONFIG', `seglog at ${this.dir} is already listening (${where})`)
    }
    const start = this.#startListener(opts)
    this.#listenStarting = start
    try {
      return await start
    } finally {
      this.#listenStarting = null
    }
  }

  async #startListener(opts: ListenOptions & { host: string }): Promise<{ host: string; port: number }> {
    // Loaded here, so an engine that never listens never loads the protocol.
    const [{ startWireServer }, { createBrokerHost, loadClusterId }] = await Promise.all([
      import('../wire/server.js'),
      import('./broker-host.js'),
    ])
    this.#clusterId ??= loadClusterId(this.#ctx, path.join(this.realDir, META_DIR))
    const host = createBrokerHost({
      ctx: this.#ctx,
      topics: this.#topics,
      append: this.#append,
      reads: this.#reads,
      groups: this.#groups,
      offsetStore: this.#offsetStore,
      defaults: this.#engineDefaults,
      clusterId: this.#clusterId,
      autoCreateTopics: this.#autoCreateTopics,
      isOpen: () => this.#phase === 'open',
      deleteRecords: (topic, partition, before) => this.deleteRecords(topic, partition, before),
    })
    const server = await startWireServer(host, {
      host: opts.host,
      port: opts.port,
      maxRequestBytes: opts.maxRequestBytes,
      idleMs: opts.idleMs,
    })
    this.#listener = server
    this.#releaseListenerHold = core.holdProcess()
    if (this.#phase !== 'open') {
      await this.#stopListener()
      throw new SeglogError('ENGINE_CLOSED', `seglog at ${this.dir} began closing while its listener started`)
    }
    const address = server.address()
    try {
      this.#writeOwner(address)
    } catch (err) {
      await this.#stopListener()
      throw err
    }
    return address
  }

  /** Closes the listener (its connections end cleanly) and drops its address from `owner.json`. Never rejects. */
  async #stopListener(): Promise<void> {
    const server = this.#listener
    if (server === null) return
    this.#listener = null
    try {
      await server.close()
    } catch {
      // A listener that fails to close has no connection left to serve: what matters is that it is gone.
    } finally {
      this.#releaseListenerHold?.()
      this.#releaseListenerHold = null
    }
    try {
      this.#writeOwner(null)
    } catch {
      // owner.json is informational (the lock is what counts); a stale address there only refuses connections.
    }
  }

  /** The listener's bound address while one runs, else null. */
  address(): { host: string; port: number } | null {
    const a = this.#listener?.address()
    return a === undefined ? null : { host: a.host, port: a.port }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  // ---- topics ----

  async createTopic(name: string, options: CreateTopicOptions = {}): Promise<void> {
    this.assertOpen()
    return this.#topics.create(name, options)
  }

  listTopics(): string[] {
    this.assertOpen()
    return this.#topics.names()
  }

  describeTopic(name: string): TopicDescription {
    this.assertOpen()
    return this.#topics.describe(name)
  }

  async alterTopicConfig(name: string, config: Partial<TopicConfig>): Promise<void> {
    this.assertOpen()
    return this.#topics.alterConfig(name, config)
  }

  async createPartitions(name: string, count: number): Promise<void> {
    this.assertOpen()
    return this.#topics.grow(name, count)
  }

  async deleteTopic(name: string): Promise<void> {
    this.assertOpen()
    return this.#topics.delete(name)
  }

  /**
   * Makes every record below `beforeOffset` unreadable (Kafka's deleteRecords): raises the log start offset and
   * deletes the segments wholly below it. OFFSET_OUT_OF_RANGE above the log end offset. Returns the new log
   * start offset.
   */
  async deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number> {
    this.assertOpen()
    const p = this.#topics.partition(this.#topics.topic(topic), partition)
    if (typeof beforeOffset !== 'number' || !Number.isSafeInteger(beforeOffset) || beforeOffset < 0) {
      throw new TypeError('beforeOffset must be a non-negative integer')
    }
    return p.log.advanceLogStartOffset(beforeOffset)
  }

  // ---- background work ----

  /**
   * Applies time and size retention and the log start offset to every partition now (Kafka's rules, see
   * retention/planner.ts) and resolves once the pass is applied on disk. Returns what it did per partition
   * that changed. A partition whose pass fails is reported with a `retention-failed` event and retried next pass.
   */
  async runRetention(): Promise<PartitionRetention[]> {
    this.assertOpen()
    return this.#housekeeping.runRetention()
  }

  /**
   * Compacts every partition of a `compact` / `compact,delete` topic now (a pass runs even below the dirty-ratio
   * threshold; the active segment is never touched) and resolves once the result is swapped in on disk.
   * For `compact,delete` topics retention runs after the pass. Returns what each partition's pass did.
   */
  async compact(topic: string): Promise<PartitionCompaction[]> {
    this.assertOpen()
    const t = this.#topics.topic(topic)
    if (t.config.cleanupPolicy === 'delete') {
      throw new SeglogError('INVALID_CONFIG', `topic '${topic}' has cleanupPolicy 'delete'; compaction needs 'compact'`)
    }
    return this.#housekeeping.compact(t, true)
  }

  // ---- append ----

  /**
   * Appends `messages` to `topic`. Each partition's share of the call becomes one batch: all of it lands or none
   * of it does, and nothing is written when any message is invalid. Resolves per `acks` with
   * `{ partition, offset, timestamp }` for each message, in input order.
   */
  append(topic: string, messages: readonly Message[], options: AppendOptions = {}): Promise<RecordMetadata[]> {
    return this.#append.append(topic, messages, options)
  }

  /** fsyncs everything written so far, in every partition. */
  async flush(): Promise<void> {
    return this.#append.flush()
  }

  // ---- reads ----

  /**
   * Records of one partition with offset >= `offset`, in order: `[]` at the log end, OFFSET_OUT_OF_RANGE below
   * the log start or above the log end.
   */
  async read(topic: string, partition: number, offset: number, options: ReadOptions = {}): Promise<SeglogRecord[]> {
    return this.#reads.read(topic, partition, offset, options)
  }

  offsets(topic: string, partition: number): { logStartOffset: number; logEndOffset: number } {
    return this.#reads.offsets(topic, partition)
  }

  /** First offset whose timestamp >= `timestamp`, or null. */
  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number | null> {
    return this.#reads.offsetForTimestamp(topic, partition, timestamp)
  }

  /**
   * Async iterator over one partition from `from` ('earliest' default). With `live: true` it waits at the log
   * end for new appends (woken by the append itself, no polling) until `signal` aborts (ABORTED), the topic is
   * deleted or the engine closes (the iteration then ends). `break` releases everything it held.
   */
  stream(topic: string, partition: number, options: StreamOptions = {}): AsyncGenerator<SeglogRecord, void, undefined> {
    return this.#reads.stream(topic, partition, options)
  }

  /**
   * @internal resolves once the partition's log end offset is above `offset` (see `waitPast` in reads.ts), or on
   * abort, topic deletion or engine close. The consumers' wait, exposed for tests.
   */
  waitForAppend(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<void> {
    return this.#reads.waitPast(topic, partition, offset, signal)
  }

  // ---- clients: producers, consumers, groups ----

  /** KafkaJS-shaped producer (see clients/producer.ts). */
  producer(options: ProducerOptions = {}): Producer {
    this.assertOpen()
    const host: ProducerHost = {
      assertOpen: () => this.assertOpen(),
      append: (topic, messages, opts) => this.#append.appendWithTopic(topic, messages, opts),
      partitionCount: (topic) => this.#topics.partitionCount(topic),
      registerClient: (c) => this.#clients.add(c),
      unregisterClient: (c) => this.#clients.delete(c),
    }
    return new rooms.Producer(host, options)
  }

  /** KafkaJS-shaped group consumer (see clients/consumer.ts). */
  consumer(options: ConsumerOptions): Consumer {
    this.assertOpen()
    const host: ConsumerHost = {
      offsetStore: this.#offsetStore,
      assertOpen: () => this.assertOpen(),
      read: async (topic, partition, offset, opts) => this.#reads.read(topic, partition, offset, opts),
      offsets: (topic, partition) => this.#reads.offsets(topic, partition),
      listTopics: () => this.listTopics(),
      partitionCount: (topic) => this.#topics.partitionCount(topic),
      waitPast: (topic, partition, offset, signal) => this.#reads.waitPast(topic, partition, offset, signal),
      coordinator: (groupId, assigner) => this.#groups.coordinator(groupId, assigner),
      registerClient: (c) => this.#clients.add(c),
      unregisterClient: (c) => this.#clients.delete(c),
    }
    return new rooms.Consumer(host, options)
  }

  /** @internal the committed-offset store (tests commit through it directly). */
  get offsetStore(): OffsetStore {
    return this.#offsetStore
  }

  /** Groups known to this directory: active in this process or with committed offsets. */
  async listGroups(): Promise<{ groupId: string; state: GroupState; members: number }[]> {
    return this.#groups.listGroups()
  }

  /** Members and their assignment, and per committed partition: committed offset, log end and lag. */
  async describeGroup(groupId: string): Promise<GroupDescription> {
    return this.#groups.describeGroup(groupId)
  }

  /** Committed offsets of a group (optionally one topic). */
  async fetchOffsets(groupId: string, topic?: string): Promise<CommittedOffset[]> {
    return this.#groups.fetchOffsets(groupId, topic)
  }

  /**
   * Sets a group's committed offsets for every partition of `topic` to the log start ('earliest'), the log end
   * ('latest'), the first offset at or after a timestamp, or explicit offsets. GROUP_NOT_EMPTY while the group
   * has an active member in this process (as Kafka requires): stop its consumers first.
   */
  async resetOffsets(options: { groupId: string; topic: string; to: ResetOffsetsTo }): Promise<void> {
    return this.#groups.resetOffsets(options)
  }

  /** Deletes a group's committed offsets. GROUP_NOT_EMPTY while the group has an active member in this process. */
  async deleteGroup(groupId: string): Promise<void> {
    return this.#groups.deleteGroup(groupId)
  }
}

function addressText(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}

export type { PartitionLag }
