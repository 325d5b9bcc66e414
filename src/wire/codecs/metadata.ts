/**
 * Metadata (key 3), versions 0–6.
 *
 * | version | request body                                                                |
 * |---------|-----------------------------------------------------------------------------|
 * | 0       | topics [name string] (an empty array means all topics)                       |
 * | 1–3     | topics nullable [name string] (null means all topics, empty means none)      |
 * | 4–6     | v1 fields, then allow_auto_topic_creation boolean                            |
 *
 * | version | response body                                                                                   |
 * |---------|-------------------------------------------------------------------------------------------------|
 * | 0       | brokers [node_id int32, host string, port int32], topics [topic]                                 |
 * | 1       | brokers [node_id, host, port, rack nullable string], controller_id int32, topics [topic]         |
 * | 2       | brokers [.. rack], cluster_id nullable string, controller_id int32, topics [topic]               |
 * | 3–6     | throttle_time_ms int32, then the v2 fields                                                       |
 *
 * topic: error_code int16, name string, is_internal boolean (v1+), partitions [partition]
 * partition: error_code int16, partition_index int32, leader_id int32, replica_nodes [int32], isr_nodes [int32],
 * offline_replicas [int32] (v5+)
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface MetadataRequest {
  /** null: all topics. */
  topics: string[] | null
  allowAutoTopicCreation: boolean
}

export interface MetadataBroker {
  nodeId: number
  host: string
  port: number
  rack: string | null
}

export interface MetadataPartition {
  errorCode: number
  partitionIndex: number
  leaderId: number
  replicaNodes: readonly number[]
  isrNodes: readonly number[]
  offlineReplicas: readonly number[]
}

export interface MetadataTopic {
  errorCode: number
  name: string
  isInternal: boolean
  partitions: readonly MetadataPartition[]
}

export interface MetadataResponse {
  throttleTimeMs: number
  brokers: readonly MetadataBroker[]
  clusterId: string | null
  controllerId: number
  topics: readonly MetadataTopic[]
}

const readName = (r: Reader): string => r.string()

export function decodeMetadataRequest(r: Reader, version: number): MetadataRequest {
  let topics: string[] | null
  if (version === 0) {
    topics = r.array(readName, 2)
    if (topics.length === 0) topics = null
  } else {
    topics = r.nullableArray(readName, 2)
  }
  const allowAutoTopicCreation = version >= 4 ? r.boolean() : true
  return { topics, allowAutoTopicCreation }
}

const writeInt32 = (w: Writer, n: number): void => void w.int32(n)

export function encodeMetadataResponse(res: MetadataResponse, version: number): Buffer {
  const w = new Writer(256)
  if (version >= 3) w.int32(res.throttleTimeMs)
  w.array(res.brokers, (w, b) => {
    w.int32(b.nodeId).string(b.host).int32(b.port)
    if (version >= 1) w.nullableString(b.rack)
  })
  if (version >= 2) w.nullableString(res.clusterId)
  if (version >= 1) w.int32(res.controllerId)
  w.array(res.topics, (w, t) => {
    w.int16(t.errorCode).string(t.name)
    if (version >= 1) w.boolean(t.isInternal)
    w.array(t.partitions, (w, p) => {
      w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId)
      w.array(p.replicaNodes, writeInt32)
      w.array(p.isrNodes, writeInt32)
      if (version >= 5) w.array(p.offlineReplicas, writeInt32)
    })
  })
  return w.toBuffer()
}
