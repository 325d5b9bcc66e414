/**
 * seglog: an embedded, in-process Kafka-style log engine. Public exports only.
 */
export { ERROR_CODES, isSeglogError, SeglogError, type SeglogErrorCode } from './errors.js'
export { type FileHandle, type FileSystem, nodeFileSystem, type OpenMode } from './io/file-system.js'
export {
  type AppendInfo,
  DEFAULT_LOG_CONFIG,
  type LogConfig,
  type LogEvent,
  type LogStatus,
  PartitionLog,
  type PartitionLogOptions,
  type ReadOptions,
  type SegmentInfo,
} from './log/partition-log.js'
export {
  type BatchRecordInput,
  CODEC_IDS,
  type DecodedRecord,
  decodeRecords,
  encodeBatch,
  type RecordHeader,
  TimestampType,
} from './segment/record-batch.js'
