/**
 * InitProducerId (key 22), versions 0–1.
 *
 * | version | request body                                              | response body                       |
 * |---------|-----------------------------------------------------------|-------------------------------------|
 * | 0, 1    | transactional_id nullable string, transaction_timeout_ms int32 | throttle_time_ms int32, error_code int16, producer_id int64, producer_epoch int16 |
 */
import type { Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

export interface InitProducerIdRequest {
  transactionalId: string | null
  transactionTimeoutMs: number
}

export interface InitProducerIdResponse {
  throttleTimeMs: number
  errorCode: number
  producerId: number
  producerEpoch: number
}

export function decodeInitProducerIdRequest(r: Reader, _version: number): InitProducerIdRequest {
  return { transactionalId: r.nullableString(), transactionTimeoutMs: r.int32() }
}

export function encodeInitProducerIdResponse(res: InitProducerIdResponse, _version: number): Buffer {
  return new Writer(16)
    .int32(res.throttleTimeMs)
    .int16(res.errorCode)
    .int64(res.producerId)
    .int16(res.producerEpoch)
    .toBuffer()
}
