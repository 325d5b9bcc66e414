import { describe, expect, it } from 'vitest'
import { encodeBatch } from '../../../src/internal.js'
import { decodeFetchRequest, encodeFetchResponse, type FetchResponse } from '../../../src/wire/codecs/fetch.js'
import { Reader } from '../../../src/wire/protocol/reader.js'
import { kafkajsDecodeResponse, kafkajsRequestBody } from '../../support/kafkajs-protocol.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

describe('Fetch codec', () => {
  it('decodes what kafkajs sends at every version 4-11', async () => {
    for (let v = 4; v <= 11; v++) {
      const body = await kafkajsRequestBody('fetch', v, {
        replicaId: -1,
        maxWaitTime: 5000,
        minBytes: 1,
        maxBytes: 10485760,
        isolationLevel: 1,
        topics: [
          {
            topic: 'orders',
            partitions: [
              { partition: 0, fetchOffset: '42', maxBytes: 1048576 },
              { partition: 3, fetchOffset: String(2 ** 40), maxBytes: 100 },
            ],
          },
        ],
        rackId: 'r1',
      })
      const r = new Reader(body)
      const req = decodeFetchRequest(r, v)
      expect(r.remaining).toBe(0)
      expect([req.replicaId, req.maxWaitMs, req.minBytes, req.maxBytes, req.isolationLevel]).toEqual([
        -1, 5000, 1, 10485760, 1,
      ])
      expect([req.sessionId, req.sessionEpoch]).toEqual([0, -1])
      expect(req.topics[0].topic).toBe('orders')
      expect(req.topics[0].partitions.map((p) => [p.partition, p.fetchOffset, p.partitionMaxBytes])).toEqual([
        [0, 42, 1048576],
        [3, 2 ** 40, 100],
      ])
      expect(req.rackId).toBe(v >= 11 ? 'r1' : '')
    }
  })

  it('reads the v9 partition layout with current_leader_epoch and the v7 forgotten topics by hand', () => {
    const body = hex(
      'ffffffff 000001f4 00000001 00100000 00 00000007 00000002 ' +
        '00000001 0001 74 00000001 00000000 00000005 0000000000000009 ffffffffffffffff 00000400 ' +
        '00000001 0001 75 00000001 00000004',
    )
    const req = decodeFetchRequest(new Reader(body), 9)
    expect([req.sessionId, req.sessionEpoch]).toEqual([7, 2])
    expect(req.topics[0].partitions[0]).toEqual({
      partition: 0,
      currentLeaderEpoch: 5,
      fetchOffset: 9,
      logStartOffset: -1,
      partitionMaxBytes: 1024,
    })
    expect(req.forgottenTopics).toEqual([{ topic: 'u', partitions: [4] }])
  })

  it('encodes responses whose stored batches kafkajs decodes into messages at every version 4-11', async () => {
    const b1 = encodeBatch(
      [
        { timestamp: 1000, key: 'a', value: Buffer.from('one') },
        { timestamp: 1001, key: 'b', value: Buffer.alloc(400, 120) },
      ],
      { baseOffset: 10 },
    )
    const b2 = encodeBatch([{ timestamp: 1002, key: null, value: Buffer.from('three') }], { baseOffset: 12 })
    const res: FetchResponse = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 'orders',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: 13,
              lastStableOffset: 13,
              logStartOffset: 10,
              preferredReadReplica: -1,
              records: [b1, b2],
              recordsBytes: b1.length + b2.length,
            },
            {
              partitionIndex: 1,
              errorCode: 1,
              highWatermark: 0,
              lastStableOffset: 0,
              logStartOffset: 0,
              preferredReadReplica: -1,
              records: [],
              recordsBytes: 0,
            },
          ],
        },
      ],
    }
    for (let v = 4; v <= 11; v++) {
      const chunks = encodeFetchResponse(res, v)
      // The large stored batch goes out as the same buffer, not a copy.
      expect(chunks.includes(b1)).toBe(true)
      const d = (await kafkajsDecodeResponse('fetch', v, Buffer.concat(chunks))) as {
        errorCode?: number
        sessionId?: number
        responses: { topicName: string; partitions: Record<string, unknown>[] }[]
      }
      if (v >= 7) expect([d.errorCode, d.sessionId]).toEqual([0, 0])
      const [p0, p1] = d.responses[0].partitions
      expect([p0.partition, p0.errorCode, p0.highWatermark, p0.lastStableOffset]).toEqual([0, 0, '13', '13'])
      if (v >= 5) expect(p0.lastStartOffset).toBe('10')
      if (v >= 11) expect(p0.preferredReadReplica).toBe(-1)
      const messages = p0.messages as { offset: string; key: Buffer | null; value: Buffer }[]
      expect(messages.map((m) => [m.offset, m.key?.toString() ?? null, m.value.length])).toEqual([
        ['10', 'a', 3],
        ['11', 'b', 400],
        ['12', null, 5],
      ])
      expect([p1.errorCode, (p1.messages as unknown[]).length]).toEqual([1, 0])
    }
  })

  it('writes the v4 and v11 partition layouts byte for byte', () => {
    const res: FetchResponse = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 't',
          partitions: [
            {
              partitionIndex: 2,
              errorCode: 0,
              highWatermark: 5,
              lastStableOffset: 5,
              logStartOffset: 1,
              preferredReadReplica: -1,
              records: [hex('abcd')],
              recordsBytes: 2,
            },
          ],
        },
      ],
    }
    expect(Buffer.concat(encodeFetchResponse(res, 4))).toEqual(
      hex('00000000 00000001 0001 74 00000001 00000002 0000 0000000000000005 0000000000000005 00000000 00000002 abcd'),
    )
    expect(Buffer.concat(encodeFetchResponse(res, 11))).toEqual(
      hex(
        '00000000 0000 00000000 00000001 0001 74 00000001 00000002 0000 0000000000000005 0000000000000005 ' +
          '0000000000000001 00000000 ffffffff 00000002 abcd',
      ),
    )
  })
})
