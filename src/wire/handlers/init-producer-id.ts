/**
 * InitProducerId for idempotent producers, without transactions or deduplication.
 *
 * Each request gets a producer id never handed out before by this server (a counter that starts at the server's
 * start time in milliseconds, so ids from an earlier run are not reused) with epoch 0. That lets clients that
 * enable idempotence (the Java client's default, librdkafka's enable.idempotence, KafkaJS's idempotent) produce,
 * and their batches are stored as sent, producer id and sequence numbers included. Sequence numbers are not
 * checked: a batch a client retries after a lost acknowledgement can be stored twice (at-least-once, like a
 * producer without idempotence). A transactional id is INVALID_REQUEST: seglog has no transactions.
 */
import { decodeInitProducerIdRequest, encodeInitProducerIdResponse } from '../codecs/init-producer-id.js'
import type { ApiEntry } from '../handler.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'

export function initProducerIdApi(): ApiEntry {
  let next = Date.now()
  return {
    key: ApiKey.InitProducerId,
    minVersion: VERSIONS.InitProducerId.min,
    maxVersion: VERSIONS.InitProducerId.max,
    async handle(ctx, body) {
      const req = decodeInitProducerIdRequest(body, ctx.apiVersion)
      const res =
        req.transactionalId === null
          ? { throttleTimeMs: 0, errorCode: KafkaError.NONE, producerId: next++, producerEpoch: 0 }
          : { throttleTimeMs: 0, errorCode: KafkaError.INVALID_REQUEST, producerId: -1, producerEpoch: -1 }
      return encodeInitProducerIdResponse(res, ctx.apiVersion)
    },
  }
}
