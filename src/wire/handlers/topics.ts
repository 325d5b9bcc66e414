/**
 * CreateTopics, DeleteTopics and CreatePartitions: one error code (and, where the version has one, a message) per
 * topic. One broker means replication factor 1: -1 (the default) and 1 are accepted, any other factor is
 * INVALID_REPLICATION_FACTOR; a replica assignment may name broker 0 only, once per partition. validate_only runs
 * every check (name, existence, partitions, config) and creates nothing.
 */
import { validateTopicName } from '../../config.js'
import { isSeglogError } from '../../errors.js'
import { topicConfigFromKafka } from '../../kafka-config.js'
import { decodeCreatePartitionsRequest, encodeCreatePartitionsResponse } from '../codecs/create-partitions.js'
import { type CreatableTopic, decodeCreateTopicsRequest, encodeCreateTopicsResponse } from '../codecs/create-topics.js'
import { decodeDeleteTopicsRequest, encodeDeleteTopicsResponse } from '../codecs/delete-topics.js'
import type { ApiEntry } from '../handler.js'
import type { BrokerHost } from '../host.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'
import { errorCodeOf, messageOf } from './common.js'
import { NODE_ID } from './metadata.js'

interface TopicResult {
  name: string
  errorCode: number
  errorMessage: string | null
}

const ok = (name: string): TopicResult => ({ name, errorCode: KafkaError.NONE, errorMessage: null })
const fail = (name: string, errorCode: number, errorMessage: string): TopicResult => ({ name, errorCode, errorMessage })

function checkAssignments(assignments: readonly (readonly number[])[]): string | null {
  for (const ids of assignments) {
    if (ids.length !== 1 || ids[0] !== NODE_ID) {
      return `replica assignment [${ids.join(', ')}] must be [${NODE_ID}]: broker ${NODE_ID} is the only broker`
    }
  }
  return null
}

async function createOne(host: BrokerHost, t: CreatableTopic, validateOnly: boolean): Promise<TopicResult> {
  const { name } = t
  try {
    validateTopicName(name)
  } catch (err) {
    return fail(name, errorCodeOf(err), messageOf(err))
  }
  let partitions: number | undefined
  if (t.assignments.length > 0) {
    if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
      return fail(
        name,
        KafkaError.INVALID_REQUEST,
        'num_partitions and replication_factor must be -1 with an assignment',
      )
    }
    const problem = checkAssignments(t.assignments.map((a) => a.brokerIds))
    if (problem !== null) return fail(name, KafkaError.INVALID_REPLICA_ASSIGNMENT, problem)
    const indexes = t.assignments.map((a) => a.partitionIndex).sort((a, b) => a - b)
    if (indexes.some((p, i) => p !== i)) {
      return fail(name, KafkaError.INVALID_REPLICA_ASSIGNMENT, 'assigned partitions must be 0..n-1, each once')
    }
    partitions = indexes.length
  } else {
    if (t.numPartitions === 0 || t.numPartitions < -1) {
      return fail(
        name,
        KafkaError.INVALID_PARTITIONS,
        `number of partitions must be at least 1, got ${t.numPartitions}`,
      )
    }
    if (t.replicationFactor !== -1 && t.replicationFactor !== 1) {
      return fail(
        name,
        KafkaError.INVALID_REPLICATION_FACTOR,
        `replication factor ${t.replicationFactor} is not possible with 1 broker`,
      )
    }
    partitions = t.numPartitions === -1 ? undefined : t.numPartitions
  }
  try {
    const config = topicConfigFromKafka(t.configs)
    if (validateOnly) {
      if (host.topic(name) !== undefined)
        return fail(name, KafkaError.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`)
      if (partitions !== undefined && partitions > 100_000) {
        return fail(name, KafkaError.INVALID_PARTITIONS, `number of partitions ${partitions} is above 100000`)
      }
      return ok(name)
    }
    await host.createTopic(name, partitions, config)
    return ok(name)
  } catch (err) {
    const code = errorCodeOf(err)
    // The engine checks the partition count with the config: Kafka has its own code for it.
    if (isSeglogError(err, 'INVALID_CONFIG') && /partitions/.test(messageOf(err))) {
      return fail(name, KafkaError.INVALID_PARTITIONS, messageOf(err))
    }
    return fail(name, code, messageOf(err))
  }
}

export const createTopicsApi: ApiEntry = {
  key: ApiKey.CreateTopics,
  minVersion: VERSIONS.CreateTopics.min,
  maxVersion: VERSIONS.CreateTopics.max,
  async handle(ctx, body, host) {
    const req = decodeCreateTopicsRequest(body, ctx.apiVersion)
    const counts = new Map<string, number>()
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
    const topics: (TopicResult | null)[] = []
    const answered = new Set<string>()
    const unique: CreatableTopic[] = []
    for (const t of req.topics) {
      if (answered.has(t.name)) continue
      answered.add(t.name)
      unique.push(t)
      topics.push(
        (counts.get(t.name) ?? 0) > 1
          ? fail(t.name, KafkaError.INVALID_REQUEST, `topic '${t.name}' appears more than once in the request`)
          : null,
      )
    }
    // As Kafka's controller: topics are created one after another, and those not created within the request's
    // timeout_ms are answered REQUEST_TIMED_OUT while their creation goes on (a topic of many thousands of
    // partitions takes seconds of directory and fsync work; the client must not wait unbounded for it).
    const creating = (async () => {
      for (let i = 0; i < unique.length; i++) {
        if (topics[i] === null) topics[i] = await createOne(host, unique[i], req.validateOnly)
      }
    })()
    // A timeout of 0 or less waits for the creation (the client asked for no bound).
    let timer: NodeJS.Timeout | undefined
    await (req.timeoutMs <= 0
      ? creating
      : Promise.race([
          creating,
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, req.timeoutMs)
          }),
        ]))
    clearTimeout(timer)
    const results = topics.map(
      (r, i) =>
        r ??
        fail(
          unique[i].name,
          KafkaError.REQUEST_TIMED_OUT,
          `topic '${unique[i].name}' is still being created after the request's timeout of ${req.timeoutMs} ms`,
        ),
    )
    return encodeCreateTopicsResponse({ throttleTimeMs: 0, topics: results }, ctx.apiVersion)
  },
}

export const deleteTopicsApi: ApiEntry = {
  key: ApiKey.DeleteTopics,
  minVersion: VERSIONS.DeleteTopics.min,
  maxVersion: VERSIONS.DeleteTopics.max,
  async handle(ctx, body, host) {
    const req = decodeDeleteTopicsRequest(body, ctx.apiVersion)
    const responses: { name: string; errorCode: number }[] = []
    for (const name of new Set(req.topicNames)) {
      try {
        await host.deleteTopic(name)
        responses.push({ name, errorCode: KafkaError.NONE })
      } catch (err) {
        responses.push({ name, errorCode: errorCodeOf(err) })
      }
    }
    return encodeDeleteTopicsResponse({ throttleTimeMs: 0, responses }, ctx.apiVersion)
  },
}

export const createPartitionsApi: ApiEntry = {
  key: ApiKey.CreatePartitions,
  minVersion: VERSIONS.CreatePartitions.min,
  maxVersion: VERSIONS.CreatePartitions.max,
  async handle(ctx, body, host) {
    const req = decodeCreatePartitionsRequest(body, ctx.apiVersion)
    const results: TopicResult[] = []
    for (const t of req.topics) {
      const current = host.topic(t.name)
      if (current === undefined) {
        results.push(fail(t.name, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `topic '${t.name}' does not exist`))
        continue
      }
      if (t.count <= current.partitions) {
        results.push(
          fail(
            t.name,
            KafkaError.INVALID_PARTITIONS,
            `topic has ${current.partitions} partitions, asked for ${t.count}`,
          ),
        )
        continue
      }
      if (t.assignments !== null) {
        const problem =
          t.assignments.length !== t.count - current.partitions
            ? `${t.assignments.length} assignments for ${t.count - current.partitions} new partitions`
            : checkAssignments(t.assignments)
        if (problem !== null) {
          results.push(fail(t.name, KafkaError.INVALID_REPLICA_ASSIGNMENT, problem))
          continue
        }
      }
      if (req.validateOnly) {
        results.push(ok(t.name))
        continue
      }
      try {
        await host.createPartitions(t.name, t.count)
        results.push(ok(t.name))
      } catch (err) {
        const code = errorCodeOf(err)
        results.push(
          fail(t.name, code === KafkaError.INVALID_CONFIG ? KafkaError.INVALID_PARTITIONS : code, messageOf(err)),
        )
      }
    }
    return encodeCreatePartitionsResponse({ throttleTimeMs: 0, results }, ctx.apiVersion)
  },
}
