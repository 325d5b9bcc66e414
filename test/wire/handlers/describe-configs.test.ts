import { afterEach, describe, expect, it } from 'vitest'
import { type Served, serve } from '../../support/wire-engine.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

interface Entry {
  configName: string
  configValue: string
  isDefault: boolean
  configSource?: number
  configSynonyms?: { configName: string; configValue: string; configSource: number }[]
}
interface Described {
  resources: { errorCode: number; resourceName: string; resourceType: number; configEntries: Entry[] }[]
}

const DYNAMIC_TOPIC_CONFIG = 1
const STATIC_BROKER_CONFIG = 4
const DEFAULT_CONFIG = 5

describe('DescribeConfigs handler', () => {
  it("lists a topic's settings by Kafka name, telling its own values from inherited defaults", async () => {
    served = await serve({ defaults: { segmentBytes: 1 << 20 } })
    await served.log.createTopic('t', { config: { format: 'binary', retentionMs: 60_000 } })
    const c = await served.connect()
    const d = await served.call<Described>(c, 'describeConfigs', 2, {
      resources: [{ type: 2, name: 't' }],
      includeSynonyms: true,
    })
    const byName = new Map(d.resources[0].configEntries.map((e) => [e.configName, e]))
    expect(byName.get('retention.ms')).toMatchObject({
      configValue: '60000',
      isDefault: false,
      configSource: DYNAMIC_TOPIC_CONFIG,
    })
    expect(byName.get('retention.ms')?.configSynonyms).toEqual([
      { configName: 'retention.ms', configValue: '60000', configSource: DYNAMIC_TOPIC_CONFIG },
      { configName: 'retention.ms', configValue: String(7 * 24 * 3600 * 1000), configSource: DEFAULT_CONFIG },
    ])
    expect(byName.get('cleanup.policy')).toMatchObject({
      configValue: 'delete',
      isDefault: true,
      configSource: DEFAULT_CONFIG,
    })
    expect(byName.get('segment.bytes')).toMatchObject({
      configValue: String(1 << 20),
      isDefault: false,
      configSource: STATIC_BROKER_CONFIG,
    })
    expect(byName.get('flush.messages')?.configValue).toBe('9223372036854775807')
    expect(byName.get('seglog.format')).toMatchObject({ configValue: 'binary', configSource: DYNAMIC_TOPIC_CONFIG })
    expect(byName.has('num.partitions')).toBe(false)
  })

  it("shows the binary format of a topic created over the wire as the topic's own setting", async () => {
    served = await serve()
    const c = await served.connect()
    await served.call(c, 'createTopics', 3, { topics: [{ topic: 'w' }], timeout: 5000 })
    const d = await served.call<Described>(c, 'describeConfigs', 2, {
      resources: [{ type: 2, name: 'w', configNames: ['seglog.format'] }],
    })
    expect(d.resources[0].configEntries.map((e) => [e.configValue, e.configSource, e.isDefault])).toEqual([
      ['binary', DYNAMIC_TOPIC_CONFIG, false],
    ])
  })

  it('answers only the keys asked for, and v0 with is_default', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary', cleanupPolicy: 'compact' } })
    const c = await served.connect()
    const d = await served.call<Described>(c, 'describeConfigs', 0, {
      resources: [{ type: 2, name: 't', configNames: ['cleanup.policy', 'retention.ms', 'no.such'] }],
    })
    expect(d.resources[0].configEntries.map((e) => [e.configName, e.configValue, e.isDefault])).toEqual([
      ['retention.ms', String(7 * 24 * 3600 * 1000), true],
      ['cleanup.policy', 'compact', false],
    ])
  })

  it('answers UNKNOWN_TOPIC_OR_PARTITION for a missing topic and describes broker 0', async () => {
    served = await serve()
    const c = await served.connect()
    const d = await served.call<Described>(c, 'describeConfigs', 1, {
      resources: [
        { type: 2, name: 'missing' },
        { type: 4, name: '0' },
        { type: 4, name: '7' },
      ],
    })
    expect(d.resources.map((r) => [r.resourceName, r.errorCode])).toEqual([
      ['missing', 3],
      ['0', 0],
      ['7', 42],
    ])
    const broker = new Map(d.resources[1].configEntries.map((e) => [e.configName, e.configValue]))
    expect(broker.get('auto.create.topics.enable')).toBe('true')
    expect(broker.get('broker.id')).toBe('0')
  })
})
