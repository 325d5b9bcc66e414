/**
 * CreateTopics (key 19), versions 0–3.
 *
 * | version | request body                                                                                   |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0       | topics [topic], timeout_ms int32                                                                 |
 * | 1–3     | topics [topic], timeout_ms int32, validate_only boolean                                          |
 *
 * topic: name string, num_partitions int32 (-1: the default), replication_factor int16,
 * assignments [partition_index int32, broker_ids [int32]], configs [name string, value nullable string]
 *
 * | version | response body                                                                                  |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0       | topics [name string, error_code int16]                                                          |
 * | 1       | topics [name string, error_code int16, error_message nullable string]                           |
 * | 2, 3    | throttle_time_ms int32, then the v1 fields                                                      |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface CreatableTopic {
  name: string
  numPartitions: number
  replicationFactor: number
  assignments: { partitionIndex: number; brokerIds: number[] }[]
  configs: { name: string; value: string | null }[]
}

export interface CreateTopicsRequest {
  topics: CreatableTopic[]
  timeoutMs: number
  validateOnly: boolean
}

export interface CreateTopicsResponse {
  throttleTimeMs: number
  topics: readonly { name: string; errorCode: number; errorMessage: string | null }[]
}

const readInt32 = (r: Reader): number => r.int32()

function readTopic(r: Reader): CreatableTopic {
  return {
    name: r.string(),
    numPartitions: r.int32(),
    replicationFactor: r.int16(),
    assignments: r.array((r) => ({ partitionIndex: r.int32(), brokerIds: r.array(readInt32, 4) }), 8),
    configs: r.array((r) => ({ name: r.string(), value: r.nullableString() }), 4),
  }
}

export function decodeCreateTopicsRequest(r: Reader, version: number): CreateTopicsRequest {
  const topics = r.array(readTopic, 16)
  const timeoutMs = r.int32()
  const validateOnly = version >= 1 ? r.boolean() : false
  return { topics, timeoutMs, validateOnly }
}

export function encodeCreateTopicsResponse(res: CreateTopicsResponse, version: number): Buffer {
  const w = new Writer(128)
  if (version >= 2) w.int32(res.throttleTimeMs)
  w.array(res.topics, (w, t) => {
    w.string(t.name).int16(t.errorCode)
    if (version >= 1) w.nullableString(t.errorMessage)
  })
  return w.toBuffer()
}
