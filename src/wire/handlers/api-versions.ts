/**
 * ApiVersions: every API in the dispatch table with the version range it implements. A request of a version
 * above the supported ones never reaches here: the connection answers it with UNSUPPORTED_VERSION and a v0 body.
 */
import { encodeApiVersionsResponse } from '../codecs/api-versions.js'
import type { ApiEntry } from '../handler.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'

export function apiVersionsApi(entries: () => Iterable<ApiEntry>): ApiEntry {
  return {
    key: ApiKey.ApiVersions,
    minVersion: VERSIONS.ApiVersions.min,
    maxVersion: VERSIONS.ApiVersions.max,
    async handle(ctx) {
      const apiKeys = [...entries()]
        .map((e) => ({ apiKey: e.key, minVersion: e.minVersion, maxVersion: e.maxVersion }))
        .sort((a, b) => a.apiKey - b.apiKey)
      return encodeApiVersionsResponse({ errorCode: KafkaError.NONE, apiKeys, throttleTimeMs: 0 }, ctx.apiVersion)
    },
  }
}
