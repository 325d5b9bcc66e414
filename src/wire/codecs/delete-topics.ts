/**
 * DeleteTopics (key 20), versions 0–1.
 *
 * | version | request body                           | response body                                                  |
 * |---------|----------------------------------------|----------------------------------------------------------------|
 * | 0       | topic_names [string], timeout_ms int32 | responses [name string, error_code int16]                       |
 * | 1       | as v0                                  | throttle_time_ms int32, responses [name string, error_code int16] |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface DeleteTopicsRequest {
  topicNames: string[]
  timeoutMs: number
}

export interface DeleteTopicsResponse {
  throttleTimeMs: number
  responses: readonly { name: string; errorCode: number }[]
}

export function decodeDeleteTopicsRequest(r: Reader, _version: number): DeleteTopicsRequest {
  return { topicNames: r.array((r) => r.string(), 2), timeoutMs: r.int32() }
}

export function encodeDeleteTopicsResponse(res: DeleteTopicsResponse, version: number): Buffer {
  const w = new Writer(64)
  if (version >= 1) w.int32(res.throttleTimeMs)
  w.array(res.responses, (w, t) => void w.string(t.name).int16(t.errorCode))
  return w.toBuffer()
}
