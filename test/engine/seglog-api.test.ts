import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SeglogError } from '../../src/errors.js'
import { type EngineEvent, Seglog } from '../../src/main.js'
import { partitionForKey } from '../../src/partitioner.js'
import { codeOf } from '../support/errors.js'

let dir: string
const open: Seglog[] = []
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
})
afterEach(async () => {
  for (const e of open.splice(0)) await e.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

async function engine(options: Parameters<typeof Seglog.open>[1] = {}, where = dir): Promise<Seglog> {
  const e = await Seglog.open(where, options)
  open.push(e)
  return e
}

describe('Seglog ownership and lifecycle', () => {
  it('gives ENGINE_LOCKED to a second open of the same directory in this process, by any path', async () => {
    await engine()
    expect(await codeOf(() => Seglog.open(dir))).toBe('ENGINE_LOCKED')
    const rel = path.relative(process.cwd(), dir)
    expect(await codeOf(() => Seglog.open(rel))).toBe('ENGINE_LOCKED')
    const link = `${dir}-link`
    fs.symlinkSync(dir, link)
    try {
      expect(await codeOf(() => Seglog.open(link))).toBe('ENGINE_LOCKED')
    } finally {
      fs.rmSync(link)
    }
  })

  it('releases ownership on close so the directory can be opened again', async () => {
    const first = await Seglog.open(dir)
    await first.close()
    const second = await engine()
    expect(second.status).toBe('open')
  })

  it('throws ENGINE_CLOSED from every method after close, and close is idempotent', async () => {
    const e = await Seglog.open(dir)
    await e.createTopic('t')
    await e.close()
    await e.close()
    expect(await codeOf(() => e.append('t', [{ value: 1 }]))).toBe('ENGINE_CLOSED')
    expect(await codeOf(() => e.read('t', 0, 0))).toBe('ENGINE_CLOSED')
    expect(await codeOf(() => e.listTopics())).toBe('ENGINE_CLOSED')
    expect(await codeOf(() => e.createTopic('u'))).toBe('ENGINE_CLOSED')
    expect(await codeOf(() => e.offsets('t', 0))).toBe('ENGINE_CLOSED')
    expect(await codeOf(() => e.stream('t', 0))).toBe('ENGINE_CLOSED')
  })

  it('supports await using through Symbol.asyncDispose', async () => {
    {
      await using e = await Seglog.open(dir)
      await e.createTopic('t')
    }
    const again = await engine()
    expect(again.listTopics()).toEqual(['t'])
  })
})

describe('Seglog topics', () => {
  it('creates, lists, describes, alters, grows and deletes topics, and keeps them across reopen', async () => {
    const e = await Seglog.open(dir, { defaults: { retentionMs: 1000 } })
    await e.createTopic('orders', { partitions: 3, config: { segmentBytes: 4096 } })
    await e.createTopic('audit.log_v2')
    expect(e.listTopics()).toEqual(['audit.log_v2', 'orders'])
    const d = e.describeTopic('orders')
    expect(d.config.segmentBytes).toBe(4096)
    expect(d.config.retentionMs).toBe(1000)
    expect(d.config.format).toBe('msgpack')
    expect(d.partitions.map((p) => p.partition)).toEqual([0, 1, 2])
    expect(d.partitions[0]).toMatchObject({ logStartOffset: 0, logEndOffset: 0, segments: 1, bytes: 0 })
    await e.alterTopicConfig('orders', { retentionBytes: 1 << 20 })
    await e.createPartitions('orders', 5)
    expect(await codeOf(() => e.createPartitions('orders', 4))).toBe('INVALID_CONFIG')
    await e.deleteTopic('audit.log_v2')
    expect(fs.existsSync(path.join(dir, 'audit.log_v2-0'))).toBe(false)
    await e.close()
    const again = await engine()
    expect(again.listTopics()).toEqual(['orders'])
    const d2 = again.describeTopic('orders')
    expect(d2.partitions.length).toBe(5)
    expect(d2.config.retentionBytes).toBe(1 << 20)
    expect(d2.config.segmentBytes).toBe(4096)
  })

  it('rejects names outside Kafka rules with INVALID_TOPIC_NAME and duplicates with TOPIC_EXISTS', async () => {
    const e = await engine()
    for (const bad of ['', '.', '..', 'a/b', 'a b', 'ü', 'x'.repeat(250)]) {
      expect(await codeOf(() => e.createTopic(bad))).toBe('INVALID_TOPIC_NAME')
    }
    await e.createTopic('x'.repeat(249))
    await e.createTopic('ok')
    expect(await codeOf(() => e.createTopic('ok'))).toBe('TOPIC_EXISTS')
    await expect(e.createTopic(42 as unknown as string)).rejects.toBeInstanceOf(TypeError)
  })

  it('rejects invalid config with INVALID_CONFIG naming the field', async () => {
    const e = await engine()
    const cases: [Record<string, unknown>, string][] = [
      [{ segmentBytes: 10 }, 'segmentBytes'],
      [{ retentionMs: -2 }, 'retentionMs'],
      [{ cleanupPolicy: 'shred' }, 'cleanupPolicy'],
      [{ minCleanableDirtyRatio: 1.5 }, 'minCleanableDirtyRatio'],
      [{ format: 'xml' }, 'format'],
      [{ retentionMsTypo: 5 }, 'retentionMsTypo'],
      [{ segmentBytes: '1GB' }, 'segmentBytes'],
    ]
    for (const [config, field] of cases) {
      try {
        await e.createTopic('t', { config })
        expect.unreachable(`accepted ${JSON.stringify(config)}`)
      } catch (err) {
        expect((err as SeglogError).code).toBe('INVALID_CONFIG')
        expect((err as SeglogError).message).toContain(field)
      }
    }
    expect(await codeOf(() => e.createTopic('t', { partitions: 0 }))).toBe('INVALID_CONFIG')
    // A topic setting given beside `config` instead of in it is refused, not silently ignored.
    const misplaced = { partitions: 2, format: 'binary' } as unknown as Parameters<Seglog['createTopic']>[1]
    await expect(e.createTopic('t', misplaced)).rejects.toThrow(/unknown createTopic option "format"/)
    await expect(e.createTopic('t', misplaced)).rejects.toBeInstanceOf(TypeError)
    expect(await codeOf(() => Seglog.open(path.join(dir, 'other'), { defaults: { flushMs: -5 } }))).toBe(
      'INVALID_CONFIG',
    )
    expect(e.listTopics()).toEqual([])
  })

  it('refuses to change a topic format or shrink its partitions', async () => {
    const e = await engine()
    await e.createTopic('t', { partitions: 2, config: { format: 'json' } })
    expect(await codeOf(() => e.alterTopicConfig('t', { format: 'string' }))).toBe('INVALID_CONFIG')
    expect(await codeOf(() => e.createPartitions('t', 1))).toBe('INVALID_CONFIG')
    expect(await codeOf(() => e.alterTopicConfig('nope', { retentionMs: 5 }))).toBe('TOPIC_NOT_FOUND')
  })

  it('keeps partition directories that no topic accounts for at open, and reports them', async () => {
    const e = await Seglog.open(dir)
    await e.createTopic('t', { partitions: 1 })
    await e.close()
    fs.mkdirSync(path.join(dir, 'ghost-0'))
    fs.mkdirSync(path.join(dir, 't-1'))
    const events: EngineEvent[] = []
    const again = await engine({ onEvent: (ev) => events.push(ev) })
    expect(fs.existsSync(path.join(dir, 'ghost-0'))).toBe(true)
    expect(fs.existsSync(path.join(dir, 't-1'))).toBe(true)
    expect(fs.existsSync(path.join(dir, 't-0'))).toBe(true)
    expect(again.listTopics()).toEqual(['t'])
    const unknown = events.flatMap((ev) => (ev.type === 'unknown-dirs' ? ev.dirs.map((d) => d.name) : []))
    expect(unknown.sort()).toEqual(['ghost-0', 't-1'])
  })
})

describe('Seglog append and read', () => {
  it('assigns partitions by explicit number, by murmur2 of the key, and stickily for null keys', async () => {
    const e = await engine()
    await e.createTopic('t', { partitions: 6 })
    const keys = ['21', 'foobar', 'abc', '', 'a-little-bit-long-string']
    const meta = await e.append('t', [...keys.map((key) => ({ key, value: key })), { partition: 4, value: 'explicit' }])
    for (const [i, key] of keys.entries()) expect(meta[i].partition).toBe(partitionForKey(Buffer.from(key), 6))
    expect(meta.map((m) => m.partition).slice(0, 2)).toEqual([0, 0])
    expect(meta[5].partition).toBe(4)
    const sticky = await e.append(
      't',
      Array.from({ length: 20 }, (_, i) => ({ value: i })),
    )
    expect(new Set(sticky.map((m) => m.partition)).size).toBe(1)
  })

  it('places every message of a large mixed call exactly as it would place each one alone', async () => {
    const e = await engine()
    await e.createTopic('t', { partitions: 7 })
    const seed = 4242
    let state = seed
    const next = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0
      return state % n
    }
    for (const withNonAscii of [false, true]) {
      const messages: { key?: string | Buffer | null; value: string; partition?: number }[] = []
      for (let i = 0; i < 300; i++) {
        const kind = next(10)
        if (kind === 0) messages.push({ value: `null-${i}` })
        else if (kind === 1) messages.push({ key: Buffer.from(`b-${i}`), value: `buf-${i}` })
        else if (kind === 2) messages.push({ key: `k-${i}`, value: `explicit-${i}`, partition: next(7) })
        else if (kind === 3) messages.push({ key: '', value: `empty-${i}` })
        else messages.push({ key: `user-${next(1000)}-${'x'.repeat(next(40))}`, value: `s-${i}` })
      }
      if (withNonAscii) messages.splice(150, 0, { key: 'clé-ü', value: 'non-ascii' })
      const meta = await e.append('t', messages)
      for (const [i, m] of messages.entries()) {
        const want =
          m.partition ?? (m.key === undefined || m.key === null ? undefined : partitionForKey(Buffer.from(m.key), 7))
        if (want !== undefined && meta[i].partition !== want) {
          throw new Error(`seed ${seed}, ${withNonAscii}: message ${i} on ${meta[i].partition}, want ${want}`)
        }
        const [stored] = await e.read('t', meta[i].partition, meta[i].offset, { maxRecords: 1 })
        expect(stored.value).toBe(m.value)
      }
    }
  })

  it('writes the batch of every partition of a call intact when the batches are large, call after call', async () => {
    const e = await engine()
    await e.createTopic('t', { partitions: 3, config: { format: 'binary' } })
    const value = (call: number, i: number) => Buffer.alloc(200, (call * 31 + i) & 0xff)
    for (let call = 0; call < 4; call++) {
      const messages = Array.from({ length: 300 }, (_, i) => ({
        partition: i % 3,
        key: `k${i}`,
        value: value(call, i),
      }))
      await e.append('t', messages)
    }
    for (let partition = 0; partition < 3; partition++) {
      const records = await e.read('t', partition, 0, { maxRecords: 1000 })
      expect(records.length).toBe(400)
      for (const [n, r] of records.entries()) {
        const call = Math.floor(n / 100)
        const i = (n % 100) * 3 + partition
        expect(r.key?.toString()).toBe(`k${i}`)
        expect((r.value as Buffer).equals(value(call, i))).toBe(true)
      }
    }
  })

  it('returns offsets per partition in input order and reads records back with decoded values', async () => {
    const e = await engine()
    await e.createTopic('t', { partitions: 2 })
    const meta = await e.append('t', [
      { partition: 0, key: 'a', value: { n: 1, nested: { list: [1, 2] } }, headers: { src: 'web' } },
      { partition: 1, key: Buffer.from([1, 2]), value: 'two' },
      { partition: 0, value: null, key: 'a' },
    ])
    expect(meta.map((m) => [m.partition, m.offset])).toEqual([
      [0, 0],
      [1, 0],
      [0, 1],
    ])
    const recs = await e.read('t', 0, 0)
    expect(recs.length).toBe(2)
    expect(recs[0]).toMatchObject({ topic: 't', partition: 0, offset: 0, value: { n: 1, nested: { list: [1, 2] } } })
    expect(recs[0].key?.toString()).toBe('a')
    expect(recs[0].headers).toEqual({ src: Buffer.from('web') })
    expect(recs[1].value).toBeNull()
    expect((await e.read('t', 1, 0))[0].key).toEqual(Buffer.from([1, 2]))
    expect(e.offsets('t', 0)).toEqual({ logStartOffset: 0, logEndOffset: 2 })
  })

  it('writes nothing from a call with an unencodable value and names the message index', async () => {
    const e = await engine()
    await e.createTopic('t', { config: { format: 'json' } })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    try {
      await e.append('t', [{ value: 1 }, { value: cyclic }])
      expect.unreachable()
    } catch (err) {
      expect((err as SeglogError).code).toBe('INVALID_RECORD')
      expect((err as SeglogError).message).toContain('message 1')
    }
    expect(e.offsets('t', 0).logEndOffset).toBe(0)
  })

  it('rejects unkeyed records on a compacted topic, oversize batches, unknown topics and partitions', async () => {
    const e = await engine()
    await e.createTopic('c', { config: { cleanupPolicy: 'compact' } })
    expect(await codeOf(() => e.append('c', [{ key: 'k', value: 1 }, { value: 2 }]))).toBe('INVALID_RECORD')
    expect(e.offsets('c', 0).logEndOffset).toBe(0)
    await e.createTopic('small', { partitions: 2, config: { maxMessageBytes: 200, format: 'binary' } })
    expect(
      await codeOf(() =>
        e.append('small', [
          { partition: 0, value: Buffer.alloc(10) },
          { partition: 1, value: Buffer.alloc(500) },
        ]),
      ),
    ).toBe('RECORD_TOO_LARGE')
    expect(e.offsets('small', 0).logEndOffset).toBe(0)
    expect(await codeOf(() => e.append('nope', [{ value: 1 }]))).toBe('TOPIC_NOT_FOUND')
    expect(await codeOf(() => e.append('small', [{ partition: 2, value: Buffer.alloc(1) }]))).toBe(
      'PARTITION_NOT_FOUND',
    )
    expect(await codeOf(() => e.read('small', 7, 0))).toBe('PARTITION_NOT_FOUND')
    await expect(e.append('small', 'x' as never)).rejects.toBeInstanceOf(TypeError)
    await expect(e.append('small', [{ value: Buffer.alloc(1) }], { acks: 2 as never })).rejects.toBeInstanceOf(
      TypeError,
    )
    expect(await codeOf(() => e.read('small', 0, 1))).toBe('OFFSET_OUT_OF_RANGE')
  })

  it('stamps LogAppendTime from the engine clock and finds offsets by timestamp', async () => {
    let now = 5_000
    const e = await engine({ clock: () => now })
    await e.createTopic('lat', { config: { messageTimestampType: 'LogAppendTime' } })
    const [m] = await e.append('lat', [{ value: 1, timestamp: 1 }])
    expect(m.timestamp).toBe(5_000)
    await e.createTopic('ct')
    for (let i = 0; i < 10; i++) await e.append('ct', [{ value: i, timestamp: 1000 + i * 100 }])
    expect(await e.offsetForTimestamp('ct', 0, 1250)).toBe(3)
    expect(await e.offsetForTimestamp('ct', 0, 99_999)).toBeNull()
    now = 6_000
    expect((await e.read('lat', 0, 0))[0].timestamp).toBe(5_000)
  })

  it('keeps acknowledged records across close and reopen, for every acks mode', async () => {
    const e = await Seglog.open(dir)
    await e.createTopic('t', { config: { format: 'string' } })
    await e.append('t', [{ value: 'a' }], { acks: -1 })
    await e.append('t', [{ value: 'b' }], { acks: 1 })
    await e.append('t', [{ value: 'c' }], { acks: 0 })
    await e.close()
    const again = await engine()
    expect((await again.read('t', 0, 0)).map((r) => r.value)).toEqual(['a', 'b', 'c'])
  })

  it('compresses batches with gzip when the topic asks for it', async () => {
    const e = await engine()
    await e.createTopic('z', { config: { compressionType: 'gzip', format: 'string' } })
    const values = Array.from({ length: 200 }, (_, i) => `repetitive value ${i % 3}`)
    await e.append(
      'z',
      values.map((value) => ({ value })),
    )
    expect((await e.read('z', 0, 0, { maxRecords: 1000 })).map((r) => r.value)).toEqual(values)
    expect(e.describeTopic('z').partitions[0].bytes).toBeLessThan(values.join('').length / 2)
  })
})

describe('Seglog stream', () => {
  it('iterates from earliest, latest, an offset or a timestamp, and ends at the log end when not live', async () => {
    const e = await engine()
    await e.createTopic('t', { config: { format: 'string' } })
    for (let i = 0; i < 5; i++) await e.append('t', [{ value: `v${i}`, timestamp: 100 + i }])
    const collect = async (from: Parameters<Seglog['stream']>[2]) => {
      const out: string[] = []
      for await (const r of e.stream('t', 0, from)) out.push(r.value as string)
      return out
    }
    expect(await collect({})).toEqual(['v0', 'v1', 'v2', 'v3', 'v4'])
    expect(await collect({ from: 3 })).toEqual(['v3', 'v4'])
    expect(await collect({ from: 'latest' })).toEqual([])
    expect(await collect({ from: { timestamp: 102 } })).toEqual(['v2', 'v3', 'v4'])
  })

  it('delivers a record appended later to a live stream without polling, and stops on abort with ABORTED', async () => {
    const e = await engine()
    await e.createTopic('t', { config: { format: 'string' } })
    const ac = new AbortController()
    const seen: string[] = []
    const consumer = (async () => {
      for await (const r of e.stream('t', 0, { from: 'earliest', live: true, signal: ac.signal })) {
        seen.push(r.value as string)
        if (seen.length === 2) ac.abort()
      }
    })().then(
      () => null,
      (err: unknown) => err,
    )
    await new Promise((r) => setTimeout(r, 20))
    await e.append('t', [{ value: 'later-1' }])
    await new Promise((r) => setTimeout(r, 5))
    expect(seen).toEqual(['later-1'])
    await e.append('t', [{ value: 'later-2' }])
    expect(await consumer).toMatchObject({ code: 'ABORTED' })
    expect(seen).toEqual(['later-1', 'later-2'])
  })

  it('ends a live stream when the engine closes', async () => {
    const e = await Seglog.open(dir)
    await e.createTopic('t')
    const done = (async () => {
      let n = 0
      for await (const _ of e.stream('t', 0, { live: true })) n++
      return n
    })()
    await new Promise((r) => setTimeout(r, 10))
    await e.close()
    expect(await done).toBe(0)
  })
})

describe('Seglog diagnostics channels', () => {
  it('publishes appends and engine events on node:diagnostics_channel', async () => {
    const diagnostics = await import('node:diagnostics_channel')
    const appends: unknown[] = []
    const events: { type?: string }[] = []
    const onAppend = (m: unknown) => appends.push(m)
    const onEngine = (m: unknown) => events.push(m as { type?: string })
    diagnostics.subscribe('seglog:append', onAppend)
    diagnostics.subscribe('seglog:engine', onEngine)
    try {
      const e = await engine()
      await e.createTopic('t', { partitions: 2, config: { segmentBytes: 512 } })
      await e.append('t', [
        { partition: 1, value: 'x'.repeat(200) },
        { partition: 1, value: 'y'.repeat(200) },
      ])
      await e.append('t', [{ partition: 1, value: 'z'.repeat(200) }])
      expect(appends).toEqual([
        { topic: 't', partitions: [1], records: 2, acks: -1 },
        { topic: 't', partitions: [1], records: 1, acks: -1 },
      ])
      expect(events.some((ev) => ev.type === 'rolled')).toBe(true)
    } finally {
      diagnostics.unsubscribe('seglog:append', onAppend)
      diagnostics.unsubscribe('seglog:engine', onEngine)
    }
  })
})
