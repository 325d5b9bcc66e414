/**
 * seglog's internals, for its own tests and benchmarks (imported by path; this module is not in the package's
 * `exports`, so users cannot import it). Nothing here is covered by the API's stability promise.
 *
 * `TEST_HOOKS` carries the test-only engine options: `Seglog.open(dir, { [TEST_HOOKS]: { fs, crashPoint } })`.
 */

export { CONSUMER_EVENTS } from './clients/consumer.js'
export { assignRange, assignRoundRobin, GroupCoordinator, type MemberSubscription } from './clients/group.js'
export { OffsetStore } from './clients/offset-store.js'
export { CodecRegistry } from './compression.js'
export { DEFAULT_TOPIC_CONFIG, KAFKA_NAMES, validateTopicConfig, validateTopicName } from './config.js'
export { appendChannel, consumerChannel, engineChannel } from './diagnostics.js'
export { TEST_HOOKS, type TestHooks } from './engine/options.js'
export { type ListedTopic, listTopicFiles, type TopicListingOptions } from './engine/topic-listing.js'
export { decodeValue, encodeValue, type ValueFormat } from './format.js'
export { decodeOffsetEntry, OFFSET_INDEX_ENTRY_BYTES } from './index/offset-index.js'
export { decodeTimeEntry, TIME_INDEX_ENTRY_BYTES } from './index/time-index.js'
export { type FileHandle, type FileSystem, nodeFileSystem, type OpenMode } from './io/file-system.js'
export { kafkaName, kafkaValue, LONG_MAX, TOPIC_FIELDS, topicConfigFromKafka } from './kafka-config.js'
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
export { readPartitionState } from './log/partition-state.js'
export { murmur2, partitionForKey, StickyPartitioner } from './partitioner.js'
export { BatchScanner, type ScannedBatch } from './segment/batch-scanner.js'
export {
  CLEANER_CHECKPOINT,
  type ParsedFileName,
  parseSegmentFileName,
  STATE_FILE,
  TOPIC_FILE,
} from './segment/file-names.js'
export {
  BATCH_OVERHEAD,
  type BatchHeader,
  type BatchRecordInput,
  CODEC_IDS,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  checkBatch,
  DELETE_HORIZON_FLAG_MASK,
  type DecodedRecord,
  decodeRecords,
  encodeBatch,
  type RecordHeader,
  readBatchHeader,
  TIMESTAMP_TYPE_MASK,
  TimestampType,
  TRANSACTIONAL_FLAG_MASK,
} from './segment/record-batch.js'
