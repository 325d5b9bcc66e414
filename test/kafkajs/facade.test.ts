/**
 * What only the facade does (the shared behaviour is in behaviour.test.ts): sharing one engine per directory,
 * reaching or refusing a directory another owner holds, the not-implemented features, the translation of engine
 * errors to KafkaJS's, partitioners and the consumer protocol byte for byte like kafkajs's, logging, codecs,
 * custom assignors, instant joins, and the admin calls with facade-specific answers.
 */
import * as fs from 'node:fs'
import * as KafkaJS from 'kafkajs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fromKafkaJS } from '../../src/kafkajs/errors.js'
import {
  AssignerProtocol,
  CompressionCodecs,
  CompressionTypes,
  ConfigResourceTypes,
  Kafka,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  type LogEntry,
  logLevel,
  type PartitionAssigner,
  Partitioners,
} from '../../src/kafkajs/index.js'
import { Seglog } from '../../src/main.js'
import { mulberry32 } from '../support/random.js'
import { baseConfig, deferred, groupConfig, rejection, tempDir, until } from './support.js'

let dir: string
const cleanups: (() => Promise<unknown>)[] = []
beforeEach(() => {
  dir = tempDir('facade')
})
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

function kafka(extra: Parameters<typeof baseConfig>[0] = {}): Kafka {
  return new Kafka(baseConfig({ dir, ...extra }))
}

/** A client that the test disconnects at the end whatever happens. */
function later<T extends { disconnect(): Promise<void> }>(c: T): T {
  cleanups.push(() => c.disconnect())
  return c
}

async function lockedOpen(): Promise<string | null> {
  try {
    const log = await Seglog.open(dir)
    await log.close()
    return null
  } catch (err) {
    return (err as { code?: string }).code ?? 'error'
  }
}

describe('seglog/kafkajs: the directory', () => {
  it('several Kafka instances on one directory share one engine, opened on the first connect and closed by the last disconnect', async () => {
    const a = kafka()
    const b = kafka()
    const producer = a.producer()
    const consumer = b.consumer(groupConfig('share'))
    expect(await lockedOpen()).toBe(null)
    await producer.connect()
    expect(await lockedOpen()).toBe('ENGINE_LOCKED')
    await producer.send({ topic: 'shared', messages: [{ value: 'from a' }] })
    const got = deferred<string>()
    await consumer.connect()
    await consumer.subscribe({ topics: ['shared'], fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => got.resolve(message.value!.toString()) })
    expect(await got.promise).toBe('from a')
    await producer.disconnect()
    expect(await lockedOpen()).toBe('ENGINE_LOCKED')
    await consumer.disconnect()
    expect(await lockedOpen()).toBe(null)
    // And it opens again for a later client.
    const again = a.admin()
    await again.connect()
    expect(await again.listTopics()).toEqual(['shared'])
    await again.disconnect()
  })

  it('takes the directory from SEGLOG_DIR when the config names only brokers, and refuses a config with neither', async () => {
    const saved = process.env.SEGLOG_DIR
    try {
      process.env.SEGLOG_DIR = dir
      const admin = new Kafka({ brokers: ['localhost:9092'], logLevel: logLevel.NOTHING }).admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic: 'from-env' }] })
      await admin.disconnect()
      delete process.env.SEGLOG_DIR
      expect(() => new Kafka({ brokers: ['localhost:9092'] })).toThrow(KafkaJSNonRetriableError)
      expect(() => new Kafka({ brokers: ['localhost:9092'] })).toThrow(/SEGLOG_DIR/)
    } finally {
      if (saved === undefined) delete process.env.SEGLOG_DIR
      else process.env.SEGLOG_DIR = saved
    }
    const log = await Seglog.open(dir)
    expect(log.listTopics()).toEqual(['from-env'])
    await log.close()
  })

  it('refuses a directory whose owner does not listen, with a KafkaJSConnectionError naming the owner and how to make it listen', async () => {
    const owner = await Seglog.open(dir)
    cleanups.push(() => owner.close())
    const producer = kafka({ connectionTimeout: 200 }).producer()
    const err = await rejection(producer.connect())
    expect(err).toBeInstanceOf(KafkaJSError)
    expect(err.name).toBe('KafkaJSConnectionError')
    expect(err.code).toBe('ENGINE_LOCKED')
    expect(err.retriable).toBe(false)
    expect(err.message).toContain(`pid ${process.pid}`)
    expect(err.message).toContain('listen: { port: 0 }')
    expect(err.message).toContain('seglog serve')
    // Once the owner listens, the same client reaches it.
    await owner.listen({ port: 0 })
    await producer.connect()
    const [meta] = await producer.send({ topic: 'through', messages: [{ value: 'x' }] })
    expect(meta.baseOffset).toBe('0')
    await producer.disconnect()
    expect((await owner.read('through', 0, 0))[0].value).toEqual(Buffer.from('x'))
  })

  it("through another owner's listener, kafkajs's errors and CRASH errors arrive as the facade's classes", async () => {
    const owner = await Seglog.open(dir, { listen: { port: 0 } })
    cleanups.push(() => owner.close())
    const k = kafka()
    const admin = later(k.admin())
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'remote', numPartitions: 2 }] })
    const shrink = await rejection(admin.createPartitions({ topicPartitions: [{ topic: 'remote', count: 1 }] }))
    expect(shrink).toBeInstanceOf(KafkaJSProtocolError)
    expect(shrink.type).toBe('INVALID_PARTITIONS')
    const producer = later(k.producer())
    await producer.connect()
    await producer.send({ topic: 'remote', messages: [{ value: 'x', partition: 0 }] })
    const consumer = later(
      k.consumer(groupConfig('remote', { retry: { retries: 0, restartOnFailure: async () => false } })),
    )
    const crash = deferred<Error>()
    consumer.on(consumer.events.CRASH, (e) => crash.resolve(e.payload.error))
    await consumer.connect()
    await consumer.subscribe({ topics: ['remote'], fromBeginning: true })
    await consumer.run({
      eachMessage: async () => {
        throw new Error('remote boom')
      },
    })
    const error = await crash.promise
    expect(error).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded)
    expect(error).toBeInstanceOf(KafkaJSError)
  })

  it('opens the directory listening when SEGLOG_LISTEN is set, so kafkajs reaches what the facade owns', async () => {
    const saved = process.env.SEGLOG_LISTEN
    process.env.SEGLOG_LISTEN = '127.0.0.1:0'
    const producer = later(kafka().producer())
    try {
      await producer.connect()
    } finally {
      if (saved === undefined) delete process.env.SEGLOG_LISTEN
      else process.env.SEGLOG_LISTEN = saved
    }
    await producer.send({ topic: 'served', messages: [{ key: 'k', value: 'v' }] })
    const owner = JSON.parse(fs.readFileSync(`${dir}/.seglog/owner.json`, 'utf8'))
    expect(owner.pid).toBe(process.pid)
    const real = new KafkaJS.Kafka({ brokers: [`${owner.listener.host}:${owner.listener.port}`], logLevel: 0 })
    const admin = real.admin()
    await admin.connect()
    expect(await admin.fetchTopicOffsets('served')).toEqual([{ partition: 0, offset: '1', high: '1', low: '0' }])
    await admin.disconnect()
  })
})

describe('seglog/kafkajs: what is not implemented', () => {
  it('throws KafkaJSNotImplemented naming transactions and idempotent producers, never a silent no-op', async () => {
    const k = kafka()
    expect(() => k.producer({ idempotent: true })).toThrow(
      expect.objectContaining({ name: 'KafkaJSNotImplemented', retriable: false }),
    )
    expect(() => k.producer({ idempotent: true })).toThrow(/idempotent producers/)
    const producer = later(k.producer({ transactionalId: 'tx' }))
    await producer.connect()
    const err = await rejection(producer.transaction())
    expect(err.name).toBe('KafkaJSNotImplemented')
    expect(err).toBeInstanceOf(KafkaJSNonRetriableError)
    expect(err.message).toMatch(/transactions/)
    expect(producer.isIdempotent()).toBe(false)
  })

  it('throws KafkaJSNotImplemented for ACLs and reassignments, and describes a one-broker cluster', async () => {
    const admin = later(kafka().admin())
    await admin.connect()
    const filter = {
      resourceType: 2,
      resourceName: 't',
      resourcePatternType: 3,
      operation: 2,
      permissionType: 3,
    }
    for (const call of [
      () => admin.describeAcls(filter),
      () => admin.deleteAcls({ filters: [filter] }),
      () => admin.createAcls({ acl: [{ ...filter, principal: 'User:x', host: '*' }] }),
      () => admin.alterPartitionReassignments({ topics: [] }),
    ]) {
      const err = await rejection(call())
      expect(err.name).toBe('KafkaJSNotImplemented')
    }
    expect(await admin.listPartitionReassignments({})).toEqual({ topics: [] })
    const cluster = await admin.describeCluster()
    expect(cluster.controller).toBe(0)
    expect(cluster.brokers).toEqual([{ nodeId: 0, host: '127.0.0.1', port: 0 }])
    expect(typeof cluster.clusterId).toBe('string')
  })
})

describe('seglog/kafkajs: errors', () => {
  it("reports engine failures as KafkaJSProtocolError with Kafka's type and code (the SeglogError as cause)", async () => {
    const k = kafka()
    const admin = later(k.admin())
    await admin.connect()
    await admin.createTopics({
      topics: [{ topic: 'small', configEntries: [{ name: 'max.message.bytes', value: '200' }] }],
    })
    const producer = later(k.producer({ allowAutoTopicCreation: false }))
    await producer.connect()

    const missing = await rejection(producer.send({ topic: 'missing', messages: [{ value: 'x' }] }))
    expect(missing).toBeInstanceOf(KafkaJSProtocolError)
    expect([missing.type, missing.code, missing.retriable]).toEqual(['UNKNOWN_TOPIC_OR_PARTITION', 3, true])

    const big = await rejection(producer.send({ topic: 'small', messages: [{ value: Buffer.alloc(500) }] }))
    expect([big.type, big.code]).toEqual(['MESSAGE_TOO_LARGE', 10])
    expect((big.cause as { code?: string }).code).toBe('RECORD_TOO_LARGE')

    const shrink = await rejection(admin.createPartitions({ topicPartitions: [{ topic: 'small', count: 1 }] }))
    expect([shrink.type, shrink.code]).toEqual(['INVALID_PARTITIONS', 37])

    const created = await rejection(
      admin.createTopics({
        topics: [
          { topic: 'bad name!' },
          { topic: 'bad-config', configEntries: [{ name: 'cleanup.policy', value: 'sometimes' }] },
          { topic: 'small' },
        ],
      }),
    )
    expect(created.name).toBe('KafkaJSAggregateError')
    expect(
      (created.errors as KafkaJSProtocolError[]).map((e) => [e.name, (e as { topic?: string }).topic, e.type]),
    ).toEqual([
      ['KafkaJSCreateTopicError', 'bad name!', 'INVALID_TOPIC_EXCEPTION'],
      ['KafkaJSCreateTopicError', 'bad-config', 'INVALID_CONFIG'],
      ['KafkaJSCreateTopicError', 'small', 'TOPIC_ALREADY_EXISTS'],
    ])
    const unknown = await rejection(admin.fetchTopicMetadata({ topics: ['nope'] }))
    expect(unknown.type).toBe('UNKNOWN_TOPIC_OR_PARTITION')
  })

  it('checks a send the way KafkaJS does: disconnected, value undefined, no topic, a codec that is not registered', async () => {
    const producer = later(kafka().producer())
    const before = await rejection(producer.send({ topic: 't', messages: [{ value: 'x' }] }))
    expect([before.name, before.message]).toEqual(['KafkaJSError', 'The producer is disconnected'])
    await producer.connect()
    const noValue = await rejection(producer.send({ topic: 't', messages: [{ key: 'k' } as never] }))
    expect(noValue.name).toBe('KafkaJSNonRetriableError')
    expect(noValue.message).toMatch(/Invalid message without value for topic "t"/)
    expect((await rejection(producer.sendBatch({ topicMessages: [{ topic: '', messages: [] }] }))).message).toBe(
      'Invalid topic',
    )
    const snappy = await rejection(
      producer.send({ topic: 't', compression: CompressionTypes.Snappy, messages: [{ value: 'x' }] }),
    )
    expect(snappy.name).toBe('KafkaJSNotImplemented')
    expect(snappy.message).toMatch(/Snappy compression not implemented/)
    const saved = CompressionCodecs[CompressionTypes.Snappy]
    try {
      CompressionCodecs[CompressionTypes.Snappy] = () => ({
        compress: async (b: Buffer) => b,
        decompress: async (b: Buffer) => b,
      })
      const [meta] = await producer.send({
        topic: 't',
        compression: CompressionTypes.Snappy,
        messages: [{ value: 'x' }],
      })
      expect(meta.baseOffset).toBe('0')
    } finally {
      CompressionCodecs[CompressionTypes.Snappy] = saved
    }
    const [gz] = await producer.send({ topic: 't', compression: CompressionTypes.GZIP, messages: [{ value: 'y' }] })
    expect(gz.baseOffset).toBe('1')
    await producer.disconnect()
    const after = await rejection(producer.send({ topic: 't', messages: [{ value: 'x' }] }))
    expect(after.message).toBe('The producer is disconnected')
  })

  it("turns the kafkajs package's errors into the facade's classes, nested errors included", () => {
    const cause = new KafkaJS.KafkaJSProtocolError('boom')
    const exceeded = new KafkaJS.KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 3, retryTime: 120 })
    const got = fromKafkaJS(exceeded)
    expect(got).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded)
    expect(got).toBeInstanceOf(KafkaJSNonRetriableError)
    expect([got.retryCount, got.retryTime, got.message, got.stack]).toEqual([3, 120, exceeded.message, exceeded.stack])
    expect(got.cause).toBeInstanceOf(KafkaJSProtocolError)
    const groups = fromKafkaJS(
      new KafkaJS.KafkaJSDeleteGroupsError('Error in DeleteGroups', [
        { groupId: 'g', errorCode: 68, error: new KafkaJS.KafkaJSProtocolError('non empty') },
      ]),
    )
    expect(groups.groups[0].error).toBeInstanceOf(KafkaJSProtocolError)
    const plain = new Error('mine')
    expect(fromKafkaJS(plain)).toBe(plain)
  })
})

describe('seglog/kafkajs: partitioners, consumer protocol, logging', () => {
  it('places keys exactly where kafkajs’s DefaultPartitioner and LegacyPartitioner do (seed 1212)', () => {
    const random = mulberry32(1212)
    for (const [mine, theirs] of [
      [Partitioners.DefaultPartitioner(), KafkaJS.Partitioners.DefaultPartitioner()],
      [Partitioners.LegacyPartitioner(), KafkaJS.Partitioners.LegacyPartitioner()],
    ] as const) {
      for (let i = 0; i < 2000; i++) {
        const n = 1 + Math.floor(random() * 64)
        const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({
          partitionErrorCode: 0,
          partitionId,
          leader: 0,
          replicas: [0],
          isr: [0],
        }))
        const len = Math.floor(random() * 40)
        const bytes = Buffer.from(Array.from({ length: len }, () => Math.floor(random() * 256)))
        const key = i % 2 === 0 ? bytes : bytes.toString('hex')
        const message = { key, value: null }
        expect(mine({ topic: 't', partitionMetadata, message })).toBe(
          theirs({ topic: 't', partitionMetadata, message }),
        )
      }
    }
  })

  it('sends null keys round-robin over the partitions, and an explicit partition as given', () => {
    const partitionMetadata = [0, 1, 2].map((partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
    }))
    const p = Partitioners.DefaultPartitioner()
    const picks = Array.from({ length: 6 }, () => p({ topic: 't', partitionMetadata, message: { value: 'x' } }))
    expect(new Set(picks.slice(0, 3)).size).toBe(3)
    expect(picks.slice(3)).toEqual(picks.slice(0, 3))
    expect(p({ topic: 't', partitionMetadata, message: { value: 'x', key: 'k', partition: 2 } })).toBe(2)
  })

  it('encodes member metadata and assignments byte for byte like kafkajs, and decodes its bytes', () => {
    const metadata = { version: 1, topics: ['a', 'bé'], userData: Buffer.from([1, 2, 3]) }
    const assignment = { version: 0, assignment: { a: [0, 2], bé: [1] }, userData: Buffer.alloc(0) }
    const theirsMeta = KafkaJS.AssignerProtocol.MemberMetadata.encode(metadata)
    const theirsAssign = KafkaJS.AssignerProtocol.MemberAssignment.encode(assignment)
    expect(AssignerProtocol.MemberMetadata.encode(metadata)).toEqual(theirsMeta)
    expect(AssignerProtocol.MemberAssignment.encode(assignment)).toEqual(theirsAssign)
    expect(AssignerProtocol.MemberMetadata.decode(theirsMeta)).toEqual(metadata)
    expect(AssignerProtocol.MemberAssignment.decode(theirsAssign)).toEqual(assignment)
    expect(AssignerProtocol.MemberAssignment.decode(Buffer.alloc(0))).toBe(null)
  })

  it('hands namespaced entries to logCreator at the configured level; KAFKAJS_LOG_LEVEL overrides it', async () => {
    const entries: LogEntry[] = []
    const creator = (level: logLevel) => {
      entries.push({ namespace: 'created', level, label: '', log: { timestamp: '', message: 'creator' } })
      return (e: LogEntry) => entries.push(e)
    }
    const k = kafka({ logLevel: logLevel.INFO, logCreator: creator })
    expect(entries[0].level).toBe(logLevel.INFO)
    const consumer = later(k.consumer(groupConfig('logs')))
    await consumer.connect()
    await consumer.subscribe({ topics: ['logs'] })
    await consumer.run({ eachMessage: async () => {} })
    await consumer.disconnect()
    const info = entries.filter((e) => e.namespace === 'Consumer' && e.label === 'INFO').map((e) => e.log.message)
    expect(info).toEqual(expect.arrayContaining(['Starting', 'Consumer has joined the group', 'Stopped']))
    const joined = entries.find((e) => e.log.message === 'Consumer has joined the group')!
    expect(joined.log).toMatchObject({ logger: 'kafkajs', groupId: 'logs' })
    expect(entries.some((e) => e.label === 'DEBUG')).toBe(false)
    k.logger().debug('hidden')
    expect(entries.some((e) => e.log.message === 'hidden')).toBe(false)

    const saved = process.env.KAFKAJS_LOG_LEVEL
    process.env.KAFKAJS_LOG_LEVEL = 'debug'
    try {
      const seen: LogEntry[] = []
      const loud = kafka({ logLevel: logLevel.ERROR, logCreator: () => (e) => seen.push(e) })
      loud.logger().debug('shown', { extra: 1 })
      expect(seen.map((e) => [e.label, e.log.message, e.log.extra])).toEqual([['DEBUG', 'shown', 1]])
    } finally {
      if (saved === undefined) delete process.env.KAFKAJS_LOG_LEVEL
      else process.env.KAFKAJS_LOG_LEVEL = saved
    }
  })
})

describe('seglog/kafkajs: consumer groups in one process', () => {
  it('joins at once: run() resolves and GROUP_JOIN arrives in well under a second', async () => {
    const k = kafka()
    const consumer = later(k.consumer({ groupId: 'fast' }))
    let duration = -1
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      duration = e.payload.duration
    })
    await consumer.connect()
    await consumer.subscribe({ topics: ['fast'] })
    const started = Date.now()
    await consumer.run({ eachMessage: async () => {} })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(duration).toBeGreaterThanOrEqual(0)
    expect(duration).toBeLessThan(1000)
  })

  it('uses custom partitionAssigners with KafkaJS-shaped members (metadata with user data) and a cluster', async () => {
    const k = kafka()
    const seenMembers: { memberId: string; topics: string[]; userData: string }[][] = []
    // Everything to the member whose id sorts last.
    const lastTakesAll: PartitionAssigner = ({ cluster }) => ({
      name: 'LastTakesAll',
      version: 1,
      async assign({ members, topics }) {
        seenMembers.push(
          members.map((m) => {
            const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata)!
            return { memberId: m.memberId, topics: meta.topics, userData: meta.userData.toString() }
          }),
        )
        const ids = members.map((m) => m.memberId).sort()
        const assignment = Object.fromEntries(
          topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).map((p) => p.partitionId)]),
        )
        return ids.map((memberId) => ({
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment: memberId === ids.at(-1) ? assignment : {},
            userData: Buffer.alloc(0),
          }),
        }))
      },
      protocol({ topics }) {
        return {
          name: 'LastTakesAll',
          metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.from('hello') }),
        }
      },
    })
    const admin = later(k.admin())
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'custom', numPartitions: 3 }] })
    const joins = new Map<string, Record<string, number[]>>()
    const protocols = new Set<string>()
    for (let i = 0; i < 2; i++) {
      const c = later(k.consumer({ groupId: 'custom', partitionAssigners: [lastTakesAll] }))
      c.on(c.events.GROUP_JOIN, (e) => {
        joins.set(e.payload.memberId, e.payload.memberAssignment)
        protocols.add(e.payload.groupProtocol)
      })
      await c.connect()
      await c.subscribe({ topics: ['custom'] })
      await c.run({ eachMessage: async () => {} })
    }
    await until(() => joins.size === 2, 'both members joined')
    const ids = [...joins.keys()].sort()
    expect(joins.get(ids[1])).toEqual({ custom: [0, 1, 2] })
    expect(joins.get(ids[0])).toEqual({})
    expect([...protocols]).toEqual(['LastTakesAll'])
    expect(seenMembers.at(-1)!.map((m) => [m.topics, m.userData])).toEqual([
      [['custom'], 'hello'],
      [['custom'], 'hello'],
    ])
  })

  it('refuses a member whose assignors lack the group protocol: CRASH with INCONSISTENT_GROUP_PROTOCOL, no restart', async () => {
    const k = kafka()
    const first = later(k.consumer({ groupId: 'mixed' }))
    await first.connect()
    await first.subscribe({ topics: ['mixed'] })
    await first.run({ eachMessage: async () => {} })
    const other: PartitionAssigner = (args) => ({ ...KafkaJS.PartitionAssigners.roundRobin(args), name: 'Other' })
    const second = later(k.consumer({ groupId: 'mixed', partitionAssigners: [other] }))
    const crash = deferred<{ error: Error; restart: boolean }>()
    second.on(second.events.CRASH, (e) => crash.resolve(e.payload))
    await second.connect()
    await second.subscribe({ topics: ['mixed'] })
    await second.run({ eachMessage: async () => {} })
    const { error, restart } = await crash.promise
    expect(restart).toBe(false)
    expect(((error.cause as KafkaJSProtocolError) ?? error).type).toBe('INCONSISTENT_GROUP_PROTOCOL')
  })

  it('describeGroup shows members with consumer-protocol Buffers; HEARTBEAT fires while running', async () => {
    const k = kafka()
    const consumer = later(k.consumer({ groupId: 'described', heartbeatInterval: 50 }))
    let beats = 0
    consumer.on(consumer.events.HEARTBEAT, (e) => {
      expect(e.payload.groupId).toBe('described')
      beats++
    })
    await consumer.connect()
    await consumer.subscribe({ topics: ['described'] })
    await consumer.run({ eachMessage: async () => {} })
    const d = await consumer.describeGroup()
    expect([d.groupId, d.state, d.protocol, d.protocolType]).toEqual([
      'described',
      'Stable',
      'RoundRobinAssigner',
      'consumer',
    ])
    expect(d.members).toHaveLength(1)
    expect(AssignerProtocol.MemberMetadata.decode(d.members[0].memberMetadata)!.topics).toEqual(['described'])
    expect(AssignerProtocol.MemberAssignment.decode(d.members[0].memberAssignment)!.assignment).toEqual({
      described: [0],
    })
    await until(() => beats >= 2, 'two heartbeats')
    const admin = later(k.admin())
    expect((await admin.describeGroups(['described', 'never']))!.groups.map((g) => g.state)).toEqual(['Stable', 'Dead'])
  })

  it('does not restart when restartOnFailure resolves false, and subscribe() is refused while running', async () => {
    const k = kafka()
    const producer = later(k.producer())
    await producer.connect()
    await producer.send({ topic: 'norestart', messages: [{ value: 'x' }] })
    const asked: Error[] = []
    const consumer = later(
      k.consumer(
        groupConfig('norestart', {
          retry: {
            retries: 0,
            initialRetryTime: 10,
            restartOnFailure: async (e) => {
              asked.push(e)
              return false
            },
          },
        }),
      ),
    )
    const crash = deferred<boolean>()
    consumer.on(consumer.events.CRASH, (e) => crash.resolve(e.payload.restart))
    await consumer.connect()
    await consumer.subscribe({ topics: [/^norest/], fromBeginning: true })
    await consumer.run({
      eachMessage: async () => {
        throw new Error('no')
      },
    })
    const busy = await rejection(consumer.subscribe({ topics: ['other'] }))
    expect(busy.message).toBe('Cannot subscribe to topic while consumer is running')
    expect(await crash.promise).toBe(false)
    expect(asked.map((e) => e.name)).toEqual(['KafkaJSNumberOfRetriesExceeded'])
    expect(await lockedOpen()).toBe('ENGINE_LOCKED')
  })
})

describe('seglog/kafkajs: admin answers', () => {
  it("alterConfigs replaces a topic's config (Kafka's non-incremental semantics), keeping its format", async () => {
    const admin = later(kafka().admin())
    await admin.connect()
    await admin.createTopics({
      topics: [{ topic: 'alter', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
    })
    const result = await admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: 'alter', configEntries: [{ name: 'retention.ms', value: '60000' }] },
      ],
    })
    expect(result.resources).toEqual([{ errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'alter' }])
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'alter',
          configNames: ['cleanup.policy', 'retention.ms', 'seglog.format'],
        },
      ],
    })
    expect(Object.fromEntries(resources[0].configEntries.map((c) => [c.configName, c.configValue]))).toEqual({
      'cleanup.policy': 'delete',
      'retention.ms': '60000',
      'seglog.format': 'binary',
    })
  })

  it('deleteTopicRecords with -1 empties a partition; fetchOffsets with resolveOffsets commits the log end where nothing was', async () => {
    const k = kafka()
    const admin = later(k.admin())
    const producer = later(k.producer())
    await producer.connect()
    await producer.send({ topic: 'records', messages: [{ value: 'a' }, { value: 'b' }] })
    await admin.deleteTopicRecords({ topic: 'records', partitions: [{ partition: 0, offset: '-1' }] })
    expect(await admin.fetchTopicOffsets('records')).toEqual([{ partition: 0, offset: '2', high: '2', low: '2' }])
    const missing = await rejection(
      admin.deleteTopicRecords({ topic: 'records', partitions: [{ partition: 5, offset: '1' }] }),
    )
    expect(missing.name).toBe('KafkaJSDeleteTopicRecordsError')
    expect(await admin.fetchOffsets({ groupId: 'fresh', topics: ['records'], resolveOffsets: true })).toEqual([
      { topic: 'records', partitions: [{ partition: 0, offset: '2', metadata: null }] },
    ])
    expect(await admin.fetchOffsets({ groupId: 'fresh' })).toEqual([
      { topic: 'records', partitions: [{ partition: 0, offset: '2', metadata: null }] },
    ])
  })

  it("stores a send's bytes as a value of a native topic's format, hands the bytes back, and refuses bytes that are not", async () => {
    const k = kafka()
    const admin = later(k.admin())
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'json', configEntries: [{ name: 'seglog.format', value: 'json' }] }] })
    const producer = later(k.producer())
    await producer.connect()
    await producer.send({ topic: 'json', messages: [{ value: '{"total":9.5}' }] })
    const bad = await rejection(producer.send({ topic: 'json', messages: [{ value: 'not json' }] }))
    expect([bad.type, bad.code]).toEqual(['INVALID_RECORD', 87])
    const consumer = later(k.consumer({ groupId: 'json' }))
    const got = deferred<string>()
    await consumer.connect()
    await consumer.subscribe({ topics: ['json'], fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => got.resolve(message.value!.toString()) })
    expect(JSON.parse(await got.promise)).toEqual({ total: 9.5 })
  })
})
