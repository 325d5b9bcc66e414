/**
 * KafkaJS behaviour, written once and run three ways (test/kafkajs/support.ts): the facade owning the directory,
 * the kafkajs package against a listening engine (the broker's behaviour), and the facade reaching a directory that
 * engine owns. Every assertion here must hold in all three, so the facade and real KafkaJS over seglog's wire
 * protocol agree on it.
 */

import * as fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { Partitioners } from '../../src/kafkajs/index.js'
import { type Consumer, deferred, type Env, groupConfig, MODES, rejection, tempDir, until } from './support.js'

const T = 90_000

let env: Env | null = null
afterEach(async () => {
  const e = env
  env = null
  if (e !== null) {
    await e.close()
    fs.rmSync(e.dir, { recursive: true, force: true })
  }
})

async function open(mode: (typeof MODES)[number], name: string): Promise<Env> {
  env = await mode.open(tempDir(name))
  return env
}

/** The partition KafkaJS's default partitioner picks for `key` among `n` partitions. */
function partitionOf(key: string, n: number): number {
  const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  }))
  return Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata, message: { key, value: null } })
}

async function createTopic(
  e: Env,
  topic: string,
  numPartitions = 1,
  configEntries: { name: string; value: string }[] = [],
) {
  const admin = e.admin()
  await admin.connect()
  expect(await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions, configEntries }] })).toBe(
    true,
  )
  return admin
}

describe.each(MODES)('KafkaJS behaviour: $name', (mode) => {
  it(
    'uses string offsets everywhere: RecordMetadata per partition, messages, batches, commits and topic offsets',
    async () => {
      const e = await open(mode, 'strings')
      const admin = await createTopic(e, 'orders', 2)
      const producer = e.producer()
      await producer.connect()
      const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5']
      const messages = keys.map((key, i) => ({
        key,
        value: Buffer.from(`value-${i}`),
        headers: { source: 'test', n: String(i) },
      }))
      const first = await producer.send({ topic: 'orders', messages })
      const perPartition = [0, 1].map((p) => keys.filter((k) => partitionOf(k, 2) === p).length)
      expect(perPartition.every((n) => n > 0)).toBe(true)
      expect(first).toHaveLength(2)
      expect(first.map((m) => [m.topicName, m.partition, m.errorCode, m.baseOffset])).toEqual([
        ['orders', 0, 0, '0'],
        ['orders', 1, 0, '0'],
      ])
      expect(first.every((m) => m.logAppendTime === '-1')).toBe(true)
      const second = await producer.send({ topic: 'orders', messages: messages.slice(0, 1) })
      const p = partitionOf('k0', 2)
      expect(second).toEqual([
        expect.objectContaining({ topicName: 'orders', partition: p, baseOffset: String(perPartition[p]) }),
      ])

      const consumer = e.consumer(groupConfig('strings'))
      const commits: { topic: string; partitions: { partition: number; offset: string }[] }[][] = []
      consumer.on(consumer.events.COMMIT_OFFSETS, (ev) => commits.push(ev.payload.topics))
      const seen: {
        partition: number
        offset: string
        timestamp: string
        key: string
        value: string
        headers: unknown
      }[] = []
      const batches: Record<string, unknown>[] = []
      await consumer.connect()
      await consumer.subscribe({ topics: ['orders'], fromBeginning: true })
      await consumer.run({
        eachBatch: async ({ batch }) => {
          batches.push({
            highWatermark: batch.highWatermark,
            firstOffset: batch.firstOffset(),
            lastOffset: batch.lastOffset(),
            offsetLag: batch.offsetLag(),
            offsetLagLow: batch.offsetLagLow(),
          })
          for (const m of batch.messages) {
            seen.push({
              partition: batch.partition,
              offset: m.offset,
              timestamp: m.timestamp,
              key: m.key!.toString(),
              value: m.value!.toString(),
              headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])),
            })
          }
        },
      })
      await until(() => seen.length === 7, 'all 7 messages')
      await until(() => commits.length > 0, 'a commit')
      await consumer.stop()
      for (const b of batches) for (const v of Object.values(b)) expect(typeof v).toBe('string')
      for (const m of seen) {
        expect(m.offset).toMatch(/^\d+$/)
        expect(m.timestamp).toMatch(/^\d{13}$/)
      }
      const k3 = seen.find((m) => m.key === 'k3')!
      expect(k3).toMatchObject({
        partition: partitionOf('k3', 2),
        value: 'value-3',
        headers: { source: 'test', n: '3' },
      })
      for (const t of commits.flat()) for (const q of t.partitions) expect(typeof q.offset).toBe('string')

      const ends = [perPartition[0] + (p === 0 ? 1 : 0), perPartition[1] + (p === 1 ? 1 : 0)]
      expect(await admin.fetchTopicOffsets('orders')).toEqual(
        expect.arrayContaining(
          ends.map((end, partition) => ({ partition, offset: String(end), high: String(end), low: '0' })),
        ),
      )
      const committed = await admin.fetchOffsets({ groupId: 'strings', topics: ['orders'] })
      expect(committed).toEqual([
        {
          topic: 'orders',
          partitions: ends.map((end, partition) => ({ partition, offset: String(end), metadata: null })),
        },
      ])
    },
    T,
  )

  it(
    "emits KafkaJS's events with KafkaJS's payloads, offsets as strings",
    async () => {
      const e = await open(mode, 'events')
      const admin = e.admin()
      const producer = e.producer()
      const consumer = e.consumer(groupConfig('events'))
      const seen = new Map<string, { keys: string[]; type: unknown; timestamp: unknown; payload: unknown }>()
      const watch = (client: { on: (n: never, l: (ev: never) => void) => unknown }, names: string[]) => {
        for (const name of names) {
          client.on(
            name as never,
            ((ev: { type: string; timestamp: number; payload: unknown }) => {
              if (!seen.has(name)) {
                seen.set(name, {
                  keys: Object.keys(ev).sort(),
                  type: ev.type,
                  timestamp: typeof ev.timestamp,
                  payload: ev.payload,
                })
              }
            }) as never,
          )
        }
      }
      watch(admin, [admin.events.CONNECT, admin.events.DISCONNECT])
      watch(producer, [producer.events.CONNECT, producer.events.DISCONNECT])
      const c = consumer.events
      watch(consumer, [
        c.CONNECT,
        c.GROUP_JOIN,
        c.FETCH_START,
        c.FETCH,
        c.START_BATCH_PROCESS,
        c.END_BATCH_PROCESS,
        c.COMMIT_OFFSETS,
        c.HEARTBEAT,
        c.STOP,
        c.DISCONNECT,
      ])
      expect(() => consumer.on('consumer.nonsense' as never, () => {})).toThrow(/Event name should be one of/)
      await admin.connect()
      await admin.createTopics({ topics: [{ topic: 'events' }] })
      await producer.connect()
      await producer.send({ topic: 'events', messages: [{ value: 'a' }, { value: 'b' }] })
      let handled = 0
      await consumer.connect()
      await consumer.subscribe({ topics: ['events'], fromBeginning: true })
      await consumer.run({
        eachMessage: async () => {
          handled++
        },
      })
      await until(
        () => handled === 2 && seen.has(c.COMMIT_OFFSETS) && seen.has(c.HEARTBEAT),
        'messages, a commit, a heartbeat',
      )
      await consumer.disconnect()
      await producer.disconnect()
      await admin.disconnect()
      for (const [name, ev] of seen) {
        expect(ev.keys, name).toEqual(['id', 'payload', 'timestamp', 'type'])
        expect([ev.type, ev.timestamp], name).toEqual([name, 'number'])
      }
      const keysOf = (name: string) => Object.keys((seen.get(name)?.payload ?? {}) as object).sort()
      for (const name of [
        'admin.connect',
        'admin.disconnect',
        'producer.connect',
        'producer.disconnect',
        c.CONNECT,
        c.STOP,
        c.DISCONNECT,
      ]) {
        expect(seen.has(name), name).toBe(true)
        expect(seen.get(name)!.payload, name).toBeUndefined()
      }
      expect(keysOf(c.GROUP_JOIN)).toEqual([
        'duration',
        'groupId',
        'groupProtocol',
        'isLeader',
        'leaderId',
        'memberAssignment',
        'memberId',
      ])
      expect(keysOf(c.FETCH_START)).toEqual(['nodeId'])
      expect(keysOf(c.FETCH)).toEqual(['duration', 'nodeId', 'numberOfBatches'])
      const batchKeys = [
        'batchSize',
        'firstOffset',
        'highWatermark',
        'lastOffset',
        'offsetLag',
        'offsetLagLow',
        'partition',
        'topic',
      ]
      expect(keysOf(c.START_BATCH_PROCESS)).toEqual(batchKeys)
      expect(keysOf(c.END_BATCH_PROCESS)).toEqual([...batchKeys, 'duration'].sort())
      expect(seen.get(c.START_BATCH_PROCESS)!.payload).toEqual({
        topic: 'events',
        partition: 0,
        highWatermark: '2',
        offsetLag: '0',
        offsetLagLow: '1',
        batchSize: 2,
        firstOffset: '0',
        lastOffset: '1',
      })
      expect(keysOf(c.COMMIT_OFFSETS)).toEqual(['groupGenerationId', 'groupId', 'memberId', 'topics'])
      expect((seen.get(c.COMMIT_OFFSETS)!.payload as { topics: unknown }).topics).toEqual([
        { topic: 'events', partitions: [{ partition: '0', offset: '2' }] },
      ])
      expect(keysOf(c.HEARTBEAT)).toEqual(['groupGenerationId', 'groupId', 'memberId'])
    },
    T,
  )

  it(
    'retries a throwing eachMessage, then crashes with KafkaJSNumberOfRetriesExceeded and restarts where it failed',
    async () => {
      const e = await open(mode, 'crash')
      await createTopic(e, 'jobs')
      const producer = e.producer()
      await producer.connect()
      await producer.send({ topic: 'jobs', messages: [{ value: 'first' }, { value: 'second' }] })
      const consumer = e.consumer(
        groupConfig('crash', { retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 } }),
      )
      const attempts = new Map<string, number>()
      const crashes: { error: Error & { retryCount?: number }; groupId: string; restart: boolean }[] = []
      let joins = 0
      const events: string[] = []
      consumer.on(consumer.events.CRASH, (ev) => {
        crashes.push(ev.payload)
        events.push('crash')
      })
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joins++
        events.push('join')
      })
      consumer.on(consumer.events.STOP, () => events.push('stop'))
      await consumer.connect()
      await consumer.subscribe({ topics: ['jobs'], fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ message }) => {
          const n = (attempts.get(message.offset) ?? 0) + 1
          attempts.set(message.offset, n)
          if (message.offset === '0' && n <= 3) throw new Error(`boom ${n}`)
        },
      })
      await until(() => attempts.has('1'), 'the second message, after the restart')
      expect(attempts.get('0')).toBe(4)
      expect(crashes).toHaveLength(1)
      expect(crashes[0].error.name).toBe('KafkaJSNumberOfRetriesExceeded')
      expect(crashes[0].error.message).toMatch(/boom 3/)
      expect(crashes[0].restart).toBe(true)
      expect(crashes[0].groupId).toBe('crash')
      expect(joins).toBe(2)
      expect(events.slice(0, 4)).toEqual(['join', 'stop', 'crash', 'join'])
    },
    T,
  )

  it(
    'crashes without retrying or restarting when eachMessage throws an error KafkaJS deems unrecoverable (TypeError)',
    async () => {
      const e = await open(mode, 'typeerror')
      await createTopic(e, 'jobs')
      const producer = e.producer()
      await producer.connect()
      await producer.send({ topic: 'jobs', messages: [{ value: 'x' }] })
      const consumer = e.consumer(groupConfig('typeerror', { retry: { retries: 3, initialRetryTime: 50 } }))
      let attempts = 0
      let joins = 0
      const crashes: { error: Error; restart: boolean }[] = []
      consumer.on(consumer.events.CRASH, (ev) => crashes.push(ev.payload))
      consumer.on(consumer.events.GROUP_JOIN, () => joins++)
      await consumer.connect()
      await consumer.subscribe({ topics: ['jobs'], fromBeginning: true })
      await consumer.run({
        eachMessage: async () => {
          attempts++
          throw new TypeError('not a function')
        },
      })
      await until(() => crashes.length === 1, 'the crash')
      await new Promise((r) => setTimeout(r, 500))
      expect(attempts).toBe(1)
      expect(crashes).toHaveLength(1)
      expect(crashes[0].error.name).toBe('KafkaJSNonRetriableError')
      expect(crashes[0].restart).toBe(false)
      expect(joins).toBe(1)
    },
    T,
  )

  it(
    'seek during run drops the rest of the in-flight batch and continues from the new offset',
    async () => {
      const e = await open(mode, 'seek')
      await createTopic(e, 'seek')
      const producer = e.producer()
      await producer.connect()
      await producer.send({ topic: 'seek', messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) })
      const consumer = e.consumer(groupConfig('seek'))
      const seen: string[] = []
      await consumer.connect()
      await consumer.subscribe({ topics: ['seek'], fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.offset)
          if (message.offset === '2') consumer.seek({ topic: 'seek', partition: 0, offset: '7' })
        },
      })
      await until(() => seen.includes('9'), 'the last message')
      expect(seen).toEqual(['0', '1', '2', '7', '8', '9'])
    },
    T,
  )

  it(
    'eachBatch with eachBatchAutoResolve false commits exactly what resolveOffset resolved; uncommittedOffsets shows it',
    async () => {
      const e = await open(mode, 'resolve')
      const admin = await createTopic(e, 'resolve')
      const producer = e.producer()
      await producer.connect()
      await producer.send({ topic: 'resolve', messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) })
      const consumer = e.consumer(groupConfig('resolve'))
      const firsts: (string | null)[] = []
      let pending: unknown = null
      await consumer.connect()
      await consumer.subscribe({ topics: ['resolve'], fromBeginning: true })
      await consumer.run({
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, uncommittedOffsets }) => {
          firsts.push(batch.firstOffset())
          if (firsts.length > 1) return
          for (const m of batch.messages) if (Number(m.offset) <= 4) resolveOffset(m.offset)
          pending = uncommittedOffsets()
        },
      })
      await until(() => firsts.length >= 2, 'the batch fetched again after the partial resolve')
      await consumer.stop()
      expect(firsts[0]).toBe('0')
      expect(firsts[1]).toBe('5')
      expect(pending).toEqual({ topics: [{ topic: 'resolve', partitions: [{ partition: '0', offset: '5' }] }] })
      expect(await admin.fetchOffsets({ groupId: 'resolve', topics: ['resolve'] })).toEqual([
        { topic: 'resolve', partitions: [{ partition: 0, offset: '5', metadata: null }] },
      ])
    },
    T,
  )

  it(
    'pause stops a partition until resume, and paused() lists it',
    async () => {
      const e = await open(mode, 'pause')
      await createTopic(e, 'pause', 2)
      const producer = e.producer()
      await producer.connect()
      const send = (partition: number, value: string) =>
        producer.send({ topic: 'pause', messages: [{ value, partition }] })
      await send(0, 'a0')
      await send(1, 'b0')
      const consumer = e.consumer(groupConfig('pause'))
      const seen: string[] = []
      await consumer.connect()
      await consumer.subscribe({ topics: ['pause'], fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push(message.value!.toString())
          if (message.value!.toString() === 'a0') consumer.pause([{ topic: 'pause', partitions: [partition] }])
        },
      })
      await until(() => seen.includes('a0') && seen.includes('b0'), 'the first message of each partition')
      expect(consumer.paused()).toEqual([{ topic: 'pause', partitions: [0] }])
      await send(0, 'a1')
      await send(1, 'b1')
      await until(() => seen.includes('b1'), 'the later message of the running partition')
      await new Promise((r) => setTimeout(r, 300))
      expect(seen).not.toContain('a1')
      consumer.resume([{ topic: 'pause', partitions: [0] }])
      expect(consumer.paused()).toEqual([])
      await until(() => seen.includes('a1'), 'the paused partition after resume')
    },
    T,
  )

  it(
    'GROUP_JOIN tells each member its assignment, the leader and the protocol; a rebalance is REBALANCING for the first',
    async () => {
      const e = await open(mode, 'join')
      await createTopic(e, 'join', 2)
      type Join = {
        groupId: string
        memberId: string
        leaderId: string
        isLeader: boolean
        memberAssignment: Record<string, number[]>
        groupProtocol: string
        duration: number
      }
      const start = async (c: Consumer, joins: Join[], rebalances: string[]) => {
        c.on(c.events.GROUP_JOIN, (ev) => joins.push(ev.payload))
        c.on(c.events.REBALANCING, (ev) => rebalances.push(ev.payload.memberId))
        await c.connect()
        await c.subscribe({ topics: ['join'] })
        await c.run({ eachMessage: async () => {} })
      }
      const a = e.consumer(groupConfig('join'))
      const b = e.consumer(groupConfig('join'))
      const aJoins: Join[] = []
      const bJoins: Join[] = []
      const aRebalances: string[] = []
      await start(a, aJoins, aRebalances)
      await until(() => aJoins.length === 1, "the first member's join")
      expect(aJoins[0]).toMatchObject({
        groupId: 'join',
        isLeader: true,
        groupProtocol: 'RoundRobinAssigner',
        memberAssignment: { join: [0, 1] },
      })
      expect(aJoins[0].leaderId).toBe(aJoins[0].memberId)
      expect(typeof aJoins[0].duration).toBe('number')
      await start(b, bJoins, [])
      await until(() => bJoins.length >= 1 && aJoins.length >= 2, 'both members joined after the rebalance')
      const lastA = aJoins[aJoins.length - 1]
      const lastB = bJoins[bJoins.length - 1]
      expect([...lastA.memberAssignment.join, ...lastB.memberAssignment.join].sort()).toEqual([0, 1])
      expect(lastA.memberAssignment.join).toHaveLength(1)
      expect(lastA.leaderId).toBe(lastB.leaderId)
      expect([lastA.isLeader, lastB.isLeader].filter(Boolean)).toHaveLength(1)
      expect([lastA.memberId, lastB.memberId]).toContain(lastA.leaderId)
      expect(aRebalances).toContain(lastA.memberId)
    },
    T,
  )

  it(
    'createTopics with cleanup.policy=compact makes a topic the cleaner compacts: the latest value per key stays',
    async () => {
      const e = await open(mode, 'compact')
      const admin = await createTopic(e, 'compacted', 1, [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'segment.bytes', value: '1024' },
        { name: 'min.cleanable.dirty.ratio', value: '0.01' },
      ])
      const producer = e.producer()
      await producer.connect()
      const keys = ['k0', 'k1', 'k2', 'k3', 'k4']
      for (let round = 0; round < 10; round++) {
        for (const key of keys) {
          await producer.send({ topic: 'compacted', messages: [{ key, value: `${key}-${round}-${'x'.repeat(60)}` }] })
        }
      }
      const [{ high }] = await admin.fetchTopicOffsets('compacted')
      expect(high).toBe('50')
      let poll = 0
      let records: { offset: number; key: string; value: string }[] = []
      const deadline = Date.now() + 40_000
      for (;;) {
        records = await readAll(e, 'compacted', 50, `compact-${poll++}`)
        if (records.length < 30 || Date.now() > deadline) break
        await new Promise((r) => setTimeout(r, 200))
      }
      expect(records.length).toBeLessThan(30)
      const latest = new Map<string, string>()
      for (const r of records) latest.set(r.key, r.value.split('-')[1])
      expect(Object.fromEntries(latest)).toEqual(Object.fromEntries(keys.map((k) => [k, '9'])))
      const offsets = records.map((r) => r.offset)
      expect(offsets).toEqual([...offsets].sort((x, y) => x - y))
      expect(offsets.at(-1)).toBe(49)
    },
    T,
  )

  it(
    'fetchOffsets shows committed offsets with their metadata, and -1 where the group committed nothing',
    async () => {
      const e = await open(mode, 'fetchoffsets')
      const admin = await createTopic(e, 'commits', 2)
      const producer = e.producer()
      await producer.connect()
      await producer.send({
        topic: 'commits',
        messages: Array.from({ length: 5 }, (_, i) => ({ value: `${i}`, partition: 0 })),
      })
      const consumer = e.consumer(groupConfig('commits'))
      let handled = 0
      await consumer.connect()
      await consumer.subscribe({ topics: ['commits'], fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachMessage: async () => {
          handled++
        },
      })
      await until(() => handled === 5, 'the five messages')
      await consumer.commitOffsets([{ topic: 'commits', partition: 0, offset: '3', metadata: 'up-to-3' }])
      await consumer.stop()
      expect(await admin.fetchOffsets({ groupId: 'commits', topics: ['commits'] })).toEqual([
        {
          topic: 'commits',
          partitions: [
            { partition: 0, offset: '3', metadata: 'up-to-3' },
            { partition: 1, offset: '-1', metadata: null },
          ],
        },
      ])
    },
    T,
  )

  it(
    'resetOffsets and setOffsets are refused while the group has running members, and work once it stopped',
    async () => {
      const e = await open(mode, 'reset')
      const admin = await createTopic(e, 'reset')
      const producer = e.producer()
      await producer.connect()
      await producer.send({ topic: 'reset', messages: Array.from({ length: 4 }, (_, i) => ({ value: `${i}` })) })
      const consumer = e.consumer(groupConfig('reset'))
      let handled = 0
      await consumer.connect()
      await consumer.subscribe({ topics: ['reset'], fromBeginning: true })
      await consumer.run({
        eachMessage: async () => {
          handled++
        },
      })
      await until(() => handled === 4, 'the four messages')
      // One call at a time: a second rejection arriving while the first is awaited would be unhandled meanwhile.
      for (const call of [
        () => admin.resetOffsets({ groupId: 'reset', topic: 'reset', earliest: true }),
        () => admin.setOffsets({ groupId: 'reset', topic: 'reset', partitions: [{ partition: 0, offset: '1' }] }),
      ]) {
        const err = await rejection(call())
        expect(err.name).toBe('KafkaJSNonRetriableError')
        expect(err.message).toMatch(/must have no running instances, current state: Stable/)
      }
      await consumer.stop()
      const offsetOf = async () =>
        (await admin.fetchOffsets({ groupId: 'reset', topics: ['reset'] }))[0].partitions[0].offset
      expect(await offsetOf()).toBe('4')
      await admin.resetOffsets({ groupId: 'reset', topic: 'reset', earliest: true })
      expect(await offsetOf()).toBe('0')
      await admin.setOffsets({ groupId: 'reset', topic: 'reset', partitions: [{ partition: 0, offset: '2' }] })
      expect(await offsetOf()).toBe('2')
    },
    T,
  )

  it(
    'createTopics returns false when every topic exists; deleteGroups reports NON_EMPTY_GROUP and GROUP_ID_NOT_FOUND',
    async () => {
      const e = await open(mode, 'groups')
      const admin = await createTopic(e, 'g')
      expect(await admin.createTopics({ topics: [{ topic: 'g' }] })).toBe(false)
      expect((await admin.listTopics()).sort()).toEqual(['g'])
      const consumer = e.consumer(groupConfig('busy'))
      let joined = false
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joined = true
      })
      await consumer.connect()
      await consumer.subscribe({ topics: ['g'] })
      await consumer.run({ eachMessage: async () => {} })
      await until(() => joined, 'the join')
      const busy = await rejection(admin.deleteGroups(['busy']))
      expect(busy.name).toBe('KafkaJSDeleteGroupsError')
      expect((busy.groups as { groupId: string; errorCode: number }[]).map((g) => [g.groupId, g.errorCode])).toEqual([
        ['busy', 68],
      ])
      const unknown = await rejection(admin.deleteGroups(['nobody']))
      expect((unknown.groups as { errorCode: number }[]).map((g) => g.errorCode)).toEqual([69])
      await consumer.stop()
      expect(await admin.deleteGroups(['busy'])).toEqual([expect.objectContaining({ groupId: 'busy', errorCode: 0 })])
    },
    T,
  )

  it(
    'fetchTopicOffsetsByTimestamp gives the first offset at or after the time, and the log end past the last record',
    async () => {
      const e = await open(mode, 'bytime')
      const admin = await createTopic(e, 'bytime')
      const producer = e.producer()
      await producer.connect()
      const t0 = 1_700_000_000_000
      await producer.send({
        topic: 'bytime',
        messages: [0, 10, 20].map((d) => ({ value: `${d}`, timestamp: String(t0 + d) })),
      })
      expect(await admin.fetchTopicOffsetsByTimestamp('bytime', t0 + 5)).toEqual([{ partition: 0, offset: '1' }])
      expect(await admin.fetchTopicOffsetsByTimestamp('bytime', t0 + 100)).toEqual([{ partition: 0, offset: '3' }])
      expect(await admin.fetchTopicOffsetsByTimestamp('bytime', t0)).toEqual([{ partition: 0, offset: '0' }])
    },
    T,
  )

  it(
    'describeConfigs shows Kafka names, string values and sources',
    async () => {
      const e = await open(mode, 'configs')
      const admin = await createTopic(e, 'conf', 1, [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'retention.ms', value: '3600000' },
      ])
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: 'conf', configNames: ['cleanup.policy', 'retention.ms', 'retention.bytes'] }],
      })
      expect(resources).toHaveLength(1)
      const byName = Object.fromEntries(resources[0].configEntries.map((c) => [c.configName, c]))
      expect(Object.keys(byName).sort()).toEqual(['cleanup.policy', 'retention.bytes', 'retention.ms'])
      expect(byName['cleanup.policy']).toMatchObject({ configValue: 'compact', configSource: 1, isDefault: false })
      expect(byName['retention.ms']).toMatchObject({ configValue: '3600000', configSource: 1, isDefault: false })
      expect(byName['retention.bytes']).toMatchObject({ configValue: '-1', configSource: 5, isDefault: true })
    },
    T,
  )
})

/** Every record of a one-partition topic up to `end`, read from the beginning by a fresh group. */
async function readAll(
  e: Env,
  topic: string,
  end: number,
  groupId: string,
): Promise<{ offset: number; key: string; value: string }[]> {
  const consumer = e.kafka.consumer(groupConfig(groupId))
  const out: { offset: number; key: string; value: string }[] = []
  const done = deferred()
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          out.push({ offset: Number(m.offset), key: m.key!.toString(), value: m.value!.toString() })
          if (Number(m.offset) >= end - 1) done.resolve()
        }
      },
    })
    await Promise.race([
      done.promise,
      new Promise((_, reject) => setTimeout(() => reject(new Error('readAll timed out')), 20_000)),
    ])
  } finally {
    await consumer.disconnect()
  }
  return out
}
