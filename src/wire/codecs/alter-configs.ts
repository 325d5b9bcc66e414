/**
 * AlterConfigs (key 33), versions 0–1 (v1 changes nothing in the layout; v2 is flexible).
 *
 * | version | request body                                                                                   |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0, 1    | resources [resource_type int8, resource_name string, configs [name string, value nullable      |
 * |         | string]], validate_only boolean                                                                 |
 *
 * | version | response body                                                                                  |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0, 1    | throttle_time_ms int32, responses [error_code int16, error_message nullable string,            |
 * |         | resource_type int8, resource_name string]                                                       |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface AlterConfigsResource {
  resourceType: number
  resourceName: string
  configs: { name: string; value: string | null }[]
}

export interface AlterConfigsRequest {
  resources: AlterConfigsResource[]
  validateOnly: boolean
}

export interface AlterConfigsResult {
  errorCode: number
  errorMessage: string | null
  resourceType: number
  resourceName: string
}

export function decodeAlterConfigsRequest(r: Reader, _version: number): AlterConfigsRequest {
  const resources = r.array(
    (r) => ({
      resourceType: r.int8(),
      resourceName: r.string(),
      configs: r.array((r) => ({ name: r.string(), value: r.nullableString() }), 4),
    }),
    7,
  )
  return { resources, validateOnly: r.boolean() }
}

export function encodeAlterConfigsResponse(
  res: { throttleTimeMs: number; results: readonly AlterConfigsResult[] },
  _version: number,
): Buffer {
  const w = new Writer(256)
  w.int32(res.throttleTimeMs)
  w.array(res.results, (w, r) => {
    w.int16(r.errorCode).nullableString(r.errorMessage).int8(r.resourceType).string(r.resourceName)
  })
  return w.toBuffer()
}
