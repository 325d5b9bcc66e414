/**
 * `Seglog.open(dir, { readOnly: true })` in one process: what it shows of a directory (topics, configs, records,
 * offsets, timestamps, committed offsets) equals what the owner shows, it changes no byte, name or mtime under the
 * directory, every writing method is READ_ONLY, and it follows what an owner in this process does meanwhile: appends
 * (a batch still being written or torn stays invisible), rolls, retention, compaction, topic changes. The same
 * against an owner in another process, SIGKILL included, is in read-only-live.test.ts.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { encodeBatch } from '../../src/internal.js'
import { Seglog, SeglogError } from '../../src/main.js'
import { snapshotDir } from '../support/dir-snapshot.js'
import { appendDerived, valueFor } from '../support/engine-child.js'

let dir: string
let tmp: string
let previousTmp: string | undefined
const open: Seglog[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-ro-'))
  // The snapshot copies of the metadata store go to os.tmpdir(): a private one shows what is left behind.
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-ro-tmp-'))
  previousTmp = process.env.TMPDIR
  process.env.TMPDIR = tmp
})
afterEach(async () => {
  for (const log of open.splice(0)) await log.close().catch(() => {})
  if (previousTmp === undefined) delete process.env.TMPDIR
  else process.env.TMPDIR = previousTmp
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(tmp, { recursive: true, force: true })
})

async function owner(options: Parameters<typeof Seglog.open>[1] = {}): Promise<Seglog> {
  const log = await Seglog.open(dir, options)
  open.push(log)
  return log
}

async function reader(options: Parameters<typeof Seglog.open>[1] = {}): Promise<Seglog> {
  const log = await Seglog.open(dir, { ...options, readOnly: true })
  open.push(log)
  return log
}

/** Every record of a partition, read in pages. */
async function readAll(log: Seglog, topic: string, partition: number) {
  const { logStartOffset, logEndOffset } = log.offsets(topic, partition)
  const out = []
  for (let next = logStartOffset; next < logEndOffset; ) {
    const page = await log.read(topic, partition, next, { maxRecords: 37 })
    out.push(...page)
    next = page[page.length - 1].offset + 1
  }
  return out
}

async function codeOf(p: unknown): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? (p as () => unknown)() : p)
  } catch (err) {
    return err instanceof SeglogError ? err.code : `not a SeglogError: ${String(err)}`
  }
  return undefined
}

/** A directory with two topics (one of several small segments), timestamps of our choosing and a group's commits. */
async function populate(): Promise<Seglog> {
  const log = await owner()
  await log.createTopic('orders', { partitions: 2, config: { segmentBytes: 2048, indexIntervalBytes: 256 } })
  await log.createTopic('raw', { config: { format: 'binary', retentionMs: 3_600_000 } })
  for (let i = 0; i < 120; i++) {
    await log.append('orders', [
      {
        partition: i % 2,
        key: `k${i}`,
        value: { i, pad: 'x'.repeat(i % 30) },
        timestamp: 1_000_000 + i * 10,
        headers: { n: String(i) },
      },
    ])
  }
  await appendDerived(log, 'raw', 0, 25)
  await log.offsetStore.commit('billing', [
    { topic: 'orders', partition: 0, offset: 17, metadata: 'm' },
    { topic: 'orders', partition: 1, offset: 4 },
  ])
  await log.offsetStore.commit('audit', [{ topic: 'raw', partition: 0, offset: 25 }])
  return log
}

describe('a read-only open of a directory nobody owns', () => {
  it('shows the topics, configs, records, offsets, timestamps and committed offsets the owner showed', async () => {
    const w = await populate()
    const expected = {
      topics: w.listTopics(),
      orders: w.describeTopic('orders'),
      raw: w.describeTopic('raw'),
      records0: await readAll(w, 'orders', 0),
      records1: await readAll(w, 'orders', 1),
      raw0: await readAll(w, 'raw', 0),
      ts: await Promise.all(
        [0, 1_000_005, 1_000_600, 1_001_185, 1_001_200].map((t) => w.offsetForTimestamp('orders', 1, t)),
      ),
      billing: await w.fetchOffsets('billing'),
      groups: (await w.listGroups()).map((g) => g.groupId),
      described: await w.describeGroup('billing'),
    }
    await w.close()
    expect(expected.orders.partitions[0].segments).toBeGreaterThan(2)

    const r = await reader()
    expect(r).toBeInstanceOf(Seglog)
    expect(r.status).toBe('open')
    expect(r.listTopics()).toEqual(expected.topics)
    expect(r.describeTopic('orders')).toEqual(expected.orders)
    expect(r.describeTopic('raw')).toEqual(expected.raw)
    expect(await readAll(r, 'orders', 0)).toEqual(expected.records0)
    expect(await readAll(r, 'orders', 1)).toEqual(expected.records1)
    expect(await readAll(r, 'raw', 0)).toEqual(expected.raw0)
    expect(expected.raw0.map((x) => x.value)).toEqual(Array.from({ length: 25 }, (_, o) => valueFor('raw', 0, o)))
    const ts = await Promise.all(
      [0, 1_000_005, 1_000_600, 1_001_185, 1_001_200].map((t) => r.offsetForTimestamp('orders', 1, t)),
    )
    expect(ts).toEqual(expected.ts)
    expect(ts).toEqual([0, 0, 30, 59, null])
    expect(await r.fetchOffsets('billing')).toEqual(expected.billing)
    expect((await r.listGroups()).map((g) => g.groupId)).toEqual(expected.groups)
    expect(await r.describeGroup('billing')).toEqual({ ...expected.described, state: 'Empty', members: [] })
    const live: number[] = []
    for await (const rec of r.stream('orders', 1, { from: { timestamp: 1_001_000 } })) live.push(rec.offset)
    expect(live).toEqual([50, 51, 52, 53, 54, 55, 56, 57, 58, 59])
  })

  it('changes no byte, name or mtime under the directory, and leaves no snapshot copy behind once closed', async () => {
    await (await populate()).close()
    const before = snapshotDir(dir)
    const r = await reader()
    r.listTopics()
    r.describeTopic('orders')
    await readAll(r, 'orders', 0)
    await readAll(r, 'raw', 0)
    await r.offsetForTimestamp('orders', 0, 1_000_500)
    await r.fetchOffsets('billing')
    await r.listGroups()
    await r.describeGroup('audit')
    const ac = new AbortController()
    const tail = (async () => {
      for await (const _ of r.stream('orders', 0, { live: true, signal: ac.signal, from: 'latest' })) {
        // no record arrives: nobody appends
      }
    })().catch((err: unknown) => err)
    await new Promise((resolve) => setTimeout(resolve, 200))
    ac.abort()
    expect(((await tail) as SeglogError).code).toBe('ABORTED')
    expect(fs.readdirSync(tmp)).toHaveLength(1)
    await r.close()
    expect(snapshotDir(dir)).toEqual(before)
    expect(fs.readdirSync(tmp)).toEqual([])
  })

  it('answers every writing method with READ_ONLY and writes nothing; flush resolves; a closed one is ENGINE_CLOSED', async () => {
    await (await populate()).close()
    const before = snapshotDir(dir)
    const r = await reader()
    const calls: [string, () => unknown][] = [
      ['createTopic', () => r.createTopic('new')],
      ['alterTopicConfig', () => r.alterTopicConfig('orders', { retentionMs: 1 })],
      ['createPartitions', () => r.createPartitions('orders', 3)],
      ['deleteTopic', () => r.deleteTopic('orders')],
      ['deleteRecords', () => r.deleteRecords('orders', 0, 1)],
      ['append', () => r.append('orders', [{ value: 1 }])],
      ['runRetention', () => r.runRetention()],
      ['compact', () => r.compact('orders')],
      ['producer', () => r.producer()],
      ['consumer', () => r.consumer({ groupId: 'g' })],
      ['resetOffsets', () => r.resetOffsets({ groupId: 'billing', topic: 'orders', to: 'earliest' })],
      ['deleteGroup', () => r.deleteGroup('billing')],
      ['listen', () => r.listen({ port: 0 })],
      ['offsetStore', () => r.offsetStore],
    ]
    for (const [name, call] of calls) expect(await codeOf(call), name).toBe('READ_ONLY')
    await r.flush()
    expect(r.address()).toBeNull()
    await r.close()
    await r.close()
    expect(r.status).toBe('closed')
    expect(await codeOf(() => r.read('orders', 0, 0))).toBe('ENGINE_CLOSED')
    expect(await codeOf(() => r.append('orders', [{ value: 1 }]))).toBe('ENGINE_CLOSED')
    expect(snapshotDir(dir)).toEqual(before)
  })

  it('refuses a directory that does not exist (IO_ERROR, ENOENT) and creates nothing', async () => {
    const missing = path.join(dir, 'nope')
    const err = await Seglog.open(missing, { readOnly: true }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SeglogError)
    expect((err as SeglogError).code).toBe('IO_ERROR')
    expect((err as SeglogError).errno).toBe('ENOENT')
    expect(fs.existsSync(missing)).toBe(false)
  })

  it('opens an empty directory as one without topics, without creating .seglog', async () => {
    const r = await reader()
    expect(r.listTopics()).toEqual([])
    expect(await r.listGroups()).toEqual([])
    expect(await r.fetchOffsets('g')).toEqual([])
    expect(await codeOf(() => r.read('t', 0, 0))).toBe('TOPIC_NOT_FOUND')
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('checks its options: readOnly must be a boolean, and cannot be combined with listen', async () => {
    await expect(Seglog.open(dir, { readOnly: 'yes' as unknown as boolean })).rejects.toThrow(TypeError)
    expect(await codeOf(Seglog.open(dir, { readOnly: true, listen: { port: 0 } }))).toBe('INVALID_CONFIG')
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('shows configs with the engine defaults the last owner recorded, or with its own defaults when given', async () => {
    const w = await owner({ defaults: { retentionMs: 123_456, segmentBytes: 65_536 } })
    await w.createTopic('t', { config: { retentionBytes: 1000 } })
    const expected = w.describeTopic('t')
    await w.close()
    const r = await reader()
    expect(r.describeTopic('t')).toEqual(expected)
    expect(r.describeTopic('t').config).toMatchObject({
      retentionMs: 123_456,
      segmentBytes: 65_536,
      retentionBytes: 1000,
    })
    const mine = await reader({ defaults: { retentionMs: 5 } })
    expect(mine.describeTopic('t').config).toMatchObject({
      retentionMs: 5,
      segmentBytes: 1 << 30,
      retentionBytes: 1000,
    })
  })
})

describe('a read-only open beside an owner in this process', () => {
  it('does not see a batch still being written or a torn tail, and sees a batch once it is whole', async () => {
    const w = await owner()
    await w.createTopic('t', { config: { format: 'string' } })
    await w.append('t', [{ value: 'a' }, { value: 'b' }])
    await w.close()
    const r = await reader()
    expect(r.offsets('t', 0).logEndOffset).toBe(2)
    const batch = encodeBatch([{ timestamp: 1_700_000_000_000, key: null, value: Buffer.from('c') }])
    batch.writeBigInt64BE(2n, 0)
    const file = path.join(dir, 't-0', '00000000000000000000.log')
    // A writer half-way through the batch: its header is there, its records are not.
    fs.appendFileSync(file, batch.subarray(0, 40))
    expect(r.offsets('t', 0).logEndOffset).toBe(2)
    fs.appendFileSync(file, batch.subarray(40, batch.length - 3))
    expect(r.offsets('t', 0).logEndOffset).toBe(2)
    expect((await r.read('t', 0, 0)).map((x) => x.value)).toEqual(['a', 'b'])
    expect(await r.read('t', 0, 2)).toEqual([])
    fs.appendFileSync(file, batch.subarray(batch.length - 3))
    expect(r.offsets('t', 0).logEndOffset).toBe(3)
    expect((await r.read('t', 0, 2)).map((x) => x.value)).toEqual(['c'])
    // A torn tail a crash left (a batch whose bytes do not pass the CRC) stays invisible.
    const torn = encodeBatch([{ timestamp: 1_700_000_000_000, key: null, value: Buffer.from('dddd') }])
    torn.writeBigInt64BE(3n, 0)
    torn[torn.length - 1] ^= 0xff
    fs.appendFileSync(file, torn)
    expect(r.offsets('t', 0).logEndOffset).toBe(3)
    expect(await r.read('t', 0, 3)).toEqual([])
    // What the owner's recovery keeps is what the reader saw.
    const again = await owner()
    expect(again.offsets('t', 0).logEndOffset).toBe(3)
  })

  it('ignores compaction files in progress (.cleaned) and keeps its segments while a swap is under way (.swap)', async () => {
    const w = await owner()
    await w.createTopic('t', { config: { format: 'string', segmentBytes: 1024 } })
    for (let i = 0; i < 40; i++) await w.append('t', [{ value: `v${i}`.padEnd(50, '.') }])
    await w.close()
    const pdir = path.join(dir, 't-0')
    const first = path.join(pdir, '00000000000000000000.log')
    fs.writeFileSync(`${first}.cleaned`, Buffer.from('not a segment'))
    const r = await reader()
    const all = (await readAll(r, 't', 0)).map((x) => x.value)
    expect(all).toHaveLength(40)
    // A swap under way: the old segment renamed away, its replacement still `.swap`.
    fs.copyFileSync(first, `${first}.swap`)
    fs.renameSync(first, `${first}.deleted`)
    expect(r.describeTopic('t').partitions[0].logStartOffset).toBe(0)
    expect((await readAll(r, 't', 0)).map((x) => x.value)).toEqual(all)
    fs.renameSync(`${first}.swap`, first)
    fs.rmSync(`${first}.deleted`)
    expect((await readAll(r, 't', 0)).map((x) => x.value)).toEqual(all)
  })

  it('follows retention: the log start moves and a read below it is OFFSET_OUT_OF_RANGE, as for the owner', async () => {
    const w = await owner()
    await w.createTopic('t', { config: { format: 'string', segmentBytes: 1024, fileDeleteDelayMs: 0 } })
    for (let i = 0; i < 60; i++) await w.append('t', [{ value: `v${i}`.padEnd(60, '.') }])
    const r = await reader()
    expect((await r.read('t', 0, 0, { maxRecords: 1 }))[0].value).toBe(`v0`.padEnd(60, '.'))
    const start = await w.deleteRecords('t', 0, 40)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(r.offsets('t', 0)).toEqual(w.offsets('t', 0))
    expect(r.offsets('t', 0).logStartOffset).toBe(start)
    expect(await codeOf(() => r.read('t', 0, 0))).toBe('OFFSET_OUT_OF_RANGE')
    expect(await codeOf(() => w.read('t', 0, 0))).toBe('OFFSET_OUT_OF_RANGE')
    expect((await readAll(r, 't', 0)).map((x) => x.offset)).toEqual(Array.from({ length: 20 }, (_, i) => 40 + i))
    expect(r.describeTopic('t').partitions[0].segments).toBe(w.describeTopic('t').partitions[0].segments)
  })

  it('reads what compaction left after the owner compacted the segments it was reading', async () => {
    const w = await owner()
    await w.createTopic('t', {
      config: { format: 'string', cleanupPolicy: 'compact', segmentBytes: 1024, fileDeleteDelayMs: 0 },
    })
    for (let i = 0; i < 200; i++) await w.append('t', [{ key: `k${i % 5}`, value: `v${i}`.padEnd(40, '.') }])
    const r = await reader()
    expect(await readAll(r, 't', 0)).toHaveLength(200)
    await w.compact('t')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const compacted = await readAll(w, 't', 0)
    expect(compacted.length).toBeLessThan(200)
    expect(await readAll(r, 't', 0)).toEqual(compacted)
  })

  it('follows appends and rolls in a live stream, and ends it when the owner deletes the topic', async () => {
    const w = await owner()
    await w.createTopic('t', { config: { format: 'string', segmentBytes: 1024 } })
    await w.append('t', [{ value: 'first' }])
    const r = await reader()
    const seen: string[] = []
    const tail = (async () => {
      for await (const rec of r.stream('t', 0, { live: true })) seen.push(rec.value as string)
      return 'ended'
    })()
    for (let i = 0; i < 50; i++) {
      await w.append('t', [{ value: `v${i}`.padEnd(50, '.') }])
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const deadline = Date.now() + 10_000
    while (seen.length < 51 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(seen).toEqual(['first', ...Array.from({ length: 50 }, (_, i) => `v${i}`.padEnd(50, '.'))])
    expect(r.describeTopic('t').partitions[0].segments).toBeGreaterThan(2)
    await w.deleteTopic('t')
    expect(await tail).toBe('ended')
    expect(r.listTopics()).toEqual([])
  })

  it('sees topics the owner creates, grows and reconfigures after it opened', async () => {
    const w = await owner()
    const r = await reader()
    expect(r.listTopics()).toEqual([])
    await w.createTopic('a', { partitions: 2, config: { format: 'json' } })
    await w.append('a', [{ value: { x: 1 }, partition: 1 }])
    expect(r.listTopics()).toEqual(['a'])
    expect((await r.read('a', 1, 0))[0].value).toEqual({ x: 1 })
    await w.createPartitions('a', 4)
    await w.alterTopicConfig('a', { retentionMs: 42_000 })
    expect(r.describeTopic('a')).toEqual(w.describeTopic('a'))
    expect(r.offsets('a', 3)).toEqual({ logStartOffset: 0, logEndOffset: 0 })
  })

  it('sees offsets committed after it opened, from a fresh snapshot of the store', async () => {
    const w = await owner()
    await w.createTopic('t')
    await w.append('t', [{ value: 1 }, { value: 2 }])
    const r = await reader()
    expect(await r.fetchOffsets('g')).toEqual([])
    await w.offsetStore.commit('g', [{ topic: 't', partition: 0, offset: 1 }])
    expect((await r.fetchOffsets('g')).map((o) => o.offset)).toEqual([1])
    await w.resetOffsets({ groupId: 'g', topic: 't', to: 'latest' })
    expect((await r.fetchOffsets('g')).map((o) => o.offset)).toEqual([2])
    expect((await r.describeGroup('g')).offsets).toEqual([
      { topic: 't', partition: 0, committed: 2, logEndOffset: 2, lag: 0 },
    ])
    await w.deleteGroup('g')
    expect(await r.fetchOffsets('g')).toEqual([])
  })
})
