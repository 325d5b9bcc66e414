/**
 * KafkaJS's error classes (names, fields and `retriable` as kafkajs 2.2.4 sets them), Kafka's error codes with the
 * `type` names KafkaJS gives them, and the two translations the facade needs:
 *
 * - `fromSeglog(err)`: an engine failure (`SeglogError`) as the error a Kafka broker would have answered, e.g.
 *   TOPIC_NOT_FOUND → `KafkaJSProtocolError` UNKNOWN_TOPIC_OR_PARTITION (3). The SeglogError is kept as `cause`.
 * - `fromKafkaJS(err)`: an error thrown by the kafkajs package (the facade hands work to it when another process
 *   owns the directory) as an instance of the class of the same name here, so `instanceof` works against the
 *   classes an app imports from `seglog/kafkajs`. Fields, message and stack are kept.
 *
 * Errors that are neither pass through unchanged: what an app's own handler throws is never rewritten.
 */
import { isSeglogError, type SeglogError } from '../main.js'
import type {
  DeleteGroupsResult,
  KafkaJSConnectionErrorMetadata,
  KafkaJSDeleteGroupsErrorGroups,
  KafkaJSDeleteTopicRecordsErrorPartition,
  KafkaJSDeleteTopicRecordsErrorTopic,
  KafkaJSErrorMetadata,
  KafkaJSNumberOfRetriesExceededMetadata,
  KafkaJSOffsetOutOfRangeMetadata,
  KafkaJSRequestTimeoutErrorMetadata,
  KafkaJSServerDoesNotSupportApiKeyMetadata,
  KafkaJSStaleTopicMetadataAssignmentMetadata,
  KafkaJSTopicMetadataNotLoadedMetadata,
  PartitionMetadata,
} from './types.js'

type ErrorInput = Error | string
type Metadata = KafkaJSErrorMetadata & { cause?: Error }

const messageOf = (e: unknown): string =>
  e instanceof Error ? e.message : typeof e === 'string' ? e : String((e as { message?: unknown })?.message ?? e)

export class KafkaJSError extends Error {
  override readonly message: string
  override readonly name: string
  readonly retriable: boolean
  readonly helpUrl?: string
  override readonly cause?: Error

  constructor(e: ErrorInput, metadata: Metadata = {}) {
    super(messageOf(e), metadata.cause === undefined ? undefined : { cause: metadata.cause })
    this.message = messageOf(e)
    this.name = 'KafkaJSError'
    this.retriable = metadata.retriable ?? true
    const help = (e as { helpUrl?: unknown })?.helpUrl
    if (typeof help === 'string') this.helpUrl = help
    if (metadata.cause !== undefined) this.cause = metadata.cause
  }
}

export class KafkaJSNonRetriableError extends KafkaJSError {
  constructor(e: ErrorInput, metadata: { cause?: Error } = {}) {
    super(e, { retriable: false, cause: metadata.cause })
    setName(this, 'KafkaJSNonRetriableError')
  }
}

/** Sets `name` on an instance whose base class declared it readonly (each subclass names itself, as kafkajs's). */
function setName(err: Error, name: string): void {
  Object.defineProperty(err, 'name', { value: name, writable: true, enumerable: true, configurable: true })
}

function setField(err: Error, field: string, value: unknown): void {
  Object.defineProperty(err, field, { value, writable: true, enumerable: true, configurable: true })
}

/** Kafka's error codes (the ones seglog answers or clients act on), by KafkaJS's type names. */
const PROTOCOL_ERRORS: Readonly<Record<number, { type: string; retriable: boolean; message: string }>> = {
  [-1]: { type: 'UNKNOWN', retriable: false, message: 'The server experienced an unexpected error' },
  1: { type: 'OFFSET_OUT_OF_RANGE', retriable: false, message: 'The offset is outside the partition' },
  2: { type: 'CORRUPT_MESSAGE', retriable: true, message: 'The message failed its checksum or structure check' },
  3: { type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true, message: 'The topic or partition does not exist' },
  5: { type: 'LEADER_NOT_AVAILABLE', retriable: true, message: 'The partition has no leader right now' },
  6: { type: 'NOT_LEADER_FOR_PARTITION', retriable: true, message: 'This broker does not lead the partition' },
  7: { type: 'REQUEST_TIMED_OUT', retriable: true, message: 'The request timed out' },
  10: { type: 'MESSAGE_TOO_LARGE', retriable: false, message: 'The batch is larger than the topic allows' },
  15: { type: 'GROUP_COORDINATOR_NOT_AVAILABLE', retriable: true, message: 'The group coordinator is not available' },
  16: { type: 'NOT_COORDINATOR_FOR_GROUP', retriable: true, message: 'This broker does not coordinate the group' },
  17: { type: 'INVALID_TOPIC_EXCEPTION', retriable: false, message: 'The topic name is not valid' },
  21: { type: 'INVALID_REQUIRED_ACKS', retriable: false, message: 'The acks value is not valid' },
  22: { type: 'ILLEGAL_GENERATION', retriable: false, message: 'The generation is not the current one' },
  23: {
    type: 'INCONSISTENT_GROUP_PROTOCOL',
    retriable: false,
    message: "The member's assignor is not the one the group uses",
  },
  25: { type: 'UNKNOWN_MEMBER_ID', retriable: false, message: 'The coordinator does not know this member' },
  27: { type: 'REBALANCE_IN_PROGRESS', retriable: false, message: 'The group is rebalancing' },
  35: { type: 'UNSUPPORTED_VERSION', retriable: false, message: 'The API version is not supported' },
  36: { type: 'TOPIC_ALREADY_EXISTS', retriable: false, message: 'The topic already exists' },
  37: { type: 'INVALID_PARTITIONS', retriable: false, message: 'The number of partitions is not valid' },
  38: { type: 'INVALID_REPLICATION_FACTOR', retriable: false, message: 'The replication factor is not possible' },
  39: { type: 'INVALID_REPLICA_ASSIGNMENT', retriable: false, message: 'The replica assignment is not valid' },
  40: { type: 'INVALID_CONFIG', retriable: false, message: 'The configuration is not valid' },
  41: { type: 'NOT_CONTROLLER', retriable: true, message: 'This broker is not the controller' },
  42: { type: 'INVALID_REQUEST', retriable: false, message: 'The request is not valid' },
  56: { type: 'KAFKA_STORAGE_ERROR', retriable: true, message: 'The log directory failed' },
  68: { type: 'NON_EMPTY_GROUP', retriable: false, message: 'The group has active members' },
  69: { type: 'GROUP_ID_NOT_FOUND', retriable: false, message: 'The group does not exist' },
  76: { type: 'UNSUPPORTED_COMPRESSION_TYPE', retriable: false, message: 'The compression type is not available' },
  87: { type: 'INVALID_RECORD', retriable: false, message: 'The record is not valid for this topic' },
}

export const PROTOCOL_CODES = Object.freeze({
  UNKNOWN: -1,
  OFFSET_OUT_OF_RANGE: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  MESSAGE_TOO_LARGE: 10,
  INVALID_TOPIC_EXCEPTION: 17,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  INVALID_REQUEST: 42,
  KAFKA_STORAGE_ERROR: 56,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
} as const)

/** What kafkajs builds a protocol error from: the code table's entry, with the message. */
interface ProtocolErrorInput {
  message: string
  type: string
  code: number
  retriable: boolean
}

export class KafkaJSProtocolError extends KafkaJSError {
  readonly code: number
  readonly type: string

  constructor(e: ErrorInput | ProtocolErrorInput, metadata: { retriable?: boolean } = {}) {
    const given = e as Partial<ProtocolErrorInput>
    super(e as ErrorInput, { retriable: metadata.retriable ?? given.retriable ?? false })
    setName(this, 'KafkaJSProtocolError')
    this.type = typeof given.type === 'string' ? given.type : 'UNKNOWN'
    this.code = typeof given.code === 'number' ? given.code : -1
  }
}

/** The entry of Kafka's code table (kafkajs's type names), for an error code. */
export function protocolEntry(code: number, detail?: string): ProtocolErrorInput {
  const entry = PROTOCOL_ERRORS[code] ?? { type: 'KAFKAJS_UNKNOWN_ERROR_CODE', retriable: false, message: '' }
  const message = detail === undefined ? entry.message : entry.message ? `${entry.message}: ${detail}` : detail
  return { message, type: entry.type, code, retriable: entry.retriable }
}

/** A KafkaJSProtocolError for a Kafka error code, with `detail` after the code's own message. */
export function protocolError(code: number, detail?: string, cause?: unknown): KafkaJSProtocolError {
  const err = new KafkaJSProtocolError(protocolEntry(code, detail))
  if (cause !== undefined) setField(err, 'cause', cause)
  return err
}

export class KafkaJSOffsetOutOfRange extends KafkaJSProtocolError {
  readonly topic: string
  readonly partition: number
  constructor(e: ErrorInput | ProtocolErrorInput, metadata?: KafkaJSOffsetOutOfRangeMetadata) {
    super(e)
    setName(this, 'KafkaJSOffsetOutOfRange')
    this.topic = metadata?.topic as string
    this.partition = metadata?.partition as number
  }
}

export class KafkaJSMemberIdRequired extends KafkaJSProtocolError {
  readonly memberId: string
  constructor(e: ErrorInput | ProtocolErrorInput, metadata: { memberId?: string } = {}) {
    super(e)
    setName(this, 'KafkaJSMemberIdRequired')
    this.memberId = metadata.memberId as string
  }
}

export class KafkaJSNumberOfRetriesExceeded extends KafkaJSNonRetriableError {
  override readonly stack: string
  readonly retryCount: number
  readonly retryTime: number
  constructor(e: ErrorInput, metadata?: KafkaJSNumberOfRetriesExceededMetadata) {
    super(e, { cause: e instanceof Error ? e : undefined })
    this.stack = `KafkaJSNumberOfRetriesExceeded\n  Caused by: ${e instanceof Error ? e.stack : e}`
    this.retryCount = metadata?.retryCount as number
    this.retryTime = metadata?.retryTime as number
    setName(this, 'KafkaJSNumberOfRetriesExceeded')
  }
}

export class KafkaJSConnectionError extends KafkaJSError {
  readonly broker: string
  readonly code?: string
  constructor(e: ErrorInput, metadata: KafkaJSConnectionErrorMetadata & { retriable?: boolean } = {}) {
    super(e, { retriable: metadata.retriable })
    setName(this, 'KafkaJSConnectionError')
    this.broker = metadata.broker as string
    if (metadata.code !== undefined) this.code = metadata.code
  }
}

export class KafkaJSConnectionClosedError extends KafkaJSConnectionError {
  readonly host?: string
  readonly port?: number
  constructor(e: ErrorInput, metadata: { host?: string; port?: number } = {}) {
    super(e, { broker: `${metadata.host}:${metadata.port}` })
    setName(this, 'KafkaJSConnectionClosedError')
    this.host = metadata.host
    this.port = metadata.port
  }
}

export class KafkaJSRequestTimeoutError extends KafkaJSError {
  readonly broker: string
  readonly correlationId: number
  readonly createdAt: number
  readonly sentAt: number
  readonly pendingDuration: number
  constructor(e: ErrorInput, metadata?: KafkaJSRequestTimeoutErrorMetadata) {
    super(e)
    setName(this, 'KafkaJSRequestTimeoutError')
    this.broker = metadata?.broker as string
    this.correlationId = metadata?.correlationId as number
    this.createdAt = metadata?.createdAt as number
    this.sentAt = metadata?.sentAt as number
    this.pendingDuration = metadata?.pendingDuration as number
  }
}

export class KafkaJSMetadataNotLoaded extends KafkaJSError {
  constructor(e: ErrorInput = 'Metadata not loaded', metadata?: Metadata) {
    super(e, metadata)
    setName(this, 'KafkaJSMetadataNotLoaded')
  }
}

export class KafkaJSTopicMetadataNotLoaded extends KafkaJSMetadataNotLoaded {
  readonly topic: string
  constructor(e: ErrorInput, metadata?: KafkaJSTopicMetadataNotLoadedMetadata) {
    super(e)
    setName(this, 'KafkaJSTopicMetadataNotLoaded')
    this.topic = metadata?.topic as string
  }
}

export class KafkaJSStaleTopicMetadataAssignment extends KafkaJSError {
  readonly topic: string
  readonly unknownPartitions: number
  constructor(e: ErrorInput, metadata?: KafkaJSStaleTopicMetadataAssignmentMetadata) {
    super(e)
    setName(this, 'KafkaJSStaleTopicMetadataAssignment')
    this.topic = metadata?.topic as string
    // kafkajs declares a number but stores the partitions given; so does this.
    this.unknownPartitions = metadata?.unknownPartitions as PartitionMetadata[] as unknown as number
  }
}

export class KafkaJSServerDoesNotSupportApiKey extends KafkaJSNonRetriableError {
  readonly apiKey: number
  readonly apiName: string
  constructor(e: ErrorInput, metadata?: KafkaJSServerDoesNotSupportApiKeyMetadata) {
    super(e)
    setName(this, 'KafkaJSServerDoesNotSupportApiKey')
    this.apiKey = metadata?.apiKey as number
    this.apiName = metadata?.apiName as string
  }
}

export class KafkaJSBrokerNotFound extends KafkaJSError {
  constructor(e: ErrorInput = 'Broker not found', metadata?: Metadata) {
    super(e, metadata)
    setName(this, 'KafkaJSBrokerNotFound')
  }
}

export class KafkaJSPartialMessageError extends KafkaJSNonRetriableError {
  constructor(e: ErrorInput = 'Partial message', metadata?: { cause?: Error }) {
    super(e, metadata)
    setName(this, 'KafkaJSPartialMessageError')
  }
}

export class KafkaJSSASLAuthenticationError extends KafkaJSNonRetriableError {
  constructor(e: ErrorInput = 'SASL authentication failed', metadata?: { cause?: Error }) {
    super(e, metadata)
    setName(this, 'KafkaJSSASLAuthenticationError')
  }
}

export class KafkaJSGroupCoordinatorNotFound extends KafkaJSNonRetriableError {
  constructor(e: ErrorInput = 'Group coordinator not found', metadata?: { cause?: Error }) {
    super(e, metadata)
    setName(this, 'KafkaJSGroupCoordinatorNotFound')
  }
}

/**
 * What seglog/kafkajs throws for a KafkaJS feature it does not implement (transactions, idempotent producers,
 * ACLs, partition reassignments): the message names the feature.
 */
export class KafkaJSNotImplemented extends KafkaJSNonRetriableError {
  constructor(e: ErrorInput = 'Not implemented', metadata?: { cause?: Error }) {
    super(e, metadata)
    setName(this, 'KafkaJSNotImplemented')
  }
}

export class KafkaJSTimeout extends KafkaJSNonRetriableError {
  constructor(e: ErrorInput = 'Timeout', metadata?: { cause?: Error }) {
    super(e, metadata)
    setName(this, 'KafkaJSTimeout')
  }
}

export class KafkaJSLockTimeout extends KafkaJSTimeout {
  constructor(e: ErrorInput = 'Lock timeout', metadata?: { cause?: Error }) {
    super(e, metadata)
    setName(this, 'KafkaJSLockTimeout')
  }
}

export class KafkaJSUnsupportedMagicByteInMessageSet extends KafkaJSNonRetriableError {
  constructor(e: ErrorInput = 'Unsupported magic byte', metadata?: { cause?: Error }) {
    super(e, metadata)
    setName(this, 'KafkaJSUnsupportedMagicByteInMessageSet')
  }
}

export class KafkaJSDeleteGroupsError extends KafkaJSError {
  readonly groups: DeleteGroupsResult[]
  constructor(e: ErrorInput, groups: KafkaJSDeleteGroupsErrorGroups[] = []) {
    super(e)
    setName(this, 'KafkaJSDeleteGroupsError')
    this.groups = groups as DeleteGroupsResult[]
  }
}

export class KafkaJSDeleteTopicRecordsError extends KafkaJSError {
  /** Each partition that failed, with its error (kafkajs sets it; its declarations leave it out). */
  readonly partitions?: KafkaJSDeleteTopicRecordsErrorPartition[]
  constructor(metadata: KafkaJSDeleteTopicRecordsErrorTopic) {
    const partitions = metadata?.partitions ?? []
    // Retriable when every partition's error is.
    const retriable = partitions.filter((p) => p.error != null).every((p) => p.error.retriable === true)
    super('Error while deleting records', { retriable })
    setName(this, 'KafkaJSDeleteTopicRecordsError')
    this.partitions = partitions
  }
}

export class KafkaJSInvariantViolation extends KafkaJSNonRetriableError {
  constructor(e: ErrorInput) {
    super(`Invariant violated: ${messageOf(e)}. This is likely a bug and should be reported.`)
    setName(this, 'KafkaJSInvariantViolation')
  }
}

export class KafkaJSInvalidVarIntError extends KafkaJSNonRetriableError {}
export class KafkaJSInvalidLongError extends KafkaJSNonRetriableError {}

export class KafkaJSCreateTopicError extends KafkaJSProtocolError {
  readonly topic: string
  constructor(e: ErrorInput | ProtocolErrorInput, topicName: string) {
    super(e)
    setName(this, 'KafkaJSCreateTopicError')
    this.topic = topicName
  }
}

export class KafkaJSAlterPartitionReassignmentsError extends KafkaJSProtocolError {
  readonly topic?: string
  readonly partition?: number
  constructor(e: ErrorInput | ProtocolErrorInput, topic?: string, partition?: number) {
    super(e)
    setName(this, 'KafkaJSAlterPartitionReassignmentsError')
    this.topic = topic
    this.partition = partition
  }
}

export class KafkaJSAggregateError extends Error {
  readonly errors: (Error | string)[]
  constructor(message: ErrorInput, errors: (Error | string)[]) {
    super(messageOf(message))
    this.name = 'KafkaJSAggregateError'
    this.errors = errors
  }
}

export class KafkaJSFetcherRebalanceError extends Error {}

export class KafkaJSNoBrokerAvailableError extends KafkaJSError {
  constructor() {
    super('No broker available')
    setName(this, 'KafkaJSNoBrokerAvailableError')
  }
}

/** Every error class, by the name its instances carry (the classes kafkajs exports at runtime). */
const CLASSES: Readonly<Record<string, abstract new (...args: never[]) => Error>> = {
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
  KafkaJSOffsetOutOfRange,
  KafkaJSMemberIdRequired,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSConnectionError,
  KafkaJSConnectionClosedError,
  KafkaJSRequestTimeoutError,
  KafkaJSMetadataNotLoaded,
  KafkaJSTopicMetadataNotLoaded,
  KafkaJSStaleTopicMetadataAssignment,
  KafkaJSServerDoesNotSupportApiKey,
  KafkaJSBrokerNotFound,
  KafkaJSPartialMessageError,
  KafkaJSSASLAuthenticationError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNotImplemented,
  KafkaJSTimeout,
  KafkaJSLockTimeout,
  KafkaJSUnsupportedMagicByteInMessageSet,
  KafkaJSDeleteGroupsError,
  KafkaJSDeleteTopicRecordsError,
  KafkaJSInvariantViolation,
  KafkaJSCreateTopicError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSAggregateError,
  KafkaJSNoBrokerAvailableError,
}

/**
 * An error the kafkajs package threw, as an instance of this module's class of the same name (same fields,
 * message and stack; nested errors — `cause`, an aggregate's `errors`, per-group and per-partition errors —
 * translated too). Anything else is returned as it is.
 */
export function fromKafkaJS<T>(err: T, seen = new Set<unknown>()): T {
  if (!(err instanceof Error) || seen.has(err)) return err
  seen.add(err)
  const cls = CLASSES[err.name]
  if (cls === undefined || err instanceof cls) return err
  const out = Object.create(cls.prototype) as Error
  for (const key of Object.getOwnPropertyNames(err)) {
    const desc = Object.getOwnPropertyDescriptor(err, key)!
    Object.defineProperty(out, key, desc)
  }
  const rec = out as unknown as Record<string, unknown>
  if (rec.cause instanceof Error) setField(out, 'cause', fromKafkaJS(rec.cause, seen))
  if (Array.isArray(rec.errors))
    setField(
      out,
      'errors',
      rec.errors.map((e) => fromKafkaJS(e, seen)),
    )
  for (const list of ['groups', 'partitions']) {
    const items = rec[list]
    if (!Array.isArray(items)) continue
    setField(
      out,
      list,
      items.map((item: unknown) =>
        item !== null && typeof item === 'object' && (item as { error?: unknown }).error instanceof Error
          ? { ...item, error: fromKafkaJS((item as { error: Error }).error, seen) }
          : item,
      ),
    )
  }
  return out as T
}

/** Kafka's code for a SeglogError code (`INVALID_CONFIG` is `overrides`' choice where a call knows better). */
function kafkaCode(err: SeglogError): number {
  switch (err.code) {
    case 'TOPIC_EXISTS':
      return PROTOCOL_CODES.TOPIC_ALREADY_EXISTS
    case 'TOPIC_NOT_FOUND':
    case 'PARTITION_NOT_FOUND':
      return PROTOCOL_CODES.UNKNOWN_TOPIC_OR_PARTITION
    case 'INVALID_TOPIC_NAME':
      return PROTOCOL_CODES.INVALID_TOPIC_EXCEPTION
    case 'INVALID_CONFIG':
      return PROTOCOL_CODES.INVALID_CONFIG
    case 'INVALID_RECORD':
      return PROTOCOL_CODES.INVALID_RECORD
    case 'RECORD_TOO_LARGE':
      return PROTOCOL_CODES.MESSAGE_TOO_LARGE
    case 'OFFSET_OUT_OF_RANGE':
      return PROTOCOL_CODES.OFFSET_OUT_OF_RANGE
    case 'CORRUPT_LOG':
    case 'IO_ERROR':
      return PROTOCOL_CODES.KAFKA_STORAGE_ERROR
    case 'COMPRESSION_UNSUPPORTED':
      return PROTOCOL_CODES.UNSUPPORTED_COMPRESSION_TYPE
    case 'GROUP_NOT_EMPTY':
      return PROTOCOL_CODES.NON_EMPTY_GROUP
    default:
      return PROTOCOL_CODES.UNKNOWN
  }
}

/** The SeglogError's message without its `CODE: ` prefix. */
function detailOf(err: SeglogError): string {
  return err.message.startsWith(`${err.code}: `) ? err.message.slice(err.code.length + 2) : err.message
}

/**
 * An engine failure as KafkaJS reports the broker's answer: a `KafkaJSProtocolError` with Kafka's code and type
 * (`codeOverride` where the call knows the broker's more specific code, e.g. INVALID_PARTITIONS for a partition
 * shrink), `KafkaJSOffsetOutOfRange` for OFFSET_OUT_OF_RANGE, and `KafkaJSNonRetriableError` for a closed or
 * aborted engine. The SeglogError is the `cause`. Anything else is returned as it is.
 */
export function fromSeglog(
  err: unknown,
  context: { topic?: string; partition?: number; codeOverride?: number } = {},
): unknown {
  if (!isSeglogError(err)) return err
  const detail = detailOf(err)
  if (err.code === 'ENGINE_CLOSED' || err.code === 'ABORTED' || err.code === 'ENGINE_LOCKED') {
    return new KafkaJSNonRetriableError(`${err.code}: ${detail}`, { cause: err })
  }
  if (err.code === 'OFFSET_OUT_OF_RANGE') {
    const e = new KafkaJSOffsetOutOfRange(protocolEntry(PROTOCOL_CODES.OFFSET_OUT_OF_RANGE, detail), {
      topic: context.topic as string,
      partition: context.partition as number,
    })
    setField(e, 'cause', err)
    return e
  }
  return protocolError(context.codeOverride ?? kafkaCode(err), detail, err)
}

/** `fromSeglog`, for a call's rejection: `await x.catch(rethrowKafka())`. */
export function rethrowKafka(context?: Parameters<typeof fromSeglog>[1]): (err: unknown) => never {
  return (err) => {
    throw fromSeglog(err, context)
  }
}
