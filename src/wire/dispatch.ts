/**
 * The dispatch table: every API the server answers, keyed by API key, built once per server. ApiVersions
 * advertises exactly this table, so each advertised version is one a handler implements.
 */
import { type DispatchTable, unsupportedApiVersionsBody } from './connection.js'
import type { ApiEntry } from './handler.js'
import { alterConfigsApi } from './handlers/alter-configs.js'
import { apiVersionsApi } from './handlers/api-versions.js'
import { deleteRecordsApi } from './handlers/delete-records.js'
import { describeConfigsApi } from './handlers/describe-configs.js'
import { fetchApi } from './handlers/fetch.js'
import { createGroupApis } from './handlers/groups.js'
import { initProducerIdApi } from './handlers/init-producer-id.js'
import { listOffsetsApi } from './handlers/list-offsets.js'
import { type Advertiser, metadataApi } from './handlers/metadata.js'
import { produceApi } from './handlers/produce.js'
import { createPartitionsApi, createTopicsApi, deleteTopicsApi } from './handlers/topics.js'
import type { BrokerHost } from './host.js'

export interface Dispatch {
  readonly table: DispatchTable
  /** Stops what the APIs run in the background (the group coordinator's timers and members). */
  close(): void
}

export function createDispatch(host: BrokerHost, advertiser: Advertiser): Dispatch {
  const entries = new Map<number, ApiEntry>()
  const add = (e: ApiEntry): void => {
    if (entries.has(e.key)) throw new Error(`api key ${e.key} registered twice`)
    entries.set(e.key, e)
  }
  for (const e of [
    produceApi,
    fetchApi,
    listOffsetsApi,
    metadataApi(advertiser),
    createTopicsApi,
    deleteTopicsApi,
    deleteRecordsApi,
    initProducerIdApi(),
    describeConfigsApi,
    alterConfigsApi,
    createPartitionsApi,
  ]) {
    add(e)
  }
  const groups = createGroupApis(host, { advertiser })
  for (const e of groups.apis) add(e)
  add(apiVersionsApi(() => entries.values()))
  return {
    table: { entries, unsupportedApiVersions: unsupportedApiVersionsBody(entries.values()) },
    close: () => groups.close(),
  }
}
