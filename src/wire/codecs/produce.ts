/**
 * Produce (key 0), versions 3–7 (RecordBatch v2 only; v7 only adds zstd to what a client may send).
 *
 * | version | request body                                                                                  |
 * |---------|-----------------------------------------------------------------------------------------------|
 * | 3–7     | transactional_id nullable string, acks int16, timeout_ms int32,                                 |
 * |         | topics [name string, partitions [index int32, records nullable bytes (int32 size, batches)]]   |
 *
 * | version | response body                                                                                  |
 * |---------|------------------------------------------------------------------------------------------------|
 * | 3, 4    | responses [name string, partitions [index int32, error_code int16, base_offset int64,           |
 * |         | log_append_time_ms int64]], throttle_time_ms int32                                              |
 * | 5–7     | as v3, each partition then log_start_offset int64                                               |
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

export function decodeProduceRequest(r: Reader, _version: number): ProduceRequest {
  return {
    transactionalId: r.nullableString(),
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
      w.int32(p.index).int16(p.errorCode).int64(p.baseOffset).int64(p.logAppendTimeMs)
      if (version >= 5) w.int64(p.logStartOffset)
    })
  })
  w.int32(res.throttleTimeMs)
  return w.toBuffer()
}
