/**
 * Point reads (`maxRecords` below a batch's record count) after a reopen: the first read into a big batch reads and
 * CRC-checks it whole, then serves single records from its record table; the background verifier of a
 * `BatchCache` checks batches off the read path. Damage is never served by either, records come back exactly as
 * written across segments and compaction gaps, and the cache stays within its budget.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cleaner } from '../../src/compaction/cleaner.js'
import { compactPartition } from '../../src/compaction/compactor.js'
import { type FileHandle, type FileSystem, nodeFileSystem } from '../../src/io/file-system.js'
import { type LogConfig, PartitionLog } from '../../src/log/partition-log.js'
import { BatchCache, recordTable } from '../../src/segment/batch-cache.js'
import type { BatchRecordInput } from '../../src/segment/record-batch.js'
import { appendWorkload, expectedAfterPass, fromDecoded, readAll, SMALL_LOG, TS_BASE } from '../compaction/support.js'
import { batchesOf, flipBit, segmentBases } from '../support/damage.js'
import { codeOf } from '../support/errors.js'
import { mulberry32 } from '../support/random.js'

let dir: string
const opened: PartitionLog[] = []
const cleaner = new Cleaner()

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-point-reads-'))
})

afterEach(async () => {
  for (const log of opened.splice(0)) await log.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

afterAll(async () => {
  await cleaner.close()
})

const PER_BATCH = 40
const BATCHES = 30
const CONFIG: Partial<LogConfig> = { indexIntervalBytes: 512, fileDeleteDelayMs: 0 }

function rec(i: number): BatchRecordInput {
  return { timestamp: TS_BASE + i, key: Buffer.from(`key-${i}`), value: Buffer.from(`value-${i}-`.padEnd(60, 'v')) }
}

function expectRecord(r: { offset: number; timestamp: number; value: Buffer | null } | undefined, i: number): void {
  expect(r?.offset).toBe(i)
  expect(r?.timestamp).toBe(TS_BASE + i)
  expect(r?.value?.toString()).toBe(`value-${i}-`.padEnd(60, 'v'))
}

async function open(cache: BatchCache, config: Partial<LogConfig> = CONFIG): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, { config, batchCache: cache })
  opened.push(log)
  return log
}

/** A closed log of BATCHES batches of PER_BATCH records in one segment. */
async function build(): Promise<void> {
  const log = await open(new BatchCache())
  for (let b = 0; b < BATCHES; b++) log.append(Array.from({ length: PER_BATCH }, (_, j) => rec(b * PER_BATCH + j)))
  await log.close()
}

/** Runs the cache's background verification to the end, synchronously. */
function verifyAll(cache: BatchCache): void {
  while (!cache.verifyFor(1000)) {
    // each call runs ~1 s of steps at most
  }
}

function logFile(): string {
  return path.join(dir, '00000000000000000000.log')
}

/** File position of record `i` of the batch at `batchPos`, by the batch's own record table. */
function recordPosition(batchPos: number, i: number): number {
  const bytes = fs.readFileSync(logFile())
  const size = batchesOf(logFile()).find((b) => b.position === batchPos)!.size
  const table = recordTable(bytes, batchPos, size)!
  return batchPos + table.starts[i]
}

describe('point reads after a reopen', () => {
  it('never serve a batch with a flipped byte: not on the first read into it, nor after the background verifier met it', async () => {
    await build()
    const victim = batchesOf(logFile())[10]
    // A byte of a value in the middle of the batch: only the CRC can tell.
    flipBit(logFile(), recordPosition(victim.position, 20) + 30, 3)

    const first = await open(new BatchCache())
    expect(codeOf(() => first.read(victim.baseOffset + 20, { maxRecords: 1 }))).toBe('CORRUPT_LOG')
    expect(codeOf(() => first.read(victim.baseOffset + 5, { maxRecords: 1 }))).toBe('CORRUPT_LOG')
    expectRecord(first.read(victim.baseOffset - 1, { maxRecords: 1 })[0], victim.baseOffset - 1)
    expectRecord(first.read(victim.lastOffset + 1, { maxRecords: 1 })[0], victim.lastOffset + 1)
    await first.close()

    const cache = new BatchCache(1 << 20, { verifyInBackground: true })
    const log = await open(cache)
    expect(cache.verifying).toBe(1)
    verifyAll(cache)
    expect(cache.verifying).toBe(0)
    for (const o of [victim.baseOffset, victim.baseOffset + 20, victim.lastOffset]) {
      expect(codeOf(() => log.read(o, { maxRecords: 1 }))).toBe('CORRUPT_LOG')
      expect(codeOf(() => log.read(o, { maxRecords: 3 }))).toBe('CORRUPT_LOG')
    }
    expect(codeOf(() => log.readRaw(victim.baseOffset, 1 << 20))).toBe('CORRUPT_LOG')
    // The batches on either side (verified, or checked on first read) read as written.
    for (const o of [0, victim.baseOffset - 1, victim.lastOffset + 1, BATCHES * PER_BATCH - 1]) {
      expectRecord(log.read(o, { maxRecords: 1 })[0], o)
    }
  })

  it('never serve a batch whose base offset (outside the CRC) was changed, after the background verifier ran', async () => {
    await build()
    const victim = batchesOf(logFile())[7]
    // Bit 1 of the base offset's last byte: the batch would claim offsets 2 above its own.
    flipBit(logFile(), victim.position + 7, 1)
    const cache = new BatchCache(1 << 20, { verifyInBackground: true })
    const log = await open(cache)
    verifyAll(cache)
    expect(codeOf(() => log.read(victim.baseOffset + 3, { maxRecords: 1 }))).toBe('CORRUPT_LOG')
    expectRecord(log.read(victim.baseOffset - 1, { maxRecords: 1 })[0], victim.baseOffset - 1)
  })

  it('after a batch was verified, a changed record frame or offset is CORRUPT_LOG at once and a changed value at the next open', async () => {
    await build()
    const batches = batchesOf(logFile())
    const cache = new BatchCache(1 << 20, { verifyInBackground: true })
    const log = await open(cache)
    verifyAll(cache)
    // Verified and tabled: these reads need no CRC.
    expectRecord(log.read(batches[3].baseOffset + 7, { maxRecords: 1 })[0], batches[3].baseOffset + 7)

    // Batch 3, record 7: its length varint (the first byte of the record).
    flipBit(logFile(), recordPosition(batches[3].position, 7), 1)
    expect(codeOf(() => log.read(batches[3].baseOffset + 7, { maxRecords: 1 }))).toBe('CORRUPT_LOG')

    // Batch 4, record 9: its offset delta (after the length varint, the attributes and the timestamp delta).
    const bytes = fs.readFileSync(logFile())
    let at = recordPosition(batches[4].position, 9)
    while (bytes[at] >= 0x80) at++
    at += 2
    while (bytes[at] >= 0x80) at++
    at++
    expect(bytes[at]).toBe(9 << 1)
    flipBit(logFile(), at, 2)
    expect(codeOf(() => log.read(batches[4].baseOffset + 9, { maxRecords: 1 }))).toBe('CORRUPT_LOG')
    expect(codeOf(() => log.read(batches[4].baseOffset + 8, { maxRecords: 2 }))).toBe('CORRUPT_LOG')

    // Batch 5, record 11: a value byte. Verified batches are trusted while open; the next open checks it again.
    flipBit(logFile(), recordPosition(batches[5].position, 11) + 30, 0)
    await log.close()
    const again = await open(new BatchCache(1 << 20, { verifyInBackground: true }))
    expect(codeOf(() => again.read(batches[5].baseOffset + 11, { maxRecords: 1 }))).toBe('CORRUPT_LOG')
  })

  it('return exactly the records written, one to three at a time, across segments and compaction gaps, before and after background verification (seed 0x9e3779b9)', async () => {
    const SEED = 0x9e3779b9
    const rng = mulberry32(SEED)
    const config = { ...SMALL_LOG, segmentBytes: 16 * 1024 }
    const log = await open(new BatchCache(), config)
    const written = appendWorkload(log, rng, 6000, { keys: 3000, maxBatch: 60, tombstones: 0.05 })
    const res = await compactPartition(
      log,
      {
        minCleanableDirtyRatio: 0,
        minCompactionLagMs: 0,
        maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
        deleteRetentionMs: 86_400_000,
      },
      { now: TS_BASE + 10_000_000, cleaner },
    )
    expect(res.cleaned, res.reason).toBe(true)
    const expected = readAll(log)
    const infos = log.segmentInfos()
    expect(expected).toEqual(expectedAfterPass(written, 0, infos.at(-1)!.baseOffset))
    expect(segmentBases(dir).length).toBeGreaterThan(5)
    expect(expected.length).toBeLessThan(written.length)
    await log.close()

    const byOffset = new Map(expected.map((r, i) => [r.offset, i]))
    /** Index in `expected` of the first record at or after `o`. */
    const firstAtOrAfter = (o: number): number => {
      let lo = 0
      let hi = expected.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (expected[mid].offset < o) lo = mid + 1
        else hi = mid
      }
      return lo
    }
    const end = written.length
    const check = (reader: PartitionLog, reads: number): void => {
      for (let k = 0; k < reads; k++) {
        const o = Math.floor(rng() * end)
        const n = 1 + Math.floor(rng() * 3)
        const got = reader.read(o, { maxRecords: n }).map(fromDecoded)
        const from = byOffset.get(o) ?? firstAtOrAfter(o)
        expect(got.length).toBeGreaterThanOrEqual(1)
        expect(got.length).toBeLessThanOrEqual(n)
        expect(got, `read(${o}, ${n}) with seed ${SEED}`).toEqual(expected.slice(from, from + got.length))
      }
    }
    const cache = new BatchCache(1 << 20, { verifyInBackground: true })
    const reopened = await open(cache, config)
    check(reopened, 1500)
    verifyAll(cache)
    check(reopened, 1500)
    await reopened.close()
    const verifiedFirst = new BatchCache(1 << 20, { verifyInBackground: true })
    const third = await open(verifiedFirst, config)
    verifyAll(verifiedFirst)
    check(third, 3000)
  })

  it('keep the cache within its budget: the background verifier only fills room that is free', async () => {
    await build()
    let logReads = 0
    const counting: FileSystem = {
      ...nodeFileSystem,
      open(p, mode) {
        const h = nodeFileSystem.open(p, mode)
        if (!p.endsWith('.log')) return h
        return new Proxy(h, {
          get(target, key) {
            if (key === 'read') {
              return (...args: Parameters<FileHandle['read']>) => {
                logReads++
                return target.read(...args)
              }
            }
            const v = Reflect.get(target, key)
            return typeof v === 'function' ? v.bind(target) : v
          },
        })
      },
    }
    const budget = 3000
    const cache = new BatchCache(budget, { verifyInBackground: true })
    const log = await PartitionLog.open(dir, { config: CONFIG, batchCache: cache, fs: counting })
    opened.push(log)
    expectRecord(log.read(25 * PER_BATCH + 3, { maxRecords: 1 })[0], 25 * PER_BATCH + 3)
    const afterRead = cache.size
    expect(afterRead).toBeGreaterThan(0)
    verifyAll(cache)
    // Each table of 40 records costs 96 + 41 * 4 = 260 bytes: 30 batches would need 7,800.
    expect(cache.size).toBeLessThanOrEqual(budget)
    expect(cache.size).toBeGreaterThan(afterRead)
    // What the read cached is still there, and so are the first tables the verifier made: one read each.
    for (const o of [25 * PER_BATCH + 30, 5, PER_BATCH + 17]) {
      logReads = 0
      expectRecord(log.read(o, { maxRecords: 1 })[0], o)
      expect(logReads, `reads for offset ${o}`).toBe(1)
    }
    const rng = mulberry32(7)
    for (let k = 0; k < 500; k++) {
      const o = Math.floor(rng() * BATCHES * PER_BATCH)
      expectRecord(log.read(o, { maxRecords: 1 })[0], o)
      expect(cache.size).toBeLessThanOrEqual(budget)
    }
  })

  it('verify in the background on their own once the event loop is idle, and stop when the log closes', async () => {
    await build()
    const cache = new BatchCache(1 << 20, { verifyInBackground: true })
    const first = await open(cache)
    const deadline = Date.now() + 30_000
    while (cache.verifying > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    expect(cache.verifying).toBe(0)
    expect(cache.size).toBeGreaterThan(0)
    await first.close()
    expect(cache.size).toBe(0)

    const other = new BatchCache(1 << 20, { verifyInBackground: true })
    const log = await open(other)
    await log.close()
    verifyAll(other)
    expect(other.verifying).toBe(0)
    expect(other.size).toBe(0)
  })
})
