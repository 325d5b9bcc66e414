/**
 * JoinGroup (key 11), versions 0–5.
 *
 * | version | request body                                                                                     |
 * |---------|--------------------------------------------------------------------------------------------------|
 * | 0       | group_id string, session_timeout_ms int32, member_id string, protocol_type string, protocols [p] |
 * | 1–4     | group_id, session_timeout_ms, rebalance_timeout_ms int32, member_id, protocol_type, protocols [p] |
 * | 5       | group_id, session_timeout_ms, rebalance_timeout_ms, member_id, group_instance_id nullable string, |
 * |         | protocol_type, protocols [p]                                                                     |
 *
 * p: name string, metadata bytes. Before v1 the rebalance timeout is the session timeout.
 *
 * | version | response body                                                                                  |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0–1     | error_code int16, generation_id int32, protocol_name string, leader string, member_id string,  |
 * |         | members [member_id string, metadata bytes]                                                     |
 * | 2–4     | throttle_time_ms int32, then the v0 fields                                                     |
 * | 5       | throttle_time_ms, v0 fields with members [member_id, group_instance_id nullable string, metadata] |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface JoinGroupRequest {
  groupId: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  memberId: string
  groupInstanceId: string | null
  protocolType: string
  protocols: { name: string; metadata: Buffer }[]
}

export interface JoinGroupResponse {
  throttleTimeMs: number
  errorCode: number
  generationId: number
  protocolName: string
  leader: string
  memberId: string
  members: readonly { memberId: string; groupInstanceId: string | null; metadata: Buffer }[]
}

export function decodeJoinGroupRequest(r: Reader, version: number): JoinGroupRequest {
  const groupId = r.string()
  const sessionTimeoutMs = r.int32()
  const rebalanceTimeoutMs = version >= 1 ? r.int32() : sessionTimeoutMs
  const memberId = r.string()
  const groupInstanceId = version >= 5 ? r.nullableString() : null
  const protocolType = r.string()
  const protocols = r.array((r) => ({ name: r.string(), metadata: r.bytes() }), 6)
  return { groupId, sessionTimeoutMs, rebalanceTimeoutMs, memberId, groupInstanceId, protocolType, protocols }
}

export function encodeJoinGroupResponse(res: JoinGroupResponse, version: number): Buffer {
  const w = new Writer(128)
  if (version >= 2) w.int32(res.throttleTimeMs)
  w.int16(res.errorCode).int32(res.generationId).string(res.protocolName).string(res.leader).string(res.memberId)
  w.array(res.members, (w, m) => {
    w.string(m.memberId)
    if (version >= 5) w.nullableString(m.groupInstanceId)
    w.bytes(m.metadata)
  })
  return w.toBuffer()
}
