/**
 * Topic configs in Kafka's names and string values (`configEntries`, `describeConfigs`, `alterConfigs`) ↔ the
 * engine's `TopicConfig`, with the rules seglog's Kafka listener uses, so a topic made through the facade and one
 * made by a Kafka client over the wire end up with the same config:
 * - names are the engine's Kafka names (`cleanup.policy`, `retention.ms`, ..., `seglog.format`); replication
 *   settings that mean nothing on one broker (`min.insync.replicas`, ...) are accepted and ignored; any other name
 *   is INVALID_CONFIG naming it;
 * - numeric values are parsed as numbers, Kafka's Long.MAX_VALUE ("forever") as Number.MAX_SAFE_INTEGER (shown as
 *   Long.MAX_VALUE again), and the result is checked by the engine's one config check.
 */
import { DEFAULT_TOPIC_CONFIG, KAFKA_NAMES, validateTopicConfig } from '../internal.js'
import { SeglogError, type TopicConfig } from '../main.js'

export const LONG_MAX = '9223372036854775807'

/** Topic-level fields in Kafka's listing order (`num.partitions` is a broker setting, not a topic's). */
export const TOPIC_FIELDS = (Object.keys(KAFKA_NAMES) as (keyof TopicConfig)[]).filter((f) => f !== 'partitions')

const FIELD_BY_NAME = new Map<string, keyof TopicConfig>(TOPIC_FIELDS.map((f) => [KAFKA_NAMES[f], f]))

const IGNORED = new Set([
  'min.insync.replicas',
  'unclean.leader.election.enable',
  'leader.replication.throttled.replicas',
  'follower.replication.throttled.replicas',
  'preallocate',
  'message.downconversion.enable',
  'segment.jitter.ms',
])

function parse(field: keyof TopicConfig, raw: string): unknown {
  if (typeof DEFAULT_TOPIC_CONFIG[field] !== 'number') return raw
  const s = raw.trim()
  if (/^-?\d+$/.test(s)) return Math.min(Number(s), Number.MAX_SAFE_INTEGER)
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s)
  return raw
}

/** `configEntries` as a checked partial TopicConfig; INVALID_CONFIG naming the entry when one is wrong. */
export function topicConfigFromEntries(entries: readonly { name: string; value: string }[]): Partial<TopicConfig> {
  const out: Record<string, unknown> = {}
  for (const { name, value } of entries) {
    if (IGNORED.has(name)) continue
    const field = FIELD_BY_NAME.get(name)
    if (field === undefined) throw new SeglogError('INVALID_CONFIG', `unknown topic config '${name}'`)
    const parsed = parse(field, value)
    try {
      validateTopicConfig({ [field]: parsed })
    } catch (err) {
      const why = err instanceof Error ? err.message.replace(/^INVALID_CONFIG: /, '') : String(err)
      throw new SeglogError('INVALID_CONFIG', `${name}=${value}: ${why}`)
    }
    out[field] = parsed
  }
  return validateTopicConfig(out)
}

/** A config value as Kafka shows it. */
export function kafkaValue(value: TopicConfig[keyof TopicConfig]): string {
  return value === Number.MAX_SAFE_INTEGER ? LONG_MAX : String(value)
}

export function kafkaName(field: keyof TopicConfig): string {
  return KAFKA_NAMES[field]
}
