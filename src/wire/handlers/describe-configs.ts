/**
 * DescribeConfigs for topics (Kafka's names and values), and a few settings of the broker (resource "0").
 *
 * A topic's entry has source DYNAMIC_TOPIC_CONFIG when the topic set it itself, STATIC_BROKER_CONFIG when it
 * inherits an engine default that differs from Kafka's, and DEFAULT_CONFIG otherwise (v0: is_default). With
 * include_synonyms, the synonyms list the topic's own value (if any) then the default it would inherit. An
 * empty or null key list means every setting; unknown keys are left out, as Kafka does.
 */
import { DEFAULT_TOPIC_CONFIG, KAFKA_NAMES, type TopicConfig } from '../../config.js'
import { kafkaValue, TOPIC_FIELDS } from '../../kafka-config.js'
import {
  ConfigSource,
  type DescribeConfigsEntry,
  type DescribeConfigsResult,
  decodeDescribeConfigsRequest,
  encodeDescribeConfigsResponse,
  ResourceType,
} from '../codecs/describe-configs.js'
import type { ApiEntry } from '../handler.js'
import type { BrokerHost } from '../host.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'
import { NODE_ID } from './metadata.js'

function wanted(keys: string[] | null): (name: string) => boolean {
  if (keys === null || keys.length === 0) return () => true
  const set = new Set(keys)
  return (name) => set.has(name)
}

function topicResult(host: BrokerHost, name: string, keys: string[] | null, synonyms: boolean): DescribeConfigsResult {
  const topic = host.topic(name)
  if (topic === undefined) {
    return {
      errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
      errorMessage: `topic '${name}' does not exist`,
      resourceType: ResourceType.TOPIC,
      resourceName: name,
      configs: [],
    }
  }
  const overrides = host.topicOverrides(name)
  const defaults = host.topicDefaults()
  const want = wanted(keys)
  const configs: DescribeConfigsEntry[] = []
  for (const field of TOPIC_FIELDS) {
    const kafkaName = KAFKA_NAMES[field]
    if (!want(kafkaName)) continue
    // A value that differs from the default it would inherit is the topic's own, even when the engine set it (a
    // topic created over the wire is `binary` whatever the default format).
    const own = Object.hasOwn(overrides, field) || topic.config[field] !== defaults[field]
    const defaultSource =
      defaults[field] === DEFAULT_TOPIC_CONFIG[field] ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG
    const value = kafkaValue(topic.config[field])
    const defaultValue = kafkaValue(defaults[field] as TopicConfig[keyof TopicConfig])
    configs.push({
      name: kafkaName,
      value,
      readOnly: false,
      configSource: own ? ConfigSource.DYNAMIC_TOPIC_CONFIG : defaultSource,
      isSensitive: false,
      synonyms: !synonyms
        ? []
        : own
          ? [
              { name: kafkaName, value, source: ConfigSource.DYNAMIC_TOPIC_CONFIG },
              { name: kafkaName, value: defaultValue, source: defaultSource },
            ]
          : [{ name: kafkaName, value: defaultValue, source: defaultSource }],
    })
  }
  return {
    errorCode: KafkaError.NONE,
    errorMessage: null,
    resourceType: ResourceType.TOPIC,
    resourceName: name,
    configs,
  }
}

function brokerResult(host: BrokerHost, name: string, keys: string[] | null): DescribeConfigsResult {
  if (name !== '' && name !== String(NODE_ID)) {
    return {
      errorCode: KafkaError.INVALID_REQUEST,
      errorMessage: `broker ${name} does not exist (this cluster has broker ${NODE_ID} only)`,
      resourceType: ResourceType.BROKER,
      resourceName: name,
      configs: [],
    }
  }
  const defaults = host.topicDefaults()
  const entries: [string, string][] = [
    ['broker.id', String(NODE_ID)],
    ['auto.create.topics.enable', String(host.autoCreateTopics)],
    ['num.partitions', String(defaults.partitions)],
    ['default.replication.factor', '1'],
  ]
  const want = wanted(keys)
  return {
    errorCode: KafkaError.NONE,
    errorMessage: null,
    resourceType: ResourceType.BROKER,
    resourceName: name,
    configs: entries
      .filter(([n]) => want(n))
      .map(([n, value]) => ({
        name: n,
        value,
        readOnly: true,
        configSource: ConfigSource.STATIC_BROKER_CONFIG,
        isSensitive: false,
        synonyms: [],
      })),
  }
}

export const describeConfigsApi: ApiEntry = {
  key: ApiKey.DescribeConfigs,
  minVersion: VERSIONS.DescribeConfigs.min,
  maxVersion: VERSIONS.DescribeConfigs.max,
  async handle(ctx, body, host) {
    const req = decodeDescribeConfigsRequest(body, ctx.apiVersion)
    const results = req.resources.map((r): DescribeConfigsResult => {
      if (r.resourceType === ResourceType.TOPIC) {
        return topicResult(host, r.resourceName, r.configurationKeys, req.includeSynonyms)
      }
      if (r.resourceType === ResourceType.BROKER) return brokerResult(host, r.resourceName, r.configurationKeys)
      return {
        errorCode: KafkaError.INVALID_REQUEST,
        errorMessage: `resource type ${r.resourceType} has no configs here (topics and broker ${NODE_ID} do)`,
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configs: [],
      }
    })
    return encodeDescribeConfigsResponse({ throttleTimeMs: 0, results }, ctx.apiVersion)
  },
}
