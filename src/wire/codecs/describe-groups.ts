/**
 * DescribeGroups (key 15), versions 0–2.
 *
 * | version | request body         |
 * |---------|----------------------|
 * | 0–2     | groups [string]      |
 *
 * | version | response body                                   |
 * |---------|-------------------------------------------------|
 * | 0       | groups [group]                                  |
 * | 1–2     | throttle_time_ms int32, groups [group]          |
 *
 * group: error_code int16, group_id string, group_state string, protocol_type string, protocol_data string,
 * members [member_id string, client_id string, client_host string, member_metadata bytes, member_assignment bytes]
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface DescribeGroupsRequest {
  groups: string[]
}

export interface DescribedMember {
  memberId: string
  clientId: string
  clientHost: string
  metadata: Buffer
  assignment: Buffer
}

export interface DescribedGroup {
  errorCode: number
  groupId: string
  state: string
  protocolType: string
  protocolData: string
  members: readonly DescribedMember[]
}

export interface DescribeGroupsResponse {
  throttleTimeMs: number
  groups: readonly DescribedGroup[]
}

export function decodeDescribeGroupsRequest(r: Reader, _version: number): DescribeGroupsRequest {
  return { groups: r.array((r) => r.string(), 2) }
}

export function encodeDescribeGroupsResponse(res: DescribeGroupsResponse, version: number): Buffer {
  const w = new Writer(256)
  if (version >= 1) w.int32(res.throttleTimeMs)
  w.array(res.groups, (w, g) => {
    w.int16(g.errorCode).string(g.groupId).string(g.state).string(g.protocolType).string(g.protocolData)
    w.array(g.members, (w, m) => {
      w.string(m.memberId).string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment)
    })
  })
  return w.toBuffer()
}
