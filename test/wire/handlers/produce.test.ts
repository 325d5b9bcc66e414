import { afterEach, describe, expect, it } from 'vitest'
import { encodeBatch } from '../../../src/internal.js'
import {
  array,
  bytes,
  fetchV4Body,
  i16,
  i32,
  produceBody,
  readFetchV4,
  readProduceV5,
  str,
} from '../../support/wire-bytes.js'
import { correlationId, type Served, serve } from '../../support/wire-engine.js'
import { encodeRequest, rawFrame } from '../../support/wire-raw.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

const PRODUCE = 0
const FETCH = 1

function batch(values: string[], baseTimestamp = 1_700_000_000_000): Buffer {
  return encodeBatch(values.map((v, i) => ({ timestamp: baseTimestamp + i, key: `k${i}`, value: Buffer.from(v) })))
}

async function produce(s: Served, topic: string, records: Buffer | null, acks = 1, partition = 0) {
  const c = await s.connect()
  const body = await s.raw(
    c,
    PRODUCE,
    7,
    produceBody(acks, [{ name: topic, partitions: [{ index: partition, records }] }]),
  )
  c.destroy()
  return readProduceV5(body)[0].partitions[0]
}

async function storedBytes(s: Served, topic: string, offset = 0): Promise<Buffer> {
  const c = await s.connect()
  const body = await s.raw(c, FETCH, 4, fetchV4Body(topic, [{ partition: 0, offset, maxBytes: 1 << 20 }]))
  c.destroy()
  return readFetchV4(body)[0].partitions[0].records
}

describe('Produce handler', () => {
  it("stores the client's batch bytes as sent, with the offsets assigned, and answers the base offset", async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const c = await served.connect()
    const req = await encodeRequest(
      'produce',
      7,
      {
        acks: -1,
        timeout: 5000,
        topicData: [
          {
            topic: 't',
            partitions: [
              { partition: 0, messages: [{ key: 'a', value: 'one', headers: { h: 'x' } }, { value: 'two' }] },
            ],
          },
        ],
      },
      correlationId(),
    )
    const sent = req.frame.subarray(4)
    const res = await c.request(req)
    if (typeof res !== 'object') throw new Error(res)
    expect(readProduceV5(res.body)[0].partitions[0]).toMatchObject({ errorCode: 0, baseOffset: 0, logStartOffset: 0 })
    const second = await produce(served, 't', batch(['three']))
    expect(second).toMatchObject({ errorCode: 0, baseOffset: 2, logAppendTime: -1 })

    const stored = await storedBytes(served, 't')
    // The first stored batch is kafkajs's batch byte for byte after the base offset (which the broker assigns).
    const firstLen = stored.readInt32BE(8) + 12
    const clientBatch = sent.subarray(sent.length - firstLen)
    expect(stored.subarray(8, firstLen)).toEqual(clientBatch.subarray(8))
    expect(Number(stored.readBigInt64BE(firstLen))).toBe(2)
    const records = await served.log.read('t', 0, 0)
    expect(records.map((r) => [r.offset, r.key?.toString() ?? null])).toEqual([
      [0, 'a'],
      [1, null],
      [2, 'k0'],
    ])
  })

  it('answers CORRUPT_MESSAGE for a CRC mismatch and stores nothing', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const bad = batch(['x', 'y'])
    bad[bad.length - 1] ^= 0xff
    expect(await produce(served, 't', bad)).toMatchObject({ errorCode: 2, baseOffset: -1 })
    expect(served.log.offsets('t', 0).logEndOffset).toBe(0)
  })

  it('answers INVALID_RECORD for a batch of an unknown magic, an empty or a null record set', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const future = batch(['x'])
    future[16] = 3
    expect((await produce(served, 't', future)).errorCode).toBe(87)
    expect((await produce(served, 't', Buffer.alloc(0))).errorCode).toBe(87)
    expect((await produce(served, 't', null)).errorCode).toBe(87)
    expect(served.log.offsets('t', 0).logEndOffset).toBe(0)
  })

  it('answers UNSUPPORTED_FOR_MESSAGE_FORMAT for a magic 0 or 1 MessageSet, at Produce v0-v2 as at v7', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    // A magic 1 message: offset, size, crc, magic 1, attributes, timestamp, key -1, value 'x'.
    const v1 = Buffer.from(
      '0000000000000000 00000017 00000000 01 00 0000000000000001 ffffffff 00000001 78'.replace(/ /g, ''),
      'hex',
    )
    const c = await served.connect()
    const body = Buffer.concat([
      i16(1),
      i32(5000),
      array(['t'], (t) => Buffer.concat([str(t), array([v1], (r) => Buffer.concat([i32(0), bytes(r)]))])),
    ])
    for (const version of [0, 1, 2]) {
      const res = await served.raw(c, PRODUCE, version, body)
      // topics [name [partition, error_code, base_offset ...]]: the error code follows the topic name and partition.
      expect(res.readInt16BE(4 + 2 + 1 + 4 + 4)).toBe(43)
      expect(res.length).toBe(4 + 3 + 4 + 4 + 2 + 8 + (version >= 2 ? 8 : 0) + (version >= 1 ? 4 : 0))
    }
    expect((await produce(served, 't', v1)).errorCode).toBe(43)
    expect(served.log.offsets('t', 0).logEndOffset).toBe(0)
  })

  it("answers MESSAGE_TOO_LARGE for a batch above the topic's max.message.bytes", async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary', maxMessageBytes: 200 } })
    expect((await produce(served, 't', batch(['x'.repeat(300)]))).errorCode).toBe(10)
    expect((await produce(served, 't', batch(['small']))).errorCode).toBe(0)
  })

  it('answers UNKNOWN_TOPIC_OR_PARTITION for a missing partition, and for a missing topic without auto-create', async () => {
    served = await serve({ autoCreateTopics: false })
    await served.log.createTopic('t', { config: { format: 'binary' } })
    expect((await produce(served, 't', batch(['x']), 1, 5)).errorCode).toBe(3)
    expect((await produce(served, 'nope', batch(['x']))).errorCode).toBe(3)
    expect(served.log.listTopics()).toEqual(['t'])
  })

  it('creates an unknown topic with format binary when auto-create is on', async () => {
    served = await serve()
    expect((await produce(served, 'fresh', batch(['\u00ff not msgpack']))).errorCode).toBe(0)
    expect(served.log.describeTopic('fresh').config.format).toBe('binary')
  })

  it('answers INVALID_REQUIRED_ACKS for acks other than -1, 0 and 1', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    expect((await produce(served, 't', batch(['x']), 2)).errorCode).toBe(21)
    expect(served.log.offsets('t', 0).logEndOffset).toBe(0)
  })

  it('answers per partition: a bad batch on one partition does not stop the other', async () => {
    served = await serve()
    await served.log.createTopic('t', { partitions: 2, config: { format: 'binary' } })
    const bad = batch(['x'])
    bad[bad.length - 1] ^= 1
    const c = await served.connect()
    const body = await served.raw(
      c,
      PRODUCE,
      5,
      produceBody(1, [
        {
          name: 't',
          partitions: [
            { index: 0, records: bad },
            { index: 1, records: batch(['ok']) },
          ],
        },
      ]),
    )
    expect(readProduceV5(body)[0].partitions.map((p) => [p.index, p.errorCode])).toEqual([
      [0, 2],
      [1, 0],
    ])
    expect(served.log.offsets('t', 1).logEndOffset).toBe(1)
  })

  it('sends no response for acks=0, keeps the order of later responses, and stores the data', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const c = await served.connect()
    const silent = correlationId()
    const meta = await encodeRequest('metadata', 1, { topics: ['t'] }, correlationId())
    c.write(
      Buffer.concat([
        rawFrame(
          PRODUCE,
          7,
          silent,
          produceBody(0, [{ name: 't', partitions: [{ index: 0, records: batch(['a']) }] }]),
        ),
        meta.frame,
      ]),
    )
    expect(typeof (await c.waitResponse(meta.correlationId, 5000))).toBe('object')
    expect(c.responses.map((r) => r.correlationId)).toEqual([meta.correlationId])
    expect(served.log.offsets('t', 0).logEndOffset).toBe(1)
  })

  it('closes the connection when an acks=0 produce fails, since no response can carry the error', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const bad = batch(['x'])
    bad[bad.length - 1] ^= 1
    const c = await served.connect()
    c.write(
      rawFrame(PRODUCE, 7, correlationId(), produceBody(0, [{ name: 't', partitions: [{ index: 0, records: bad }] }])),
    )
    expect(await c.waitClosed(5000)).toBe(true)
  })

  it('lands pipelined requests to one partition in the order sent, also behind a request that auto-creates a topic', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const c = await served.connect()
    const ids: number[] = []
    const frames: Buffer[] = []
    for (let i = 0; i < 20; i++) {
      const id = correlationId()
      ids.push(id)
      const topics = [{ name: 't', partitions: [{ index: 0, records: batch([`m${i}`]) }] }]
      // The first request also names a topic that does not exist yet: it waits for the creation, and the
      // requests behind it must not overtake it on 't'.
      if (i === 0) topics.unshift({ name: 'new-topic', partitions: [{ index: 0, records: batch(['n']) }] })
      frames.push(rawFrame(PRODUCE, 7, id, produceBody(1, topics)))
    }
    c.write(Buffer.concat(frames))
    expect(typeof (await c.waitResponse(ids[19], 10_000))).toBe('object')
    const results = c.responses.map((r) => readProduceV5(r.body).find((t) => t.name === 't')!.partitions[0])
    expect(results.map((p) => p.errorCode)).toEqual(new Array(20).fill(0))
    expect(results.map((p) => p.baseOffset)).toEqual([...Array(20).keys()])
    const records = await served.log.read('t', 0, 0)
    expect(records.map((r) => r.value?.toString())).toEqual([...Array(20).keys()].map((i) => `m${i}`))
    expect(served.log.offsets('new-topic', 0).logEndOffset).toBe(1)
  })
})
