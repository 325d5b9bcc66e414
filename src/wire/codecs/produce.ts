/**
 * Produce (key 0), versions 0–7. The request layout of every version carries record sets as opaque bytes; seglog
 * stores RecordBatch v2 (magic 2) only, which clients send from v3 (v7 only adds zstd to what they may send).
 * Versions 0–2 are advertised because librdkafka (up to 2.11) compresses a batch only when the broker's Produce
 * range includes v0; the handler answers a magic 0/1 MessageSet with UNSUPPORTED_FOR_MESSAGE_FORMAT.
 *
 * | version | request body                                                                                  |
 * |---------|-----------------------------------------------------------------------------------------------|
 * | 0–2     | acks int16, timeout_ms int32,                                                                  |
 * |         | topics [name string, partitions [index int32, records nullable bytes (int32 size, batches)]]   |
 * | 3–7     | transactional_id nullable string, then the v0 fields                                           |
 *
 * | version | response body                                                                                  |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 0       | responses [name string, partitions [index int32, error_code int16, base_offset int64]]          |
 * | 1       | as v0, then throttle_time_ms int32                                                              |
 * | 2–4     | as v1, each partition then log_append_time_ms int64                                             |
 * | 5–7     | as v2, each partition then log_start_offset int64                                               |
 *
 * The record sets are views into the request frame (never copied) and are handed to the engine as they are.
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface ProducePartitionData {
  index: number
  records: Buffer | null
}

export interface ProduceTopicData {
  name: string
  partitions: ProducePartitionData[]
}

export interface ProduceRequest {
  transactionalId: string | null
  acks: number
  timeoutMs: number
  topics: ProduceTopicData[]
}

export interface ProducePartitionResponse {
  index: number
  errorCode: number
  baseOffset: number
  logAppendTimeMs: number
  logStartOffset: number
}

export interface ProduceTopicResponse {
  name: string
  partitions: readonly ProducePartitionResponse[]
}

export interface ProduceResponse {
  responses: readonly ProduceTopicResponse[]
  throttleTimeMs: number
}

const readPartition = (r: Reader): ProducePartitionData => ({ index: r.int32(), records: r.nullableBytes() })
const readTopic = (r: Reader): ProduceTopicData => ({ name: r.string(), partitions: r.array(readPartition, 8) })

export function decodeProduceRequest(r: Reader, version: number): ProduceRequest {
  return {
    transactionalId: version >= 3 ? r.nullableString() : null,
    acks: r.int16(),
    timeoutMs: r.int32(),
    topics: r.array(readTopic, 6),
  }
}

export function encodeProduceResponse(res: ProduceResponse, version: number): Buffer {
  const w = new Writer(64)
  w.array(res.responses, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => {
      w.int32(p.index).int16(p.errorCode).int64(p.baseOffset)
      if (version >= 2) w.int64(p.logAppendTimeMs)
      if (version >= 5) w.int64(p.logStartOffset)
    })
  })
  if (version >= 1) w.int32(res.throttleTimeMs)
  return w.toBuffer()
}
