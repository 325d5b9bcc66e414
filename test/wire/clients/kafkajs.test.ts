/**
 * kafkajs 2.2.4 against `seglog serve`, each party its own process: the admin client creates a topic with Kafka
 * config names, a producer process and a consumer-group process run at the same time (the shape of kafkajs's
 * examples/producer.js and examples/consumer.js), then the admin reads topic and group offsets and resets them.
 * Afterwards the closed directory is opened through the native API: the topic's config, every record the producer
 * was acknowledged for (key, value, headers, timestamp, offset) and the group's committed offsets are there.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../../src/main.js'
import { expectExactly } from '../../support/wire-expect.js'
import {
  expectOk,
  killAll,
  nodeClient,
  removeTempDirs,
  type Served,
  startServe,
  tempDir,
} from '../../support/wire-harness.js'
import { ackedLines, consumedLines, wireHeaders, wireKey, wireValue } from '../../support/wire-records.js'

afterEach(async () => {
  await killAll()
  removeTempDirs()
})

const TIMESTAMP_BASE = 1_700_000_000_000
const PARTITIONS = 3
const COUNT = 600
const ENV = { KAFKAJS_NO_PARTITIONER_WARNING: '1' }

async function admin(server: Served, args: string[]): Promise<unknown> {
  const p = nodeClient(`kafkajs admin ${args[0]}`, 'kafkajs-admin.ts', [server.broker, ...args], { env: ENV })
  const exit = await p.waitExit(30_000)
  expectOk(
    { ...exit, stdout: p.lines.join('\n'), lines: p.lines, stderr: p.stderr() },
    `kafkajs admin ${args.join(' ')}`,
  )
  return JSON.parse(p.lines.at(-1) ?? 'null')
}

describe('kafkajs against seglog serve', () => {
  it('creates a compacted topic with configEntries, runs a producer and a consumer group at once, and reads and resets the offsets', async () => {
    const dir = tempDir('kafkajs')
    const server = await startServe(dir)
    const topic = 'orders'
    const group = 'billing'

    expect(
      await admin(server, ['create', topic, String(PARTITIONS), 'cleanup.policy=compact', 'retention.ms=3600000']),
    ).toEqual({ created: true })
    // Creating it again: kafkajs reports false for a topic that already exists.
    expect(await admin(server, ['create', topic, String(PARTITIONS)])).toEqual({ created: false })
    expect(await admin(server, ['list-topics'])).toEqual([topic])

    const consumer = nodeClient('kafkajs consumer', 'kafkajs-consumer.ts', [server.broker, topic, group, COUNT], {
      env: ENV,
    })
    await consumer.waitForLine((l) => l === 'joined 0,1,2', 30_000)
    const producer = nodeClient(
      'kafkajs producer',
      'kafkajs-producer.ts',
      [server.broker, topic, 'kjs', 0, COUNT, PARTITIONS, 20, 10],
      { env: ENV },
    )
    // The consumer receives records while the producer is still sending.
    await consumer.waitForLine((l) => l.startsWith('m '), 30_000)
    const producerStillRunning = !producer.done()
    const produced = await producer.waitExit(60_000)
    expect(produced.code, producer.describe()).toBe(0)
    expect(producerStillRunning).toBe(true)
    const acked = ackedLines(producer.lines)
    expect(acked).toHaveLength(COUNT)
    const consumedExit = await consumer.waitExit(30_000)
    expect(consumedExit.code, consumer.describe()).toBe(0)
    expect(consumer.lines.at(-1)).toBe(`done ${COUNT}`)
    expectExactly(consumedLines(consumer.lines), acked)

    const perPartition = COUNT / PARTITIONS
    const topicOffsets = (await admin(server, ['topic-offsets', topic])) as {
      partition: number
      offset: string
      high: string
      low: string
    }[]
    expect(topicOffsets.sort((a, b) => a.partition - b.partition)).toEqual(
      [0, 1, 2].map((partition) => ({
        partition,
        offset: String(perPartition),
        high: String(perPartition),
        low: '0',
      })),
    )
    const committed = (await admin(server, ['group-offsets', group, topic])) as {
      topic: string
      partitions: { partition: number; offset: string }[]
    }[]
    expect(committed.map((t) => t.topic)).toEqual([topic])
    expect(committed[0].partitions.map((p) => [p.partition, p.offset]).sort()).toEqual(
      [0, 1, 2].map((p) => [p, String(perPartition)]),
    )
    const reset = (await admin(server, ['reset', group, topic, 'earliest'])) as typeof committed
    expect(reset[0].partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([0, 1, 2].map((p) => [p, '0']))
    expect((await server.stop()).code).toBe(0)

    const log = await Seglog.open(dir)
    try {
      const config = log.describeTopic(topic).config
      expect([config.cleanupPolicy, config.retentionMs, config.format]).toEqual(['compact', 3_600_000, 'binary'])
      expect((await log.fetchOffsets(group, topic)).map((o) => [o.partition, o.offset]).sort()).toEqual(
        [0, 1, 2].map((p) => [p, 0]),
      )
      for (const a of acked) {
        const [rec] = await log.read(topic, a.partition, a.offset, { maxRecords: 1 })
        expect(rec.offset).toBe(a.offset)
        expect(rec.key).toEqual(wireKey(a.i))
        expect(rec.value).toEqual(wireValue('kjs', a.i))
        expect(rec.headers).toEqual(wireHeaders('kjs', a.i))
        expect(rec.timestamp).toBe(TIMESTAMP_BASE + a.i)
      }
    } finally {
      await log.close()
    }
  })
})
