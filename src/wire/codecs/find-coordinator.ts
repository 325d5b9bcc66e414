/**
 * FindCoordinator (key 10), versions 0–2.
 *
 * | version | request body                                              |
 * |---------|-----------------------------------------------------------|
 * | 0       | key string (the group id)                                 |
 * | 1–2     | key string, key_type int8 (0 group, 1 transaction)        |
 *
 * | version | response body                                                                              |
 * |---------|--------------------------------------------------------------------------------------------|
 * | 0       | error_code int16, node_id int32, host string, port int32                                    |
 * | 1–2     | throttle_time_ms int32, error_code int16, error_message nullable string, node_id, host, port |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export const CoordinatorType = Object.freeze({ GROUP: 0, TRANSACTION: 1 } as const)

export interface FindCoordinatorRequest {
  key: string
  keyType: number
}

export interface FindCoordinatorResponse {
  throttleTimeMs: number
  errorCode: number
  errorMessage: string | null
  nodeId: number
  host: string
  port: number
}

export function decodeFindCoordinatorRequest(r: Reader, version: number): FindCoordinatorRequest {
  const key = r.string()
  const keyType = version >= 1 ? r.int8() : CoordinatorType.GROUP
  return { key, keyType }
}

export function encodeFindCoordinatorResponse(res: FindCoordinatorResponse, version: number): Buffer {
  const w = new Writer(64)
  if (version >= 1) w.int32(res.throttleTimeMs)
  w.int16(res.errorCode)
  if (version >= 1) w.nullableString(res.errorMessage)
  w.int32(res.nodeId).string(res.host).int32(res.port)
  return w.toBuffer()
}
