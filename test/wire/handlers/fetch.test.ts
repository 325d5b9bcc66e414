import { afterEach, describe, expect, it } from 'vitest'
import { encodeBatch } from '../../../src/internal.js'
import {
  array,
  fetchV4Body,
  i8,
  i32,
  i64,
  produceBody,
  readFetchV4,
  readProduceV5,
  str,
} from '../../support/wire-bytes.js'
import { type Served, serve } from '../../support/wire-engine.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

const PRODUCE = 0
const FETCH = 1

function batch(count: number, valueBytes = 10, start = 0): Buffer {
  return encodeBatch(
    Array.from({ length: count }, (_, i) => ({
      timestamp: 1000 + i,
      key: null,
      value: Buffer.alloc(valueBytes, 97 + ((start + i) % 26)),
    })),
  )
}

async function produce(s: Served, topic: string, records: Buffer, partition = 0): Promise<number> {
  const c = await s.connect()
  const body = await s.raw(
    c,
    PRODUCE,
    7,
    produceBody(1, [{ name: topic, partitions: [{ index: partition, records }] }]),
  )
  c.destroy()
  const p = readProduceV5(body)[0].partitions[0]
  expect(p.errorCode).toBe(0)
  return p.baseOffset
}

async function fetchV4(
  s: Served,
  topic: string,
  partitions: { partition: number; offset: number; maxBytes: number }[],
  opts: { maxWaitMs?: number; minBytes?: number; maxBytes?: number } = {},
) {
  const c = await s.connect()
  const body = await s.raw(c, FETCH, 4, fetchV4Body(topic, partitions, opts))
  c.destroy()
  return readFetchV4(body)[0].partitions
}

/** Base offsets of the batches in a record set. */
function baseOffsets(set: Buffer): number[] {
  const out: number[] = []
  for (let pos = 0; pos < set.length; pos += 12 + set.readInt32BE(pos + 8)) out.push(Number(set.readBigInt64BE(pos)))
  return out
}

describe('Fetch handler', () => {
  it('returns the whole stored batch when the fetch offset is inside it, with high watermark and last stable offset', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    await produce(served, 't', batch(5))
    await produce(served, 't', batch(3))
    const [p] = await fetchV4(served, 't', [{ partition: 0, offset: 2, maxBytes: 1 << 20 }])
    expect(p.errorCode).toBe(0)
    expect([p.highWatermark, p.lastStableOffset]).toEqual([8, 8])
    expect(baseOffsets(p.records)).toEqual([0, 5])
    const [end] = await fetchV4(served, 't', [{ partition: 0, offset: 8, maxBytes: 1 << 20 }])
    expect([end.errorCode, end.records.length, end.highWatermark]).toEqual([0, 0, 8])
  })

  it('answers OFFSET_OUT_OF_RANGE above the log end and below the log start, at once despite max_wait_ms', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    await produce(served, 't', batch(3))
    await produce(served, 't', batch(3))
    const started = Date.now()
    const [above] = await fetchV4(served, 't', [{ partition: 0, offset: 7, maxBytes: 1000 }], { maxWaitMs: 5000 })
    expect([above.errorCode, above.highWatermark]).toEqual([1, 6])
    await served.log.deleteRecords('t', 0, 3)
    const [below] = await fetchV4(served, 't', [{ partition: 0, offset: 1, maxBytes: 1000 }], { maxWaitMs: 5000 })
    expect(below.errorCode).toBe(1)
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('answers UNKNOWN_TOPIC_OR_PARTITION for a missing topic or partition, at once', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const started = Date.now()
    const [missingTopic] = await fetchV4(served, 'nope', [{ partition: 0, offset: 0, maxBytes: 1000 }], {
      maxWaitMs: 5000,
    })
    const [missingPartition] = await fetchV4(served, 't', [{ partition: 3, offset: 0, maxBytes: 1000 }], {
      maxWaitMs: 5000,
    })
    expect([missingTopic.errorCode, missingPartition.errorCode]).toEqual([3, 3])
    expect(Date.now() - started).toBeLessThan(3000)
    expect(served.log.listTopics()).toEqual(['t'])
  })

  it('fills partitions in request order within max_bytes, always returning the first batch of the first partition', async () => {
    served = await serve()
    await served.log.createTopic('t', { partitions: 3, config: { format: 'binary' } })
    for (let p = 0; p < 3; p++) {
      await produce(served, 't', batch(1, 1000), p)
      await produce(served, 't', batch(1, 1000), p)
    }
    const all = [0, 1, 2].map((partition) => ({ partition, offset: 0, maxBytes: 1 << 20 }))
    // max_bytes below one batch: the first batch of partition 0 still comes, nothing else.
    const tiny = await fetchV4(served, 't', all, { maxBytes: 100 })
    expect(tiny.map((p) => baseOffsets(p.records))).toEqual([[0], [], []])
    expect(tiny.map((p) => p.highWatermark)).toEqual([2, 2, 2])
    // Room for three batches: two from partition 0, one from partition 1.
    const three = await fetchV4(served, 't', all, { maxBytes: 3 * 1080 })
    expect(three.map((p) => baseOffsets(p.records))).toEqual([[0, 1], [0], []])
    // partition_max_bytes below one batch: each partition's first batch only if nothing came before it.
    const perPartition = await fetchV4(
      served,
      't',
      [0, 1].map((partition) => ({ partition, offset: 0, maxBytes: 100 })),
    )
    expect(perPartition.map((p) => baseOffsets(p.records))).toEqual([[0], []])
  })

  it('long-polls until max_wait_ms when there is nothing to read', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const started = Date.now()
    const [p] = await fetchV4(served, 't', [{ partition: 0, offset: 0, maxBytes: 1000 }], { maxWaitMs: 400 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(390)
    expect([p.errorCode, p.records.length]).toEqual([0, 0])
    const quick = Date.now()
    await fetchV4(served, 't', [{ partition: 0, offset: 0, maxBytes: 1000 }], { maxWaitMs: 5000, minBytes: 0 })
    expect(Date.now() - quick).toBeLessThan(1000)
  })

  it('is woken by an append to any of its partitions', async () => {
    served = await serve()
    await served.log.createTopic('t', { partitions: 2, config: { format: 'binary' } })
    const started = Date.now()
    const pending = fetchV4(
      served,
      't',
      [0, 1].map((partition) => ({ partition, offset: 0, maxBytes: 1000 })),
      { maxWaitMs: 10_000 },
    )
    await new Promise((r) => setTimeout(r, 200))
    await served.log.append('t', [{ value: Buffer.from('native'), partition: 1 }])
    const parts = await pending
    expect(Date.now() - started).toBeLessThan(5000)
    expect(parts.map((p) => baseOffsets(p.records).length)).toEqual([0, 1])
  })

  it('keeps waiting for min_bytes after a small append, and answers with what it has at the deadline', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const started = Date.now()
    const pending = fetchV4(served, 't', [{ partition: 0, offset: 0, maxBytes: 1 << 20 }], {
      maxWaitMs: 800,
      minBytes: 100_000,
    })
    await new Promise((r) => setTimeout(r, 100))
    await produce(served, 't', batch(1))
    const [p] = await pending
    expect(Date.now() - started).toBeGreaterThanOrEqual(750)
    expect(baseOffsets(p.records)).toEqual([0])
  })

  it('answers an incremental fetch-session request with FETCH_SESSION_ID_NOT_FOUND and a full fetch with session 0', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    await produce(served, 't', batch(2))
    const c = await served.connect()
    const body = (sessionId: number, epoch: number) =>
      Buffer.concat([
        i32(-1),
        i32(0),
        i32(1),
        i32(1 << 20),
        i8(0),
        i32(sessionId),
        i32(epoch),
        array(['t'], (t) =>
          Buffer.concat([str(t), array([0], (p) => Buffer.concat([i32(p), i64(0), i64(-1), i32(1 << 20)]))]),
        ),
        i32(0),
      ])
    const incremental = await served.raw(c, FETCH, 7, body(123, 4))
    expect([incremental.readInt16BE(4), incremental.readInt32BE(6), incremental.readInt32BE(10)]).toEqual([70, 0, 0])
    const full = await served.raw(c, FETCH, 7, body(0, -1))
    expect([full.readInt16BE(4), full.readInt32BE(6), full.readInt32BE(10)]).toEqual([0, 0, 1])
  })

  it('serves what kafkajs asks for with Fetch v11 and what kafka-python asks with v4 the same stored bytes', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    await produce(served, 't', batch(4))
    const c = await served.connect()
    const v11 = await served.call<{
      responses: { partitions: { messages: { offset: string }[]; highWatermark: string }[] }[]
    }>(c, 'fetch', 11, {
      replicaId: -1,
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: '1', maxBytes: 1 << 20 }] }],
    })
    expect(v11.responses[0].partitions[0].messages.map((m) => m.offset)).toEqual(['0', '1', '2', '3'])
    expect(v11.responses[0].partitions[0].highWatermark).toBe('4')
  })
})
