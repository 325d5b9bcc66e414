/**
 * Fetch (key 1), versions 4–11.
 *
 * | version | request body                                                                                       |
 * |---------|----------------------------------------------------------------------------------------------------|
 * | 4       | replica_id int32, max_wait_ms int32, min_bytes int32, max_bytes int32, isolation_level int8,        |
 * |         | topics [topic string, partitions [partition int32, fetch_offset int64, partition_max_bytes int32]] |
 * | 5, 6    | as v4; each partition: partition, fetch_offset, log_start_offset int64, partition_max_bytes        |
 * | 7, 8    | as v5 with session_id int32, session_epoch int32 after isolation_level, and after topics           |
 * |         | forgotten_topics_data [topic string, partitions [int32]]                                           |
 * | 9, 10   | as v7; each partition: partition, current_leader_epoch int32, fetch_offset, log_start_offset,      |
 * |         | partition_max_bytes                                                                                |
 * | 11      | as v9, then rack_id string                                                                         |
 *
 * | version | response body                                                                                      |
 * |---------|----------------------------------------------------------------------------------------------------|
 * | 4       | throttle_time_ms int32, responses [topic string, partitions [partition]]                           |
 * | 5, 6    | as v4 (partition gains log_start_offset)                                                           |
 * | 7–10    | throttle_time_ms int32, error_code int16, session_id int32, responses [...]                        |
 * | 11      | as v7 (partition gains preferred_read_replica)                                                     |
 *
 * partition: partition_index int32, error_code int16, high_watermark int64, last_stable_offset int64,
 * log_start_offset int64 (v5+), aborted_transactions nullable [producer_id int64, first_offset int64],
 * preferred_read_replica int32 (v11+), records nullable bytes (int32 size, then stored batches).
 *
 * The response is a list of buffers: the stored batches are referenced, never copied.
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface FetchPartitionRequest {
  partition: number
  currentLeaderEpoch: number
  fetchOffset: number
  logStartOffset: number
  partitionMaxBytes: number
}

export interface FetchTopicRequest {
  topic: string
  partitions: FetchPartitionRequest[]
}

export interface FetchRequest {
  replicaId: number
  maxWaitMs: number
  minBytes: number
  maxBytes: number
  isolationLevel: number
  sessionId: number
  sessionEpoch: number
  topics: FetchTopicRequest[]
  forgottenTopics: { topic: string; partitions: number[] }[]
  rackId: string
}

export interface FetchPartitionResponse {
  partitionIndex: number
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  preferredReadReplica: number
  /** Stored batches, sent as they are; `recordsBytes` is their total length. */
  records: readonly Buffer[]
  recordsBytes: number
}

export interface FetchTopicResponse {
  topic: string
  partitions: readonly FetchPartitionResponse[]
}

export interface FetchResponse {
  throttleTimeMs: number
  errorCode: number
  sessionId: number
  responses: readonly FetchTopicResponse[]
}

function partitionReader(version: number): (r: Reader) => FetchPartitionRequest {
  return (r) => {
    const partition = r.int32()
    const currentLeaderEpoch = version >= 9 ? r.int32() : -1
    const fetchOffset = r.int64()
    const logStartOffset = version >= 5 ? r.int64() : -1
    return { partition, currentLeaderEpoch, fetchOffset, logStartOffset, partitionMaxBytes: r.int32() }
  }
}

const readInt32 = (r: Reader): number => r.int32()

export function decodeFetchRequest(r: Reader, version: number): FetchRequest {
  const replicaId = r.int32()
  const maxWaitMs = r.int32()
  const minBytes = r.int32()
  const maxBytes = r.int32()
  const isolationLevel = r.int8()
  const sessionId = version >= 7 ? r.int32() : 0
  const sessionEpoch = version >= 7 ? r.int32() : -1
  const readPartition = partitionReader(version)
  const minPartitionBytes = version >= 9 ? 28 : version >= 5 ? 24 : 16
  const topics = r.array((r) => ({ topic: r.string(), partitions: r.array(readPartition, minPartitionBytes) }), 6)
  const forgottenTopics =
    version >= 7 ? r.array((r) => ({ topic: r.string(), partitions: r.array(readInt32, 4) }), 6) : []
  const rackId = version >= 11 ? r.string() : ''
  return {
    replicaId,
    maxWaitMs,
    minBytes,
    maxBytes,
    isolationLevel,
    sessionId,
    sessionEpoch,
    topics,
    forgottenTopics,
    rackId,
  }
}

export function encodeFetchResponse(res: FetchResponse, version: number): Buffer[] {
  const w = new Writer(512)
  w.int32(res.throttleTimeMs)
  if (version >= 7) w.int16(res.errorCode).int32(res.sessionId)
  w.array(res.responses, (w, t) => {
    w.string(t.topic)
    w.array(t.partitions, (w, p) => {
      w.int32(p.partitionIndex).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset)
      if (version >= 5) w.int64(p.logStartOffset)
      w.int32(0) // aborted_transactions: none (no transactions)
      if (version >= 11) w.int32(p.preferredReadReplica)
      w.int32(p.recordsBytes)
      for (const batch of p.records) w.raw(batch)
    })
  })
  return w.finish()
}
