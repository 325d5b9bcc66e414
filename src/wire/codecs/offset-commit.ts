/**
 * OffsetCommit (key 8), versions 2–5.
 *
 * | version | request body                                                                                       |
 * |---------|----------------------------------------------------------------------------------------------------|
 * | 2–4     | group_id string, generation_id int32, member_id string, retention_time_ms int64, topics [topic]    |
 * | 5       | group_id, generation_id, member_id, topics [topic]                                                 |
 *
 * topic: name string, partitions [partition_index int32, committed_offset int64, committed_metadata nullable string]
 * Generation −1 with an empty member id is a commit outside group management. The retention time is read and
 * ignored (committed offsets are kept until the group or topic is deleted).
 *
 * | version | response body                                                                 |
 * |---------|-------------------------------------------------------------------------------|
 * | 2       | topics [name string, partitions [partition_index int32, error_code int16]]    |
 * | 3–5     | throttle_time_ms int32, then the v2 fields                                    |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface OffsetCommitRequest {
  groupId: string
  generationId: number
  memberId: string
  retentionTimeMs: number
  topics: { name: string; partitions: { partitionIndex: number; offset: number; metadata: string | null }[] }[]
}

export interface OffsetCommitResponse {
  throttleTimeMs: number
  topics: readonly { name: string; partitions: readonly { partitionIndex: number; errorCode: number }[] }[]
}

export function decodeOffsetCommitRequest(r: Reader, version: number): OffsetCommitRequest {
  const groupId = r.string()
  const generationId = r.int32()
  const memberId = r.string()
  const retentionTimeMs = version <= 4 ? r.int64() : -1
  const topics = r.array(
    (r) => ({
      name: r.string(),
      partitions: r.array((r) => ({ partitionIndex: r.int32(), offset: r.int64(), metadata: r.nullableString() }), 14),
    }),
    6,
  )
  return { groupId, generationId, memberId, retentionTimeMs, topics }
}

export function encodeOffsetCommitResponse(res: OffsetCommitResponse, version: number): Buffer {
  const w = new Writer(128)
  if (version >= 3) w.int32(res.throttleTimeMs)
  w.array(res.topics, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => void w.int32(p.partitionIndex).int16(p.errorCode))
  })
  return w.toBuffer()
}
