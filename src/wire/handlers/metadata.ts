/**
 * Metadata: the one broker (node id 0, also the controller and every partition's leader, replica and ISR) at the
 * address the client reached, the cluster id, and the topics asked for (all of them for a null list). A named topic
 * that does not exist is created first when the host auto-creates topics and the request allows it (v4+).
 */
import { decodeMetadataRequest, encodeMetadataResponse, type MetadataPartition } from '../codecs/metadata.js'
import type { ApiEntry, WireConnection } from '../handler.js'
import type { BrokerHost } from '../host.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'
import { ensureTopic } from './common.js'

export const NODE_ID = 0

export interface Advertiser {
  /** The host and port clients should connect to, as seen from `conn`. */
  advertise(conn: WireConnection): { host: string; port: number }
}

const ONE = Object.freeze([NODE_ID])
const NONE_OFFLINE = Object.freeze([] as number[])

function partitions(count: number): MetadataPartition[] {
  const out = new Array<MetadataPartition>(count)
  for (let i = 0; i < count; i++) {
    out[i] = {
      errorCode: 0,
      partitionIndex: i,
      leaderId: NODE_ID,
      replicaNodes: ONE,
      isrNodes: ONE,
      offlineReplicas: NONE_OFFLINE,
    }
  }
  return out
}

export function metadataApi(advertiser: Advertiser): ApiEntry {
  return {
    key: ApiKey.Metadata,
    minVersion: VERSIONS.Metadata.min,
    maxVersion: VERSIONS.Metadata.max,
    async handle(ctx, body, host: BrokerHost) {
      const req = decodeMetadataRequest(body, ctx.apiVersion)
      let names: string[]
      const codes = new Map<string, number>()
      if (req.topics === null) {
        names = host.listTopics()
      } else {
        names = [...new Set(req.topics)]
        const results = await Promise.all(
          names.map((name) =>
            req.allowAutoTopicCreation
              ? ensureTopic(host, name)
              : host.topic(name) === undefined
                ? KafkaError.UNKNOWN_TOPIC_OR_PARTITION
                : KafkaError.NONE,
          ),
        )
        for (let i = 0; i < names.length; i++) codes.set(names[i], results[i])
      }
      const topics = names.map((name) => {
        const code = codes.get(name) ?? KafkaError.NONE
        const t = code === KafkaError.NONE ? host.topic(name) : undefined
        if (t === undefined) {
          // Deleted between the listing and now: unknown, as for a name that was never created.
          const errorCode = code === KafkaError.NONE ? KafkaError.UNKNOWN_TOPIC_OR_PARTITION : code
          return { errorCode, name, isInternal: false, partitions: [] }
        }
        return { errorCode: KafkaError.NONE, name, isInternal: false, partitions: partitions(t.partitions) }
      })
      const { host: brokerHost, port } = advertiser.advertise(ctx.connection)
      return encodeMetadataResponse(
        {
          throttleTimeMs: 0,
          brokers: [{ nodeId: NODE_ID, host: brokerHost, port, rack: null }],
          clusterId: host.clusterId,
          controllerId: NODE_ID,
          topics,
        },
        ctx.apiVersion,
      )
    },
  }
}
