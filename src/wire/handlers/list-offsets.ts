/**
 * ListOffsets (v1+ semantics: one offset per partition): timestamp -1 is the latest offset (the log end, with
 * timestamp -1), -2 the earliest (the log start, timestamp -1), any other value the first offset whose record
 * timestamp is at or after it, with that record's timestamp, or offset and timestamp -1 when there is none.
 * READ_COMMITTED reads the same offsets: the last stable offset is the high watermark.
 */
import {
  decodeListOffsetsRequest,
  EARLIEST_TIMESTAMP,
  encodeListOffsetsResponse,
  LATEST_TIMESTAMP,
  type ListOffsetsPartitionResponse,
} from '../codecs/list-offsets.js'
import type { ApiEntry } from '../handler.js'
import type { BrokerHost } from '../host.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'
import { errorCodeOf } from './common.js'

function lookup(host: BrokerHost, topic: string, partition: number, timestamp: number): ListOffsetsPartitionResponse {
  const out: ListOffsetsPartitionResponse = {
    partitionIndex: partition,
    errorCode: KafkaError.NONE,
    timestamp: -1,
    offset: -1,
  }
  try {
    if (timestamp === LATEST_TIMESTAMP) out.offset = host.offsets(topic, partition).logEndOffset
    else if (timestamp === EARLIEST_TIMESTAMP) out.offset = host.offsets(topic, partition).logStartOffset
    else {
      const found = host.offsetForTimestamp(topic, partition, timestamp)
      if (found !== null) {
        out.offset = found.offset
        out.timestamp = found.timestamp
      }
    }
  } catch (err) {
    out.errorCode = errorCodeOf(err)
  }
  return out
}

export const listOffsetsApi: ApiEntry = {
  key: ApiKey.ListOffsets,
  minVersion: VERSIONS.ListOffsets.min,
  maxVersion: VERSIONS.ListOffsets.max,
  async handle(ctx, body, host) {
    const req = decodeListOffsetsRequest(body, ctx.apiVersion)
    const topics = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) =>
        host.topic(t.name) === undefined
          ? {
              partitionIndex: p.partitionIndex,
              errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
              timestamp: -1,
              offset: -1,
            }
          : lookup(host, t.name, p.partitionIndex, p.timestamp),
      ),
    }))
    return encodeListOffsetsResponse({ throttleTimeMs: 0, topics }, ctx.apiVersion)
  },
}
