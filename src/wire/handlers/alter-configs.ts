/**
 * AlterConfigs for topics, with Kafka's semantics: the settings listed become the topic's own settings, and every
 * setting of its own that is not listed goes back to the default it inherits (the engine keeps it as an explicit
 * value equal to that default). Names and values are Kafka's (`src/kafka-config.ts`, the same parsing as
 * CreateTopics); `seglog.format` may be listed only with the topic's format (it is fixed at creation). A resource
 * is answered on its own: UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG with the engine's message, INVALID_REQUEST
 * for resources other than topics (the broker's settings are fixed). validate_only checks and changes nothing.
 */
import type { TopicConfig } from '../../config.js'
import { SeglogError } from '../../errors.js'
import { topicConfigFromKafka } from '../../kafka-config.js'
import {
  type AlterConfigsResult,
  decodeAlterConfigsRequest,
  encodeAlterConfigsResponse,
} from '../codecs/alter-configs.js'
import { ResourceType } from '../codecs/describe-configs.js'
import type { ApiEntry } from '../handler.js'
import type { BrokerHost } from '../host.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'
import { errorCodeOf, messageOf } from './common.js'

async function alterTopic(
  host: BrokerHost,
  name: string,
  configs: readonly { name: string; value: string | null }[],
  validateOnly: boolean,
): Promise<Omit<AlterConfigsResult, 'resourceType' | 'resourceName'>> {
  const topic = host.topic(name)
  if (topic === undefined) {
    return {
      errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
      errorMessage: `topic '${name}' does not exist`,
    }
  }
  try {
    const wanted = topicConfigFromKafka(configs)
    if (wanted.format !== undefined && wanted.format !== topic.config.format) {
      throw new SeglogError(
        'INVALID_CONFIG',
        `format of topic '${name}' is fixed at creation ('${topic.config.format}')`,
      )
    }
    const defaults = host.topicDefaults()
    const change: Record<string, unknown> = { ...wanted }
    for (const field of Object.keys(host.topicOverrides(name)) as (keyof TopicConfig)[]) {
      if (field !== 'partitions' && field !== 'format' && !(field in wanted)) change[field] = defaults[field]
    }
    delete change.format
    if (!validateOnly && Object.keys(change).length > 0) await host.alterTopicConfig(name, change)
    return { errorCode: KafkaError.NONE, errorMessage: null }
  } catch (err) {
    return { errorCode: errorCodeOf(err), errorMessage: messageOf(err) }
  }
}

export const alterConfigsApi: ApiEntry = {
  key: ApiKey.AlterConfigs,
  minVersion: VERSIONS.AlterConfigs.min,
  maxVersion: VERSIONS.AlterConfigs.max,
  async handle(ctx, body, host) {
    const req = decodeAlterConfigsRequest(body, ctx.apiVersion)
    const results: AlterConfigsResult[] = []
    for (const r of req.resources) {
      const { resourceType, resourceName } = r
      if (resourceType !== ResourceType.TOPIC) {
        results.push({
          errorCode: KafkaError.INVALID_REQUEST,
          errorMessage: `resource type ${resourceType} cannot be altered here (topic configs can)`,
          resourceType,
          resourceName,
        })
        continue
      }
      results.push({
        ...(await alterTopic(host, resourceName, r.configs, req.validateOnly)),
        resourceType,
        resourceName,
      })
    }
    return encodeAlterConfigsResponse({ throttleTimeMs: 0, results }, ctx.apiVersion)
  },
}
