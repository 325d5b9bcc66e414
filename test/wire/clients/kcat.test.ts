/**
 * kcat (librdkafka 2.0.2) against `seglog serve`: metadata listing, 10,000 keyed messages with headers produced
 * and consumed back in order, and compressed produce (gzip, snappy, lz4) stored with the codec it was sent with
 * (read straight from the closed directory's `.log` files) and fetched back intact. kcat is run as its own
 * process each time; everything is checked through its output and exit code.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../../src/main.js'
import {
  expectOk,
  killAll,
  removeTempDirs,
  runToEnd,
  startServe,
  storedBatches,
  tempDir,
} from '../../support/wire-harness.js'
import { encodeRequest, RawConnection } from '../../support/wire-raw.js'

afterEach(async () => {
  await killAll()
  removeTempDirs()
})

const COUNT = 10_000
const CODEC_IDS = { gzip: 1, snappy: 2, lz4: 3 } as const

const kcatRun = (what: string, args: string[], input?: string) =>
  runToEnd(what, 'kcat', ['-m', '10', ...args], { timeoutMs: 40_000, ...(input === undefined ? {} : { input }) })

interface KcatJson {
  topic: string
  partition: number
  offset: number
  tstype: string
  ts: number
  headers?: string[]
  key: string | null
  payload: string | null
}

/** `[records, codec id]` of every batch librdkafka's `-d msg` log says it produced, in order. */
function sentBatches(stderr: string): [number, number][] {
  const ids: Record<string, number> = { uncompressed: 0, ...CODEC_IDS }
  return [...stderr.matchAll(/Produce MessageSet with (\d+) message\(s\) \(\d+ bytes, [^)]*, (\w+)\)/g)].map((m) => [
    Number(m[1]),
    ids[m[2]] ?? -1,
  ])
}

/** The records bytes of the one partition in a Fetch v4 response body. */
function fetchV4Records(body: Buffer): Buffer {
  let at = 4 // throttle_time_ms
  expect(body.readInt32BE(at)).toBe(1)
  at += 4
  at += 2 + body.readInt16BE(at) // topic name
  expect(body.readInt32BE(at)).toBe(1)
  at += 4 + 4 // partition count, partition index
  expect(body.readInt16BE(at)).toBe(0)
  at += 2 + 8 + 8 // error, high watermark, last stable offset
  const aborted = body.readInt32BE(at)
  at += 4 + Math.max(0, aborted) * 16
  const size = body.readInt32BE(at)
  return body.subarray(at + 4, at + 4 + size)
}

const kcatValue = (tag: string, i: number): string => `${tag}-v${i}-${'abcdefghij'.repeat(i % 7)}`

describe('kcat against seglog serve', () => {
  it('lists the one broker and every topic, produces 10,000 keyed messages with headers and consumes them back in order', async () => {
    const dir = tempDir('kcat')
    // Two topics made through the native API before serving: the wire shows what the directory holds.
    const native = await Seglog.open(dir)
    await native.createTopic('native-a', { partitions: 3, config: { format: 'binary' } })
    await native.createTopic('native-b', { partitions: 1, config: { format: 'string' } })
    await native.close()
    const server = await startServe(dir)
    const b = server.broker

    const listed = await kcatRun('kcat -L', ['-b', b, '-L', '-J'])
    expectOk(listed, 'kcat -L')
    const meta = JSON.parse(listed.stdout) as {
      brokers: { id: number; name: string }[]
      topics: { topic: string; partitions: { partition: number; leader: number }[] }[]
    }
    expect(meta.brokers).toEqual([{ id: 0, name: b }])
    const topics = Object.fromEntries(
      meta.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.leader])]),
    )
    expect(topics['native-a']).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ])
    expect(topics['native-b']).toEqual([[0, 0]])

    const started = Date.now()
    const input = Array.from({ length: COUNT }, (_, i) => `k${i}:${kcatValue('plain', i)}\n`).join('')
    const produced = await kcatRun(
      'kcat -P',
      ['-b', b, '-P', '-t', 'events', '-p', '0', '-K', ':', '-H', 'src=kcat', '-H', 'run=one', '-X', 'acks=all'],
      input,
    )
    expectOk(produced, 'kcat -P')

    const consumed = await kcatRun('kcat -C', ['-b', b, '-C', '-t', 'events', '-p', '0', '-o', 'beginning', '-e', '-J'])
    expectOk(consumed, 'kcat -C')
    const records = consumed.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as KcatJson)
    expect(records).toHaveLength(COUNT)
    for (let i = 0; i < COUNT; i++) {
      const r = records[i]
      expect([r.partition, r.offset, r.key, r.payload], `record ${i}`).toEqual([0, i, `k${i}`, kcatValue('plain', i)])
      expect(r.headers).toEqual(['src', 'kcat', 'run', 'one'])
      expect(r.tstype).toBe('create')
      expect(r.ts).toBeGreaterThanOrEqual(started - 1000)
    }

    // The same records through a `-f` format string: partition, offset, key, value, headers.
    const formatted = await kcatRun('kcat -C -f', [
      '-b',
      b,
      '-C',
      '-t',
      'events',
      '-o',
      '9990',
      '-p',
      '0',
      '-e',
      '-f',
      '%p|%o|%k|%s|%h\\n',
    ])
    expectOk(formatted, 'kcat -C -f')
    expect(formatted.lines.filter((l) => l.includes('|'))).toEqual(
      Array.from(
        { length: 10 },
        (_, j) => `0|${9990 + j}|k${9990 + j}|${kcatValue('plain', 9990 + j)}|src=kcat,run=one`,
      ),
    )

    const relisted = await kcatRun('kcat -L -t events', ['-b', b, '-L', '-t', 'events'])
    expectOk(relisted, 'kcat -L -t')
    expect(relisted.stdout).toContain(`broker 0 at ${b}`)
    expect(relisted.stdout).toMatch(/topic "events" with 1 partitions:\s+partition 0, leader 0, replicas: 0, isrs: 0/)

    expect((await server.stop()).code).toBe(0)
    const log = await Seglog.open(dir)
    try {
      expect(log.offsets('events', 0)).toEqual({ logStartOffset: 0, logEndOffset: COUNT })
      const back = await log.read('events', 0, 0, { maxRecords: COUNT, maxBytes: 64 << 20 })
      expect(back).toHaveLength(COUNT)
      for (let i = 0; i < COUNT; i += 997) {
        expect(back[i].key?.toString()).toBe(`k${i}`)
        expect((back[i].value as Buffer).toString()).toBe(kcatValue('plain', i))
        expect(back[i].headers).toEqual({ src: Buffer.from('kcat'), run: Buffer.from('one') })
      }
    } finally {
      await log.close()
    }
  })

  it('stores gzip, snappy and lz4 batches with the codec they were produced with and fetches them back as sent', async () => {
    const dir = tempDir('kcat-codecs')
    const server = await startServe(dir)
    const b = server.broker
    const n = 2000
    const sent = new Map<string, [number, number][]>()
    for (const codec of ['gzip', 'snappy', 'lz4'] as const) {
      const input = Array.from({ length: n }, (_, i) => `k${i}:${kcatValue(codec, i)}\n`).join('')
      const produced = await kcatRun(
        `kcat -P -z ${codec}`,
        ['-b', b, '-P', '-t', `z-${codec}`, '-p', '0', '-K', ':', '-z', codec, '-H', `codec=${codec}`, '-d', 'msg'],
        input,
      )
      expectOk(produced, `kcat -P -z ${codec}`)
      sent.set(codec, sentBatches(produced.stderr))
      const consumed = await kcatRun(`kcat -C ${codec}`, [
        '-b',
        b,
        '-C',
        '-t',
        `z-${codec}`,
        '-o',
        'beginning',
        '-e',
        '-J',
      ])
      expectOk(consumed, `kcat -C ${codec}`)
      const records = consumed.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as KcatJson)
      expect(records.map((r) => [r.offset, r.key, r.payload])).toEqual(
        Array.from({ length: n }, (_, i) => [i, `k${i}`, kcatValue(codec, i)]),
      )
      expect(records.every((r) => r.headers?.join() === `codec,${codec}`)).toBe(true)
    }
    // What Fetch sends, byte for byte (kafkajs's Fetch v4 encoder, the response split here).
    const conn = await RawConnection.connect(server.host, server.port)
    const fetched = new Map<string, Buffer>()
    for (const [k, codec] of (['gzip', 'snappy', 'lz4'] as const).entries()) {
      const topics = [{ topic: `z-${codec}`, partitions: [{ partition: 0, fetchOffset: '0', maxBytes: 64 << 20 }] }]
      const req = await encodeRequest('fetch', 4, { maxWaitTime: 0, minBytes: 1, maxBytes: 64 << 20, topics }, k + 1)
      const res = await conn.request(req)
      if (typeof res !== 'object') throw new Error(`fetch of z-${codec}: ${res}`)
      fetched.set(codec, fetchV4Records(res.body))
    }
    conn.destroy()
    expect((await server.stop()).code).toBe(0)

    for (const codec of ['gzip', 'snappy', 'lz4'] as const) {
      const batches = storedBatches(dir, `z-${codec}`, 0)
      // librdkafka sends a batch uncompressed when compressing does not make it smaller: each batch is stored
      // with the codec it was sent with (kcat's debug log names it), and most records went compressed (how the
      // records fall into batches depends on timing: a small last batch may go plain).
      const asSent = sent.get(codec) ?? []
      expect(
        batches.map((x) => [x.recordsCount, x.codec]),
        `${codec} batches`,
      ).toEqual(asSent)
      expect(
        asSent.filter(([, c]) => c === CODEC_IDS[codec]).reduce((sum, [count]) => sum + count, 0),
        `${codec} records sent compressed`,
      ).toBeGreaterThan(n / 2)
      expect(batches.reduce((s, x) => s + x.recordsCount, 0)).toBe(n)
      expect(batches.at(-1)?.lastOffset).toBe(n - 1)
      expect(fetched.get(codec)?.equals(Buffer.concat(batches.map((x) => x.bytes))), `${codec}: fetched = stored`).toBe(
        true,
      )
    }
    // gzip is a built-in codec, so the native API decodes what kcat compressed.
    const log = await Seglog.open(dir)
    try {
      const back = await log.read('z-gzip', 0, 0, { maxRecords: n, maxBytes: 64 << 20 })
      expect(back.map((r) => [r.offset, r.key?.toString(), (r.value as Buffer).toString()])).toEqual(
        Array.from({ length: n }, (_, i) => [i, `k${i}`, kcatValue('gzip', i)]),
      )
    } finally {
      await log.close()
    }
  })
})
