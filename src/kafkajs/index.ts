/**
 * `seglog/kafkajs`: KafkaJS 2.2.4's API over a seglog directory. `import { Kafka } from 'seglog/kafkajs'` in place
 * of `from 'kafkajs'`, and `new Kafka({ dir })` (or `SEGLOG_DIR`) instead of brokers: the same classes, shapes,
 * events and errors, backed by the engine in this process; a directory another process owns is reached through
 * that process's Kafka listener. Changing the import back moves the app to a Kafka cluster.
 */

export { AssignerProtocol, PartitionAssigners } from './assigners.js'
export { CompressionCodecs } from './compression.js'
export {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  CompressionTypes,
  ConfigResourceTypes,
  ConfigSource,
  logLevel,
  ResourcePatternTypes,
} from './enums.js'
export {
  KafkaJSAggregateError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSBrokerNotFound,
  KafkaJSConnectionClosedError,
  KafkaJSConnectionError,
  KafkaJSCreateTopicError,
  KafkaJSDeleteGroupsError,
  KafkaJSDeleteTopicRecordsError,
  KafkaJSError,
  KafkaJSFetcherRebalanceError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSInvalidLongError,
  KafkaJSInvalidVarIntError,
  KafkaJSInvariantViolation,
  KafkaJSLockTimeout,
  KafkaJSMemberIdRequired,
  KafkaJSMetadataNotLoaded,
  KafkaJSNoBrokerAvailableError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSOffsetOutOfRange,
  KafkaJSPartialMessageError,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
  KafkaJSServerDoesNotSupportApiKey,
  KafkaJSStaleTopicMetadataAssignment,
  KafkaJSTimeout,
  KafkaJSTopicMetadataNotLoaded,
  KafkaJSUnsupportedMagicByteInMessageSet,
} from './errors.js'
export { Kafka } from './kafka.js'
export { Partitioners } from './partitioners.js'
export type * from './types.js'
