/**
 * ListOffsets (key 2), versions 1–3.
 *
 * | version | request body                                                                              |
 * |---------|-------------------------------------------------------------------------------------------|
 * | 1       | replica_id int32, topics [name string, partitions [partition_index int32, timestamp int64]] |
 * | 2, 3    | replica_id int32, isolation_level int8, topics [...as v1]                                  |
 *
 * | version | response body                                                                                   |
 * |---------|-------------------------------------------------------------------------------------------------|
 * | 1       | topics [name string, partitions [partition_index int32, error_code int16, timestamp int64,      |
 * |         | offset int64]]                                                                                   |
 * | 2, 3    | throttle_time_ms int32, then the v1 fields                                                      |
 *
 * timestamp: -1 asks for the latest offset (the log end), -2 the earliest (the log start), any other value the
 * first offset whose timestamp is at or after it.
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export const LATEST_TIMESTAMP = -1
export const EARLIEST_TIMESTAMP = -2

export interface ListOffsetsRequest {
  replicaId: number
  isolationLevel: number
  topics: { name: string; partitions: { partitionIndex: number; timestamp: number }[] }[]
}

export interface ListOffsetsPartitionResponse {
  partitionIndex: number
  errorCode: number
  timestamp: number
  offset: number
}

export interface ListOffsetsResponse {
  throttleTimeMs: number
  topics: readonly { name: string; partitions: readonly ListOffsetsPartitionResponse[] }[]
}

const readPartition = (r: Reader) => ({ partitionIndex: r.int32(), timestamp: r.int64() })

export function decodeListOffsetsRequest(r: Reader, version: number): ListOffsetsRequest {
  const replicaId = r.int32()
  const isolationLevel = version >= 2 ? r.int8() : 0
  const topics = r.array((r) => ({ name: r.string(), partitions: r.array(readPartition, 12) }), 6)
  return { replicaId, isolationLevel, topics }
}

export function encodeListOffsetsResponse(res: ListOffsetsResponse, version: number): Buffer {
  const w = new Writer(128)
  if (version >= 2) w.int32(res.throttleTimeMs)
  w.array(res.topics, (w, t) => {
    w.string(t.name)
    w.array(
      t.partitions,
      (w, p) => void w.int32(p.partitionIndex).int16(p.errorCode).int64(p.timestamp).int64(p.offset),
    )
  })
  return w.toBuffer()
}
