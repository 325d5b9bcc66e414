/**
 * Heartbeat (key 12), versions 0–3.
 *
 * | version | request body                                                                        |
 * |---------|-------------------------------------------------------------------------------------|
 * | 0–2     | group_id string, generation_id int32, member_id string                              |
 * | 3       | group_id, generation_id, member_id, group_instance_id nullable string               |
 *
 * | version | response body                               |
 * |---------|---------------------------------------------|
 * | 0       | error_code int16                            |
 * | 1–3     | throttle_time_ms int32, error_code int16    |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface HeartbeatRequest {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId: string | null
}

export interface HeartbeatResponse {
  throttleTimeMs: number
  errorCode: number
}

export function decodeHeartbeatRequest(r: Reader, version: number): HeartbeatRequest {
  const groupId = r.string()
  const generationId = r.int32()
  const memberId = r.string()
  const groupInstanceId = version >= 3 ? r.nullableString() : null
  return { groupId, generationId, memberId, groupInstanceId }
}

export function encodeHeartbeatResponse(res: HeartbeatResponse, version: number): Buffer {
  const w = new Writer(8)
  if (version >= 1) w.int32(res.throttleTimeMs)
  w.int16(res.errorCode)
  return w.toBuffer()
}
