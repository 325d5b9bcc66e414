/**
 * DeleteGroups (key 42), versions 0–1.
 *
 * | version | request body          |
 * |---------|-----------------------|
 * | 0–1     | groups_names [string] |
 *
 * | version | response body                                                           |
 * |---------|-------------------------------------------------------------------------|
 * | 0–1     | throttle_time_ms int32, results [group_id string, error_code int16]     |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface DeleteGroupsResponse {
  throttleTimeMs: number
  results: readonly { groupId: string; errorCode: number }[]
}

export function decodeDeleteGroupsRequest(r: Reader, _version: number): { groups: string[] } {
  return { groups: r.array((r) => r.string(), 2) }
}

export function encodeDeleteGroupsResponse(res: DeleteGroupsResponse, _version: number): Buffer {
  const w = new Writer(64)
  w.int32(res.throttleTimeMs)
  w.array(res.results, (w, g) => void w.string(g.groupId).int16(g.errorCode))
  return w.toBuffer()
}
