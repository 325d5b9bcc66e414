/**
 * Consumer-group rebalance scenarios beyond `consumer.test.ts`: membership changes while a producer keeps sending,
 * the round-robin assignor against Kafka's RoundRobinAssignor, and RegExp subscriptions that follow topic creation
 * and `createPartitions`.
 *
 * Handlers record, per member, which partitions they are inside right now, and every entry checks that no other
 * member is inside a handler for the same partition (handlers await a timer, so an overlap would be observable).
 * Each member's `revoke` is wrapped to note the messages whose handlers were in flight when it started: they finish
 * and are committed, so with no crash every record is handled exactly once.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Consumer, EachMessagePayload } from '../../src/clients/consumer.js'
import type { TopicPartition } from '../../src/clients/group.js'
import { Seglog } from '../../src/main.js'

let dir: string
let log: Seglog
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-rebalance-'))
  log = await Seglog.open(dir)
})
afterEach(async () => {
  await log.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function until(cond: () => boolean, what: string, ms = 15_000, detail?: () => unknown): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} ${detail ? JSON.stringify(detail()) : ''}`)
    await sleep(5)
  }
}

const tpName = (tp: TopicPartition): string => `${tp.topic}-${tp.partition}`
const sortedNames = (tps: TopicPartition[]): string[] => tps.map(tpName).sort()

/** Every partition of `topics` (name → count) exactly once over all members' assignments. */
function expectDisjointAndComplete(members: Consumer[], topics: Record<string, number>, what: string): void {
  const all = members.flatMap((m) => m.assignment().map(tpName))
  const expected = Object.entries(topics).flatMap(([t, n]) => Array.from({ length: n }, (_, p) => `${t}-${p}`))
  expect(all.slice().sort(), `${what}: assignments`).toEqual(expected.sort())
  expect(new Set(all).size, `${what}: a partition assigned twice`).toBe(all.length)
}

/**
 * Bookkeeping shared by the members of one test: how often each record (`topic:partition:offset`) was handled
 * and by whom, overlaps between members, and the records in flight when a member's revoke started.
 */
class GroupWatch {
  readonly count = new Map<string, number>()
  readonly handledBy = new Map<string, string[]>()
  readonly overlaps: string[] = []
  readonly interrupted = new Set<string>()
  /** The value each record had when handled (the last time). */
  readonly values = new Map<string, unknown>()
  /** member name → topic-partition → record key whose handler is running. */
  private readonly inside = new Map<string, Map<string, string>>()

  constructor(private readonly pauseMs: (offset: number) => number) {}

  /** Creates a member, wraps its revoke, subscribes and runs it (resolves once its join settled). */
  async member(
    name: string,
    options: { groupId: string; topics: (string | RegExp)[]; assigner?: 'range' | 'roundrobin' },
  ): Promise<Consumer> {
    const c = log.consumer({ groupId: options.groupId, clientId: name, partitionAssigner: options.assigner })
    const mine = new Map<string, string>()
    this.inside.set(name, mine)
    const revoke = c.revoke.bind(c)
    c.revoke = () => {
      for (const key of mine.values()) this.interrupted.add(key)
      return revoke()
    }
    await c.subscribe({ topics: options.topics, fromBeginning: true })
    await c.run({
      eachMessage: async ({ topic, partition, message }: EachMessagePayload) => {
        const tp = `${topic}-${partition}`
        const key = `${topic}:${partition}:${message.offset}`
        for (const [other, parts] of this.inside) {
          if (other !== name && parts.has(tp)) {
            this.overlaps.push(`${name} entered ${key} while ${other} was inside ${parts.get(tp)}`)
          }
        }
        mine.set(tp, key)
        try {
          const ms = this.pauseMs(message.offset)
          await (ms > 0 ? sleep(ms) : new Promise<void>((resolve) => setImmediate(resolve)))
          this.count.set(key, (this.count.get(key) ?? 0) + 1)
          this.values.set(key, message.value)
          const by = this.handledBy.get(key)
          if (by) by.push(name)
          else this.handledBy.set(key, [name])
        } finally {
          mine.delete(tp)
        }
      },
    })
    return c
  }

  /** Each of `keys` handled exactly once (a handler in flight at a revoke finishes and is committed). */
  expectEachOnce(keys: Iterable<string>, what: string): void {
    const missing: string[] = []
    const extra: string[] = []
    for (const key of keys) {
      const n = this.count.get(key) ?? 0
      if (n === 0) missing.push(key)
      else if (n > 1) extra.push(`${key} x${n} by ${this.handledBy.get(key)}`)
    }
    expect(missing, `${what}: records never handled`).toEqual([])
    expect(extra, `${what}: records handled more than once`).toEqual([])
    expect(this.overlaps, `${what}: a partition handled by two members at once`).toEqual([])
  }
}

describe('rebalance while producing', () => {
  it('1 → 3 → 2 members over 6 partitions with a producer sending all along: disjoint, complete, no overlap', async () => {
    await log.createTopic('t', { partitions: 6, config: { format: 'string' } })
    const producer = log.producer({ lingerMs: 1, acks: 1 })
    const produced = new Map<string, string>()
    let producing = true
    let seq = 0
    const producerLoop = (async () => {
      while (producing) {
        const messages = Array.from({ length: 12 }, () => {
          const i = seq++
          return { key: `k${i % 37}`, value: `m${i}` }
        })
        const meta = await producer.send({ topic: 't', messages })
        for (let i = 0; i < meta.length; i++)
          produced.set(`t:${meta[i].partition}:${meta[i].offset}`, messages[i].value)
        await sleep(2)
      }
    })()
    // Handlers take 0–2 ms, so partitions lag behind and handlers are in flight when a rebalance starts.
    const watch = new GroupWatch((offset) => offset % 3)
    const crashes: string[] = []
    const mk = async (name: string): Promise<Consumer> => {
      const c = await watch.member(name, { groupId: 'g', topics: ['t'] })
      c.on(c.events.CRASH, (e) => crashes.push(`${name}: ${e.error.message}`))
      return c
    }
    const steps: string[] = []
    const checkStep = async (members: Consumer[], what: string): Promise<void> => {
      expectDisjointAndComplete(members, { t: 6 }, what)
      const d = await log.describeGroup('g')
      expect(d.state, what).toBe('Stable')
      expect(d.members.map((m) => m.memberId).sort(), what).toEqual(members.map((m) => m.memberId).sort())
      for (const m of members) {
        const described = d.members.find((x) => x.memberId === m.memberId)!
        expect(sortedNames(described.assignment), what).toEqual(sortedNames(m.assignment()))
      }
      steps.push(`${what}: ${members.map((m) => m.assignment().length).join('/')} partitions, ${produced.size} sent`)
    }

    const a = await mk('a')
    await checkStep([a], '1 member')
    expect(a.assignment()).toHaveLength(6)
    await sleep(150)
    const b = await mk('b')
    await checkStep([a, b], '2 members')
    await sleep(100)
    const c = await mk('c')
    await checkStep([a, b, c], '3 members')
    for (const m of [a, b, c]) expect(m.assignment()).toHaveLength(2)
    await sleep(200)
    await b.stop()
    await checkStep([a, c], 'b left')
    for (const m of [a, c]) expect(m.assignment()).toHaveLength(3)
    await sleep(200)
    producing = false
    await producerLoop
    await producer.disconnect()

    await until(() => [...produced.keys()].every((k) => watch.count.has(k)), 'every produced record handled')
    // Nothing but what was produced, with the produced content.
    for (const [key, value] of watch.values) expect(value, `${key}: handled content`).toBe(produced.get(key))
    const ends = Array.from({ length: 6 }, (_, p) => log.offsets('t', p).logEndOffset)
    expect(ends.reduce((x, y) => x + y, 0)).toBe(produced.size)
    expect(crashes).toEqual([])
    watch.expectEachOnce(produced.keys(), '1 → 3 → 2')
    await a.stop()
    await c.stop()
    const committed = await log.fetchOffsets('g', 't')
    expect(committed.map((o) => o.offset)).toEqual(ends)
    // Each member handled only partitions it was assigned at the time; with three members every one of them
    // consumed something.
    const byMember = new Map<string, number>()
    for (const names of watch.handledBy.values()) for (const n of names) byMember.set(n, (byMember.get(n) ?? 0) + 1)
    expect([...byMember.keys()].sort()).toEqual(['a', 'b', 'c'])
    console.log(
      `rebalance 1→3→2: ${produced.size} records, ${watch.interrupted.size} in flight at a revoke, ` +
        `${[...watch.count.values()].filter((n) => n > 1).length} handled twice\n  ${steps.join('\n  ')}`,
    )
  })

  it('commits the message whose handler was in flight when the consumer stopped (no duplicate)', async () => {
    // Regression: revoke() aborts the partition before the handler in flight finishes; handleMessages used to skip
    // resolving that finished message, so the next owner handled it again although nothing crashed.
    await log.createTopic('t')
    await log.append('t', [{ value: 0 }, { value: 1 }, { value: 2 }])
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    let entered: () => void = () => {}
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const handled: number[] = []
    await c.run({
      eachMessage: async ({ message }) => {
        if (message.offset === 1) {
          entered()
          await gate
        }
        handled.push(message.offset)
      },
    })
    await inside
    const stopping = c.stop()
    await sleep(10)
    release()
    await stopping
    expect(handled).toEqual([0, 1])
    expect((await log.fetchOffsets('g'))[0].offset).toBe(2)
  })
})

describe('round-robin assignor', () => {
  it("deals 2 topics × 3 partitions over 2 members as Kafka's RoundRobinAssignor does", async () => {
    for (const t of ['a', 'b']) await log.createTopic(t, { partitions: 3, config: { format: 'string' } })
    const watch = new GroupWatch(() => 0)
    // Member ids start with the clientId, so 'm1' sorts before 'm2' (the assignor orders members by id).
    const m1 = await watch.member('m1', { groupId: 'rr', topics: ['a', 'b'], assigner: 'roundrobin' })
    const m2 = await watch.member('m2', { groupId: 'rr', topics: ['a', 'b'], assigner: 'roundrobin' })
    expect(m1.memberId < m2.memberId).toBe(true)
    // All partitions sorted by (topic, partition) — a-0 a-1 a-2 b-0 b-1 b-2 — dealt to the sorted members in turn.
    expect(sortedNames(m1.assignment())).toEqual(['a-0', 'a-2', 'b-1'])
    expect(sortedNames(m2.assignment())).toEqual(['a-1', 'b-0', 'b-2'])
    expect((await log.describeGroup('rr')).members.map((m) => sortedNames(m.assignment))).toEqual([
      ['a-0', 'a-2', 'b-1'],
      ['a-1', 'b-0', 'b-2'],
    ])
    // Records appended once both are in: each is handled by the member that owns its partition.
    for (const t of ['a', 'b']) {
      await log.append(
        t,
        Array.from({ length: 15 }, (_, i) => ({ partition: i % 3, value: `${t}${i}` })),
      )
    }
    await until(() => watch.count.size === 30, 'all 30 records')
    const owner = (key: string): string => {
      const [t, p] = key.split(':')
      return m1.assignment().some((tp) => tp.topic === t && tp.partition === Number(p)) ? 'm1' : 'm2'
    }
    for (const [key, by] of watch.handledBy) expect(by, key).toEqual([owner(key)])
    watch.expectEachOnce(watch.count.keys(), 'round robin')
    await m1.stop()
    await m2.stop()

    // Unequal subscriptions: the deal skips a member not subscribed to the partition's topic (Kafka's
    // CircularIterator): a-0 a-1 a-2 all go to m3, then b-0 → m4, b-1 → m3, b-2 → m4.
    const m3 = await watch.member('m3', { groupId: 'rr2', topics: ['a', 'b'], assigner: 'roundrobin' })
    const m4 = await watch.member('m4', { groupId: 'rr2', topics: ['b'], assigner: 'roundrobin' })
    expect(sortedNames(m3.assignment())).toEqual(['a-0', 'a-1', 'a-2', 'b-1'])
    expect(sortedNames(m4.assignment())).toEqual(['b-0', 'b-2'])
    await m3.stop()
    await m4.stop()
  })

  it('uses the assignor of the members that join an empty group, not of an earlier generation', async () => {
    // Regression: the coordinator of a group id used to keep its first member's assignor after the group emptied.
    // Kafka chooses the protocol anew when members (re)form a group.
    for (const t of ['a', 'b']) await log.createTopic(t, { partitions: 3 })
    const first = log.consumer({ groupId: 'g', clientId: 'm0' })
    await first.subscribe({ topics: ['a', 'b'] })
    await first.run({ eachMessage: async () => {} })
    await first.stop()
    const m1 = log.consumer({ groupId: 'g', clientId: 'm1', partitionAssigner: 'roundrobin' })
    const m2 = log.consumer({ groupId: 'g', clientId: 'm2', partitionAssigner: 'roundrobin' })
    for (const m of [m1, m2]) {
      await m.subscribe({ topics: ['a', 'b'] })
      await m.run({ eachMessage: async () => {} })
    }
    expect(sortedNames(m1.assignment())).toEqual(['a-0', 'a-2', 'b-1'])
    expect(sortedNames(m2.assignment())).toEqual(['a-1', 'b-0', 'b-2'])
  })
})

describe('RegExp subscriptions', () => {
  it('pick up a topic created later and partitions added by createPartitions (a rebalance each)', async () => {
    await log.createTopic('ev-1', { partitions: 2, config: { format: 'string' } })
    await log.createTopic('other', { partitions: 1, config: { format: 'string' } })
    const watch = new GroupWatch((offset) => offset % 2)
    const m1 = await watch.member('m1', { groupId: 're', topics: [/^ev-/] })
    const m2 = await watch.member('m2', { groupId: 're', topics: [/^ev-/] })
    const generations: number[] = []
    m1.on(m1.events.GROUP_JOIN, (e) => generations.push(e.generation))
    const sent = new Set<string>()
    const send = async (topic: string, partitions: number, perPartition: number): Promise<void> => {
      const messages = Array.from({ length: partitions * perPartition }, (_, i) => ({
        partition: i % partitions,
        value: `${topic}/${i}`,
      }))
      const meta = await log.append(topic, messages)
      if (topic.startsWith('ev-')) for (const m of meta) sent.add(`${topic}:${m.partition}:${m.offset}`)
    }
    await send('ev-1', 2, 5)
    await send('other', 1, 5)
    expectDisjointAndComplete([m1, m2], { 'ev-1': 2 }, 'ev-1 only')
    expect(m1.subscribedTopics()).toEqual(['ev-1'])

    // A matching topic created later: the group rebalances by itself; records appended to it right away (before
    // the rebalance got to assign it) are consumed too (fromBeginning, nothing committed).
    await log.createTopic('ev-2', { partitions: 3, config: { format: 'string' } })
    await send('ev-2', 3, 4)
    await send('ev-1', 2, 3)
    await until(() => m1.assignment().length + m2.assignment().length === 5, 'ev-2 assigned')
    expectDisjointAndComplete([m1, m2], { 'ev-1': 2, 'ev-2': 3 }, 'after createTopic ev-2')
    expect(m2.subscribedTopics()).toEqual(['ev-1', 'ev-2'])
    await until(
      () => [...sent].every((k) => watch.count.has(k)),
      'records of ev-2',
      5000,
      () => ({ missing: [...sent].filter((k) => !watch.count.has(k)), m1: m1.assignment(), m2: m2.assignment() }),
    )

    // More partitions of a subscribed topic.
    await log.createPartitions('ev-1', 4)
    await send('ev-1', 4, 3)
    await until(() => m1.assignment().length + m2.assignment().length === 7, 'new ev-1 partitions assigned')
    expectDisjointAndComplete([m1, m2], { 'ev-1': 4, 'ev-2': 3 }, 'after createPartitions ev-1')
    // Range per topic over the two members: ev-1 2 + 2, ev-2 2 + 1.
    expect(sortedNames(m1.assignment())).toEqual(['ev-1-0', 'ev-1-1', 'ev-2-0', 'ev-2-1'])
    expect(sortedNames(m2.assignment())).toEqual(['ev-1-2', 'ev-1-3', 'ev-2-2'])
    await until(() => [...sent].every((k) => watch.count.has(k)), 'records of the new ev-1 partitions')

    // A topic that does not match is never assigned nor read.
    for (const key of watch.count.keys()) expect(key.startsWith('ev-'), key).toBe(true)
    watch.expectEachOnce(sent, 'regexp subscription')
    expect(generations.length).toBeGreaterThanOrEqual(2)
    expect(generations).toEqual([...generations].sort((x, y) => x - y))
    await m1.stop()
    await m2.stop()
    const committed = new Map((await log.fetchOffsets('re')).map((o) => [`${o.topic}-${o.partition}`, o.offset]))
    for (const [t, n] of [
      ['ev-1', 4],
      ['ev-2', 3],
    ] as const) {
      for (let p = 0; p < n; p++) expect(committed.get(`${t}-${p}`), `${t}-${p}`).toBe(log.offsets(t, p).logEndOffset)
    }
    expect(committed.has('other-0')).toBe(false)
  })
})
