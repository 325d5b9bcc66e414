/**
 * Kafka's topic config names and string values ↔ seglog's `TopicConfig`: the one translation that the wire
 * listener (CreateTopics, AlterConfigs, DescribeConfigs) and the KafkaJS facade (`configEntries`, `describeConfigs`,
 * `alterConfigs`) share, so a topic made by either ends up with the same config.
 *
 * Names are `KAFKA_NAMES` (the topic-level ones; `num.partitions` is a broker setting, so CreateTopics takes the
 * count from num_partitions only). Values arrive as strings: numeric fields are parsed as numbers, Kafka's
 * Long.MAX_VALUE ("forever") becomes Number.MAX_SAFE_INTEGER and is shown as Long.MAX_VALUE again, and the
 * result goes through `validateTopicConfig`, the one config check. A few Kafka settings that only mean something
 * with replication are accepted and ignored (a one-broker cluster has one replica), so tools that always send
 * them still create topics.
 */
import { DEFAULT_TOPIC_CONFIG, KAFKA_NAMES, type TopicConfig, validateTopicConfig } from './config.js'
import { SeglogError } from './errors.js'

export const LONG_MAX = '9223372036854775807'

/** Topic-level config fields in the order DescribeConfigs lists them. */
export const TOPIC_FIELDS = (Object.keys(KAFKA_NAMES) as (keyof TopicConfig)[]).filter((f) => f !== 'partitions')

const FIELD_BY_NAME = new Map<string, keyof TopicConfig>(TOPIC_FIELDS.map((f) => [KAFKA_NAMES[f], f]))

/** Replication settings with no effect on one broker: accepted, ignored, not listed. */
const IGNORED = new Set([
  'min.insync.replicas',
  'unclean.leader.election.enable',
  'leader.replication.throttled.replicas',
  'follower.replication.throttled.replicas',
  'preallocate',
  'message.downconversion.enable',
  'segment.jitter.ms',
])

export function fieldForKafkaName(name: string): keyof TopicConfig | undefined {
  return FIELD_BY_NAME.get(name)
}

function parseValue(field: keyof TopicConfig, raw: string): unknown {
  if (typeof DEFAULT_TOPIC_CONFIG[field] !== 'number') return raw
  const s = raw.trim()
  if (/^-?\d+$/.test(s)) {
    const n = Number(s)
    return Math.min(n, Number.MAX_SAFE_INTEGER)
  }
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s)
  return raw
}

/**
 * A CreateTopics config list as a validated partial `TopicConfig`; INVALID_CONFIG naming the Kafka setting for
 * an unknown name or a bad value. A null value means the default.
 */
export function topicConfigFromKafka(entries: readonly { name: string; value: string | null }[]): Partial<TopicConfig> {
  const out: Record<string, unknown> = {}
  for (const { name, value } of entries) {
    if (IGNORED.has(name)) continue
    const field = FIELD_BY_NAME.get(name)
    if (field === undefined) throw new SeglogError('INVALID_CONFIG', `unknown topic config '${name}'`)
    if (value === null) continue
    const parsed = parseValue(field, value)
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
  if (value === Number.MAX_SAFE_INTEGER) return LONG_MAX
  return String(value)
}

/** The Kafka name of a config field. */
export function kafkaName(field: keyof TopicConfig): string {
  return KAFKA_NAMES[field]
}
