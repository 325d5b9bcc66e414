import { afterEach, describe, expect, it } from 'vitest'
import { type Served, serve } from '../../support/wire-engine.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

interface Meta {
  brokers: { nodeId: number; host: string; port: number }[]
  clusterId?: string
  controllerId?: number
  topicMetadata: {
    topicErrorCode: number
    topic: string
    partitionMetadata: {
      partitionErrorCode: number
      partitionId: number
      leader: number
      replicas: number[]
      isr: number[]
    }[]
  }[]
}

const names = (m: Meta) => m.topicMetadata.map((t) => t.topic).sort()

describe('Metadata handler', () => {
  it('describes broker 0 at the listening address as controller and leader of every partition', async () => {
    served = await serve()
    await served.log.createTopic('a', { partitions: 3, config: { format: 'binary' } })
    const c = await served.connect()
    const m = await served.call<Meta>(c, 'metadata', 6, { topics: ['a'] })
    expect(m.brokers).toEqual([{ nodeId: 0, host: served.host, port: served.port, rack: null }])
    expect(m.controllerId).toBe(0)
    expect(m.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/)
    const again = await served.call<Meta>(c, 'metadata', 2, { topics: [] })
    expect(again.clusterId).toBe(m.clusterId)
    expect(
      m.topicMetadata[0].partitionMetadata.map((p) => [
        p.partitionErrorCode,
        p.partitionId,
        p.leader,
        p.replicas,
        p.isr,
      ]),
    ).toEqual([
      [0, 0, 0, [0], [0]],
      [0, 1, 0, [0], [0]],
      [0, 2, 0, [0], [0]],
    ])
  })

  it('lists all topics for an empty v0 list and a null v1+ list', async () => {
    served = await serve()
    await served.log.createTopic('a', { config: { format: 'binary' } })
    await served.log.createTopic('b', { config: { format: 'binary' } })
    const c = await served.connect()
    for (let v = 0; v <= 6; v++)
      expect(names(await served.call<Meta>(c, 'metadata', v, { topics: [] }))).toEqual(['a', 'b'])
  })

  it('creates a named unknown topic with format binary when auto-create is on', async () => {
    served = await serve()
    const c = await served.connect()
    const m = await served.call<Meta>(c, 'metadata', 4, { topics: ['fresh'] })
    expect(m.topicMetadata.map((t) => [t.topic, t.topicErrorCode, t.partitionMetadata.length])).toEqual([
      ['fresh', 0, 1],
    ])
    expect(served.log.describeTopic('fresh').config.format).toBe('binary')
  })

  it('answers UNKNOWN_TOPIC_OR_PARTITION without creating when auto-create is off or the request disallows it', async () => {
    served = await serve({ autoCreateTopics: false })
    const c = await served.connect()
    const off = await served.call<Meta>(c, 'metadata', 1, { topics: ['x'] })
    expect(off.topicMetadata.map((t) => [t.topic, t.topicErrorCode])).toEqual([['x', 3]])
    await served.close()
    served = await serve()
    const c2 = await served.connect()
    const disallowed = await served.call<Meta>(c2, 'metadata', 4, { topics: ['y'], allowAutoTopicCreation: false })
    expect(disallowed.topicMetadata.map((t) => [t.topic, t.topicErrorCode])).toEqual([['y', 3]])
    expect(served.log.listTopics()).toEqual([])
  })

  it('answers INVALID_TOPIC_EXCEPTION for a name Kafka rejects', async () => {
    served = await serve()
    const c = await served.connect()
    const m = await served.call<Meta>(c, 'metadata', 1, { topics: ['bad name!'] })
    expect(m.topicMetadata.map((t) => [t.topic, t.topicErrorCode])).toEqual([['bad name!', 17]])
  })

  it('auto-creates a topic once when many connections ask for it at the same time', async () => {
    served = await serve()
    const s = served
    const conns = await Promise.all(Array.from({ length: 5 }, () => s.connect()))
    const all = await Promise.all(conns.map((c) => s.call<Meta>(c, 'metadata', 5, { topics: ['same'] })))
    expect(all.map((m) => m.topicMetadata[0].topicErrorCode)).toEqual([0, 0, 0, 0, 0])
    expect(served.log.listTopics()).toEqual(['same'])
  })
})
