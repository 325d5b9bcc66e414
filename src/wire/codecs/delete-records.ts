/**
 * DeleteRecords (key 21), versions 0–1.
 *
 * | version | request body                                                                               |
 * |---------|--------------------------------------------------------------------------------------------|
 * | 0, 1    | topics [name string, partitions [partition_index int32, offset int64]], timeout_ms int32   |
 *
 * | version | response body                                                                              |
 * |---------|--------------------------------------------------------------------------------------------|
 * | 0, 1    | throttle_time_ms int32, topics [name string, partitions [partition_index int32,            |
 * |         | low_watermark int64, error_code int16]]                                                    |
 *
 * offset -1 means the high watermark (delete everything).
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface DeleteRecordsRequest {
  topics: { name: string; partitions: { partitionIndex: number; offset: number }[] }[]
  timeoutMs: number
}

export interface DeleteRecordsResponse {
  throttleTimeMs: number
  topics: readonly {
    name: string
    partitions: readonly { partitionIndex: number; lowWatermark: number; errorCode: number }[]
  }[]
}

const readPartition = (r: Reader) => ({ partitionIndex: r.int32(), offset: r.int64() })

export function decodeDeleteRecordsRequest(r: Reader, _version: number): DeleteRecordsRequest {
  const topics = r.array((r) => ({ name: r.string(), partitions: r.array(readPartition, 12) }), 6)
  return { topics, timeoutMs: r.int32() }
}

export function encodeDeleteRecordsResponse(res: DeleteRecordsResponse, _version: number): Buffer {
  const w = new Writer(128)
  w.int32(res.throttleTimeMs)
  w.array(res.topics, (w, t) => {
    w.string(t.name)
    w.array(t.partitions, (w, p) => void w.int32(p.partitionIndex).int64(p.lowWatermark).int16(p.errorCode))
  })
  return w.toBuffer()
}
