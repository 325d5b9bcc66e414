/**
 * What several handlers share: the error code of a per-partition or per-topic failure, and auto-creation of a
 * topic that Metadata or Produce names (one creation per name at a time, shared by every request that asks).
 */
import { isSeglogError } from '../../errors.js'
import type { BrokerHost } from '../host.js'
import { KafkaError, kafkaErrorCode } from '../protocol/errors.js'

/**
 * The Kafka code for a failure the client caused or can retry (a `SeglogError`). Anything else is a bug: it is
 * rethrown, and the connection that sent the request is closed.
 */
export function errorCodeOf(err: unknown): number {
  if (!isSeglogError(err)) throw err
  return kafkaErrorCode(err)
}

/** A message for a response's error_message field. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

const creating = new WeakMap<BrokerHost, Map<string, Promise<number>>>()

/**
 * Makes sure `name` exists, creating it with the engine defaults (format `binary`) when it does not and the host
 * auto-creates topics. Resolves with NONE when the topic exists afterwards, else the Kafka code saying why not:
 * UNKNOWN_TOPIC_OR_PARTITION when auto-creation is off, INVALID_TOPIC_EXCEPTION for a name Kafka rejects.
 */
export function ensureTopic(host: BrokerHost, name: string): Promise<number> | number {
  if (host.topic(name) !== undefined) return KafkaError.NONE
  if (!host.autoCreateTopics) return KafkaError.UNKNOWN_TOPIC_OR_PARTITION
  let byName = creating.get(host)
  if (byName === undefined) creating.set(host, (byName = new Map()))
  const inFlight = byName.get(name)
  if (inFlight !== undefined) return inFlight
  const table = byName
  const created = Promise.resolve()
    .then(() => host.createTopic(name, undefined, {}))
    .then(
      () => KafkaError.NONE,
      // Created meanwhile by someone else (the native API, a CreateTopics): that is what was asked for.
      (err: unknown) => (isSeglogError(err, 'TOPIC_EXISTS') ? KafkaError.NONE : errorCodeOf(err)),
    )
    .finally(() => table.delete(name))
  table.set(name, created)
  return created
}
