/**
 * LeaveGroup (key 13), versions 0–3.
 *
 * | version | request body                                                              |
 * |---------|---------------------------------------------------------------------------|
 * | 0–2     | group_id string, member_id string                                         |
 * | 3       | group_id string, members [member_id string, group_instance_id nullable string] |
 *
 * | version | response body                                                                                   |
 * |---------|-------------------------------------------------------------------------------------------------|
 * | 0       | error_code int16                                                                                |
 * | 1–2     | throttle_time_ms int32, error_code int16                                                        |
 * | 3       | throttle_time_ms, error_code, members [member_id string, group_instance_id nullable, error_code] |
 *
 * Before v3 the one member's error is the response's error_code.
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface LeaveGroupMember {
  memberId: string
  groupInstanceId: string | null
}

export interface LeaveGroupRequest {
  groupId: string
  members: LeaveGroupMember[]
}

export interface LeaveGroupResponse {
  throttleTimeMs: number
  errorCode: number
  members: readonly (LeaveGroupMember & { errorCode: number })[]
}

export function decodeLeaveGroupRequest(r: Reader, version: number): LeaveGroupRequest {
  const groupId = r.string()
  if (version < 3) return { groupId, members: [{ memberId: r.string(), groupInstanceId: null }] }
  const members = r.array((r) => ({ memberId: r.string(), groupInstanceId: r.nullableString() }), 4)
  return { groupId, members }
}

export function encodeLeaveGroupResponse(res: LeaveGroupResponse, version: number): Buffer {
  const w = new Writer(64)
  if (version >= 1) w.int32(res.throttleTimeMs)
  w.int16(res.errorCode)
  if (version >= 3) {
    w.array(res.members, (w, m) => void w.string(m.memberId).nullableString(m.groupInstanceId).int16(m.errorCode))
  }
  return w.toBuffer()
}
