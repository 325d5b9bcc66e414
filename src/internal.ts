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
export { murmur2, partitionForKey, StickyPartitioner } from './partitioner.js'
export {
  type BatchRecordInput,
  CODEC_IDS,
  type DecodedRecord,
  decodeRecords,
  encodeBatch,
  type RecordHeader,
  TimestampType,
} from './segment/record-batch.js'
