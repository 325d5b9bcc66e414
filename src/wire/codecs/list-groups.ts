/**
 * ListGroups (key 16), versions 0–2.
 *
 * | version | request body |
 * |---------|--------------|
 * | 0–2     | (empty)      |
 *
 * | version | response body                                                                   |
 * |---------|---------------------------------------------------------------------------------|
 * | 0       | error_code int16, groups [group_id string, protocol_type string]                 |
 * | 1–2     | throttle_time_ms int32, then the v0 fields                                      |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface ListGroupsResponse {
  throttleTimeMs: number
  errorCode: number
  groups: readonly { groupId: string; protocolType: string }[]
}

/** The body is empty in every version this codec handles. */
export function decodeListGroupsRequest(_r: Reader, _version: number): Record<string, never> {
  return {}
}

export function encodeListGroupsResponse(res: ListGroupsResponse, version: number): Buffer {
  const w = new Writer(128)
  if (version >= 1) w.int32(res.throttleTimeMs)
  w.int16(res.errorCode)
  w.array(res.groups, (w, g) => void w.string(g.groupId).string(g.protocolType))
  return w.toBuffer()
}
