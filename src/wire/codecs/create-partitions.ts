/**
 * CreatePartitions (key 37), versions 0–1.
 *
 * | version | request body                                                                                   |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0, 1    | topics [name string, count int32, assignments nullable [broker_ids [int32]]], timeout_ms int32, |
 * |         | validate_only boolean                                                                           |
 *
 * | version | response body                                                                                  |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0, 1    | throttle_time_ms int32, results [name string, error_code int16, error_message nullable string] |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface CreatePartitionsRequest {
  topics: { name: string; count: number; assignments: number[][] | null }[]
  timeoutMs: number
  validateOnly: boolean
}

export interface CreatePartitionsResponse {
  throttleTimeMs: number
  results: readonly { name: string; errorCode: number; errorMessage: string | null }[]
}

const readInt32 = (r: Reader): number => r.int32()

export function decodeCreatePartitionsRequest(r: Reader, _version: number): CreatePartitionsRequest {
  const topics = r.array(
    (r) => ({ name: r.string(), count: r.int32(), assignments: r.nullableArray((r) => r.array(readInt32, 4), 4) }),
    10,
  )
  return { topics, timeoutMs: r.int32(), validateOnly: r.boolean() }
}

export function encodeCreatePartitionsResponse(res: CreatePartitionsResponse, _version: number): Buffer {
  const w = new Writer(64)
  w.int32(res.throttleTimeMs)
  w.array(res.results, (w, t) => void w.string(t.name).int16(t.errorCode).nullableString(t.errorMessage))
  return w.toBuffer()
}
