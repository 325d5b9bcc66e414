/**
 * End-to-end compaction on a real PartitionLog: the worker thread rewrites, the log swaps, readers see Kafka's
 * semantics (latest value per key, offsets unchanged, gaps read as the next surviving record, tombstones kept for
 * deleteRetentionMs after the first pass that saw them).
 */
import * as fs from 'node:fs'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readCleanerCheckpoint } from '../../src/compaction/checkpoint.js'
import { Cleaner } from '../../src/compaction/cleaner.js'
import { type CompactionConfig, compactPartition } from '../../src/compaction/compactor.js'
import { CodecRegistry } from '../../src/compression.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import {
  batchBaseOffset,
  batchLastOffset,
  batchSizeAt,
  DELETE_HORIZON_FLAG_MASK,
  readBatchHeader,
  TimestampType,
} from '../../src/segment/record-batch.js'
import { mulberry32 } from '../support/random.js'
import {
  appendWorkload,
  expectedAfterPass,
  type Rec,
  readAll,
  SMALL_LOG,
  TS_BASE,
  tempDir,
  tempFiles,
  toInput,
} from './support.js'

const NOW = TS_BASE + 10_000_000
const DAY = 86_400_000
const CFG: CompactionConfig = {
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  deleteRetentionMs: DAY,
}

const cleaner = new Cleaner()
let dir: string
const open: PartitionLog[] = []

async function openLog(options: Parameters<typeof PartitionLog.open>[1] = {}): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, { config: SMALL_LOG, ...options })
  open.push(log)
  return log
}

beforeEach(() => {
  dir = tempDir()
})

afterEach(async () => {
  for (const log of open.splice(0)) await log.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

afterAll(async () => {
  await cleaner.close()
})

/** Offsets at which each key's latest record sits, among `records`. */
function latestByKey(records: readonly Rec[]): Map<string, Rec> {
  const m = new Map<string, Rec>()
  for (const r of records) if (r.key !== null) m.set(r.key, r)
  return m
}

/** The header of the batch holding `offset`, read from the partition's `.log` files. */
function batchHeaderHolding(offset: number): ReturnType<typeof readBatchHeader> | null {
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.log'))) {
    const data = fs.readFileSync(`${dir}/${name}`)
    let pos = 0
    while (pos + 61 <= data.length) {
      const size = batchSizeAt(data, pos)
      if (batchBaseOffset(data, pos) <= offset && batchLastOffset(data, pos) >= offset) {
        return readBatchHeader(data, pos)
      }
      pos += size
    }
  }
  return null
}

describe('compactPartition', () => {
  it('keeps the latest value of every key, removes earlier ones, and never moves an offset (seed 0xc0ffee)', async () => {
    const SEED = 0xc0ffee
    const rng = mulberry32(SEED)
    const log = await openLog()
    const written = appendWorkload(log, rng, 3000, { keys: 40 })
    expect(readAll(log)).toEqual(written)
    const segmentsBefore = log.segmentInfos().length
    expect(segmentsBefore).toBeGreaterThan(20)

    const res = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(res.cleaned, res.reason).toBe(true)
    expect(res.mapFull).toBe(false)
    expect(res.firstDirtyOffset).toBe(log.segmentInfos().at(-1)!.baseOffset)
    const after = readAll(log)
    expect(after).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))
    // Each survivor is exactly what was written at its offset.
    for (const r of after) expect(r).toEqual(written[r.offset])
    // Every key's latest value is still there; below the end of the pass nothing else of that key is.
    for (const [key, last] of latestByKey(written)) {
      const ofKey = after.filter((r) => r.key === key && r.offset < res.firstDirtyOffset)
      expect(ofKey.length, key).toBeLessThanOrEqual(1)
      expect(after).toContainEqual(last)
    }
    expect(res.recordsRemoved).toBe(written.length - after.length)
    expect(res.bytesAfter).toBeLessThan(res.bytesBefore)
    expect(log.logStartOffset).toBe(0)
    expect(log.logEndOffset).toBe(3000)
    expect(readCleanerCheckpoint(dir)).toBe(res.firstDirtyOffset)
    expect(tempFiles(dir)).toEqual([])

    // A second pass over clean + new dirty data; the small cleaned segments merge.
    const more = appendWorkload(log, rng, 1500, { keys: 40 })
    log.roll()
    const res2 = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(res2.cleaned, res2.reason).toBe(true)
    const after2 = readAll(log)
    expect(after2).toEqual(expectedAfterPass([...after, ...more], res.firstDirtyOffset, res2.firstDirtyOffset))
    expect(res2.segmentsAfter).toBeLessThan(res2.segmentsBefore)

    // Survives an unclean open (a copy taken while the log is open: recovery scans the compacted segments) and a
    // clean reopen (indexes trusted).
    const copy = tempDir()
    try {
      fs.cpSync(dir, copy, { recursive: true })
      const unclean = await PartitionLog.open(copy, { config: SMALL_LOG })
      expect(readAll(unclean)).toEqual(after2)
      await unclean.close()
    } finally {
      fs.rmSync(copy, { recursive: true, force: true })
    }
    await log.close()
    const reopened = await openLog()
    expect(readAll(reopened)).toEqual(after2)
    expect(reopened.logEndOffset).toBe(4500)
  })

  it('reads the compacted range from every offset, removed ones giving the next surviving record (seed 0x5eed)', async () => {
    const rng = mulberry32(0x5eed)
    const log = await openLog()
    const written = appendWorkload(log, rng, 1200, { keys: 15, maxBatch: 8 })
    const res = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(res.cleaned).toBe(true)
    const survivors = readAll(log)
    expect(survivors).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))
    let s = 0
    for (let o = 0; o < log.logEndOffset; o++) {
      while (survivors[s].offset < o) s++
      const one = log.read(o, { maxRecords: 1 })
      expect(
        one.map((r) => r.offset),
        `read(${o})`,
      ).toEqual([survivors[s].offset])
      if (o % 37 === 0) {
        const seven = log.read(o, { maxRecords: 7 })
        expect(seven.map((r) => r.offset)).toEqual(survivors.slice(s, s + 7).map((r) => r.offset))
      }
    }
    expect(log.read(log.logEndOffset)).toEqual([])
    // Timestamp lookups still work over the gaps.
    const target = survivors[Math.floor(survivors.length / 2)]
    expect(log.offsetForTimestamp(target.timestamp)).toBe(target.offset)
  })

  it('removes a key with a tombstone, and drops the tombstone itself only after deleteRetentionMs', async () => {
    const rng = mulberry32(0x7001)
    const log = await openLog()
    const rec = (key: string | null, value: string | null): Rec => ({
      offset: log.logEndOffset,
      timestamp: TS_BASE + log.logEndOffset,
      key,
      value,
      headers: [],
    })
    const put = (key: string | null, value: string | null): Rec => {
      const r = rec(key, value)
      log.append([toInput(r)])
      return r
    }
    put('doomed', 'v1')
    put('kept', 'k1')
    put('doomed', 'v2')
    const tomb = put('doomed', null)
    appendWorkload(log, rng, 300, { keys: 1000 })
    log.roll()

    const T0 = NOW
    const r1 = await compactPartition(log, { ...CFG, deleteRetentionMs: 1000 }, { now: T0, cleaner, force: true })
    expect(r1.cleaned).toBe(true)
    const doomed1 = readAll(log).filter((r) => r.key === 'doomed')
    expect(doomed1).toEqual([tomb])
    // The first pass that copied the tombstone stamped its batch with the delete horizon.
    const header = batchHeaderHolding(tomb.offset)!
    expect(header.attributes & DELETE_HORIZON_FLAG_MASK).toBe(DELETE_HORIZON_FLAG_MASK)
    expect(header.baseTimestamp).toBe(T0 + 1000)
    // Record timestamps are re-based on the horizon, not changed.
    expect(readAll(log).find((r) => r.offset === tomb.offset)!.timestamp).toBe(tomb.timestamp)

    // Before the horizon the tombstone stays, whatever the pass.
    appendWorkload(log, rng, 100, { keys: 1000 })
    log.roll()
    const r2 = await compactPartition(log, { ...CFG, deleteRetentionMs: 1000 }, { now: T0 + 999, cleaner, force: true })
    expect(r2.cleaned).toBe(true)
    expect(readAll(log).filter((r) => r.key === 'doomed')).toEqual([tomb])
    expect(batchHeaderHolding(tomb.offset)!.baseTimestamp).toBe(T0 + 1000)

    // At the horizon the next pass removes it: the key is gone.
    appendWorkload(log, rng, 100, { keys: 1000 })
    log.roll()
    const r3 = await compactPartition(
      log,
      { ...CFG, deleteRetentionMs: 1000 },
      { now: T0 + 1000, cleaner, force: true },
    )
    expect(r3.cleaned).toBe(true)
    expect(r3.tombstonesRemoved).toBe(1)
    const all = readAll(log)
    expect(all.filter((r) => r.key === 'doomed')).toEqual([])
    expect(all.filter((r) => r.key === 'kept').map((r) => r.value)).toEqual(['k1'])
    // Reading at the tombstone's offset gives the next surviving record.
    expect(log.read(tomb.offset, { maxRecords: 1 })[0].offset).toBeGreaterThan(tomb.offset)
  })

  it('minCompactionLagMs keeps segments with recent records uncleaned', async () => {
    const rng = mulberry32(0x1a9)
    const LAG = 60_000
    const log = await openLog()
    const old = appendWorkload(log, rng, 1500, { keys: 20, tsBase: NOW - 100 * LAG })
    // From here on the records are recent (timestamp ~ NOW).
    const recent = appendWorkload(log, rng, 800, { keys: 20, tsBase: NOW - 3000 })
    const firstRecent = recent[0].offset
    const res = await compactPartition(log, { ...CFG, minCompactionLagMs: LAG }, { now: NOW, cleaner })
    expect(res.cleaned, res.reason).toBe(true)
    const plan = res.plan!
    // The segment holding the first recent record is the first uncleanable one.
    const holding = log
      .segmentInfos()
      .filter((s) => s.baseOffset <= firstRecent)
      .at(-1)!
    expect(plan.firstUncleanableOffset).toBe(holding.baseOffset)
    expect(res.firstDirtyOffset).toBe(plan.firstUncleanableOffset)
    const all = readAll(log)
    const written = [...old, ...recent]
    // Everything from the first uncleanable segment on is untouched, duplicates included.
    expect(all.filter((r) => r.offset >= plan.firstUncleanableOffset)).toEqual(
      written.filter((r) => r.offset >= plan.firstUncleanableOffset),
    )
    expect(all).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))

    // Once the lag has passed, the held-back segments are cleaned too.
    log.roll()
    const later = await compactPartition(log, { ...CFG, minCompactionLagMs: LAG }, { now: NOW + 2 * LAG, cleaner })
    expect(later.cleaned, later.reason).toBe(true)
    expect(later.firstDirtyOffset).toBe(log.logEndOffset)
  })

  it('drops records without a key (written directly through PartitionLog) from the cleaned range', async () => {
    const rng = mulberry32(0xbadc0de)
    const log = await openLog()
    const written = appendWorkload(log, rng, 2000, { keys: 30, unkeyed: 0.25 })
    const unkeyedTail = written.filter((r) => r.key === null && r.offset >= log.segmentInfos().at(-1)!.baseOffset)
    const res = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(res.cleaned).toBe(true)
    const all = readAll(log)
    expect(all.filter((r) => r.key === null && r.offset < res.firstDirtyOffset)).toEqual([])
    // Those in the active segment are not touched.
    expect(all.filter((r) => r.key === null)).toEqual(unkeyedTail)
    expect(all).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))
  })

  it('lets appends continue while the worker runs; they land at the right offsets (seed 0xa11)', async () => {
    const rng = mulberry32(0xa11)
    const log = await openLog()
    const initial = appendWorkload(log, rng, 4000, { keys: 50 })
    const rollsBefore = log.segmentInfos().length
    const pass = compactPartition(log, CFG, { now: NOW, cleaner })
    let finished = false
    pass.then(
      () => {
        finished = true
      },
      () => {
        finished = true
      },
    )
    const during: Rec[] = []
    let appendsWhileRunning = 0
    // At most 40 rounds: how many fit in a pass depends on the machine, and the segment-count bound below must not.
    while (!finished && appendsWhileRunning < 40) {
      during.push(...appendWorkload(log, rng, 25, { keys: 50 }))
      appendsWhileRunning++
      await new Promise((r) => setTimeout(r, 1))
    }
    const res = await pass
    expect(res.cleaned, res.reason).toBe(true)
    expect(appendsWhileRunning).toBeGreaterThan(0)
    expect(log.logEndOffset).toBe(initial.length + during.length)
    const written = [...initial, ...during]
    expect(readAll(log)).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))
    // Appends after the swap go on too, and a further pass covers what was appended meanwhile.
    const after = appendWorkload(log, rng, 500, { keys: 50 })
    log.roll()
    const res2 = await compactPartition(log, CFG, { now: NOW, cleaner, force: true })
    expect(res2.cleaned).toBe(true)
    expect(readAll(log)).toEqual(
      expectedAfterPass(
        expectedAfterPass([...written, ...after], 0, res.firstDirtyOffset),
        res.firstDirtyOffset,
        res2.firstDirtyOffset,
      ),
    )
    expect(log.segmentInfos().length).toBeLessThan(rollsBefore + 40)
  })

  it('with a small offset map cleans only the prefix that fit, and later passes finish the job', async () => {
    const rng = mulberry32(0x3a9)
    const log = await openLog()
    const written = appendWorkload(log, rng, 3000, { keys: 200 })
    const firstUncleanable = log.segmentInfos().at(-1)!.baseOffset
    let current = written
    let mapStart = 0
    let passes = 0
    while (mapStart < firstUncleanable) {
      const res = await compactPartition(log, CFG, { now: NOW, cleaner, mapBytes: 1024, force: true })
      passes++
      expect(res.cleaned).toBe(true)
      expect(res.firstDirtyOffset).toBeGreaterThan(mapStart)
      expect(res.mapFull).toBe(res.firstDirtyOffset < firstUncleanable)
      current = expectedAfterPass(current, mapStart, res.firstDirtyOffset)
      expect(readAll(log)).toEqual(current)
      mapStart = res.firstDirtyOffset
      expect(passes).toBeLessThan(200)
    }
    expect(passes).toBeGreaterThan(1)
    // Each pass removes every older record of the keys it mapped, so in the end one record per key is left.
    const keysBelow = current.filter((r) => r.offset < firstUncleanable).map((r) => r.key)
    expect(keysBelow.length).toBe(new Set(keysBelow).size)
  })

  it('does nothing when nothing is dirty, and records the first dirty offset in cleaner.checkpoint', async () => {
    const rng = mulberry32(0xc4ec)
    const log = await openLog()
    appendWorkload(log, rng, 1000, { keys: 10 })
    const res = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(res.cleaned).toBe(true)
    expect(readCleanerCheckpoint(dir)).toBe(res.firstDirtyOffset)
    const files = fs.readdirSync(dir).sort()
    const again = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(again.cleaned).toBe(false)
    expect(again.reason).toMatch(/nothing cleanable/)
    expect(fs.readdirSync(dir).sort()).toEqual(files)
    const policy = await compactPartition(log, { ...CFG, cleanupPolicy: 'delete' }, { now: NOW, cleaner, force: true })
    expect(policy.cleaned).toBe(false)
    expect(policy.reason).toMatch(/delete/)
  })

  it('rebuilds compressed and LogAppendTime batches with their codec and timestamp type (seed 0x92)', async () => {
    const codecs = new CodecRegistry()
    let clock = NOW
    const log = await openLog({ decompress: codecs.decompressor, clock: () => clock })
    const rng = mulberry32(0x92)
    for (let i = 0; i < 400; i++) {
      const n = 1 + Math.floor(rng() * 6)
      const records = Array.from({ length: n }, (_, j) => ({
        timestamp: TS_BASE + i * 10 + j,
        key: Buffer.from(`k${Math.floor(rng() * 12)}`),
        value: Buffer.from(`value ${i}/${j} ${'z'.repeat(Math.floor(rng() * 30))}`),
      }))
      clock++
      log.append(records, {
        compression: i % 2 === 0 ? codecs.compressionFor('gzip') : undefined,
        timestampType: i % 3 === 0 ? TimestampType.LogAppendTime : TimestampType.CreateTime,
      })
    }
    const before = readAll(log)
    const res = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(res.cleaned).toBe(true)
    const after = readAll(log)
    expect(after).toEqual(expectedAfterPass(before, 0, res.firstDirtyOffset))
    // Some gzip batches lost records and were rebuilt (still gzip: codec bits kept).
    let gzipBatches = 0
    for (const r of after.filter((x) => x.offset < res.firstDirtyOffset)) {
      const h = batchHeaderHolding(r.offset)!
      if ((h.attributes & 7) === 1) gzipBatches++
    }
    expect(gzipBatches).toBeGreaterThan(0)
  })

  it('leaves the partition as it was when aborted through the signal, then a later pass succeeds', async () => {
    const rng = mulberry32(0xab)
    const log = await openLog()
    const written = appendWorkload(log, rng, 3000, { keys: 40 })
    const ac = new AbortController()
    const pass = compactPartition(log, CFG, {
      now: NOW,
      cleaner,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.stage === 'group-written') ac.abort()
      },
    })
    await expect(pass).rejects.toMatchObject({ name: 'SeglogError', code: 'ABORTED' })
    expect(tempFiles(dir)).toEqual([])
    expect(readAll(log)).toEqual(written)
    expect(readCleanerCheckpoint(dir)).toBe(null)
    const res = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(res.cleaned).toBe(true)
    expect(readAll(log)).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))
  })

  it('abandons the swap when retention removed a segment meanwhile; the log stays readable', async () => {
    const rng = mulberry32(0x4e7)
    const log = await openLog()
    const written = appendWorkload(log, rng, 2000, { keys: 40 })
    const pass = compactPartition(log, CFG, {
      now: NOW,
      cleaner,
      onProgress: (p) => {
        if (p.stage === 'map-built') log.deleteOldestSegments(2, 'retention')
      },
    })
    await expect(pass).rejects.toMatchObject({ code: 'ABORTED' })
    expect(tempFiles(dir)).toEqual([])
    const start = log.logStartOffset
    expect(start).toBeGreaterThan(0)
    expect(readAll(log)).toEqual(written.filter((r) => r.offset >= start))
    const res = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(res.cleaned).toBe(true)
    expect(readAll(log)).toEqual(
      expectedAfterPass(
        written.filter((r) => r.offset >= start),
        start,
        res.firstDirtyOffset,
      ),
    )
  })

  it('rejects with CORRUPT_LOG when a segment is damaged, leaving no .cleaned file and the rest readable', async () => {
    const rng = mulberry32(0xdead)
    const log = await openLog()
    const written = appendWorkload(log, rng, 1500, { keys: 40 })
    const segs = log.segmentInfos()
    const victim = segs[3]
    const path = `${dir}/${String(victim.baseOffset).padStart(20, '0')}.log`
    const data = fs.readFileSync(path)
    data[data.length - 3] ^= 0xff
    fs.writeFileSync(path, data)
    await expect(compactPartition(log, CFG, { now: NOW, cleaner })).rejects.toMatchObject({ code: 'CORRUPT_LOG' })
    expect(tempFiles(dir)).toEqual([])
    const from = segs[4].baseOffset
    expect(readAll(log, from)).toEqual(written.filter((r) => r.offset >= from))
    expect(log.read(0, { maxRecords: 5 }).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4])
  })
})
