import { afterEach, describe, expect, it } from 'vitest'
import { type Served, serve } from '../../support/wire-engine.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

type TopicErrors = { topicErrors: { topic: string; errorCode: number; errorMessage?: string }[] }

async function create(s: Served, topics: Record<string, unknown>[], validateOnly = false) {
  const c = await s.connect()
  const r = await s.call<TopicErrors>(c, 'createTopics', 3, { topics, validateOnly, timeout: 5000 })
  c.destroy()
  return r.topicErrors
}

describe('CreateTopics handler', () => {
  it('answers REQUEST_TIMED_OUT for topics not created within timeout_ms, and their creation completes after', async () => {
    served = await serve()
    const c = await served.connect()
    const started = Date.now()
    const r = await served.call<TopicErrors>(c, 'createTopics', 3, {
      topics: [{ topic: 'small' }, { topic: 'wide', numPartitions: 100 }],
      validateOnly: false,
      timeout: 1,
    })
    c.destroy()
    expect(Date.now() - started).toBeLessThan(2000)
    const codes = Object.fromEntries(r.topicErrors.map((e) => [e.topic, e.errorCode]))
    expect(codes.wide).toBe(7)
    const deadline = Date.now() + 60_000
    while (served.log.listTopics().length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20))
    await new Promise((res) => setTimeout(res, 50))
    expect(served.log.listTopics().sort()).toEqual(['small', 'wide'])
    expect(served.log.describeTopic('wide').partitions).toHaveLength(100)
  })

  it("creates topics with Kafka's dotted config names, as format binary", async () => {
    served = await serve()
    const errors = await create(served, [
      {
        topic: 'c',
        numPartitions: 3,
        replicationFactor: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'retention.ms', value: '3600000' },
          { name: 'max.message.bytes', value: '2048' },
          { name: 'min.cleanable.dirty.ratio', value: '0.25' },
          { name: 'min.insync.replicas', value: '2' },
        ],
      },
      { topic: 'plain' },
    ])
    expect(errors.map((e) => [e.topic, e.errorCode])).toEqual([
      ['c', 0],
      ['plain', 0],
    ])
    const d = served.log.describeTopic('c')
    expect(d.partitions.length).toBe(3)
    expect(d.config).toMatchObject({
      cleanupPolicy: 'compact',
      retentionMs: 3600000,
      maxMessageBytes: 2048,
      minCleanableDirtyRatio: 0.25,
      format: 'binary',
    })
    expect(served.log.describeTopic('plain').partitions.length).toBe(1)
  })

  it("reads Kafka's Long.MAX_VALUE as forever", async () => {
    served = await serve()
    await create(served, [{ topic: 'f', configEntries: [{ name: 'retention.ms', value: '9223372036854775807' }] }])
    expect(served.log.describeTopic('f').config.retentionMs).toBe(Number.MAX_SAFE_INTEGER)
  })

  it('answers TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG and INVALID_TOPIC_EXCEPTION per topic', async () => {
    served = await serve()
    await served.log.createTopic('exists', { config: { format: 'binary' } })
    const errors = await create(served, [
      { topic: 'exists' },
      { topic: 'zero', numPartitions: 0 },
      { topic: 'rf3', replicationFactor: 3 },
      { topic: 'unknown-config', configEntries: [{ name: 'no.such.config', value: '1' }] },
      { topic: 'bad-value', configEntries: [{ name: 'retention.ms', value: 'soon' }] },
      { topic: 'bad-policy', configEntries: [{ name: 'cleanup.policy', value: 'sometimes' }] },
      { topic: 'bad name' },
      { topic: 'ok' },
    ])
    expect(errors.map((e) => [e.topic, e.errorCode])).toEqual([
      ['bad name', 17],
      ['bad-policy', 40],
      ['bad-value', 40],
      ['exists', 36],
      ['ok', 0],
      ['rf3', 38],
      ['unknown-config', 40],
      ['zero', 37],
    ])
    expect(errors.find((e) => e.topic === 'bad-value')?.errorMessage).toMatch(/retention\.ms=soon/)
    expect(served.log.listTopics().sort()).toEqual(['exists', 'ok'])
  })

  it('validate_only checks everything and creates nothing', async () => {
    served = await serve()
    await served.log.createTopic('exists', { config: { format: 'binary' } })
    const errors = await create(
      served,
      [
        { topic: 'new', numPartitions: 2 },
        { topic: 'exists' },
        { topic: 'cfg', configEntries: [{ name: 'segment.bytes', value: '1' }] },
      ],
      true,
    )
    expect(errors.map((e) => [e.topic, e.errorCode])).toEqual([
      ['cfg', 40],
      ['exists', 36],
      ['new', 0],
    ])
    expect(served.log.listTopics()).toEqual(['exists'])
  })

  it('takes the partition count from a replica assignment on broker 0 and refuses other brokers', async () => {
    served = await serve()
    const errors = await create(served, [
      {
        topic: 'assigned',
        replicaAssignment: [
          { partition: 0, replicas: [0] },
          { partition: 1, replicas: [0] },
        ],
      },
      { topic: 'elsewhere', replicaAssignment: [{ partition: 0, replicas: [1] }] },
    ])
    expect(errors.map((e) => [e.topic, e.errorCode])).toEqual([
      ['assigned', 0],
      ['elsewhere', 39],
    ])
    expect(served.log.describeTopic('assigned').partitions.length).toBe(2)
  })
})

describe('DeleteTopics handler', () => {
  it('deletes topics and answers UNKNOWN_TOPIC_OR_PARTITION for missing ones', async () => {
    served = await serve()
    await served.log.createTopic('a', { config: { format: 'binary' } })
    const c = await served.connect()
    for (const v of [0, 1]) {
      if (v === 1) await served.log.createTopic('a', { config: { format: 'binary' } })
      const r = await served.call<TopicErrors>(c, 'deleteTopics', v, { topics: ['a', 'missing'], timeout: 5000 })
      expect(r.topicErrors.map((e) => [e.topic, e.errorCode])).toEqual([
        ['a', 0],
        ['missing', 3],
      ])
      expect(served.log.listTopics()).toEqual([])
    }
  })
})

describe('CreatePartitions handler', () => {
  it('grows a topic, refuses to shrink it, and validate_only changes nothing', async () => {
    served = await serve()
    await served.log.createTopic('t', { partitions: 2, config: { format: 'binary' } })
    const c = await served.connect()
    const call = (topicPartitions: Record<string, unknown>[], validateOnly = false) =>
      served!.call<TopicErrors>(c, 'createPartitions', 1, { topicPartitions, validateOnly, timeout: 5000 })
    expect((await call([{ topic: 't', count: 5 }], true)).topicErrors[0].errorCode).toBe(0)
    expect(served.log.describeTopic('t').partitions.length).toBe(2)
    expect((await call([{ topic: 't', count: 5 }])).topicErrors[0].errorCode).toBe(0)
    expect(served.log.describeTopic('t').partitions.length).toBe(5)
    const errs = (
      await call([
        { topic: 't', count: 3 },
        { topic: 'missing', count: 2 },
      ])
    ).topicErrors
    expect(errs.map((e) => [e.topic, e.errorCode])).toEqual([
      ['missing', 3],
      ['t', 37],
    ])
  })
})
