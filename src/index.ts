/**
 * seglog: an embedded, in-process Kafka-style log engine. Public exports only.
 */

export { type Codec, CodecRegistry } from './compression.js'
export {
  type CleanupPolicy,
  type CompressionType,
  DEFAULT_TOPIC_CONFIG,
  KAFKA_NAMES,
  type TopicConfig,
  type ValueFormatName,
} from './config.js'
export {
  type Batch,
  CONSUMER_EVENTS,
  Consumer,
  type ConsumerEventMap,
  type ConsumerOptions,
  type EachBatchPayload,
  type EachMessagePayload,
  type PartitionLag,
  type RunOptions,
} from './consumer.js'
export { appendChannel, consumerChannel, engineChannel } from './diagnostics.js'
export { ERROR_CODES, isSeglogError, SeglogError, type SeglogErrorCode } from './errors.js'
export { assignRange, assignRoundRobin, type PartitionAssigner, type TopicPartition } from './group.js'
export { type FileHandle, type FileSystem, nodeFileSystem, type OpenMode } from './io/file-system.js'
export {
  type AppendInfo,
  DEFAULT_LOG_CONFIG,
  type LogConfig,
  type LogEvent,
  type LogStatus,
  PartitionLog,
  type PartitionLogOptions,
  type ReadOptions as LogReadOptions,
  type SegmentInfo,
} from './log/partition-log.js'
export type { CommittedOffset, OffsetCommit } from './offset-store.js'
export { murmur2, partitionForKey } from './partitioner.js'
export {
  type Partitioner,
  type PartitionMetadata,
  Producer,
  type ProducerOptions,
  type ProducerRecordMetadata,
} from './producer.js'
export {
  type Acks,
  type AppendOptions,
  type EngineEvent,
  type EngineStatus,
  type HeaderInput,
  type HeaderValue,
  type Message,
  type MessageHeaders,
  type PartitionDescription,
  type RecordHeaders,
  type RecordMetadata,
  Seglog,
  type SeglogOptions,
  type SeglogRecord,
  type StreamFrom,
  type StreamOptions,
  type TopicDescription,
} from './seglog.js'
export {
  type BatchRecordInput,
  CODEC_IDS,
  type DecodedRecord,
  decodeRecords,
  encodeBatch,
  type RecordHeader,
  TimestampType,
} from './segment/record-batch.js'
