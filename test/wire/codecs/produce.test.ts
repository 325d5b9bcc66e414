import { describe, expect, it } from 'vitest'
import { type DecodedRecord, decodeRecords, encodeBatch } from '../../../src/internal.js'
import { decodeProduceRequest, encodeProduceResponse, type ProduceResponse } from '../../../src/wire/codecs/produce.js'
import { Reader } from '../../../src/wire/protocol/reader.js'
import { kafkajsDecodeResponse, kafkajsRequestBody } from '../../support/kafkajs-protocol.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

function records(set: Buffer): DecodedRecord[] {
  const out: DecodedRecord[] = []
  const problem = decodeRecords(set, 0, set.length, 0, (r) => void out.push(r))
  expect(problem).toBeNull()
  return out
}

describe('Produce codec', () => {
  it('decodes what kafkajs sends at every version 3-7, handing over its record batch bytes untouched', async () => {
    for (let v = 3; v <= 7; v++) {
      const body = await kafkajsRequestBody('produce', v, {
        acks: -1,
        timeout: 30000,
        topicData: [
          {
            topic: 'orders',
            partitions: [
              {
                partition: 2,
                messages: [
                  { key: 'k1', value: 'v1', headers: { h: 'x' }, timestamp: 1700000000000 },
                  { key: null, value: 'v2', timestamp: 1700000000001 },
                ],
              },
            ],
          },
        ],
      })
      const r = new Reader(body)
      const req = decodeProduceRequest(r, v)
      expect(r.remaining).toBe(0)
      expect([req.transactionalId, req.acks, req.timeoutMs]).toEqual([null, -1, 30000])
      expect(req.topics.map((t) => [t.name, t.partitions.map((p) => p.index)])).toEqual([['orders', [2]]])
      const set = req.topics[0].partitions[0].records!
      // A view into the request frame: no copy.
      expect(set.buffer).toBe(body.buffer)
      const got = records(set)
      expect(got.map((x) => [x.key?.toString() ?? null, x.value?.toString(), x.timestamp])).toEqual([
        ['k1', 'v1', 1700000000000],
        [null, 'v2', 1700000000001],
      ])
      expect(got[0].headers.map((h) => [h.key, h.value?.toString()])).toEqual([['h', 'x']])
    }
  })

  it('decodes the v0-v2 layout kafkajs sends (no transactional id; MessageSets as opaque bytes)', async () => {
    for (let v = 0; v <= 2; v++) {
      const body = await kafkajsRequestBody('produce', v, {
        acks: 1,
        timeout: 1000,
        topicData: [
          { topic: 'old', partitions: [{ partition: 1, messages: [{ key: 'k', value: 'v', timestamp: 5 }] }] },
        ],
      })
      const r = new Reader(body)
      const req = decodeProduceRequest(r, v)
      expect(r.remaining).toBe(0)
      expect([
        req.transactionalId,
        req.acks,
        req.timeoutMs,
        req.topics[0].name,
        req.topics[0].partitions[0].index,
      ]).toEqual([null, 1, 1000, 'old', 1])
      const set = req.topics[0].partitions[0].records!
      // A MessageSet entry: offset, size, crc, then the magic byte, 0 before v2 and 1 at v2.
      expect(set[16]).toBe(v === 2 ? 1 : 0)
      expect(body.subarray(body.length - set.length)).toEqual(set)
    }
  })

  it('reads a hand-built v3 request with a null record set', () => {
    const batch = encodeBatch([{ timestamp: 5, key: null, value: Buffer.from('x') }])
    const size = batch.length.toString(16).padStart(8, '0')
    const body = Buffer.concat([
      hex(`0002 7478 0001 00001388 00000002 0001 61 00000001 00000000 ${size}`),
      batch,
      hex('0001 62 00000001 00000003 ffffffff'),
    ])
    const req = decodeProduceRequest(new Reader(body), 3)
    expect(req.transactionalId).toBe('tx')
    expect(req.acks).toBe(1)
    expect(req.timeoutMs).toBe(5000)
    expect(req.topics[0].partitions[0].records).toEqual(batch)
    expect(req.topics[1]).toEqual({ name: 'b', partitions: [{ index: 3, records: null }] })
  })

  it('encodes responses that kafkajs decodes at every version 0-7', async () => {
    const res: ProduceResponse = {
      responses: [
        {
          name: 'orders',
          partitions: [
            { index: 0, errorCode: 0, baseOffset: 2 ** 40, logAppendTimeMs: -1, logStartOffset: 7 },
            { index: 1, errorCode: 2, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 },
          ],
        },
      ],
      throttleTimeMs: 0,
    }
    for (let v = 0; v <= 7; v++) {
      const d = (await kafkajsDecodeResponse('produce', v, encodeProduceResponse(res, v))) as {
        topics: { topicName: string; partitions: Record<string, unknown>[] }[]
      }
      expect(d.topics[0].topicName).toBe('orders')
      const [p0, p1] = d.topics[0].partitions
      if (v < 3) {
        expect([p0.partition, p0.errorCode, p0.offset]).toEqual([0, 0, String(2 ** 40)])
        if (v === 2) expect(p0.timestamp).toBe('-1')
        expect(p1.errorCode).toBe(2)
        continue
      }
      expect([p0.partition, p0.errorCode, String(p0.baseOffset), String(p0.logAppendTime)]).toEqual([
        0,
        0,
        String(2 ** 40),
        '-1',
      ])
      if (v >= 5) expect(String(p0.logStartOffset)).toBe('7')
      expect(p1.errorCode).toBe(2)
    }
  })

  it('writes the v0, v1, v3 and v5 response layouts byte for byte', () => {
    const res: ProduceResponse = {
      responses: [
        { name: 't', partitions: [{ index: 1, errorCode: 0, baseOffset: 5, logAppendTimeMs: -1, logStartOffset: 0 }] },
      ],
      throttleTimeMs: 0,
    }
    const common = '00000001 0001 74 00000001 00000001 0000 0000000000000005 ffffffffffffffff'
    expect(encodeProduceResponse(res, 0)).toEqual(hex('00000001 0001 74 00000001 00000001 0000 0000000000000005'))
    expect(encodeProduceResponse(res, 1)).toEqual(
      hex('00000001 0001 74 00000001 00000001 0000 0000000000000005 00000000'),
    )
    expect(encodeProduceResponse(res, 3)).toEqual(hex(`${common} 00000000`))
    expect(encodeProduceResponse(res, 5)).toEqual(hex(`${common} 0000000000000000 00000000`))
  })
})
