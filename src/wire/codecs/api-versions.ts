/**
 * ApiVersions (key 18), versions 0–2. The request body is empty in these versions.
 *
 * | version | response body                                                                  |
 * |---------|--------------------------------------------------------------------------------|
 * | 0       | error_code int16, api_keys [api_key int16, min_version int16, max_version int16] |
 * | 1, 2    | v0 fields, then throttle_time_ms int32                                          |
 *
 * A request of a version above 2 (librdkafka opens with the flexible v3) is answered with a v0 body carrying
 * UNSUPPORTED_VERSION (35) and the supported ranges, so the client retries with a version it finds there.
 */
import { Writer } from '../protocol/writer.js'

export interface ApiVersionRange {
  apiKey: number
  minVersion: number
  maxVersion: number
}

export interface ApiVersionsResponse {
  errorCode: number
  apiKeys: readonly ApiVersionRange[]
  throttleTimeMs: number
}

export function encodeApiVersionsResponse(res: ApiVersionsResponse, version: number): Buffer {
  const w = new Writer(16 + res.apiKeys.length * 6)
  w.int16(res.errorCode)
  w.array(res.apiKeys, (w, a) => w.int16(a.apiKey).int16(a.minVersion).int16(a.maxVersion))
  if (version >= 1) w.int32(res.throttleTimeMs)
  return w.toBuffer()
}
