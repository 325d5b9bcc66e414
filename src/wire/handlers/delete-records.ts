/**
 * DeleteRecords: moves each partition's log start up to the given offset (-1: the high watermark) and answers the
 * new low watermark. An offset above the high watermark is OFFSET_OUT_OF_RANGE.
 */
import { decodeDeleteRecordsRequest, encodeDeleteRecordsResponse } from '../codecs/delete-records.js'
import type { ApiEntry } from '../handler.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'
import { errorCodeOf } from './common.js'

export const deleteRecordsApi: ApiEntry = {
  key: ApiKey.DeleteRecords,
  minVersion: VERSIONS.DeleteRecords.min,
  maxVersion: VERSIONS.DeleteRecords.max,
  async handle(ctx, body, host) {
    const req = decodeDeleteRecordsRequest(body, ctx.apiVersion)
    const topics = await Promise.all(
      req.topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map(async (p) => {
            try {
              if (host.topic(t.name) === undefined) {
                return {
                  partitionIndex: p.partitionIndex,
                  lowWatermark: -1,
                  errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
                }
              }
              const { logEndOffset } = host.offsets(t.name, p.partitionIndex)
              const before = p.offset === -1 ? logEndOffset : p.offset
              if (before < 0 || before > logEndOffset) {
                return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: KafkaError.OFFSET_OUT_OF_RANGE }
              }
              const lowWatermark = await host.deleteRecords(t.name, p.partitionIndex, before)
              return { partitionIndex: p.partitionIndex, lowWatermark, errorCode: KafkaError.NONE }
            } catch (err) {
              return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: errorCodeOf(err) }
            }
          }),
        ),
      })),
    )
    return encodeDeleteRecordsResponse({ throttleTimeMs: 0, topics }, ctx.apiVersion)
  },
}
