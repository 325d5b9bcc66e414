/**
 * Topic configuration: names, defaults and ranges (the README's config table; Kafka's names in `KAFKA_NAMES`).
 *
 * `validateTopicConfig` is the one place that checks a config: every public method that takes config passes it
 * here and works only with the normalized result. A wrong *type* on a known field is still INVALID_CONFIG (config
 * often comes from files and environment variables, where the caller wants a message naming the field, not a
 * TypeError); an unknown field is INVALID_CONFIG too, so typos do not silently fall back to defaults.
 */
import { DEFAULT_COMPACTION_CONFIG } from './compaction/compaction-config.js'
import { SeglogError } from './errors.js'
import { DEFAULT_LOG_CONFIG } from './log/log-config.js'
import { MIN_ONE_RECORD_BATCH_SIZE } from './segment/record-batch.js'

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete'
export type CompressionType = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
export type TimestampTypeName = 'CreateTime' | 'LogAppendTime'
export type ValueFormatName = 'msgpack' | 'json' | 'string' | 'binary'

export interface TopicConfig {
  partitions: number
  segmentBytes: number
  segmentMs: number
  indexIntervalBytes: number
  segmentIndexBytes: number
  maxMessageBytes: number
  retentionMs: number
  retentionBytes: number
  cleanupPolicy: CleanupPolicy
  minCleanableDirtyRatio: number
  minCompactionLagMs: number
  maxCompactionLagMs: number
  deleteRetentionMs: number
  fileDeleteDelayMs: number
  compressionType: CompressionType
  messageTimestampType: TimestampTypeName
  flushMessages: number
  flushMs: number
  format: ValueFormatName
}

const DAY = 24 * 60 * 60 * 1000
const INT32_MAX = 0x7fffffff
const FOREVER = Number.MAX_SAFE_INTEGER

/**
 * Kafka's topic defaults. The storage-level numbers come from the layers that use them (the log's
 * `DEFAULT_LOG_CONFIG`, compaction's `DEFAULT_COMPACTION_CONFIG`), so each number is written once; both live in
 * leaf modules, so loading this table does not load the log or the planner.
 */
export const DEFAULT_TOPIC_CONFIG: Readonly<TopicConfig> = Object.freeze({
  partitions: 1,
  segmentBytes: DEFAULT_LOG_CONFIG.segmentBytes,
  segmentMs: DEFAULT_LOG_CONFIG.segmentMs,
  indexIntervalBytes: DEFAULT_LOG_CONFIG.indexIntervalBytes,
  segmentIndexBytes: DEFAULT_LOG_CONFIG.segmentIndexBytes,
  maxMessageBytes: DEFAULT_LOG_CONFIG.maxMessageBytes,
  retentionMs: 7 * DAY,
  retentionBytes: -1,
  cleanupPolicy: 'delete',
  minCleanableDirtyRatio: DEFAULT_COMPACTION_CONFIG.minCleanableDirtyRatio,
  minCompactionLagMs: DEFAULT_COMPACTION_CONFIG.minCompactionLagMs,
  maxCompactionLagMs: DEFAULT_COMPACTION_CONFIG.maxCompactionLagMs,
  deleteRetentionMs: DEFAULT_COMPACTION_CONFIG.deleteRetentionMs,
  fileDeleteDelayMs: DEFAULT_LOG_CONFIG.fileDeleteDelayMs,
  compressionType: 'none',
  messageTimestampType: 'CreateTime',
  flushMessages: FOREVER,
  flushMs: 1000,
  format: 'msgpack',
})

/** Kafka's dotted names, for the KafkaJS facade and the CLI. */
export const KAFKA_NAMES: Readonly<Record<keyof TopicConfig, string>> = Object.freeze({
  partitions: 'num.partitions',
  segmentBytes: 'segment.bytes',
  segmentMs: 'segment.ms',
  indexIntervalBytes: 'index.interval.bytes',
  segmentIndexBytes: 'segment.index.bytes',
  maxMessageBytes: 'max.message.bytes',
  retentionMs: 'retention.ms',
  retentionBytes: 'retention.bytes',
  cleanupPolicy: 'cleanup.policy',
  minCleanableDirtyRatio: 'min.cleanable.dirty.ratio',
  minCompactionLagMs: 'min.compaction.lag.ms',
  maxCompactionLagMs: 'max.compaction.lag.ms',
  deleteRetentionMs: 'delete.retention.ms',
  fileDeleteDelayMs: 'file.delete.delay.ms',
  compressionType: 'compression.type',
  messageTimestampType: 'message.timestamp.type',
  flushMessages: 'flush.messages',
  flushMs: 'flush.ms',
  format: 'seglog.format',
})

type Rule =
  | { kind: 'int'; min: number; max: number; note?: string }
  | { kind: 'ratio' }
  | { kind: 'enum'; values: readonly string[] }

const RULES: Readonly<Record<keyof TopicConfig, Rule>> = {
  partitions: { kind: 'int', min: 1, max: 100_000 },
  // A segment must hold at least one small batch; positions in the index are int32.
  segmentBytes: { kind: 'int', min: 128, max: INT32_MAX },
  segmentMs: { kind: 'int', min: 1, max: FOREVER },
  indexIntervalBytes: { kind: 'int', min: 0, max: INT32_MAX },
  // At least two time-index entries (one is reserved for the final entry at roll).
  segmentIndexBytes: { kind: 'int', min: 24, max: INT32_MAX },
  // The smallest batch that can hold one record (68 bytes: a 61-byte header and a 7-byte empty record).
  maxMessageBytes: { kind: 'int', min: MIN_ONE_RECORD_BATCH_SIZE, max: INT32_MAX },
  retentionMs: { kind: 'int', min: -1, max: FOREVER, note: '-1 = forever' },
  retentionBytes: { kind: 'int', min: -1, max: FOREVER, note: '-1 = unlimited' },
  cleanupPolicy: { kind: 'enum', values: ['delete', 'compact', 'compact,delete'] },
  minCleanableDirtyRatio: { kind: 'ratio' },
  minCompactionLagMs: { kind: 'int', min: 0, max: FOREVER },
  maxCompactionLagMs: { kind: 'int', min: 1, max: FOREVER },
  deleteRetentionMs: { kind: 'int', min: 0, max: FOREVER },
  fileDeleteDelayMs: { kind: 'int', min: 0, max: INT32_MAX },
  compressionType: { kind: 'enum', values: ['none', 'gzip', 'snappy', 'lz4', 'zstd'] },
  messageTimestampType: { kind: 'enum', values: ['CreateTime', 'LogAppendTime'] },
  flushMessages: { kind: 'int', min: 1, max: FOREVER },
  flushMs: { kind: 'int', min: 0, max: INT32_MAX },
  format: { kind: 'enum', values: ['msgpack', 'json', 'string', 'binary'] },
}

export const TOPIC_CONFIG_FIELDS = Object.keys(RULES) as (keyof TopicConfig)[]

function invalid(field: string, value: unknown, range: string): SeglogError {
  let shown: string
  try {
    shown = JSON.stringify(value) ?? String(value)
  } catch {
    shown = String(value)
  }
  return new SeglogError('INVALID_CONFIG', `${field} must be ${range}, got ${shown}`)
}

function describeRule(rule: Rule): string {
  if (rule.kind === 'ratio') return 'a number in [0, 1]'
  if (rule.kind === 'enum') return `one of ${rule.values.map((v) => `'${v}'`).join(', ')}`
  const max = rule.max === FOREVER ? 'Number.MAX_SAFE_INTEGER' : String(rule.max)
  return `an integer in [${rule.min}, ${max}]${rule.note ? ` (${rule.note})` : ''}`
}

/**
 * Checks a partial config and returns a normalized copy (only the fields given). `Infinity` is accepted for the
 * "unlimited" time fields and stored as Number.MAX_SAFE_INTEGER. 'delete,compact' is read as 'compact,delete'.
 */
export function validateTopicConfig(input: unknown, where = 'config'): Partial<TopicConfig> {
  if (input === undefined || input === null) return {}
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new SeglogError('INVALID_CONFIG', `${where} must be an object`)
  }
  const out: Record<string, unknown> = {}
  for (const [field, raw] of Object.entries(input as Record<string, unknown>)) {
    if (raw === undefined) continue
    const rule = RULES[field as keyof TopicConfig]
    if (rule === undefined) {
      throw new SeglogError(
        'INVALID_CONFIG',
        `${where} has unknown field '${field}' (known: ${TOPIC_CONFIG_FIELDS.join(', ')})`,
      )
    }
    let value = raw
    if (rule.kind === 'int') {
      if (value === Number.POSITIVE_INFINITY && rule.max === FOREVER) value = FOREVER
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < rule.min || value > rule.max) {
        throw invalid(field, raw, describeRule(rule))
      }
    } else if (rule.kind === 'ratio') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw invalid(field, raw, describeRule(rule))
    } else {
      if (field === 'cleanupPolicy' && value === 'delete,compact') value = 'compact,delete'
      if (typeof value !== 'string' || !rule.values.includes(value)) throw invalid(field, raw, describeRule(rule))
    }
    out[field] = value
  }
  return out as Partial<TopicConfig>
}

/** Kafka's topic-name rule: 1..249 chars of [a-zA-Z0-9._-], not '.' or '..'. */
export function validateTopicName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError(`topic name must be a string, got ${typeof name}`)
  if (name.length === 0 || name.length > 249 || name === '.' || name === '..' || !/^[a-zA-Z0-9._-]+$/.test(name)) {
    throw new SeglogError(
      'INVALID_TOPIC_NAME',
      `topic name ${JSON.stringify(name)} must be 1–249 characters of [a-zA-Z0-9._-] and not '.' or '..'`,
    )
  }
  return name
}
