/**
 * seglog: an embedded, in-process Kafka-style log engine. The package entry: the public API only.
 *
 * Everything else (the storage layer, encoders, the file-system interface, test hooks) is internal: it is not
 * exported here, and `src/internal.ts`, which tests and benchmarks import by path, is outside the package's
 * `exports`.
 */

export type {
  Batch,
  Consumer,
  ConsumerEventMap,
  ConsumerOptions,
  EachBatchPayload,
  EachMessagePayload,
  PartitionLag,
  RunOptions,
} from './clients/consumer.js'
export type { GroupState, PartitionAssigner, TopicPartition } from './clients/group.js'
export type { GroupDescription, ResetOffsetsTo } from './clients/group-admin.js'
export type { CommittedOffset, OffsetCommit } from './clients/offset-store.js'
export type {
  Partitioner,
  PartitionerFn,
  PartitionMetadata,
  Producer,
  ProducerOptions,
  ProducerRecordMetadata,
} from './clients/producer.js'
export type { Codec } from './compression.js'
export type { CleanupPolicy, CompressionType, TimestampTypeName, TopicConfig, ValueFormatName } from './config.js'
export type { PartitionCompaction, PartitionRetention } from './engine/housekeeping.js'
export type { EngineEvent, EngineStatus, SeglogOptions } from './engine/options.js'
export type { ReadOptions, StreamFrom, StreamOptions } from './engine/reads.js'
export { Seglog } from './engine/seglog.js'
export type { CreateTopicOptions, PartitionDescription, TopicDescription } from './engine/topics.js'
export { ERROR_CODES, isSeglogError, SeglogError, type SeglogErrorCode } from './errors.js'
export type {
  Acks,
  AppendOptions,
  HeaderInput,
  HeaderValue,
  Message,
  MessageHeaders,
  RecordHeaders,
  RecordMetadata,
  SeglogRecord,
} from './records.js'
