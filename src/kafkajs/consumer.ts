/**
 * The KafkaJS consumer over a directory. On a local directory it runs the engine's native group consumer (in-process
 * groups: a join is one rebalance, no network round trips) and speaks KafkaJS around it; on a directory another
 * process owns it is a kafkajs consumer pointed at the owner's listener.
 *
 * KafkaJS's semantics kept on a local directory:
 * - `subscribe` before `run` only; a RegExp is matched against the topics that exist then; a missing topic is
 *   created (binary) unless `allowAutoTopicCreation: false`; `fromBeginning` is per subscribe call's topics.
 * - `run` joins the group and resolves once it consumes. The native consumer always hands this one batch at a time:
 *   for `eachMessage` the messages are given one by one, each resolved after its handler resolved, and the batch
 *   stops early when the consumer stops, the partition is seeked (the rest of the batch is stale) or paused; for
 *   `eachBatch` the handler gets the batch and its helpers. Offsets are committed after each batch (`autoCommit`),
 *   and within a batch when `autoCommitInterval` elapsed or `autoCommitThreshold` offsets were resolved.
 * - A handler that throws is retried (`retry`: 5 retries from 300 ms, ×2, ±20 %; errors KafkaJS deems
 *   unrecoverable — TypeError, RangeError, ReferenceError, SyntaxError, `retriable: false` — are not); when the
 *   retries are spent the consumer stops, emits STOP, DISCONNECT and then CRASH with
 *   `KafkaJSNumberOfRetriesExceeded` (or `KafkaJSNonRetriableError`) and `restart`, and restarts after the last
 *   retry time unless the error is not retriable or `retry.restartOnFailure` resolves false.
 * - Events carry KafkaJS's payloads; offsets are strings everywhere. HEARTBEAT fires every `heartbeatInterval`
 *   while running (an in-process member has no session to keep, but health checks watch it).
 * - Group protocol: the assignors are KafkaJS's (`partitionAssigners`, round-robin by default), run in-process by
 *   the group's first member; the group uses that member's first assignor, and a member that lacks it is refused
 *   (INCONSISTENT_GROUP_PROTOCOL). The leader is the longest-standing member.
 *
 * Lifetime: from `run()` until `stop()`/`disconnect()` (or a crash without restart) the native consumer keeps the
 * process alive; a pending restart does too (its timer), as in KafkaJS.
 */

import { encodeValue } from '../internal.js'
import type {
  PartitionAssigner as NativeAssigner,
  Batch as NativeBatch,
  EachBatchPayload as NativeBatchPayload,
  Consumer as NativeConsumer,
  TopicPartition as NativeTopicPartition,
  Seglog,
  SeglogRecord,
} from '../main.js'
import { isSeglogError } from '../main.js'
import { AssignerProtocol, PartitionAssigners } from './assigners.js'
import { localCluster } from './cluster.js'
import { ConnectInFlight, type KafkaContext, topicFacts } from './context.js'
import type { Backend, Lease, LocalGroups } from './directory.js'
import {
  fromKafkaJS,
  fromSeglog,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  PROTOCOL_CODES,
  protocolError,
} from './errors.js'
import { Instrumentation } from './instrumentation.js'
import { viaKafkaJS } from './remote.js'
import type {
  Assigner,
  Batch,
  Consumer,
  ConsumerConfig,
  ConsumerCrashEvent,
  ConsumerEvents,
  ConsumerRunConfig,
  ConsumerSubscribeTopic,
  ConsumerSubscribeTopics,
  EachBatchPayload,
  GroupDescription,
  IMemberAssignment,
  InstrumentationEvent,
  KafkaMessage,
  Logger,
  Offsets,
  OffsetsByTopicPartition,
  RetryOptions,
  TopicPartitionOffset,
  TopicPartitionOffsetAndMetadata,
  TopicPartitions,
} from './types.js'

export const CONSUMER_EVENTS: ConsumerEvents = Object.freeze({
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH_START: 'consumer.fetch_start',
  FETCH: 'consumer.fetch',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics',
  REQUEST: 'consumer.network.request',
  REQUEST_TIMEOUT: 'consumer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'consumer.network.request_queue_size',
})

/** KafkaJS's retry defaults. */
const RETRY_DEFAULTS = { retries: 5, initialRetryTime: 300, maxRetryTime: 30_000, multiplier: 2, factor: 0.2 }

const UNRECOVERABLE = new Set(['RangeError', 'ReferenceError', 'SyntaxError', 'TypeError'])

/** KafkaJS's rule for whether a failure is worth another try. */
function isRetriable(err: unknown): boolean {
  const e = err as { retriable?: unknown; name?: unknown } | null
  return e?.retriable !== false && !UNRECOVERABLE.has(String(e?.name))
}

/** A failure as KafkaJS would have seen it: engine errors as the broker's answer. */
function asKafka(err: unknown): Error {
  const e = fromSeglog(err)
  return e instanceof Error ? e : new Error(String(e))
}

function originalCause(err: Error): Error {
  let e = err
  while (e.cause instanceof Error) e = e.cause
  return e
}

const tpKey = (topic: string, partition: number): string => `${topic}\0${partition}`

/** A stored value as KafkaJS hands it: raw bytes (a native topic's value in its format's encoding). */
function valueBytes(value: unknown, format: 'msgpack' | 'json' | 'string' | 'binary'): Buffer | null {
  if (value === null || value === undefined) return null
  if (Buffer.isBuffer(value)) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  return encodeValue(format === 'binary' ? 'msgpack' : format, value, 0)
}

function kafkaMessage(r: SeglogRecord, format: 'msgpack' | 'json' | 'string' | 'binary'): KafkaMessage {
  return {
    magicByte: 2,
    attributes: 0,
    timestamp: String(r.timestamp),
    offset: String(r.offset),
    key: r.key,
    value: valueBytes(r.value, format),
    headers: r.headers as KafkaMessage['headers'],
    isControlRecord: false,
  } as KafkaMessage
}

/** Offsets as KafkaJS groups them by topic (partitions as the object keys KafkaJS reads them from: strings). */
function byTopic(offsets: readonly { topic: string; partition: number; offset: number }[]): OffsetsByTopicPartition {
  const topics = new Map<string, { partition: number; offset: string }[]>()
  for (const o of offsets) {
    let list = topics.get(o.topic)
    if (list === undefined) topics.set(o.topic, (list = []))
    list.push({ partition: String(o.partition) as unknown as number, offset: String(o.offset) })
  }
  return { topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) }
}

/** An offset given as a string or number: a safe integer, or KafkaJSNonRetriableError as KafkaJS words it. */
function parseOffset(offset: unknown): number {
  const n = typeof offset === 'string' && /^-?\d+$/.test(offset.trim()) ? Number(offset) : offset
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new KafkaJSNonRetriableError(`Invalid offset, expected a long received ${String(offset)}`)
  }
  return n
}

function checkTopicPartitions(list: unknown, what: string): { topic: string; partitions?: number[] }[] {
  if (!Array.isArray(list)) throw new KafkaJSNonRetriableError(`${what} needs an array of { topic, partitions }`)
  for (const tp of list as { topic?: unknown; partitions?: unknown }[]) {
    if (!tp?.topic) throw new KafkaJSNonRetriableError(`Invalid topic ${String(tp?.topic ?? tp)}`)
    if (
      tp.partitions !== undefined &&
      (!Array.isArray(tp.partitions) || tp.partitions.some((p) => Number.isNaN(Number(p))))
    ) {
      throw new KafkaJSNonRetriableError(
        `Array of valid partitions required to ${what} specific partitions instead of ${String(tp.partitions)}`,
      )
    }
  }
  return list as { topic: string; partitions?: number[] }[]
}

const NOT_RUNNING = 'Consumer group was not initialized, consumer#run must be called first'

export class FacadeConsumer implements Consumer {
  readonly events: ConsumerEvents = CONSUMER_EVENTS
  readonly #ctx: KafkaContext
  readonly #config: ConsumerConfig
  readonly #groupId: string
  readonly #logger: Logger
  readonly #instrumentation: Instrumentation
  readonly #retry: RetryOptions
  readonly #heartbeatInterval: number
  #lease: Lease | null = null
  readonly #connecting = new ConnectInFlight()
  /** What subscribe() recorded (topic names, RegExps already expanded), applied to each native consumer at start. */
  readonly #subscriptions: { topics: string[]; fromBeginning: boolean }[] = []
  #runConfig: ConsumerRunConfig | null = null
  /** From run() until stop(), disconnect() or a crash that does not restart. */
  #running = false
  #native: NativeConsumer | null = null
  #memberId = ''
  #generation = -1
  #protocol = ''
  #joinedAt = 0
  #joinedOnce = false
  #restartTimer: NodeJS.Timeout | null = null
  #heartbeatTimer: NodeJS.Timeout | null = null
  #lastHeartbeat = 0
  #lastCommit = 0
  #resolvedSinceCommit = 0
  readonly #pausedKeys = new Set<string>()
  /** Per partition: the last retry wait of its current run of failures. */
  readonly #lastRetryWait = new Map<string, number>()
  readonly #formats = new Map<string, 'msgpack' | 'json' | 'string' | 'binary'>()
  #remote: Consumer | null = null

  constructor(ctx: KafkaContext, config: ConsumerConfig) {
    if (config === null || typeof config !== 'object' || typeof config.groupId !== 'string' || !config.groupId) {
      throw new KafkaJSNonRetriableError('Consumer groupId must be a non-empty string.')
    }
    const sessionTimeout = config.sessionTimeout ?? 30_000
    const heartbeatInterval = config.heartbeatInterval ?? 3000
    if (heartbeatInterval >= sessionTimeout) {
      throw new KafkaJSNonRetriableError(
        `Consumer heartbeatInterval (${heartbeatInterval}) must be lower than sessionTimeout (${sessionTimeout}). It is recommended to set heartbeatInterval to approximately a third of the sessionTimeout.`,
      )
    }
    const assigners = config.partitionAssigners
    if (assigners !== undefined && (!Array.isArray(assigners) || assigners.some((a) => typeof a !== 'function'))) {
      throw new KafkaJSNonRetriableError('partitionAssigners must be an array of assigner functions')
    }
    if (Array.isArray(assigners) && assigners.length === 0) {
      throw new KafkaJSNonRetriableError('partitionAssigners must name at least one assigner')
    }
    this.#ctx = ctx
    this.#config = config
    this.#groupId = config.groupId
    this.#heartbeatInterval = heartbeatInterval
    this.#retry = { ...ctx.retry, ...(config.retry ?? { retries: 5 }) }
    this.#logger = ctx.logger.namespace('Consumer')
    this.#instrumentation = new Instrumentation(CONSUMER_EVENTS, 'consumer', () => this.#logger)
  }

  // ---- connection ----

  async connect(): Promise<void> {
    if (this.#lease !== null) return
    return this.#connecting.run(
      () => this.#open(),
      () => this.#instrumentation.emit(CONSUMER_EVENTS.CONNECT, undefined),
    )
  }

  async #open(): Promise<void> {
    const lease = await this.#ctx.lease()
    try {
      if (lease.backend.kind === 'remote') await this.#attachRemote(lease.backend)
    } catch (err) {
      await lease.release()
      throw err
    }
    this.#lease = lease
  }

  async #attachRemote(backend: Extract<Backend, { kind: 'remote' }>): Promise<void> {
    const { kafka } = await this.#ctx.remote(backend)
    const remote = kafka.consumer({
      ...this.#config,
      partitionAssigners: this.#config.partitionAssigners ?? [PartitionAssigners.roundRobin],
    })
    for (const name of Object.values(CONSUMER_EVENTS)) {
      if (name === CONSUMER_EVENTS.CONNECT || name === CONSUMER_EVENTS.DISCONNECT) continue
      remote.on(name, (e: InstrumentationEvent<unknown>) => {
        if (name === CONSUMER_EVENTS.CRASH) {
          const p = (e as ConsumerCrashEvent).payload
          // A crash that does not restart leaves kafkajs's consumer stopped (subscribe is allowed again).
          if (!p.restart) this.#running = false
          this.#instrumentation.forward({ ...e, payload: { ...p, error: fromKafkaJS(p.error) } })
        } else this.#instrumentation.forward(e)
      })
    }
    await viaKafkaJS(() => remote.connect())
    this.#remote = remote
  }

  /** The lease, taking one first when the app did not call connect() (kafkajs connects on demand too). */
  async #backend(): Promise<Backend> {
    if (this.#lease === null) await this.connect()
    return this.#lease!.backend
  }

  #log(): Seglog {
    const b = this.#lease?.backend
    if (b?.kind !== 'local') throw new KafkaJSError('The consumer is disconnected')
    return b.log
  }

  async disconnect(): Promise<void> {
    await this.#connecting.settled()
    try {
      await this.stop()
      if (this.#remote !== null) await viaKafkaJS(() => this.#remote!.disconnect())
    } finally {
      this.#remote = null
      const lease = this.#lease
      this.#lease = null
      await lease?.release()
      this.#instrumentation.emit(CONSUMER_EVENTS.DISCONNECT, undefined)
    }
  }

  // ---- subscription ----

  async subscribe(subscription: ConsumerSubscribeTopics | ConsumerSubscribeTopic): Promise<void> {
    if (this.#running) throw new KafkaJSNonRetriableError('Cannot subscribe to topic while consumer is running')
    const s = (subscription ?? {}) as Partial<ConsumerSubscribeTopics & ConsumerSubscribeTopic>
    if (!s.topic && !s.topics) throw new KafkaJSNonRetriableError('Missing required argument "topics"')
    if (s.topics != null && !Array.isArray(s.topics)) {
      throw new KafkaJSNonRetriableError('Argument "topics" must be an array')
    }
    const wanted = s.topics ?? [s.topic as string | RegExp]
    for (const t of wanted) {
      if (typeof t !== 'string' && !(t instanceof RegExp)) {
        throw new KafkaJSNonRetriableError(
          `Invalid topic ${String(t)} (${typeof t}), the topic name has to be a String or a RegExp`,
        )
      }
    }
    const backend = await this.#backend()
    if (this.#remote !== null) {
      await viaKafkaJS(() => this.#remote!.subscribe(subscription))
      return
    }
    if (backend.kind !== 'local') throw new KafkaJSError('The consumer is disconnected')
    const log = backend.log
    const topics: string[] = []
    for (const t of wanted) {
      if (t instanceof RegExp) {
        topics.push(...log.listTopics().filter((name) => t.test(name)))
        continue
      }
      await this.#ensureTopic(log, t)
      topics.push(t)
    }
    this.#subscriptions.push({ topics, fromBeginning: s.fromBeginning === true })
  }

  async #ensureTopic(log: Seglog, topic: string): Promise<void> {
    try {
      if (topicFacts(log, topic) !== undefined) return
      if (this.#config.allowAutoTopicCreation === false) {
        throw protocolError(PROTOCOL_CODES.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`)
      }
      await log.createTopic(topic, { config: { format: 'binary' } }).catch((err: unknown) => {
        if (!isSeglogError(err, 'TOPIC_EXISTS')) throw err
      })
    } catch (err) {
      throw fromSeglog(err, { topic })
    }
  }

  // ---- run / stop ----

  async run(config: ConsumerRunConfig = {}): Promise<void> {
    if (this.#running) {
      this.#logger.warn('consumer#run was called, but the consumer is already running', { groupId: this.#groupId })
      return
    }
    if (config === null || typeof config !== 'object')
      throw new KafkaJSNonRetriableError('run config must be an object')
    if (typeof config.eachMessage !== 'function' && typeof config.eachBatch !== 'function') {
      throw new KafkaJSNonRetriableError('consumer#run needs an eachMessage or eachBatch handler')
    }
    await this.#backend()
    if (this.#remote !== null) {
      this.#running = true
      try {
        await viaKafkaJS(() => this.#remote!.run(config))
      } catch (err) {
        this.#running = false
        throw err
      }
      return
    }
    this.#runConfig = config
    this.#running = true
    await this.#start()
  }

  /** Starts one native consumer: subscribes it, registers the member, joins (run() resolves after this). */
  async #start(): Promise<void> {
    this.#restartTimer = null
    if (!this.#running) return
    const backend = this.#lease?.backend
    if (backend?.kind !== 'local') return
    const config = this.#runConfig!
    const log = backend.log
    const retry = { ...RETRY_DEFAULTS, ...this.#retry }
    this.#logger.info('Starting', { groupId: this.#groupId })
    let native: NativeConsumer
    try {
      native = log.consumer({
        groupId: this.#groupId,
        clientId: this.#ctx.clientId,
        autoOffsetReset: 'latest',
        partitionAssigner: this.#assigner(log, backend.groups),
        retry: {
          retries: retry.retries,
          initialRetryTime: retry.initialRetryTime,
          maxRetryTime: retry.maxRetryTime,
          multiplier: retry.multiplier,
          factor: Math.min(Math.max(retry.factor, 0), 1),
          retriable: (e) => isRetriable(asKafka(e)),
        },
      })
      for (const s of this.#subscriptions) await native.subscribe({ topics: s.topics, fromBeginning: s.fromBeginning })
    } catch (err) {
      await this.#crash(null, asKafka(err), { nonRetriable: true })
      return
    }
    this.#native = native
    this.#memberId = native.memberId
    this.#joinedOnce = false
    this.#joinedAt = Date.now()
    this.#lastCommit = Date.now()
    this.#resolvedSinceCommit = 0
    this.#pausedKeys.clear()
    this.#lastRetryWait.clear()
    this.#listen(native, backend.groups)
    const chosen = this.#protocol
    backend.groups.add(this.#groupId, {
      memberId: native.memberId,
      clientId: this.#ctx.clientId,
      protocol: chosen,
      metadata: (topics) => this.#memberMetadata(log, chosen, topics),
      topics: () => native.subscribedTopics(),
    })
    this.#startHeartbeats()
    try {
      await native.run({
        eachBatch: (payload) => this.#handleBatch(log, payload),
        autoCommit: config.autoCommit ?? true,
        autoCommitInterval: null,
        autoCommitThreshold: null,
        eachBatchAutoResolve: typeof config.eachMessage === 'function' ? false : (config.eachBatchAutoResolve ?? true),
        partitionsConsumedConcurrently: config.partitionsConsumedConcurrently ?? 1,
      })
    } catch (err) {
      // The join failed (another assignor, a group its wire members hold): KafkaJS crashes, and run() resolves.
      const code =
        isSeglogError(err, 'INVALID_CONFIG') || isSeglogError(err, 'GROUP_NOT_EMPTY')
          ? PROTOCOL_CODES.INCONSISTENT_GROUP_PROTOCOL
          : undefined
      const e = fromSeglog(err, { codeOverride: code })
      await this.#crash(native, e instanceof Error ? e : new Error(String(e)), { nonRetriable: !isRetriable(e) })
    }
  }

  /** The native side of this member's KafkaJS assignors: the group's protocol if this member has it, else its first. */
  #assigner(log: Seglog, groups: LocalGroups): NativeAssigner {
    const cluster = localCluster(log)
    const factories = this.#config.partitionAssigners ?? [PartitionAssigners.roundRobin]
    const assigners: Assigner[] = factories.map((f) => f({ cluster, groupId: this.#groupId, logger: this.#logger }))
    const current = groups.members(this.#groupId)[0]?.protocol
    const assigner = assigners.find((a) => a.name === current) ?? assigners[0]
    this.#protocol = assigner.name
    const groupId = this.#groupId
    return {
      name: assigner.name,
      async assign(members, partitionCounts) {
        const topics = [...partitionCounts.keys()].sort()
        const result = await assigner.assign({
          topics,
          members: members.map((m) => ({
            memberId: m.memberId,
            memberMetadata:
              groups.member(groupId, m.memberId)?.metadata([...m.topics]) ??
              AssignerProtocol.MemberMetadata.encode({ version: 0, topics: [...m.topics], userData: Buffer.alloc(0) }),
          })),
        })
        const plan = new Map<string, NativeTopicPartition[]>()
        for (const { memberId, memberAssignment } of result ?? []) {
          const decoded = AssignerProtocol.MemberAssignment.decode(memberAssignment)
          const list: NativeTopicPartition[] = []
          for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) {
            for (const partition of partitions) list.push({ topic, partition })
          }
          plan.set(memberId, list)
        }
        return plan
      },
    }
  }

  #memberMetadata(log: Seglog, protocol: string, topics: string[]): Buffer {
    const factories = this.#config.partitionAssigners ?? [PartitionAssigners.roundRobin]
    const cluster = localCluster(log)
    for (const f of factories) {
      const a = f({ cluster, groupId: this.#groupId, logger: this.#logger })
      if (a.name === protocol) return a.protocol({ topics }).metadata
    }
    return AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) })
  }

  #listen(native: NativeConsumer, groups: LocalGroups): void {
    const groupId = this.#groupId
    native.on('consumer.group_join', (e) => {
      if (this.#native !== native) return
      this.#generation = e.generation
      const leaderId = groups.members(groupId)[0]?.memberId ?? e.memberId
      const memberAssignment: IMemberAssignment = {}
      for (const { topic, partition } of e.assignment) (memberAssignment[topic] ??= []).push(partition)
      const payload = {
        duration: Date.now() - this.#joinedAt,
        groupId,
        isLeader: leaderId === e.memberId,
        leaderId,
        groupProtocol: this.#protocol,
        memberId: e.memberId,
        memberAssignment,
      }
      this.#joinedOnce = true
      this.#logger.info('Consumer has joined the group', payload)
      this.#instrumentation.emit(CONSUMER_EVENTS.GROUP_JOIN, payload)
    })
    native.on('consumer.rebalancing', (e) => {
      if (this.#native !== native || !this.#joinedOnce) return
      this.#joinedAt = Date.now()
      this.#instrumentation.emit(CONSUMER_EVENTS.REBALANCING, { groupId, memberId: e.memberId })
    })
    native.on('consumer.commit_offsets', (e) => {
      this.#lastCommit = Date.now()
      this.#resolvedSinceCommit = 0
      this.#instrumentation.emit(CONSUMER_EVENTS.COMMIT_OFFSETS, {
        groupId,
        memberId: native.memberId,
        groupGenerationId: this.#generation,
        topics: byTopic(e.offsets).topics,
      })
    })
    native.on('consumer.offset_reset', (e) => {
      this.#logger.info('Offset reset', { ...e })
    })
    native.on('consumer.stop', () => {
      this.#instrumentation.emit(CONSUMER_EVENTS.STOP, undefined)
    })
    native.on('consumer.crash', (e) => {
      if (this.#native !== native) return
      const key = tpKey(e.topic, e.partition)
      const kafkaError = asKafka(e.error)
      if (e.retryInMs !== null) {
        this.#lastRetryWait.set(key, e.retryInMs)
        this.#logger.error(`Error when calling ${this.#runConfig?.eachMessage ? 'eachMessage' : 'eachBatch'}`, {
          topic: e.topic,
          partition: e.partition,
          offset: String(e.offset),
          stack: kafkaError.stack,
          error: kafkaError,
          retryTime: e.retryInMs,
        })
        return
      }
      const retryTime = this.#lastRetryWait.get(key)
      void this.#crash(native, kafkaError, { nonRetriable: !isRetriable(kafkaError), retryTime }).catch((err) =>
        this.#unexpected(err),
      )
    })
  }

  /**
   * KafkaJS's crash: the consumer stops (STOP), disconnects (DISCONNECT), reports CRASH with whether it restarts,
   * and restarts after the retry time when the error was retriable and `restartOnFailure` agrees.
   */
  async #crash(
    native: NativeConsumer | null,
    cause: Error,
    how: { nonRetriable: boolean; retryTime?: number },
  ): Promise<void> {
    // Leave the stack of the handler or listener this was called from (a stop from there resolves early).
    await new Promise((r) => setImmediate(r))
    const retries = this.#retry.retries ?? RETRY_DEFAULTS.retries
    const retryTime = how.retryTime ?? this.#retry.initialRetryTime ?? RETRY_DEFAULTS.initialRetryTime
    const error = how.nonRetriable
      ? new KafkaJSNonRetriableError(cause, { cause })
      : new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: retries, retryTime })
    if (native !== null) await this.#teardown(native)
    this.#logger.error(`Crash: ${error.name}: ${error.message}`, {
      groupId: this.#groupId,
      retryCount: (error as { retryCount?: number }).retryCount,
      stack: error.stack,
    })
    this.#instrumentation.emit(CONSUMER_EVENTS.DISCONNECT, undefined)
    let restart =
      error.name === 'KafkaJSNumberOfRetriesExceeded' ||
      (originalCause(error) as { retriable?: unknown }).retriable === true
    if (restart && typeof this.#retry.restartOnFailure === 'function') {
      try {
        restart = (await this.#retry.restartOnFailure(error)) !== false
      } catch (e) {
        this.#logger.error(
          'Caught error when invoking user-provided "restartOnFailure" callback. Defaulting to restarting.',
          { error: (e as Error)?.message ?? e, cause: error.message, groupId: this.#groupId },
        )
        restart = true
      }
    }
    this.#instrumentation.emit(CONSUMER_EVENTS.CRASH, { error, groupId: this.#groupId, restart })
    if (!this.#running) return
    if (restart) {
      this.#logger.error(`Restarting the consumer in ${retryTime}ms`, { groupId: this.#groupId, retryTime })
      this.#restartTimer = setTimeout(() => void this.#start().catch((e) => this.#unexpected(e)), retryTime)
      return
    }
    // Not restarting: like KafkaJS, the consumer is disconnected (and the directory released by this client).
    this.#running = false
    const lease = this.#lease
    this.#lease = null
    await lease?.release()
  }

  /** A failure of the crash or restart path itself (a stop or close that failed): logged, never unhandled. */
  #unexpected(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err))
    this.#logger.error(`Consumer failed while crashing or restarting: ${e.message}`, {
      groupId: this.#groupId,
      stack: e.stack,
    })
  }

  /** Stops a native consumer and forgets it (its commits are done once this resolves). */
  async #teardown(native: NativeConsumer): Promise<void> {
    if (this.#native === native) this.#native = null
    this.#stopHeartbeats()
    const groups = this.#lease?.backend.kind === 'local' ? this.#lease.backend.groups : null
    try {
      await native.stop()
    } finally {
      groups?.remove(this.#groupId, native.memberId)
    }
  }

  async stop(): Promise<void> {
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer)
    this.#restartTimer = null
    if (this.#remote !== null) {
      this.#running = false
      await viaKafkaJS(() => this.#remote!.stop())
      return
    }
    const native = this.#native
    this.#running = false
    if (native !== null) await this.#teardown(native)
    this.#logger.info('Stopped', { groupId: this.#groupId })
  }

  // ---- heartbeats ----

  #startHeartbeats(): void {
    this.#stopHeartbeats()
    this.#lastHeartbeat = Date.now()
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(true), this.#heartbeatInterval)
    this.#heartbeatTimer.unref()
  }

  #stopHeartbeats(): void {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer)
    this.#heartbeatTimer = null
  }

  /** Emits HEARTBEAT when `heartbeatInterval` passed since the last one (or on the timer). */
  #heartbeat(force = false): void {
    if (this.#native === null || !this.#joinedOnce) return
    const now = Date.now()
    if (!force && now - this.#lastHeartbeat < this.#heartbeatInterval) return
    this.#lastHeartbeat = now
    this.#instrumentation.emit(CONSUMER_EVENTS.HEARTBEAT, {
      groupId: this.#groupId,
      memberId: this.#memberId,
      groupGenerationId: this.#generation,
    })
  }

  // ---- batches ----

  /** How far the eachMessage loop got in a native batch (a retried batch continues after what was resolved). */
  readonly #progress = new WeakMap<NativeBatch, number>()

  async #handleBatch(log: Seglog, p: NativeBatchPayload): Promise<void> {
    const config = this.#runConfig!
    const nb = p.batch
    const { topic, partition } = nb
    let format = this.#formats.get(topic)
    if (format === undefined) {
      format = topicFacts(log, topic)?.format ?? 'binary'
      this.#formats.set(topic, format)
    }
    const fmt = format
    const messages = nb.messages.map((r) => kafkaMessage(r, fmt))
    const hwm = nb.highWatermark
    const last = (): number => (nb.messages.length ? nb.messages[nb.messages.length - 1].offset : hwm - 1)
    const batch: Batch = {
      topic,
      partition,
      highWatermark: String(hwm),
      messages,
      isEmpty: () => messages.length === 0,
      firstOffset: () => (messages.length ? messages[0].offset : null),
      lastOffset: () => String(last()),
      offsetLag: () => String(hwm - 1 - last()),
      offsetLagLow: () => (messages.length ? String(hwm - 1 - nb.messages[0].offset) : '0'),
    }
    const first = !this.#progress.has(nb)
    if (first) {
      this.#progress.set(nb, 0)
      this.#instrumentation.emit(CONSUMER_EVENTS.FETCH_START, { nodeId: 0 })
      this.#instrumentation.emit(CONSUMER_EVENTS.FETCH, { numberOfBatches: 0, duration: 0, nodeId: 0 })
    }
    const started = Date.now()
    const info = {
      topic,
      partition,
      highWatermark: batch.highWatermark,
      offsetLag: batch.offsetLag(),
      offsetLagLow: batch.offsetLagLow(),
      batchSize: messages.length,
      firstOffset: batch.firstOffset() as string,
      lastOffset: batch.lastOffset(),
    }
    this.#instrumentation.emit(CONSUMER_EVENTS.START_BATCH_PROCESS, info)
    const key = tpKey(topic, partition)
    const heartbeat = async (): Promise<void> => this.#heartbeat()
    const pause = (): (() => void) => {
      this.pause([{ topic, partitions: [partition] }])
      return () => this.resume([{ topic, partitions: [partition] }])
    }
    if (typeof config.eachMessage === 'function') {
      const eachMessage = config.eachMessage
      for (let i = this.#progress.get(nb) ?? 0; i < messages.length; i++) {
        if (!p.isRunning() || p.isStale() || this.#pausedKeys.has(key)) break
        await eachMessage({ topic, partition, message: messages[i], heartbeat, pause })
        p.resolveOffset(nb.messages[i].offset)
        this.#progress.set(nb, i + 1)
        this.#resolvedSinceCommit++
        this.#lastRetryWait.delete(key)
        this.#heartbeat()
        if (config.autoCommit !== false && this.#commitDue()) await p.commitOffsetsIfNecessary()
      }
    } else {
      const payload: EachBatchPayload = {
        batch,
        resolveOffset: (offset: string) => {
          p.resolveOffset(parseOffset(offset))
          this.#resolvedSinceCommit++
        },
        heartbeat,
        pause,
        commitOffsetsIfNecessary: async (offsets?: Offsets) => {
          if (offsets) return this.#commit(flatten(offsets))
          if (this.#commitDue()) await p.commitOffsetsIfNecessary()
        },
        uncommittedOffsets: () => byTopic(p.uncommittedOffsets()),
        isRunning: () => p.isRunning(),
        isStale: () => p.isStale(),
      }
      await config.eachBatch!(payload)
      this.#lastRetryWait.delete(key)
    }
    this.#instrumentation.emit(CONSUMER_EVENTS.END_BATCH_PROCESS, { ...info, duration: Date.now() - started })
    this.#heartbeat()
  }

  /** KafkaJS's commitOffsetsIfNecessary: when the interval elapsed or the threshold of resolved offsets is met. */
  #commitDue(): boolean {
    const { autoCommitInterval, autoCommitThreshold } = this.#runConfig ?? {}
    return (
      (autoCommitInterval != null && Date.now() >= this.#lastCommit + autoCommitInterval) ||
      (autoCommitThreshold != null && this.#resolvedSinceCommit >= autoCommitThreshold)
    )
  }

  // ---- offsets, seek, pause ----

  async #commit(offsets: { topic: string; partition: number; offset: number; metadata?: string | null }[]) {
    const native = this.#native
    if (native === null) return
    try {
      await native.commitOffsets(offsets)
    } catch (err) {
      throw err instanceof TypeError ? new KafkaJSNonRetriableError(err.message, { cause: err }) : fromSeglog(err)
    }
  }

  async commitOffsets(topicPartitions: Array<TopicPartitionOffsetAndMetadata> = []): Promise<void> {
    const list = topicPartitions.map(({ topic, partition, offset, metadata = null }) => {
      if (!topic) throw new KafkaJSNonRetriableError(`Invalid topic ${topic}`)
      if (Number.isNaN(Number(partition)) || partition === null) {
        throw new KafkaJSNonRetriableError(`Invalid partition, expected a number received ${partition}`)
      }
      const n = parseOffset(offset)
      if (n < 0) throw new KafkaJSNonRetriableError('Offset must not be a negative number')
      if (metadata !== null && typeof metadata !== 'string') {
        throw new KafkaJSNonRetriableError(`Invalid offset metadata, expected string or null, received ${metadata}`)
      }
      return { topic, partition: Number(partition), offset: n, metadata }
    })
    if (this.#remote !== null) return viaKafkaJS(() => this.#remote!.commitOffsets(topicPartitions))
    if (!this.#running) throw new KafkaJSNonRetriableError(NOT_RUNNING)
    await this.#commit(list)
  }

  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    if (!topic) throw new KafkaJSNonRetriableError(`Invalid topic ${topic}`)
    if (Number.isNaN(Number(partition)) || partition === null) {
      throw new KafkaJSNonRetriableError(`Invalid partition, expected a number received ${partition}`)
    }
    const n = parseOffset(offset)
    if (n < 0 && n !== -1 && n !== -2) throw new KafkaJSNonRetriableError('Offset must not be a negative number')
    if (this.#remote !== null) {
      kafkaSync(() => this.#remote!.seek({ topic, partition, offset }))
      return
    }
    const native = this.#native
    if (!this.#running || native === null) throw new KafkaJSNonRetriableError(NOT_RUNNING)
    let target = n
    if (n < 0) {
      try {
        const { logStartOffset, logEndOffset } = this.#log().offsets(topic, Number(partition))
        target = n === -2 ? logStartOffset : logEndOffset
      } catch (err) {
        throw fromSeglog(err, { topic, partition })
      }
    }
    native.seek({ topic, partition: Number(partition), offset: target })
    // KafkaJS commits a seek right away when it auto-commits (the group then restarts there after a crash).
    const assigned = native.assignment().some((tp) => tp.topic === topic && tp.partition === Number(partition))
    if ((this.#runConfig?.autoCommit ?? true) && assigned) {
      void native.commitOffsets([{ topic, partition: Number(partition), offset: target }]).catch((err: unknown) => {
        this.#logger.error('Failed to commit the seek offset', { topic, partition, offset: String(target), error: err })
      })
    }
  }

  pause(topicPartitions: Array<{ topic: string; partitions?: number[] }> = []): void {
    const list = checkTopicPartitions(topicPartitions, 'pause')
    if (this.#remote !== null) {
      kafkaSync(() => this.#remote!.pause(list))
      return
    }
    const native = this.#native
    if (native === null) throw new KafkaJSNonRetriableError(NOT_RUNNING)
    native.pause(list)
    for (const { topic, partitions } of native.paused()) {
      for (const partition of partitions) this.#pausedKeys.add(tpKey(topic, partition))
    }
  }

  resume(topicPartitions: Array<{ topic: string; partitions?: number[] }> = []): void {
    const list = checkTopicPartitions(topicPartitions, 'resume')
    if (this.#remote !== null) {
      kafkaSync(() => this.#remote!.resume(list))
      return
    }
    const native = this.#native
    if (native === null) throw new KafkaJSNonRetriableError(NOT_RUNNING)
    native.resume(list)
    this.#pausedKeys.clear()
    for (const { topic, partitions } of native.paused()) {
      for (const partition of partitions) this.#pausedKeys.add(tpKey(topic, partition))
    }
  }

  paused(): TopicPartitions[] {
    if (this.#remote !== null) return kafkaSync(() => this.#remote!.paused())
    return this.#native?.paused() ?? []
  }

  // ---- describe, events, logger ----

  async describeGroup(): Promise<GroupDescription> {
    const backend = await this.#backend()
    if (this.#remote !== null) return viaKafkaJS(() => this.#remote!.describeGroup())
    if (backend.kind !== 'local') throw new KafkaJSError('The consumer is disconnected')
    return describeLocalGroup(backend.log, backend.groups, this.#groupId)
  }

  on<E extends ConsumerEvents[keyof ConsumerEvents]>(
    eventName: E,
    // biome-ignore lint/suspicious/noExplicitAny: each event name has its own payload type (see ConsumerEventMap).
    listener: (event: any) => void,
  ): () => void {
    return this.#instrumentation.on(eventName, listener)
  }

  logger(): Logger {
    return this.#logger
  }
}

/** A synchronous kafkajs call, its error as this facade's class. */
function kafkaSync<T>(call: () => T): T {
  try {
    return call()
  } catch (err) {
    throw fromKafkaJS(err)
  }
}

function flatten(offsets: Offsets): { topic: string; partition: number; offset: number }[] {
  return (offsets?.topics ?? []).flatMap(({ topic, partitions }) =>
    partitions.map(({ partition, offset }) => ({ topic, partition: Number(partition), offset: parseOffset(offset) })),
  )
}

/** A group of a local directory as Kafka's DescribeGroups shows it (consumer-protocol Buffers for each member). */
export async function describeLocalGroup(log: Seglog, groups: LocalGroups, groupId: string): Promise<GroupDescription> {
  const known = (await log.listGroups()).find((g) => g.groupId === groupId)
  if (known === undefined) return { groupId, members: [], protocol: '', protocolType: '', state: 'Dead' }
  const d = await log.describeGroup(groupId)
  const facadeMembers = groups.members(groupId)
  const protocol = facadeMembers[0]?.protocol ?? (d.members.length > 0 ? 'RoundRobinAssigner' : '')
  return {
    groupId,
    protocol,
    protocolType: 'consumer',
    state: d.state,
    members: d.members.map((m) => {
      const assignment: IMemberAssignment = {}
      for (const { topic, partition } of m.assignment) (assignment[topic] ??= []).push(partition)
      const own = facadeMembers.find((f) => f.memberId === m.memberId)
      const topics = own?.topics() ?? Object.keys(assignment).sort()
      return {
        memberId: m.memberId,
        clientId: m.clientId ?? own?.clientId ?? 'seglog',
        clientHost: m.clientHost ?? '/127.0.0.1',
        memberMetadata:
          own?.metadata(topics) ??
          AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment,
          userData: Buffer.alloc(0),
        }),
      }
    }),
  }
}
