/**
 * The KafkaJS admin over a directory: topics, partitions, offsets, groups and configs with KafkaJS's argument
 * checks, results and errors, answered by the engine (a one-broker cluster: node 0 leads every partition). On a
 * directory another process owns it is a kafkajs admin pointed at the owner's listener.
 *
 * Results and errors as KafkaJS shows them:
 * - `createTopics` → true, or false when every failure was TOPIC_ALREADY_EXISTS; other failures reject with
 *   `KafkaJSAggregateError` of `KafkaJSCreateTopicError`s. Topics made here are `binary` unless `seglog.format` is
 *   given; `configEntries` use Kafka's names. `createPartitions` grows only (INVALID_PARTITIONS otherwise).
 * - Offsets are strings; `fetchOffsets` shows '-1' for a partition the group never committed;
 *   `fetchTopicOffsetsByTimestamp` gives the log end where no record is that late.
 * - `resetOffsets`/`setOffsets` refuse a group with running members (KafkaJSNonRetriableError naming its state);
 *   `deleteGroups` rejects with `KafkaJSDeleteGroupsError` (NON_EMPTY_GROUP 68, GROUP_ID_NOT_FOUND 69) after
 *   deleting the groups it could.
 * - `alterConfigs` has Kafka's (non-incremental) semantics: the given entries become the topic's config and every
 *   other setting returns to its default (`seglog.format`, fixed at creation, stays).
 * - ACLs and partition reassignments are not implemented (KafkaJSNotImplemented): one broker has no replicas to
 *   move and seglog has no authorizer. `listPartitionReassignments` truthfully lists none.
 */
import { createHash } from 'node:crypto'
import * as path from 'node:path'
import {
  DEFAULT_TOPIC_CONFIG,
  kafkaName,
  kafkaValue,
  nodeFileSystem,
  TOPIC_FIELDS,
  topicConfigFromKafka as topicConfigFromEntries,
  validateTopicName,
} from '../internal.js'
import { isSeglogError, type Seglog, type TopicConfig } from '../main.js'
import { localBroker } from './cluster.js'
import { describeLocalGroup } from './consumer.js'
import { ConnectInFlight, type KafkaContext, partitionMetadata, topicFacts } from './context.js'
import type { Backend, Lease } from './directory.js'
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ConfigResourceTypes,
  ConfigSource,
  ResourcePatternTypes,
} from './enums.js'
import {
  fromSeglog,
  KafkaJSAggregateError,
  KafkaJSBrokerNotFound,
  KafkaJSCreateTopicError,
  KafkaJSDeleteGroupsError,
  KafkaJSDeleteTopicRecordsError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  type KafkaJSProtocolError,
  PROTOCOL_CODES,
  protocolEntry,
  protocolError,
} from './errors.js'
import { Instrumentation } from './instrumentation.js'
import { viaKafkaJS } from './remote.js'
import type {
  AclEntry,
  AclFilter,
  Admin,
  AdminConfig,
  AdminEvents,
  ConfigEntries,
  DeleteAclResponse,
  DeleteGroupsResult,
  DescribeAclResponse,
  DescribeConfigResponse,
  FetchOffsetsPartition,
  GroupDescriptions,
  GroupOverview,
  InstrumentationEvent,
  IResourceConfig,
  ITopicConfig,
  ITopicMetadata,
  ITopicPartitionConfig,
  KafkaJSDeleteTopicRecordsErrorPartition,
  ListPartitionReassignmentsResponse,
  Logger,
  PartitionReassignment,
  ResourceConfigQuery,
  SeekEntry,
  TopicPartitions,
} from './types.js'

export const ADMIN_EVENTS: AdminEvents = Object.freeze({
  CONNECT: 'admin.connect',
  DISCONNECT: 'admin.disconnect',
  REQUEST: 'admin.network.request',
  REQUEST_TIMEOUT: 'admin.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'admin.network.request_queue_size',
})

type Local = Extract<Backend, { kind: 'local' }>

/** An offset given as a string or number, as a safe integer. */
function offsetOf(offset: unknown, what: string): number {
  const n = typeof offset === 'string' && /^-?\d+$/.test(offset.trim()) ? Number(offset) : offset
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new KafkaJSNonRetriableError(`Invalid ${what} ${String(offset)}, expected a long`)
  }
  return n
}

function notImplemented(what: string, why: string): KafkaJSNotImplemented {
  return new KafkaJSNotImplemented(`seglog/kafkajs does not implement ${what}: ${why}`)
}

function checkEnum(value: unknown, values: object, what: string): void {
  if (!Object.values(values).includes(value)) throw new KafkaJSNonRetriableError(`Invalid ${what} ${String(value)}`)
}

export class FacadeAdmin implements Admin {
  readonly events: AdminEvents = ADMIN_EVENTS
  readonly #ctx: KafkaContext
  readonly #config: AdminConfig
  readonly #logger: Logger
  readonly #instrumentation: Instrumentation
  #lease: Lease | null = null
  readonly #connecting = new ConnectInFlight()
  #remote: Admin | null = null

  constructor(ctx: KafkaContext, config: AdminConfig = {}) {
    this.#ctx = ctx
    this.#config = config ?? {}
    this.#logger = ctx.logger.namespace('Admin')
    this.#instrumentation = new Instrumentation(ADMIN_EVENTS, 'admin', () => this.#logger)
  }

  // ---- connection ----

  async connect(): Promise<void> {
    if (this.#lease !== null) return
    return this.#connecting.run(
      () => this.#open(),
      () => this.#instrumentation.emit(ADMIN_EVENTS.CONNECT, undefined),
    )
  }

  async #open(): Promise<void> {
    const lease = await this.#ctx.lease()
    try {
      if (lease.backend.kind === 'remote') {
        const { kafka } = await this.#ctx.remote(lease.backend)
        const remote = kafka.admin(this.#config)
        for (const name of [ADMIN_EVENTS.REQUEST, ADMIN_EVENTS.REQUEST_TIMEOUT, ADMIN_EVENTS.REQUEST_QUEUE_SIZE]) {
          remote.on(name, (e: InstrumentationEvent<unknown>) => this.#instrumentation.forward(e))
        }
        await viaKafkaJS(() => remote.connect())
        this.#remote = remote
      }
    } catch (err) {
      await lease.release()
      throw err
    }
    this.#lease = lease
  }

  async disconnect(): Promise<void> {
    await this.#connecting.settled()
    try {
      if (this.#remote !== null) await viaKafkaJS(() => this.#remote!.disconnect())
    } finally {
      this.#remote = null
      const lease = this.#lease
      this.#lease = null
      await lease?.release()
      this.#instrumentation.emit(ADMIN_EVENTS.DISCONNECT, undefined)
    }
  }

  /** The local engine, or null when the calls go to kafkajs (connecting on demand, as kafkajs does). */
  async #local(): Promise<Local | null> {
    if (this.#lease === null) await this.connect()
    if (this.#remote !== null) return null
    const b = this.#lease?.backend
    if (b?.kind !== 'local') throw new KafkaJSError('The admin client is disconnected')
    return b
  }

  on<E extends AdminEvents[keyof AdminEvents]>(
    eventName: E,
    // biome-ignore lint/suspicious/noExplicitAny: each event name has its own payload type (see AdminEventMap).
    listener: (event: any) => void,
  ): () => void {
    return this.#instrumentation.on(eventName, listener)
  }

  logger(): Logger {
    return this.#logger
  }

  // ---- topics ----

  async listTopics(): Promise<string[]> {
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.listTopics())
    return l.log.listTopics()
  }

  async createTopics(options: {
    validateOnly?: boolean
    waitForLeaders?: boolean
    timeout?: number
    topics: ITopicConfig[]
  }): Promise<boolean> {
    const { topics, validateOnly = false } = options ?? ({} as never)
    if (!topics || !Array.isArray(topics)) throw new KafkaJSNonRetriableError(`Invalid topics array ${topics}`)
    if (topics.some((t) => typeof t?.topic !== 'string')) {
      throw new KafkaJSNonRetriableError('Invalid topics array, the topic names have to be a valid string')
    }
    if (new Set(topics.map((t) => t.topic)).size < topics.length) {
      throw new KafkaJSNonRetriableError('Invalid topics array, it cannot have multiple entries for the same topic')
    }
    for (const { topic, configEntries } of topics) {
      if (configEntries == null) continue
      if (!Array.isArray(configEntries)) {
        throw new KafkaJSNonRetriableError(`Invalid configEntries for topic "${topic}", must be an array`)
      }
      configEntries.forEach((entry, index) => {
        if (typeof entry !== 'object' || entry == null) {
          throw new KafkaJSNonRetriableError(
            `Invalid configEntries for topic "${topic}". Entry ${index} must be an object`,
          )
        }
        for (const prop of ['name', 'value'] as const) {
          if (typeof entry[prop] !== 'string') {
            throw new KafkaJSNonRetriableError(
              `Invalid configEntries for topic "${topic}". Entry ${index} must have a valid "${prop}" property`,
            )
          }
        }
      })
    }
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.createTopics(options))
    const errors: KafkaJSCreateTopicError[] = []
    for (const t of topics) {
      const failure = await this.#createOne(l.log, t, validateOnly)
      if (failure !== null)
        errors.push(new KafkaJSCreateTopicError(protocolEntry(failure.code, failure.detail), t.topic))
    }
    if (errors.length === 0) return true
    if (errors.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) return false
    throw new KafkaJSAggregateError('Topic creation errors', errors)
  }

  async #createOne(
    log: Seglog,
    t: ITopicConfig,
    validateOnly: boolean,
  ): Promise<{ code: number; detail: string } | null> {
    const fail = (code: number, detail: string) => ({ code, detail })
    const assignment = t.replicaAssignment ?? []
    let partitions: number | undefined
    try {
      validateTopicName(t.topic)
    } catch (err) {
      return fail(PROTOCOL_CODES.INVALID_TOPIC_EXCEPTION, (err as Error).message)
    }
    if (assignment.length > 0) {
      if ((t.numPartitions ?? -1) !== -1 || (t.replicationFactor ?? -1) !== -1) {
        return fail(
          PROTOCOL_CODES.INVALID_REQUEST,
          'numPartitions and replicationFactor must be unset with a replicaAssignment',
        )
      }
      const indexes = assignment.map((a) => a.partition).sort((a, b) => a - b)
      if (assignment.some((a) => a.replicas?.length !== 1 || a.replicas[0] !== 0) || indexes.some((p, i) => p !== i)) {
        return fail(
          PROTOCOL_CODES.INVALID_REPLICA_ASSIGNMENT,
          'each partition 0..n-1 must be assigned once, to broker 0 (the only broker)',
        )
      }
      partitions = indexes.length
    } else {
      const n = t.numPartitions ?? -1
      if (!Number.isInteger(n) || n === 0 || n < -1) {
        return fail(PROTOCOL_CODES.INVALID_PARTITIONS, `number of partitions must be at least 1, got ${n}`)
      }
      const rf = t.replicationFactor ?? -1
      if (rf !== -1 && rf !== 1) {
        return fail(PROTOCOL_CODES.INVALID_REPLICATION_FACTOR, `replication factor ${rf} is not possible with 1 broker`)
      }
      partitions = n === -1 ? undefined : n
    }
    let config: Partial<TopicConfig>
    try {
      config = { format: 'binary', ...topicConfigFromEntries(t.configEntries ?? []) }
    } catch (err) {
      return fail(PROTOCOL_CODES.INVALID_CONFIG, (err as Error).message.replace(/^INVALID_CONFIG: /, ''))
    }
    if (validateOnly) {
      return topicFacts(log, t.topic) === undefined
        ? null
        : fail(PROTOCOL_CODES.TOPIC_ALREADY_EXISTS, `topic '${t.topic}' already exists`)
    }
    try {
      await log.createTopic(t.topic, { partitions, config })
      return null
    } catch (err) {
      const e = fromSeglog(err) as KafkaJSProtocolError
      if (typeof e?.code !== 'number') throw e
      return fail(e.code, (err as Error).message)
    }
  }

  async deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    const { topics } = options ?? ({} as never)
    if (!topics || !Array.isArray(topics)) throw new KafkaJSNonRetriableError(`Invalid topics array ${topics}`)
    if (topics.some((t) => typeof t !== 'string')) {
      throw new KafkaJSNonRetriableError('Invalid topics array, the names must be a valid string')
    }
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.deleteTopics(options))
    let first: unknown = null
    for (const t of topics) {
      try {
        await l.log.deleteTopic(t)
      } catch (err) {
        first ??= fromSeglog(err, { topic: t })
      }
    }
    if (first !== null) throw first
  }

  async createPartitions(options: {
    validateOnly?: boolean
    timeout?: number
    topicPartitions: ITopicPartitionConfig[]
  }): Promise<boolean> {
    const { topicPartitions, validateOnly = false } = options ?? ({} as never)
    if (!topicPartitions || !Array.isArray(topicPartitions)) {
      throw new KafkaJSNonRetriableError(`Invalid topic partitions array ${topicPartitions}`)
    }
    if (topicPartitions.length === 0) throw new KafkaJSNonRetriableError('Empty topic partitions array')
    if (topicPartitions.some((t) => typeof t?.topic !== 'string')) {
      throw new KafkaJSNonRetriableError('Invalid topic partitions array, the topic names have to be a valid string')
    }
    if (new Set(topicPartitions.map((t) => t.topic)).size < topicPartitions.length) {
      throw new KafkaJSNonRetriableError(
        'Invalid topic partitions array, it cannot have multiple entries for the same topic',
      )
    }
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.createPartitions(options))
    let first: unknown = null
    for (const { topic, count, assignments } of topicPartitions) {
      const failed = (e: unknown) => {
        first ??= e
      }
      const facts = topicFacts(l.log, topic)
      if (facts === undefined) {
        failed(protocolError(PROTOCOL_CODES.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`))
        continue
      }
      if (!Number.isInteger(count) || count <= facts.partitions) {
        failed(
          protocolError(
            PROTOCOL_CODES.INVALID_PARTITIONS,
            `topic '${topic}' has ${facts.partitions} partitions; the count must grow, got ${count}`,
          ),
        )
        continue
      }
      if (assignments?.some((ids) => ids.length !== 1 || ids[0] !== 0)) {
        failed(protocolError(PROTOCOL_CODES.INVALID_REPLICA_ASSIGNMENT, 'new partitions can only be on broker 0'))
        continue
      }
      if (validateOnly) continue
      try {
        await l.log.createPartitions(topic, count)
      } catch (err) {
        failed(
          fromSeglog(err, {
            topic,
            codeOverride: isSeglogError(err, 'INVALID_CONFIG') ? PROTOCOL_CODES.INVALID_PARTITIONS : undefined,
          }),
        )
      }
    }
    if (first !== null) throw first
    return true
  }

  async fetchTopicMetadata(options?: { topics: string[] }): Promise<{ topics: Array<ITopicMetadata> }> {
    const topics = options?.topics ?? []
    for (const t of topics) if (!t || typeof t !== 'string') throw new KafkaJSNonRetriableError(`Invalid topic ${t}`)
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.fetchTopicMetadata(options))
    const names = topics.length > 0 ? topics : l.log.listTopics()
    return {
      topics: names.map((name) => ({ name, partitions: partitionMetadata(this.#facts(l.log, name).partitions) })),
    }
  }

  #facts(log: Seglog, topic: string): NonNullable<ReturnType<typeof topicFacts>> {
    let facts: ReturnType<typeof topicFacts>
    try {
      facts = topicFacts(log, topic)
    } catch (err) {
      throw fromSeglog(err, { topic })
    }
    if (facts === undefined) {
      throw protocolError(PROTOCOL_CODES.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`)
    }
    return facts
  }

  // ---- offsets ----

  async fetchTopicOffsets(topic: string): Promise<Array<SeekEntry & { high: string; low: string }>> {
    if (!topic || typeof topic !== 'string') throw new KafkaJSNonRetriableError(`Invalid topic ${topic}`)
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.fetchTopicOffsets(topic))
    const { partitions } = this.#facts(l.log, topic)
    return Array.from({ length: partitions }, (_, partition) => {
      const { logStartOffset, logEndOffset } = l.log.offsets(topic, partition)
      return { partition, offset: String(logEndOffset), high: String(logEndOffset), low: String(logStartOffset) }
    })
  }

  async fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<Array<SeekEntry>> {
    if (!topic || typeof topic !== 'string') throw new KafkaJSNonRetriableError(`Invalid topic ${topic}`)
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.fetchTopicOffsetsByTimestamp(topic, timestamp))
    const { partitions } = this.#facts(l.log, topic)
    return Promise.all(
      Array.from({ length: partitions }, async (_, partition) => {
        const { logEndOffset } = l.log.offsets(topic, partition)
        const at =
          typeof timestamp === 'number' && Number.isFinite(timestamp)
            ? await l.log.offsetForTimestamp(topic, partition, Math.max(0, Math.trunc(timestamp)))
            : null
        return { partition, offset: String(at ?? logEndOffset) }
      }),
    )
  }

  async fetchOffsets(options: {
    groupId: string
    topics?: string[]
    resolveOffsets?: boolean
  }): Promise<Array<{ topic: string; partitions: FetchOffsetsPartition[] }>> {
    const { groupId, resolveOffsets = false } = options ?? ({} as never)
    if (!groupId) throw new KafkaJSNonRetriableError(`Invalid groupId ${groupId}`)
    const topics = options.topics ?? []
    if (!Array.isArray(topics)) throw new KafkaJSNonRetriableError('Expected topics array to be set')
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.fetchOffsets(options))
    const committed = await l.log.fetchOffsets(groupId)
    const byTopic = new Map<string, Map<number, { offset: number; metadata: string | null }>>()
    for (const c of committed) {
      let m = byTopic.get(c.topic)
      if (m === undefined) byTopic.set(c.topic, (m = new Map()))
      m.set(c.partition, { offset: c.offset, metadata: c.metadata })
    }
    const names = topics.length > 0 ? topics : [...byTopic.keys()]
    const out = names.map((topic) => {
      const facts = topics.length > 0 ? this.#facts(l.log, topic) : topicFacts(l.log, topic)
      const mine = byTopic.get(topic) ?? new Map()
      const list =
        topics.length > 0 || facts === undefined
          ? Array.from({ length: facts?.partitions ?? 0 }, (_, p) => p)
          : [...mine.keys()].filter((p) => p < facts.partitions)
      return {
        topic,
        partitions: list
          .sort((a, b) => a - b)
          .map((partition) => {
            const c = mine.get(partition)
            let offset = c === undefined ? '-1' : String(c.offset)
            if (resolveOffsets && c === undefined) offset = String(l.log.offsets(topic, partition).logEndOffset)
            return { partition, offset, metadata: c?.metadata ?? null }
          }),
      }
    })
    if (resolveOffsets) {
      for (const t of out) {
        if (t.partitions.length === 0) continue
        await this.#commitOffsets(
          l,
          groupId,
          t.topic,
          t.partitions.map((p) => ({ partition: p.partition, offset: Number(p.offset) })),
        )
      }
    }
    return out
  }

  async #commitOffsets(
    l: Local,
    groupId: string,
    topic: string,
    offsets: { partition: number; offset: number }[],
  ): Promise<void> {
    try {
      await l.log.resetOffsets({ groupId, topic, to: { offsets } })
    } catch (err) {
      if (isSeglogError(err, 'GROUP_NOT_EMPTY')) {
        const { state } = await l.log.describeGroup(groupId)
        throw new KafkaJSNonRetriableError(
          `The consumer group must have no running instances, current state: ${state}`,
          { cause: err },
        )
      }
      throw fromSeglog(err, { topic })
    }
  }

  async resetOffsets(options: { groupId: string; topic: string; earliest: boolean }): Promise<void> {
    const { groupId, topic, earliest = false } = options ?? ({} as never)
    if (!groupId) throw new KafkaJSNonRetriableError(`Invalid groupId ${groupId}`)
    if (!topic) throw new KafkaJSNonRetriableError(`Invalid topic ${topic}`)
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.resetOffsets(options))
    const { partitions } = this.#facts(l.log, topic)
    const offsets = Array.from({ length: partitions }, (_, partition) => {
      const { logStartOffset, logEndOffset } = l.log.offsets(topic, partition)
      return { partition, offset: earliest ? logStartOffset : logEndOffset }
    })
    await this.#commitOffsets(l, groupId, topic, offsets)
  }

  async setOffsets(options: { groupId: string; topic: string; partitions: SeekEntry[] }): Promise<void> {
    const { groupId, topic, partitions } = options ?? ({} as never)
    if (!groupId) throw new KafkaJSNonRetriableError(`Invalid groupId ${groupId}`)
    if (!topic) throw new KafkaJSNonRetriableError(`Invalid topic ${topic}`)
    if (!partitions || partitions.length === 0) throw new KafkaJSNonRetriableError('Invalid partitions')
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.setOffsets(options))
    this.#facts(l.log, topic)
    const offsets = partitions.map(({ partition, offset }) => {
      const n = offsetOf(offset, 'offset')
      if (n >= 0) return { partition, offset: n }
      if (n !== -1 && n !== -2) throw new KafkaJSNonRetriableError('Offset must not be a negative number')
      let range: { logStartOffset: number; logEndOffset: number }
      try {
        range = l.log.offsets(topic, partition)
      } catch (err) {
        throw fromSeglog(err, { topic, partition })
      }
      return { partition, offset: n === -2 ? range.logStartOffset : range.logEndOffset }
    })
    await this.#commitOffsets(l, groupId, topic, offsets)
  }

  async deleteTopicRecords(options: { topic: string; partitions: SeekEntry[] }): Promise<void> {
    const { topic, partitions } = options ?? ({} as never)
    if (!topic || typeof topic !== 'string') throw new KafkaJSNonRetriableError(`Invalid topic "${topic}"`)
    if (!partitions || partitions.length === 0) throw new KafkaJSNonRetriableError('Invalid partitions')
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.deleteTopicRecords(options))
    const { partitions: count } = this.#facts(l.log, topic)
    const failures: KafkaJSDeleteTopicRecordsErrorPartition[] = []
    for (const { partition, offset } of partitions) {
      if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
        failures.push({
          partition,
          offset,
          error: new KafkaJSBrokerNotFound('Could not find the leader for the partition', { retriable: false }),
        })
        continue
      }
      const { logStartOffset, logEndOffset } = l.log.offsets(topic, partition)
      const n = offsetOf(offset, 'offset')
      const before = n === -1 ? logEndOffset : n
      if (before < logStartOffset) {
        this.#logger.warn(
          'The requested offset is before the earliest offset maintained on the partition - no records will be deleted from this partition',
          { topic, partition, offset },
        )
        continue
      }
      try {
        await l.log.deleteRecords(topic, partition, before)
      } catch (err) {
        failures.push({ partition, offset, error: fromSeglog(err, { topic, partition }) as KafkaJSError })
      }
    }
    if (failures.length > 0) throw new KafkaJSDeleteTopicRecordsError({ topic, partitions: failures })
  }

  // ---- configs ----

  async describeConfigs(configs: {
    resources: ResourceConfigQuery[]
    includeSynonyms: boolean
  }): Promise<DescribeConfigResponse> {
    const { resources, includeSynonyms = false } = configs ?? ({} as never)
    checkResources(resources)
    if (resources.some((r) => !Array.isArray(r.configNames) && r.configNames != null)) {
      const bad = resources.find((r) => !Array.isArray(r.configNames) && r.configNames != null)!
      throw new KafkaJSNonRetriableError(`Invalid resource configNames ${bad.configNames}: ${JSON.stringify(bad)}`)
    }
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.describeConfigs(configs))
    const out: DescribeConfigResponse['resources'] = []
    for (const r of resources) {
      const want = (name: string) => !r.configNames || r.configNames.length === 0 || r.configNames.includes(name)
      if (r.type === ConfigResourceTypes.TOPIC) {
        const facts = topicFacts(l.log, r.name)
        if (facts === undefined) {
          throw protocolError(PROTOCOL_CODES.UNKNOWN_TOPIC_OR_PARTITION, `topic '${r.name}' does not exist`)
        }
        const config = l.log.describeTopic(r.name).config
        const entries: ConfigEntries[] = []
        for (const field of TOPIC_FIELDS) {
          const name = kafkaName(field)
          if (!want(name)) continue
          entries.push(
            configEntry(name, config[field], l.defaults[field], DEFAULT_TOPIC_CONFIG[field], includeSynonyms),
          )
        }
        out.push({
          errorCode: 0,
          errorMessage: null as unknown as string,
          resourceType: r.type,
          resourceName: r.name,
          configEntries: entries,
        })
      } else if (r.type === ConfigResourceTypes.BROKER && (r.name === '0' || r.name === '')) {
        const broker: [string, string][] = [
          ['broker.id', '0'],
          ['auto.create.topics.enable', 'true'],
          ['num.partitions', String(l.defaults.partitions)],
          ['default.replication.factor', '1'],
        ]
        out.push({
          errorCode: 0,
          errorMessage: null as unknown as string,
          resourceType: r.type,
          resourceName: r.name,
          configEntries: broker
            .filter(([name]) => want(name))
            .map(([configName, configValue]) => ({
              configName,
              configValue,
              readOnly: true,
              isDefault: false,
              configSource: ConfigSource.STATIC_BROKER_CONFIG,
              isSensitive: false,
              configSynonyms: [],
            })),
        })
      } else {
        throw protocolError(
          PROTOCOL_CODES.INVALID_REQUEST,
          `resource ${ConfigResourceTypes[r.type] ?? r.type} '${r.name}' has no configs here (topics and broker 0 do)`,
        )
      }
    }
    return { resources: out, throttleTime: 0 }
  }

  // biome-ignore lint/suspicious/noExplicitAny: kafkajs types alterConfigs' result as any.
  async alterConfigs(configs: { validateOnly: boolean; resources: IResourceConfig[] }): Promise<any> {
    const { resources, validateOnly = false } = configs ?? ({} as never)
    checkResources(resources)
    const noEntries = resources.find((r) => !Array.isArray(r.configEntries))
    if (noEntries) {
      throw new KafkaJSNonRetriableError(
        `Invalid resource configEntries ${noEntries.configEntries}: ${JSON.stringify(noEntries)}`,
      )
    }
    const badValue = resources.find((r) =>
      r.configEntries.some((e) => typeof e.name !== 'string' || typeof e.value !== 'string'),
    )
    if (badValue) throw new KafkaJSNonRetriableError(`Invalid resource config value: ${JSON.stringify(badValue)}`)
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.alterConfigs(configs))
    const results = []
    for (const r of resources) {
      if (r.type !== ConfigResourceTypes.TOPIC) {
        throw protocolError(
          PROTOCOL_CODES.INVALID_REQUEST,
          `only topic configs can be altered here, not resource type ${r.type}`,
        )
      }
      const facts = topicFacts(l.log, r.name)
      if (facts === undefined) {
        throw protocolError(PROTOCOL_CODES.UNKNOWN_TOPIC_OR_PARTITION, `topic '${r.name}' does not exist`)
      }
      let given: Partial<TopicConfig>
      try {
        given = topicConfigFromEntries(r.configEntries)
      } catch (err) {
        throw fromSeglog(err, { topic: r.name })
      }
      const next: Partial<TopicConfig> = {}
      for (const field of TOPIC_FIELDS) {
        if (field === 'format') continue
        ;(next as Record<string, unknown>)[field] = given[field] ?? l.defaults[field]
      }
      if (given.format !== undefined && given.format !== facts.format) {
        throw protocolError(
          PROTOCOL_CODES.INVALID_CONFIG,
          `seglog.format of '${r.name}' is fixed at creation (${facts.format})`,
        )
      }
      if (!validateOnly) {
        try {
          await l.log.alterTopicConfig(r.name, next)
        } catch (err) {
          throw fromSeglog(err, { topic: r.name })
        }
      }
      results.push({ errorCode: 0, errorMessage: null, resourceType: r.type, resourceName: r.name })
    }
    return { resources: results, throttleTime: 0 }
  }

  // ---- groups ----

  async listGroups(): Promise<{ groups: GroupOverview[] }> {
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.listGroups())
    const groups = await l.log.listGroups()
    return {
      groups: groups.map((g) => ({
        groupId: g.groupId,
        protocolType: (g as { protocolType?: string }).protocolType ?? 'consumer',
      })),
    }
  }

  async describeGroups(groupIds: string[]): Promise<GroupDescriptions> {
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.describeGroups(groupIds))
    return { groups: await Promise.all((groupIds ?? []).map((id) => describeLocalGroup(l.log, l.groups, id))) }
  }

  async deleteGroups(groupIds: string[]): Promise<DeleteGroupsResult[]> {
    if (!groupIds || !Array.isArray(groupIds)) throw new KafkaJSNonRetriableError(`Invalid groupIds array ${groupIds}`)
    if (groupIds.some((g) => typeof g !== 'string')) {
      throw new KafkaJSNonRetriableError(`Invalid groupId name: ${JSON.stringify(groupIds)}`)
    }
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.deleteGroups(groupIds))
    const known = new Set((await l.log.listGroups()).map((g) => g.groupId))
    const results: DeleteGroupsResult[] = []
    const failures: { groupId: string; errorCode: number; error: KafkaJSProtocolError }[] = []
    for (const groupId of groupIds) {
      const fail = (code: number, detail: string) => {
        const error = protocolError(code, detail)
        failures.push({ groupId, errorCode: code, error })
      }
      if (!known.has(groupId)) {
        fail(PROTOCOL_CODES.GROUP_ID_NOT_FOUND, `group '${groupId}' does not exist`)
        continue
      }
      try {
        await l.log.deleteGroup(groupId)
        results.push({ groupId, errorCode: 0 })
      } catch (err) {
        if (!isSeglogError(err, 'GROUP_NOT_EMPTY')) throw fromSeglog(err)
        fail(PROTOCOL_CODES.NON_EMPTY_GROUP, (err as Error).message)
      }
    }
    if (failures.length > 0) throw new KafkaJSDeleteGroupsError('Error in DeleteGroups', failures)
    return results
  }

  // ---- cluster ----

  async describeCluster(): Promise<{
    brokers: Array<{ nodeId: number; host: string; port: number }>
    controller: number | null
    clusterId: string
  }> {
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.describeCluster())
    return { brokers: [localBroker(l.log)], controller: 0, clusterId: clusterIdOf(l.realDir) }
  }

  async describeAcls(options: AclFilter): Promise<DescribeAclResponse> {
    checkAclFilter(options)
    throw notImplemented('ACLs (describeAcls)', 'a seglog directory has no authorizer; every client may do everything')
  }

  async deleteAcls(options: { filters: AclFilter[] }): Promise<DeleteAclResponse> {
    for (const f of options?.filters ?? []) checkAclFilter(f)
    throw notImplemented('ACLs (deleteAcls)', 'a seglog directory has no authorizer; every client may do everything')
  }

  async createAcls(options: { acl: AclEntry[] }): Promise<boolean> {
    const acl = options?.acl
    if (!acl || !Array.isArray(acl)) throw new KafkaJSNonRetriableError(`Invalid ACL array ${acl}`)
    if (acl.length === 0) throw new KafkaJSNonRetriableError('Empty ACL array')
    throw notImplemented('ACLs (createAcls)', 'a seglog directory has no authorizer; every client may do everything')
  }

  async alterPartitionReassignments(_request: { topics: PartitionReassignment[]; timeout?: number }): Promise<void> {
    throw notImplemented(
      'partition reassignments (alterPartitionReassignments)',
      'a directory is one broker (node 0) with one replica of each partition',
    )
  }

  async listPartitionReassignments(request: {
    topics?: TopicPartitions[]
    timeout?: number
  }): Promise<ListPartitionReassignmentsResponse> {
    const l = await this.#local()
    if (l === null) return viaKafkaJS(() => this.#remote!.listPartitionReassignments(request))
    for (const t of request?.topics ?? []) this.#facts(l.log, t.topic)
    // One broker, one replica per partition: nothing is ever being moved.
    return { topics: [] }
  }
}

function checkResources(resources: { type: unknown; name: unknown }[]): void {
  if (!resources || !Array.isArray(resources))
    throw new KafkaJSNonRetriableError(`Invalid resources array ${resources}`)
  if (resources.length === 0) throw new KafkaJSNonRetriableError('Resources array cannot be empty')
  const badType = resources.find((r) => !Object.values(ConfigResourceTypes).includes(r.type as number))
  if (badType) throw new KafkaJSNonRetriableError(`Invalid resource type ${badType.type}: ${JSON.stringify(badType)}`)
  const badName = resources.find((r) => typeof r.name !== 'string' || !r.name)
  if (badName) throw new KafkaJSNonRetriableError(`Invalid resource name ${badName.name}: ${JSON.stringify(badName)}`)
}

function checkAclFilter(f: AclFilter): void {
  if (f === null || typeof f !== 'object') throw new KafkaJSNonRetriableError('Invalid ACL filter')
  checkEnum(f.operation, AclOperationTypes, 'operation type')
  checkEnum(f.resourcePatternType, ResourcePatternTypes, 'resource pattern filter type')
  checkEnum(f.permissionType, AclPermissionTypes, 'permission type')
  checkEnum(f.resourceType, AclResourceTypes, 'resource type')
}

/**
 * A topic setting as DescribeConfigs shows it, with the rule seglog's listener uses: a value other than the default
 * the topic would inherit is the topic's own (TOPIC_CONFIG); an inherited engine default that differs from Kafka's
 * is STATIC_BROKER_CONFIG; anything else DEFAULT_CONFIG.
 */
function configEntry(
  name: string,
  value: TopicConfig[keyof TopicConfig],
  inherited: TopicConfig[keyof TopicConfig],
  kafkaDefault: TopicConfig[keyof TopicConfig],
  synonyms: boolean,
): ConfigEntries {
  const own = value !== inherited
  const inheritedSource = inherited === kafkaDefault ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG
  const source = own ? ConfigSource.TOPIC_CONFIG : inheritedSource
  const shown = kafkaValue(value)
  return {
    configName: name,
    configValue: shown,
    readOnly: false,
    isDefault: source === ConfigSource.DEFAULT_CONFIG,
    configSource: source,
    isSensitive: false,
    configSynonyms: !synonyms
      ? []
      : [
          ...(own ? [{ configName: name, configValue: shown, configSource: ConfigSource.TOPIC_CONFIG }] : []),
          { configName: name, configValue: kafkaValue(inherited), configSource: inheritedSource },
        ],
  }
}

/** The directory's cluster id: its listener's (`.seglog/cluster.json`) when it has one, else one derived from its path. */
function clusterIdOf(realDir: string): string {
  try {
    const raw = nodeFileSystem.readFile(path.join(realDir, '.seglog', 'cluster.json'))
    const id = raw === null ? undefined : (JSON.parse(raw.toString('utf8')) as { clusterId?: unknown }).clusterId
    if (typeof id === 'string' && id.length > 0) return id
  } catch {
    // Unreadable: fall back to the derived id.
  }
  return createHash('sha256').update(realDir).digest('base64url').slice(0, 22)
}
