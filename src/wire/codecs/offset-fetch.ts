/**
 * OffsetFetch (key 9), versions 1–5.
 *
 * | version | request body                                                                         |
 * |---------|--------------------------------------------------------------------------------------|
 * | 1       | group_id string, topics [name string, partition_indexes [int32]]                     |
 * | 2–5     | group_id string, topics nullable [..] (null: every partition the group committed)    |
 *
 * | version | response body                                                                       |
 * |---------|-------------------------------------------------------------------------------------|
 * | 1       | topics [topic]                                                                      |
 * | 2       | topics [topic], error_code int16                                                    |
 * | 3–5     | throttle_time_ms int32, topics [topic], error_code int16                            |
 *
 * topic: name string, partitions [partition]
 * partition: partition_index int32, committed_offset int64 (−1: none), committed_leader_epoch int32 (v5+),
 * metadata nullable string, error_code int16
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface OffsetFetchRequest {
  groupId: string
  /** null: all committed partitions. */
  topics: { name: string; partitionIndexes: number[] }[] | null
}

export interface OffsetFetchPartition {
  partitionIndex: number
  committedOffset: number
  committedLeaderEpoch: number
  metadata: string | null
  errorCode: number
}

export interface OffsetFetchResponse {
  throttleTimeMs: number
  topics: readonly { name: string; partitions: readonly OffsetFetchPartition[] }[]
  errorCode: number
}

export function decodeOffsetFetchRequest(r: Reader, version: number): OffsetFetchRequest {
  const groupId = r.string()
  const readTopic = (r: Reader) => ({ name: r.string(), partitionIndexes: r.array((r) => r.int32(), 4) })
  const topics = version >= 2 ? r.nullableArray(readTopic, 6) : r.array(readTopic, 6)
  return { groupId, topics }
}

export function encodeOffsetFetchResponse(res: OffsetFetchResponse, version: number): Buffer {
  const w = new Writer(256)
  if (version >= 3) w.int32(res.throttleTimeMs)
  w.array(res.topics, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => {
      w.int32(p.partitionIndex).int64(p.committedOffset)
      if (version >= 5) w.int32(p.committedLeaderEpoch)
      w.nullableString(p.metadata).int16(p.errorCode)
    })
  })
  if (version >= 2) w.int16(res.errorCode)
  return w.toBuffer()
}
