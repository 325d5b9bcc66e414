/**
 * BrokerHost: everything the wire-protocol room may ask of the engine. The engine builds one plain object that
 * implements it (src/engine/broker-host.ts) and hands it to `startWireServer`; the wire room imports nothing else
 * of the engine's, so the engine never depends on the protocol and the protocol sees no engine internals.
 *
 * Errors: every method that can fail throws (or rejects with) a `SeglogError` with its stable code; the handlers
 * map codes to Kafka error codes. Arguments are exact: the handlers have already decoded and range-checked them.
 *
 * Concurrency: called from the event loop only, by any number of connections at once.
 */
import type { TopicConfig } from '../config.js'

export type WireAcks = -1 | 0 | 1

export interface WireProduceResult {
  /** Offset given to the first record of the first batch. */
  baseOffset: number
  /** The time stamped into the batches when the topic uses LogAppendTime, else -1. */
  logAppendTime: number
  logStartOffset: number
}

export interface WireFetchResult {
  /**
   * Whole stored RecordBatch v2 batches, in offset order, exactly as on disk: the first is the batch that holds
   * `offset` (so it may start before it), then following batches while they fit `maxBytes`; at least one batch
   * whenever a record exists at or after `offset`, even when it alone exceeds `maxBytes`. Empty at the log end.
   */
  records: Buffer[]
  /** Total length of `records`. */
  bytes: number
  highWatermark: number
  logStartOffset: number
}

export interface WireCommittedOffset {
  topic: string
  partition: number
  offset: number
  metadata: string | null
  commitTimestamp: number
}

/** What the engine shows of a wire group (DescribeGroups/ListGroups over the native API, and the reverse). */
export interface WireGroupView {
  state: 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'
  protocolType: string
  protocol: string
  members: {
    memberId: string
    clientId: string
    clientHost: string
    /** Decoded from the consumer protocol's assignment bytes when they parse, else []. */
    assignment: { topic: string; partition: number }[]
  }[]
}

export interface BrokerHost {
  /** Stable per directory (Kafka's 22-character base64url cluster id). */
  readonly clusterId: string
  /** Create unknown topics on Metadata/Produce. */
  readonly autoCreateTopics: boolean
  /** False once the engine starts closing. */
  isOpen(): boolean

  // ---- topics ----
  listTopics(): string[]
  /** The topic's partition count and full effective config, or undefined when it does not exist. */
  topic(name: string): { partitions: number; config: TopicConfig } | undefined
  /** The engine's effective topic defaults (DescribeConfigs tells a default from a topic's own setting). */
  topicDefaults(): TopicConfig
  /** The config keys a topic set itself (not inherited from the defaults). */
  topicOverrides(name: string): Partial<TopicConfig>
  /** Creates a topic with format `binary` unless `config.format` says otherwise. TOPIC_EXISTS, INVALID_CONFIG, INVALID_TOPIC_NAME. */
  createTopic(name: string, partitions: number | undefined, config: Partial<TopicConfig>): Promise<void>
  deleteTopic(name: string): Promise<void>
  alterTopicConfig(name: string, config: Partial<TopicConfig>): Promise<void>
  createPartitions(name: string, count: number): Promise<void>

  // ---- data ----
  /**
   * Appends a Produce request's record set for one partition: one or more RecordBatch v2 batches, each CRC- and
   * structure-checked, all validated before any is written, then written together (all land or none do), offsets
   * assigned, LogAppendTime stamped where the topic says so. Resolves per `acks` (-1 after the shared fsync).
   * INVALID_RECORD (structure, magic, a batch the topic's format rejects), CORRUPT_LOG is never used here: a bad CRC
   * is INVALID_RECORD with `cause.kind === 'crc'`, RECORD_TOO_LARGE, TOPIC_NOT_FOUND, PARTITION_NOT_FOUND.
   */
  produce(topic: string, partition: number, recordSet: Buffer, acks: WireAcks): Promise<WireProduceResult>
  /** Stored batches from `offset`. OFFSET_OUT_OF_RANGE below the log start or above the log end. */
  fetch(topic: string, partition: number, offset: number, maxBytes: number): WireFetchResult
  offsets(topic: string, partition: number): { logStartOffset: number; logEndOffset: number }
  /** First offset whose timestamp >= `timestamp` with that record's timestamp, or null. */
  offsetForTimestamp(topic: string, partition: number, timestamp: number): { offset: number; timestamp: number } | null
  /** Resolves once the log end is above `offset`, the partition goes away, the engine closes or `signal` aborts. */
  waitPast(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<void>
  /** Resolves with the new log start offset. */
  deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number>

  // ---- groups ----
  commitOffsets(
    groupId: string,
    offsets: readonly { topic: string; partition: number; offset: number; metadata: string | null }[],
  ): Promise<void>
  fetchOffsets(groupId: string): Promise<WireCommittedOffset[]>
  /** Every group the engine knows: in-process, wire, or with committed offsets only. */
  listGroups(): Promise<{ groupId: string; protocolType: string; state: string }[]>
  /** The in-process members of one of the engine's groups, with their assigned partitions (none: []). */
  groupMembers(groupId: string): Promise<{ memberId: string; assignment: { topic: string; partition: number }[] }[]>
  /**
   * Marks `groupId` as a wire group while it has members: GROUP_NOT_EMPTY when in-process consumers are in it.
   * `view` is called for the engine's describeGroup/listGroups. The returned function releases the claim (the
   * group is then empty again and either kind may join).
   */
  claimGroup(groupId: string, view: () => WireGroupView): () => void
  /** Deletes a group's committed offsets (DeleteGroups). GROUP_NOT_EMPTY while in-process members are active. */
  deleteGroup(groupId: string): Promise<void>
}
