/**
 * Compressed batches written by real Kafka clients: kcat and confluent-kafka (librdkafka 2.0.2) produce with gzip,
 * snappy, lz4 and zstd to `seglog serve`, which stores each client batch as sent. The closed directory is then
 * opened natively: the read path decodes every record, the batches on disk carry the codec they were sent with,
 * and a compaction pass (on the cleaner's worker thread) rewrites them, recompressed with the same codec, keeping
 * exactly the latest record of each key below the active segment. The other way round, batches the native API
 * writes with each codec (xerial snappy, LZ4 frame, zstd frame) are consumed intact by kcat and confluent-kafka.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Seglog } from '../src/main.js'
import {
  expectOk,
  killAll,
  PYTHON,
  removeTempDirs,
  runToEnd,
  startServe,
  storedBatches,
  tempDir,
} from './support/wire-harness.js'

afterEach(async () => {
  await killAll()
  removeTempDirs()
})

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const
type Codec = (typeof CODECS)[number]
const CODEC_ID: Record<Codec, number> = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 }
const CLIENTS = ['kcat', 'confluent'] as const
type Client = (typeof CLIENTS)[number]

const N = 600
const KEYS = 40
const key = (i: number): string => `k${i % KEYS}`
const value = (tag: string, i: number): string => `${tag}-${i}-${'payload '.repeat(5 + (i % 9))}`

/** confluent-kafka: N records with keys, values and a header, acks=all, small batches so segments roll. */
const CONFLUENT_PRODUCE = `
import sys
from confluent_kafka import Producer
broker, topic, codec, n, keys = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
errors = []
p = Producer({"bootstrap.servers": broker, "acks": "all", "compression.type": codec, "batch.num.messages": 25,
              "linger.ms": 5, "message.timeout.ms": 20000})
for i in range(n):
    v = "%s-%d-%s" % ("confluent-" + codec, i, "payload " * (5 + i % 9))
    p.produce(topic, v.encode(), ("k%d" % (i % keys)).encode(), partition=0, headers=[("codec", codec.encode())],
              on_delivery=lambda err, msg: errors.append(err) if err else None)
    p.poll(0)
p.flush(30)
print("errors %d" % len(errors))
sys.exit(1 if errors else 0)
`

/** confluent-kafka: reads N records of partition 0 from the beginning (no group), one JSON row each. */
const CONFLUENT_CONSUME = `
import json, sys
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
broker, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": broker, "group.id": "unused", "enable.auto.commit": False})
c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
got = 0
while got < n:
    m = c.poll(10)
    if m is None:
        sys.exit("timed out after %d records" % got)
    if m.error():
        sys.exit(str(m.error()))
    print(json.dumps([m.offset(), m.key().decode(), m.value().decode()]))
    got += 1
c.close()
`

async function produce(client: Client, broker: string, topic: string, codec: Codec): Promise<void> {
  const tag = `${client}-${codec}`
  if (client === 'kcat') {
    const input = Array.from({ length: N }, (_, i) => `${key(i)}:${value(tag, i)}\n`).join('')
    const args = ['-b', broker, '-P', '-t', topic, '-p', '0', '-K', ':', '-z', codec, '-H', `codec=${codec}`]
    const r = await runToEnd(`kcat -z ${codec}`, 'kcat', [...args, '-X', 'batch.num.messages=25'], {
      input,
      timeoutMs: 40_000,
    })
    expectOk(r, `kcat -P -z ${codec}`)
  } else {
    const r = await runToEnd(
      `confluent-kafka ${codec}`,
      PYTHON,
      ['-c', CONFLUENT_PRODUCE, broker, topic, codec, String(N), String(KEYS)],
      { timeoutMs: 40_000 },
    )
    expectOk(r, `confluent-kafka produce ${codec}`)
  }
}

const topicOf = (client: Client, codec: Codec): string => `${client}-${codec}`

describe('batches compressed by real Kafka clients', () => {
  it('are read by the native read path with every codec, keep it on disk and survive a compaction pass in the worker', async () => {
    const dir = tempDir('codecs-clients')
    const setup = await Seglog.open(dir)
    for (const client of CLIENTS) {
      for (const codec of CODECS) {
        await setup.createTopic(topicOf(client, codec), {
          config: { format: 'binary', cleanupPolicy: 'compact', segmentBytes: 3000 },
        })
      }
    }
    await setup.close()

    const server = await startServe(dir)
    for (const client of CLIENTS)
      for (const codec of CODECS) await produce(client, server.broker, topicOf(client, codec), codec)
    expect((await server.stop()).code).toBe(0)

    const log = await Seglog.open(dir, { cleanerBackoffMs: 0 })
    try {
      for (const client of CLIENTS) {
        for (const codec of CODECS) {
          const topic = topicOf(client, codec)
          const what = `${client} ${codec}`
          const tag = `${client}-${codec}`
          const stored = storedBatches(dir, topic, 0)
          expect(
            stored.every((b) => b.codec === CODEC_ID[codec]),
            `${what}: every stored batch has codec ${CODEC_ID[codec]}`,
          ).toBe(true)
          expect(stored.length, `${what}: batches`).toBeGreaterThan(5)

          const back = await log.read(topic, 0, 0, { maxRecords: N, maxBytes: 64 << 20 })
          expect(
            back.map((r) => [r.offset, r.key?.toString(), (r.value as Buffer).toString(), r.headers.codec?.toString()]),
            what,
          ).toEqual(Array.from({ length: N }, (_, i) => [i, key(i), value(tag, i), codec]))

          const pdir = path.join(dir, `${topic}-0`)
          const bases = fs
            .readdirSync(pdir)
            .filter((f) => f.endsWith('.log'))
            .map((f) => Number(f.slice(0, 20)))
          const activeBase = Math.max(...bases)
          expect(activeBase, `${what}: the log rolled`).toBeGreaterThan(KEYS)
          const lastBelow = new Map<string, number>()
          for (let i = 0; i < activeBase; i++) lastBelow.set(key(i), i)
          const survivors = Array.from({ length: N }, (_, i) => i).filter(
            (i) => i >= activeBase || lastBelow.get(key(i)) === i,
          )

          const results = await log.compact(topic)
          expect(results.length).toBe(1)
          const after = await log.read(topic, 0, 0, { maxRecords: N, maxBytes: 64 << 20 })
          expect(
            after.map((r) => [
              r.offset,
              r.key?.toString(),
              (r.value as Buffer).toString(),
              r.headers.codec?.toString(),
            ]),
            `${what} after compaction`,
          ).toEqual(survivors.map((i) => [i, key(i), value(tag, i), codec]))
          const rewritten = storedBatches(dir, topic, 0)
          expect(rewritten.length).toBeLessThan(stored.length)
          // Rebuilt batches keep their codec; a batch left empty stays as a bare header, uncompressed (as Kafka's).
          const withRecords = rewritten.filter((b) => b.recordsCount > 0)
          expect(withRecords.length).toBeGreaterThan(0)
          expect(
            withRecords.every((b) => b.codec === CODEC_ID[codec]),
            `${what}: compaction kept codec ${CODEC_ID[codec]}`,
          ).toBe(true)
          expect(rewritten.filter((b) => b.recordsCount === 0).every((b) => b.bytes.length === 61)).toBe(true)
        }
      }
    } finally {
      await log.close()
    }
  }, 240_000)

  it('written by the native API with each codec, are consumed intact by kcat and confluent-kafka', async () => {
    const dir = tempDir('codecs-native')
    const log = await Seglog.open(dir)
    const n = 300
    for (const codec of CODECS) {
      await log.createTopic(`native-${codec}`, { config: { format: 'binary', compressionType: codec } })
      for (let i = 0; i < n; i += 50) {
        await log.append(
          `native-${codec}`,
          Array.from({ length: 50 }, (_, j) => ({
            key: key(i + j),
            value: Buffer.from(value(codec, i + j)),
            headers: { codec },
          })),
        )
      }
    }
    await log.close()
    for (const codec of CODECS) {
      const stored = storedBatches(dir, `native-${codec}`, 0)
      expect(stored.map((b) => [b.codec, b.recordsCount])).toEqual(stored.map(() => [CODEC_ID[codec], 50]))
    }

    const server = await startServe(dir)
    const want = (codec: Codec) => Array.from({ length: n }, (_, i) => [i, key(i), value(codec, i)])
    for (const codec of CODECS) {
      const topic = `native-${codec}`
      const k = await runToEnd(
        `kcat -C ${codec}`,
        'kcat',
        ['-b', server.broker, '-C', '-t', topic, '-o', 'beginning', '-e', '-J'],
        {
          timeoutMs: 40_000,
        },
      )
      expectOk(k, `kcat -C ${topic}`)
      const got = k.lines
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { offset: number; key: string; payload: string; headers?: string[] })
      expect(
        got.map((r) => [r.offset, r.key, r.payload]),
        `kcat ${codec}`,
      ).toEqual(want(codec))
      expect(got.every((r) => r.headers?.join() === `codec,${codec}`)).toBe(true)

      const c = await runToEnd(
        `confluent-kafka consume ${codec}`,
        PYTHON,
        ['-c', CONFLUENT_CONSUME, server.broker, topic, String(n)],
        {
          timeoutMs: 40_000,
        },
      )
      expectOk(c, `confluent-kafka consume ${topic}`)
      const rows = c.lines.filter((l) => l.startsWith('[')).map((l) => JSON.parse(l) as [number, string, string])
      expect(rows, `confluent-kafka ${codec}`).toEqual(want(codec))
    }
    expect((await server.stop()).code).toBe(0)
  }, 240_000)
})
