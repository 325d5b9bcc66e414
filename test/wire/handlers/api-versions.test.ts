import { afterEach, describe, expect, it } from 'vitest'
import { i32, str } from '../../support/wire-bytes.js'
import { type Served, serve } from '../../support/wire-engine.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

/**
 * The ranges the protocol reference's table asks for (non-flexible versions only), except Produce, which starts at
 * v0: librdkafka compresses only when the broker's Produce range includes v0.
 */
const REFERENCE: Record<number, [number, number]> = {
  0: [0, 7],
  1: [4, 11],
  2: [1, 3],
  3: [0, 6],
  8: [2, 5],
  9: [1, 5],
  10: [0, 2],
  11: [0, 5],
  12: [0, 3],
  13: [0, 3],
  14: [0, 3],
  18: [0, 2],
  19: [0, 3],
  20: [0, 1],
  21: [0, 1],
  22: [0, 1],
  32: [0, 2],
}

describe('ApiVersions handler', () => {
  it('advertises the reference version ranges at v0-v2, sorted by key', async () => {
    served = await serve()
    const c = await served.connect()
    for (let v = 0; v <= 2; v++) {
      const r = await served.call<{
        errorCode: number
        apiVersions: { apiKey: number; minVersion: number; maxVersion: number }[]
      }>(c, 'apiVersions', v, {})
      expect(r.errorCode).toBe(0)
      const keys = r.apiVersions.map((a) => a.apiKey)
      expect(keys).toEqual([...keys].sort((a, b) => a - b))
      const ranges = new Map(r.apiVersions.map((a) => [a.apiKey, [a.minVersion, a.maxVersion]]))
      for (const [key, range] of Object.entries(REFERENCE)) expect(ranges.get(Number(key))).toEqual(range)
    }
  })
})

describe('InitProducerId handler', () => {
  it('gives each idempotent producer a fresh producer id and refuses transactional ids', async () => {
    served = await serve()
    const c = await served.connect()
    type R = { errorCode: number; producerId: string; producerEpoch: number }
    const a = await served.call<R>(c, 'initProducerId', 1, { transactionalId: null, transactionTimeout: 60000 })
    const b = await served.call<R>(c, 'initProducerId', 0, { transactionalId: null, transactionTimeout: 60000 })
    expect([a.errorCode, a.producerEpoch, b.errorCode]).toEqual([0, 0, 0])
    expect(Number(b.producerId)).toBeGreaterThan(Number(a.producerId))
    const tx = await served.raw(c, 22, 1, Buffer.concat([str('tx-1'), i32(60000)]))
    expect(tx.readInt16BE(4)).toBe(42)
  })
})
