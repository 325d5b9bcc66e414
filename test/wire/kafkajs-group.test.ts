/**
 * kafkajs's own consumer group against `listen` on loopback: two consumers in one group get disjoint partitions
 * covering the topic and consume every message exactly once between them; when one disconnects the other takes
 * all partitions; a consumer process killed with SIGKILL frees its partitions at once (its connections close)
 * rather than after its session timeout; committed offsets are what the native `fetchOffsets`/`describeGroup`
 * show.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { type Consumer, Kafka, logLevel } from 'kafkajs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'
import { CLIENTS_DIR, killAll, REPO_ROOT, spawnLines } from '../support/wire-harness.js'

let dir: string
let log: Seglog
let kafka: Kafka
let broker: string
const consumers: Consumer[] = []

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-kafkajs-group-'))
  log = await Seglog.open(dir)
  const { host, port } = await log.listen({ port: 0 })
  broker = `${host}:${port}`
  kafka = new Kafka({ brokers: [broker], clientId: 'group-test', logLevel: logLevel.NOTHING })
})

afterEach(async () => {
  await Promise.allSettled(consumers.splice(0).map((c) => c.disconnect()))
  await killAll()
  await log.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

interface Member {
  consumer: Consumer
  /** The member's partitions after its latest join. */
  assignment: number[]
  joins: number
  seen: string[]
}

async function member(groupId: string, topic: string): Promise<Member> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 200,
    maxWaitTimeInMs: 5000,
  })
  consumers.push(consumer)
  const m: Member = { consumer, assignment: [], joins: 0, seen: [] }
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    m.joins++
    m.assignment = [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      m.seen.push(`${partition}:${message.offset}`)
    },
  })
  return m
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
  return Date.now() - start
}

async function produce(topic: string, partitions: number, perPartition: number): Promise<void> {
  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let p = 0; p < partitions; p++) {
    for (let i = 0; i < perPartition; i++) messages.push({ partition: p, key: `k${p}-${i}`, value: `v${i}` })
  }
  await producer.send({ topic, messages, acks: -1 })
  await producer.disconnect()
}

describe('kafkajs consumer group over the wire', () => {
  it('shares partitions disjointly between two members, consumes each message once, and hands all partitions to the survivor when one leaves', async () => {
    await log.createTopic('t', { partitions: 4, config: { format: 'binary' } })
    const a = await member('g', 't')
    await until('a to hold every partition', () => a.assignment.length === 4, 8000)
    // a now long-polls an empty topic (max wait 5 s); b's join must not wait for that poll to run out.
    await new Promise((r) => setTimeout(r, 300))
    const joining = Date.now()
    const b = await member('g', 't')
    await until(
      'both members to hold partitions',
      () => a.assignment.length > 0 && b.assignment.length > 0 && a.assignment.length + b.assignment.length === 4,
      8000,
    )
    expect(Date.now() - joining).toBeLessThan(2000)
    expect([...a.assignment, ...b.assignment].sort()).toEqual([0, 1, 2, 3])
    await produce('t', 4, 25)
    await produce('t', 4, 25)
    await until('200 messages', () => new Set([...a.seen, ...b.seen]).size === 200, 15_000)
    // Exactly once between them.
    expect(a.seen.length + b.seen.length).toBe(200)

    const d = await log.describeGroup('g')
    expect(d.state).toBe('Stable')
    expect(d.members.map((m) => m.assignment.length).sort()).toEqual([2, 2])

    await b.consumer.disconnect()
    await until('a to hold every partition', () => a.assignment.length === 4, 10_000)
    await until(
      'the commits of all 200 messages',
      async () => {
        const offsets = await log.fetchOffsets('g')
        return offsets.length === 4 && offsets.every((o) => o.offset === 50)
      },
      10_000,
    )
    const lag = (await log.describeGroup('g')).offsets.map((o) => o.lag)
    expect(lag).toEqual([0, 0, 0, 0])
  })

  it('moves the partitions of a consumer process killed with SIGKILL at once, without waiting for its 30 s session timeout', async () => {
    await log.createTopic('k', { partitions: 2, config: { format: 'binary' } })
    await produce('k', 2, 5)
    const child = spawnLines(
      'kafkajs-consumer',
      process.execPath,
      ['--import', 'tsx', path.join(CLIENTS_DIR, 'kafkajs-consumer.ts'), broker, 'k', 'kg'],
      { cwd: REPO_ROOT },
    )
    await child.waitForLine((l) => l === 'joined 0,1', 20_000)
    const a = await member('kg', 'k')
    await until('the child and a to share the partitions', () => a.assignment.length === 1, 10_000)
    const killedAt = Date.now()
    child.proc.kill('SIGKILL')
    await until('a to take both partitions', () => a.assignment.length === 2, 10_000)
    // The child's session timeout is 6 s (the support script's); a's heartbeats every 200 ms find the rebalance.
    expect(Date.now() - killedAt).toBeLessThan(2000)
    expect((await child.waitExit(10_000)).signal).toBe('SIGKILL')
    expect((await log.describeGroup('kg')).members).toHaveLength(1)
  })
})
