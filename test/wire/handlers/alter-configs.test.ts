/**
 * AlterConfigs against a real engine, requests encoded and responses decoded by kafkajs: Kafka's semantics (the
 * listed settings become the topic's own, the ones not listed go back to their defaults), the format fixed at
 * creation, an unknown topic or setting answered per resource, validate_only changing nothing, and non-topic
 * resources refused.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { type Served, serve } from '../../support/wire-engine.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

interface Altered {
  resources: { errorCode: number; errorMessage: string | null; resourceType: number; resourceName: string }[]
}

const TOPIC = 2
const BROKER = 4

function alter(
  s: Served,
  c: Awaited<ReturnType<Served['connect']>>,
  version: number,
  resources: unknown[],
  validateOnly = false,
) {
  return s.call<Altered>(c, 'alterConfigs' as never, version, { resources, validateOnly })
}

describe('AlterConfigs handler', () => {
  for (const version of [0, 1]) {
    it(`v${version}: sets the listed settings and reverts the topic's other own settings to their defaults`, async () => {
      served = await serve({ defaults: { segmentBytes: 1 << 20 } })
      await served.log.createTopic('t', { config: { retentionMs: 60_000, cleanupPolicy: 'compact', format: 'json' } })
      const c = await served.connect()
      const r = await alter(served, c, version, [
        {
          type: TOPIC,
          name: 't',
          configEntries: [
            { name: 'retention.bytes', value: '5000' },
            { name: 'cleanup.policy', value: 'compact,delete' },
            { name: 'seglog.format', value: 'json' },
          ],
        },
      ])
      expect(r.resources).toEqual([{ errorCode: 0, errorMessage: null, resourceType: TOPIC, resourceName: 't' }])
      expect(served.log.describeTopic('t').config).toMatchObject({
        retentionBytes: 5000,
        cleanupPolicy: 'compact,delete',
        retentionMs: 7 * 24 * 3600 * 1000,
        segmentBytes: 1 << 20,
        format: 'json',
      })
    })
  }

  it('answers each resource on its own: unknown topic, bad value, a format change, a broker resource', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { retentionMs: 60_000 } })
    const c = await served.connect()
    const r = await alter(served, c, 1, [
      { type: TOPIC, name: 'missing', configEntries: [{ name: 'retention.ms', value: '1' }] },
      { type: TOPIC, name: 't', configEntries: [{ name: 'retention.ms', value: 'soon' }] },
      { type: TOPIC, name: 't', configEntries: [{ name: 'seglog.format', value: 'binary' }] },
      { type: TOPIC, name: 't', configEntries: [{ name: 'no.such.setting', value: '1' }] },
      { type: BROKER, name: '0', configEntries: [{ name: 'num.partitions', value: '3' }] },
    ])
    expect(r.resources.map((x) => [x.resourceName, x.errorCode])).toEqual([
      ['missing', 3],
      ['t', 40],
      ['t', 40],
      ['t', 40],
      ['0', 42],
    ])
    expect(r.resources[2].errorMessage).toContain("format of topic 't' is fixed at creation")
    expect(served.log.describeTopic('t').config).toMatchObject({ retentionMs: 60_000, format: 'msgpack' })
  })

  it('changes nothing with validate_only, but still reports what is wrong', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { retentionMs: 60_000 } })
    const c = await served.connect()
    const ok = await alter(
      served,
      c,
      0,
      [{ type: TOPIC, name: 't', configEntries: [{ name: 'retention.ms', value: '5' }] }],
      true,
    )
    expect(ok.resources[0].errorCode).toBe(0)
    const bad = await alter(
      served,
      c,
      0,
      [{ type: TOPIC, name: 't', configEntries: [{ name: 'retention.ms', value: '-7' }] }],
      true,
    )
    expect(bad.resources[0].errorCode).toBe(40)
    expect(served.log.describeTopic('t').config.retentionMs).toBe(60_000)
  })
})
