/**
 * SyncGroup (key 14), versions 0–3.
 *
 * | version | request body                                                                                    |
 * |---------|-------------------------------------------------------------------------------------------------|
 * | 0–2     | group_id string, generation_id int32, member_id string, assignments [member_id string, bytes]  |
 * | 3       | group_id, generation_id, member_id, group_instance_id nullable string, assignments [..]         |
 *
 * | version | response body                                                |
 * |---------|--------------------------------------------------------------|
 * | 0       | error_code int16, assignment bytes                           |
 * | 1–3     | throttle_time_ms int32, error_code int16, assignment bytes   |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface SyncGroupRequest {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId: string | null
  assignments: { memberId: string; assignment: Buffer }[]
}

export interface SyncGroupResponse {
  throttleTimeMs: number
  errorCode: number
  assignment: Buffer
}

export function decodeSyncGroupRequest(r: Reader, version: number): SyncGroupRequest {
  const groupId = r.string()
  const generationId = r.int32()
  const memberId = r.string()
  const groupInstanceId = version >= 3 ? r.nullableString() : null
  const assignments = r.array((r) => ({ memberId: r.string(), assignment: r.bytes() }), 6)
  return { groupId, generationId, memberId, groupInstanceId, assignments }
}

export function encodeSyncGroupResponse(res: SyncGroupResponse, version: number): Buffer {
  const w = new Writer(32 + res.assignment.length)
  if (version >= 1) w.int32(res.throttleTimeMs)
  w.int16(res.errorCode).bytes(res.assignment)
  return w.toBuffer()
}
