import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Consumer, EachMessagePayload } from '../../src/clients/consumer.js'
import { Seglog } from '../../src/main.js'
import { batchesOf, logFile, segmentBases } from '../support/damage.js'

let dir: string
let log: Seglog
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
  log = await Seglog.open(dir)
})
afterEach(async () => {
  await log.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** [base offset, last offset] of every batch in a partition's segment files, read from disk. */
function batchesOnDisk(topic: string, partition: number): [number, number][] {
  const partitionDir = path.join(dir, `${topic}-${partition}`)
  return segmentBases(partitionDir).flatMap((base) =>
    batchesOf(logFile(partitionDir, base)).map((b): [number, number] => [b.baseOffset, b.lastOffset]),
  )
}

async function fill(topic: string, n: number, partitions = 1): Promise<void> {
  const msgs = Array.from({ length: n }, (_, i) => ({ partition: i % partitions, value: i }))
  await log.append(topic, msgs)
}

describe('Consumer start position', () => {
  it('starts at the beginning with fromBeginning and no committed offset', async () => {
    await log.createTopic('t')
    await fill('t', 5)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const seen: number[] = []
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.offset) })
    await until(() => seen.length === 5)
    expect(seen).toEqual([0, 1, 2, 3, 4])
    await c.stop()
    expect(await c.committed()).toEqual([{ topic: 't', partition: 0, offset: 5, metadata: null }])
  })

  it('starts at the end by default (autoOffsetReset latest) and at the start with earliest', async () => {
    await log.createTopic('t')
    await fill('t', 3)
    const latest = log.consumer({ groupId: 'a' })
    await latest.subscribe({ topics: ['t'] })
    const seenA: number[] = []
    await latest.run({ eachMessage: async ({ message }) => void seenA.push(message.offset) })
    const earliest = log.consumer({ groupId: 'b', autoOffsetReset: 'earliest' })
    await earliest.subscribe({ topics: ['t'] })
    const seenB: number[] = []
    await earliest.run({ eachMessage: async ({ message }) => void seenB.push(message.offset) })
    await log.append('t', [{ value: 'new' }])
    await until(() => seenA.length === 1 && seenB.length === 4)
    expect(seenA).toEqual([3])
    expect(seenB).toEqual([0, 1, 2, 3])
  })

  it('prefers the committed offset over fromBeginning', async () => {
    await log.createTopic('t')
    await fill('t', 10)
    await log.resetOffsets({ groupId: 'g', topic: 't', to: { offsets: [{ partition: 0, offset: 7 }] } })
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const seen: number[] = []
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.offset) })
    await until(() => seen.length === 3)
    expect(seen).toEqual([7, 8, 9])
  })

  it('resets a committed offset that retention passed, with an offset_reset event', async () => {
    await log.createTopic('t', { config: { segmentBytes: 1024 } })
    for (let i = 0; i < 60; i++) await log.append('t', [{ value: 'x'.repeat(50) }])
    await log.resetOffsets({ groupId: 'g', topic: 't', to: { offsets: [{ partition: 0, offset: 2 }] } })
    await log.deleteRecords('t', 0, 40)
    const c = log.consumer({ groupId: 'g', autoOffsetReset: 'earliest' })
    const resets: unknown[] = []
    c.on(c.events.OFFSET_RESET, (e) => resets.push(e))
    await c.subscribe({ topics: ['t'] })
    const seen: number[] = []
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.offset) })
    await until(() => seen.length === 20)
    expect(seen[0]).toBe(40)
    expect(resets).toEqual([expect.objectContaining({ topic: 't', partition: 0, from: 2, to: 40 })])
  })
})

describe('Consumer commits and retries', () => {
  it('retries a throwing handler with backoff and never commits its offset until it succeeds', async () => {
    await log.createTopic('t')
    await fill('t', 3)
    const c = log.consumer({ groupId: 'g', retry: { initialRetryTime: 5, maxRetryTime: 20 } })
    const crashes: { offset: number }[] = []
    c.on(c.events.CRASH, (e) => crashes.push(e))
    const commits: number[][] = []
    c.on(c.events.COMMIT_OFFSETS, (e) => commits.push(e.offsets.map((o) => o.offset)))
    let failures = 0
    const handled: number[] = []
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    await c.run({
      eachMessage: async ({ message }) => {
        if (message.offset === 1 && failures < 3) {
          failures++
          // The offset of the failing record must not be committed while it fails.
          expect((await c.committed())[0]?.offset ?? 0).toBeLessThanOrEqual(1)
          throw new Error('boom')
        }
        handled.push(message.offset)
      },
    })
    await until(() => handled.length === 3)
    expect(handled).toEqual([0, 1, 2])
    expect(crashes.map((e) => e.offset)).toEqual([1, 1, 1])
    await c.stop()
    expect((await c.committed())[0].offset).toBe(3)
    for (const batch of commits) for (const o of batch) expect(o === 1 || o === 3 || o === 2).toBe(true)
  })

  it('reports lag as log end offset minus committed offset per partition', async () => {
    await log.createTopic('t', { partitions: 3 })
    await fill('t', 30, 3)
    await log.resetOffsets({
      groupId: 'g',
      topic: 't',
      to: {
        offsets: [
          { partition: 0, offset: 4 },
          { partition: 1, offset: 10 },
        ],
      },
    })
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'] })
    expect(await c.lag()).toEqual([
      { topic: 't', partition: 0, committed: 4, logEndOffset: 10, lag: 6 },
      { topic: 't', partition: 1, committed: 10, logEndOffset: 10, lag: 0 },
      { topic: 't', partition: 2, committed: null, logEndOffset: 10, lag: null },
    ])
  })

  it('commits explicitly with commitOffsets, seeks, and pauses and resumes partitions', async () => {
    await log.createTopic('t', { partitions: 2 })
    await fill('t', 20, 2)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    c.pause([{ topic: 't', partitions: [1] }])
    expect(c.paused()).toEqual([{ topic: 't', partitions: [1] }])
    const seen: string[] = []
    await c.run({ eachMessage: async ({ partition, message }) => void seen.push(`${partition}:${message.offset}`) })
    await until(() => seen.length === 10)
    expect(seen.every((s) => s.startsWith('0:'))).toBe(true)
    c.seek({ topic: 't', partition: 0, offset: 8 })
    c.resume([{ topic: 't', partitions: [1] }])
    await until(() => seen.length === 22)
    expect(seen.slice(10).filter((s) => s.startsWith('0:'))).toEqual(['0:8', '0:9'])
    await c.commitOffsets([{ topic: 't', partition: 1, offset: 3, metadata: 'manual' }])
    expect((await log.fetchOffsets('g', 't')).find((o) => o.partition === 1)).toMatchObject({
      offset: 3,
      metadata: 'manual',
    })
  })

  it('hands batches to eachBatch and resolves them when the handler resolves', async () => {
    await log.createTopic('t')
    await fill('t', 12)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const offsets: number[] = []
    await c.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) offsets.push(m.offset)
        expect(batch.highWatermark).toBe(12)
      },
    })
    await until(() => offsets.length >= 12)
    await c.stop()
    // Every record exactly once, in order: a lost record and a repeated one would not cancel out here.
    expect(offsets).toEqual(Array.from({ length: 12 }, (_, i) => i))
    expect((await c.committed())[0].offset).toBe(12)
  })
})

describe('Consumer groups', () => {
  it('shares partitions disjointly and completely as members join and leave (1 → 3 → 2)', async () => {
    await log.createTopic('t', { partitions: 6 })
    const handledBy = new Map<string, string>()
    const count = new Map<string, number>()
    const mk = async (name: string): Promise<Consumer> => {
      const c = log.consumer({ groupId: 'g' })
      await c.subscribe({ topics: ['t'], fromBeginning: true })
      await c.run({
        eachMessage: async ({ partition, message }: EachMessagePayload) => {
          const k = `${partition}:${message.offset}`
          handledBy.set(k, name)
          count.set(k, (count.get(k) ?? 0) + 1)
        },
      })
      return c
    }
    const checkAssignments = (members: Consumer[]) => {
      const all = members.flatMap((m) => m.assignment().map((tp) => tp.partition))
      expect(all.sort()).toEqual([0, 1, 2, 3, 4, 5])
    }
    const a = await mk('a')
    checkAssignments([a])
    await fill('t', 60, 6)
    const b = await mk('b')
    const c = await mk('c')
    checkAssignments([a, b, c])
    for (const m of [a, b, c]) expect(m.assignment().length).toBe(2)
    await fill('t', 60, 6)
    await b.stop()
    checkAssignments([a, c])
    await fill('t', 60, 6)
    await until(() => count.size === 180)
    expect([...count.values()].every((n) => n === 1)).toBe(true)
    await a.stop()
    await c.stop()
  })

  it('lets different groups each see every record', async () => {
    await log.createTopic('t', { partitions: 2 })
    await fill('t', 10, 2)
    const seen: Record<'x' | 'y', string[]> = { x: [], y: [] }
    const consumers: Consumer[] = []
    for (const g of ['x', 'y'] as const) {
      const c = log.consumer({ groupId: g })
      await c.subscribe({ topics: [/^t$/], fromBeginning: true })
      await c.run({
        eachMessage: async ({ partition, message }) => void seen[g].push(`${partition}:${message.offset}`),
      })
      consumers.push(c)
    }
    await until(() => seen.x.length >= 10 && seen.y.length >= 10)
    for (const c of consumers) await c.stop()
    // Each group saw every record (partition:offset) exactly once.
    const every = [0, 1].flatMap((p) => Array.from({ length: 5 }, (_, o) => `${p}:${o}`))
    expect(seen.x.slice().sort()).toEqual(every)
    expect(seen.y.slice().sort()).toEqual(every)
    expect((await log.listGroups()).map((g) => g.groupId)).toEqual(['x', 'y'])
  })

  it('iterates messages with for await and commits only what the loop finished', async () => {
    await log.createTopic('t')
    await fill('t', 5)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const got: number[] = []
    for await (const { message } of c) {
      got.push(message.offset)
      if (got.length === 3) break
    }
    expect(got).toEqual([0, 1, 2])
    expect((await log.fetchOffsets('g'))[0].offset).toBe(2)
  })

  it('describes a group with members, assignment, committed offsets and lag, and deletes it', async () => {
    await log.createTopic('t', { partitions: 2 })
    await fill('t', 4, 2)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    let n = 0
    await c.run({ eachMessage: async () => void n++ })
    await until(() => n === 4)
    const d = await log.describeGroup('g')
    expect(d.state).toBe('Stable')
    expect(d.members).toHaveLength(1)
    expect(d.members[0].assignment).toHaveLength(2)
    await c.stop()
    const after = await log.describeGroup('g')
    expect(after.offsets.map((o) => o.lag)).toEqual([0, 0])
    await log.deleteGroup('g')
    expect(await log.fetchOffsets('g')).toEqual([])
  })
})

describe('Producer', () => {
  it('sends, batches concurrent sends by linger, and flushes what is queued on disconnect', async () => {
    await log.createTopic('t', { partitions: 2, config: { format: 'string' } })
    const p = log.producer({ lingerMs: 20, acks: 1 })
    const sends = Array.from({ length: 10 }, (_, i) =>
      p.send({ topic: 't', messages: [{ partition: 0, value: `m${i}` }] }),
    )
    const metas = await Promise.all(sends)
    expect(metas.map((m) => m[0].offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    // The ten sends were written as one append: one batch holding offsets 0..9.
    expect(batchesOnDisk('t', 0)).toEqual([[0, 9]])
    const batch = await p.sendBatch({
      topicMessages: [
        { topic: 't', messages: [{ partition: 1, value: 'a' }] },
        { topic: 't', messages: [{ partition: 1, value: 'b' }] },
      ],
    })
    expect(batch.map((m) => [m.topic, m.partition, m.offset])).toEqual([
      ['t', 1, 0],
      ['t', 1, 1],
    ])
    const queued = p.send({ topic: 't', messages: [{ partition: 1, value: 'late' }] })
    await p.disconnect()
    expect((await queued)[0].offset).toBe(2)
    await expect(p.send({ topic: 't', messages: [{ value: 'x' }] })).rejects.toMatchObject({ code: 'ENGINE_CLOSED' })
  })

  it('writes each send as its own batch with lingerMs 0', async () => {
    await log.createTopic('t', { config: { format: 'string' } })
    const p = log.producer({ lingerMs: 0, acks: 1 })
    const sends = Array.from({ length: 5 }, (_, i) => p.send({ topic: 't', messages: [{ value: `m${i}` }] }))
    expect((await Promise.all(sends)).map((m) => m[0].offset)).toEqual([0, 1, 2, 3, 4])
    expect(batchesOnDisk('t', 0)).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
    ])
    await p.disconnect()
  })

  it('fails only the send with a bad message when sends were gathered', async () => {
    await log.createTopic('t', { config: { format: 'string' } })
    const p = log.producer({ lingerMs: 10 })
    const good = p.send({ topic: 't', messages: [{ value: 'ok' }] })
    const bad = p.send({ topic: 't', messages: [{ value: 42 as unknown as string }] })
    expect((await good)[0].offset).toBe(0)
    await expect(bad).rejects.toMatchObject({ code: 'INVALID_RECORD' })
  })

  it('uses a KafkaJS-shaped custom partitioner', async () => {
    await log.createTopic('t', { partitions: 4 })
    const calls: number[] = []
    const p = log.producer({
      partitioner:
        () =>
        ({ partitionMetadata, message }) => {
          calls.push(partitionMetadata.length)
          return String(message.key) === 'last' ? partitionMetadata.length - 1 : 0
        },
    })
    const meta = await p.send({
      topic: 't',
      messages: [
        { key: 'last', value: 1 },
        { key: 'x', value: 2 },
        { partition: 2, value: 3 },
      ],
    })
    expect(meta.map((m) => m.partition)).toEqual([3, 0, 2])
    expect(calls).toEqual([4, 4])
  })
})

describe('Consumer wake-ups', () => {
  it('never misses an append that lands between an empty read and the wait (lost wake-up)', async () => {
    await log.createTopic('t')
    const ac = new AbortController()
    // The consumer read at offset 0 and found nothing; an append happens before it registers its wait.
    await log.append('t', [{ value: 'raced' }])
    const woke = await Promise.race([
      log.waitForAppend('t', 0, 0, ac.signal).then(() => 'woke'),
      new Promise((r) => setTimeout(() => r('stuck'), 200)),
    ])
    expect(woke).toBe('woke')
    // At the log end it waits, and the next append wakes it.
    const waiting = log.waitForAppend('t', 0, 1, ac.signal).then(() => 'woke')
    await log.append('t', [{ value: 'next' }])
    expect(await waiting).toBe('woke')
  })

  it('delivers every record to consumers racing a producer to the end, many times over', async () => {
    await log.createTopic('t', { partitions: 3, config: { format: 'binary' } })
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    let handled = 0
    await c.run({ eachBatch: async ({ batch }) => void (handled += batch.messages.length) })
    const p = log.producer({ lingerMs: 1, acks: 1 })
    let sent = 0
    for (let round = 0; round < 200; round++) {
      const n = 1 + (round % 7)
      await p.send({
        topic: 't',
        messages: Array.from({ length: n }, (_, i) => ({ partition: (round + i) % 3, value: Buffer.alloc(8) })),
      })
      sent += n
      if (round % 10 === 0) await new Promise((r) => setImmediate(r))
    }
    await until(() => handled === sent, 10_000)
    expect(handled).toBe(sent)
    await c.stop()
  })
})
