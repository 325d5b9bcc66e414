/**
 * The native consumer's hooks that the KafkaJS facade builds on: custom assignors (`partitionAssigner: { name,
 * assign }`), `fromBeginning` per subscribe call, and retry's `multiplier`, `factor` and `retriable`.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ConsumerEventMap } from '../../src/clients/consumer.js'
import { type PartitionAssigner, Seglog } from '../../src/main.js'

let dir: string
let log: Seglog
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-hooks-'))
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

describe('custom assignors', () => {
  it('decide the assignment from the members and partition counts; foreign, out-of-range and repeated partitions are dropped', async () => {
    await log.createTopic('t', { partitions: 3 })
    const calls: { members: string[]; counts: [string, number][] }[] = []
    const firstTakesAll: PartitionAssigner = {
      name: 'first-takes-all',
      async assign(members, counts) {
        calls.push({ members: members.map((m) => m.memberId), counts: [...counts] })
        const [first, ...rest] = [...members].map((m) => m.memberId).sort()
        return new Map([
          [
            first,
            [
              { topic: 't', partition: 0 },
              { topic: 't', partition: 1 },
              { topic: 't', partition: 2 },
              { topic: 't', partition: 2 },
              { topic: 't', partition: 9 },
              { topic: 'other', partition: 0 },
            ],
          ],
          ...rest.map((id): [string, { topic: string; partition: number }[]] => [id, [{ topic: 't', partition: 1 }]]),
          ['not-a-member', [{ topic: 't', partition: 0 }]],
        ])
      },
    }
    const joins = new Map<string, ConsumerEventMap['consumer.group_join']['assignment']>()
    for (const clientId of ['a', 'b']) {
      const c = log.consumer({ groupId: 'g', clientId, partitionAssigner: firstTakesAll })
      c.on('consumer.group_join', (e) => joins.set(e.memberId, e.assignment))
      await c.subscribe({ topics: ['t'] })
      await c.run({ eachMessage: async () => {} })
    }
    await until(() => joins.size === 2)
    const [first, second] = [...joins.keys()].sort()
    expect(joins.get(first)).toEqual([0, 1, 2].map((partition) => ({ topic: 't', partition })))
    // Partition 1 was already given to the first member: the second gets nothing.
    expect(joins.get(second)).toEqual([])
    expect(calls.at(-1)!.counts).toEqual([['t', 3]])
  })

  it('refuse a member naming another assignor, and a custom assignor that throws fails the join', async () => {
    await log.createTopic('t')
    const ok = log.consumer({ groupId: 'g', partitionAssigner: { name: 'mine', assign: () => new Map() } })
    await ok.subscribe({ topics: ['t'] })
    await ok.run({ eachMessage: async () => {} })
    const other = log.consumer({ groupId: 'g', partitionAssigner: 'range' })
    await other.subscribe({ topics: ['t'] })
    await expect(other.run({ eachMessage: async () => {} })).rejects.toMatchObject({ code: 'INVALID_CONFIG' })
    await ok.stop()

    const failing = log.consumer({
      groupId: 'h',
      partitionAssigner: {
        name: 'broken',
        assign: () => {
          throw new Error('assignor failed')
        },
      },
    })
    await failing.subscribe({ topics: ['t'] })
    await expect(failing.run({ eachMessage: async () => {} })).rejects.toThrow('assignor failed')
    expect((await log.describeGroup('h')).members).toEqual([])
  })

  it('are checked when the consumer is made', () => {
    expect(() => log.consumer({ groupId: 'g', partitionAssigner: { name: '', assign: () => new Map() } })).toThrow(
      TypeError,
    )
    expect(() => log.consumer({ groupId: 'g', partitionAssigner: { name: 'x' } as never })).toThrow(TypeError)
  })
})

describe('fromBeginning per subscribe call', () => {
  it("applies to that call's topics only", async () => {
    await log.createTopic('early')
    await log.createTopic('late')
    await log.append('early', [{ value: 1 }])
    await log.append('late', [{ value: 2 }])
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['early'], fromBeginning: true })
    await c.subscribe({ topics: ['late'], fromBeginning: false })
    const seen: string[] = []
    await c.run({ eachMessage: async ({ topic, message }) => void seen.push(`${topic}:${message.offset}`) })
    await log.append('late', [{ value: 3 }])
    await until(() => seen.length === 2)
    expect(seen.sort()).toEqual(['early:0', 'late:1'])
    await c.stop()
  })
})

describe('retry options', () => {
  it('multiplier shapes the backoff and retriable() false stops the consumer at the first failure', async () => {
    await log.createTopic('t')
    await log.append('t', [{ value: 1 }])
    const waits: (number | null)[] = []
    const c = log.consumer({
      groupId: 'g',
      retry: { initialRetryTime: 5, multiplier: 3, retries: 3, retriable: (e) => !(e instanceof TypeError) },
    })
    c.on('consumer.crash', (e) => waits.push(e.retryInMs))
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    let calls = 0
    await c.run({
      eachMessage: async () => {
        calls++
        throw new Error('again')
      },
    })
    await until(() => waits.includes(null))
    expect(waits).toEqual([5, 15, 45, null])
    expect(calls).toBe(4)

    const stops: string[] = []
    const d = log.consumer({ groupId: 'h', retry: { initialRetryTime: 5, retries: 10, retriable: () => false } })
    d.on('consumer.stop', (e) => stops.push(e.memberId))
    const crashes: (number | null)[] = []
    d.on('consumer.crash', (e) => crashes.push(e.retryInMs))
    await d.subscribe({ topics: ['t'], fromBeginning: true })
    let dCalls = 0
    await d.run({
      eachMessage: async () => {
        dCalls++
        throw new TypeError('bad')
      },
    })
    await until(() => stops.length === 1)
    expect([dCalls, crashes]).toEqual([1, [null]])
  })

  it('factor draws each wait within ±factor of the backoff, and bad values are a TypeError', async () => {
    await log.createTopic('t')
    await log.append('t', [{ value: 1 }])
    const waits: number[] = []
    const c = log.consumer({ groupId: 'g', retry: { initialRetryTime: 100, multiplier: 1, factor: 0.2, retries: 20 } })
    c.on('consumer.crash', (e) => {
      if (e.retryInMs !== null) waits.push(e.retryInMs)
      if (waits.length === 3) void c.stop()
    })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    await c.run({
      eachMessage: async () => {
        throw new Error('x')
      },
    })
    await until(() => waits.length >= 3)
    for (const w of waits) expect(w >= 80 && w <= 120).toBe(true)
    expect(() => log.consumer({ groupId: 'x', retry: { factor: 2 } })).toThrow(TypeError)
    expect(() => log.consumer({ groupId: 'x', retry: { retriable: 'no' as never } })).toThrow(TypeError)
  })
})
