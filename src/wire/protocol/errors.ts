/**
 * Kafka's error codes by name (the subset seglog answers or clients are known to act on), and the one mapping from
 * a `SeglogError` code to the Kafka code a response carries.
 */
import { isSeglogError, type SeglogErrorCode } from '../../errors.js'

export const KafkaError = Object.freeze({
  UNKNOWN_SERVER_ERROR: -1,
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  BROKER_NOT_AVAILABLE: 8,
  REPLICA_NOT_AVAILABLE: 9,
  MESSAGE_TOO_LARGE: 10,
  OFFSET_METADATA_TOO_LARGE: 12,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  RECORD_LIST_TOO_LARGE: 18,
  NOT_ENOUGH_REPLICAS: 19,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  INVALID_COMMIT_OFFSET_SIZE: 28,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  NOT_CONTROLLER: 41,
  INVALID_REQUEST: 42,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  POLICY_VIOLATION: 44,
  SECURITY_DISABLED: 54,
  KAFKA_STORAGE_ERROR: 56,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  FETCH_SESSION_ID_NOT_FOUND: 70,
  INVALID_FETCH_SESSION_EPOCH: 71,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  MEMBER_ID_REQUIRED: 79,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
  INVALID_RECORD: 87,
} as const)

export type KafkaErrorName = keyof typeof KafkaError

const BY_SEGLOG_CODE: Readonly<Record<SeglogErrorCode, number>> = {
  TOPIC_EXISTS: KafkaError.TOPIC_ALREADY_EXISTS,
  TOPIC_NOT_FOUND: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
  PARTITION_NOT_FOUND: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
  INVALID_TOPIC_NAME: KafkaError.INVALID_TOPIC_EXCEPTION,
  INVALID_CONFIG: KafkaError.INVALID_CONFIG,
  INVALID_RECORD: KafkaError.INVALID_RECORD,
  RECORD_TOO_LARGE: KafkaError.MESSAGE_TOO_LARGE,
  OFFSET_OUT_OF_RANGE: KafkaError.OFFSET_OUT_OF_RANGE,
  // A damaged or failing log directory: Kafka's storage error, which clients treat as retriable.
  CORRUPT_LOG: KafkaError.KAFKA_STORAGE_ERROR,
  IO_ERROR: KafkaError.KAFKA_STORAGE_ERROR,
  COMPRESSION_UNSUPPORTED: KafkaError.UNSUPPORTED_COMPRESSION_TYPE,
  // The engine is closing: what a broker that is shutting down answers, so clients refresh metadata and retry.
  ENGINE_CLOSED: KafkaError.NOT_LEADER_OR_FOLLOWER,
  ABORTED: KafkaError.NOT_LEADER_OR_FOLLOWER,
  GROUP_NOT_EMPTY: KafkaError.NON_EMPTY_GROUP,
  // A write to a read-only open: what a follower replica answers a write with.
  READ_ONLY: KafkaError.NOT_LEADER_OR_FOLLOWER,
  ENGINE_LOCKED: KafkaError.UNKNOWN_SERVER_ERROR,
  INTERNAL: KafkaError.UNKNOWN_SERVER_ERROR,
}

/**
 * The Kafka error code for a failure: a `SeglogError` by its code (an INVALID_RECORD whose cause is a CRC
 * mismatch is CORRUPT_MESSAGE, as Kafka answers a batch whose checksum fails), anything else
 * UNKNOWN_SERVER_ERROR.
 */
export function kafkaErrorCode(err: unknown): number {
  if (!isSeglogError(err)) return KafkaError.UNKNOWN_SERVER_ERROR
  if (err.code === 'INVALID_RECORD' && (err.cause as { kind?: unknown } | undefined)?.kind === 'crc') {
    return KafkaError.CORRUPT_MESSAGE
  }
  return BY_SEGLOG_CODE[err.code]
}

/** The message a response's error_message field carries for a failure. */
export function kafkaErrorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
