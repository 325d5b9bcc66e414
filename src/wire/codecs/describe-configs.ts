/**
 * DescribeConfigs (key 32), versions 0–2.
 *
 * | version | request body                                                                                   |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0       | resources [resource_type int8, resource_name string, configuration_keys nullable [string]]     |
 * | 1, 2    | resources [...as v0], include_synonyms boolean                                                  |
 *
 * | version | response body                                                                                  |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0       | throttle_time_ms int32, results [error_code int16, error_message nullable string,              |
 * |         | resource_type int8, resource_name string, configs [name string, value nullable string,          |
 * |         | read_only boolean, is_default boolean, is_sensitive boolean]]                                   |
 * | 1, 2    | as v0, each config: name, value, read_only, config_source int8, is_sensitive boolean,           |
 * |         | synonyms [name string, value nullable string, source int8]                                      |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export const ResourceType = Object.freeze({ UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, BROKER: 4 } as const)

/** Where a config value comes from (config_source, v1+). */
export const ConfigSource = Object.freeze({
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const)

export interface DescribeConfigsRequest {
  resources: { resourceType: number; resourceName: string; configurationKeys: string[] | null }[]
  includeSynonyms: boolean
}

export interface DescribeConfigsEntry {
  name: string
  value: string | null
  readOnly: boolean
  /** v0's is_default is `configSource === DEFAULT_CONFIG`. */
  configSource: number
  isSensitive: boolean
  synonyms: readonly { name: string; value: string | null; source: number }[]
}

export interface DescribeConfigsResult {
  errorCode: number
  errorMessage: string | null
  resourceType: number
  resourceName: string
  configs: readonly DescribeConfigsEntry[]
}

export interface DescribeConfigsResponse {
  throttleTimeMs: number
  results: readonly DescribeConfigsResult[]
}

const readResource = (r: Reader) => ({
  resourceType: r.int8(),
  resourceName: r.string(),
  configurationKeys: r.nullableArray((r) => r.string(), 2),
})

export function decodeDescribeConfigsRequest(r: Reader, version: number): DescribeConfigsRequest {
  const resources = r.array(readResource, 7)
  const includeSynonyms = version >= 1 ? r.boolean() : false
  return { resources, includeSynonyms }
}

export function encodeDescribeConfigsResponse(res: DescribeConfigsResponse, version: number): Buffer {
  const w = new Writer(1024)
  w.int32(res.throttleTimeMs)
  w.array(res.results, (w, r) => {
    w.int16(r.errorCode).nullableString(r.errorMessage).int8(r.resourceType).string(r.resourceName)
    w.array(r.configs, (w, c) => {
      w.string(c.name).nullableString(c.value).boolean(c.readOnly)
      if (version >= 1) w.int8(c.configSource)
      else w.boolean(c.configSource === ConfigSource.DEFAULT_CONFIG)
      w.boolean(c.isSensitive)
      if (version >= 1) w.array(c.synonyms, (w, s) => void w.string(s.name).nullableString(s.value).int8(s.source))
    })
  })
  return w.toBuffer()
}
