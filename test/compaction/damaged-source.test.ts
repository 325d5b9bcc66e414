/**
 * Compaction over damaged files: a batch whose base offset (outside the CRC) was flipped must fail the pass with
 * CORRUPT_LOG before it maps keys to wrong offsets or rewrites anything; a damaged `cleaner.checkpoint` is ignored
 * and reported; a compacted partition whose middle segment lost data reads as CORRUPT_LOG there, never as the
 * next surviving record.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readCleanerCheckpoint } from '../../src/compaction/checkpoint.js'
import { Cleaner } from '../../src/compaction/cleaner.js'
import { type CompactionConfig, compactPartition } from '../../src/compaction/compactor.js'
import { SeglogError } from '../../src/errors.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import { CLEANER_CHECKPOINT } from '../../src/segment/file-names.js'
import { batchesOf, flipBaseOffsetBit, logFile, segmentBases } from '../support/damage.js'
import { mulberry32 } from '../support/random.js'
import { appendWorkload, expectedAfterPass, type Rec, readAll, SMALL_LOG, TS_BASE, tempDir } from './support.js'

const NOW = TS_BASE + 10_000_000
const CFG: CompactionConfig = {
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  deleteRetentionMs: 86_400_000,
}

const cleaner = new Cleaner()
let dir: string
const open: PartitionLog[] = []

async function openLog(): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, { config: SMALL_LOG })
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

const listing = (): string[] => fs.readdirSync(dir).sort()

describe('a compaction pass over a segment with a flipped base offset', () => {
  it.each([
    [0, 'up by one'],
    [2, 'up by four'],
    [40, 'far beyond the log'],
  ] as const)(
    'fails with CORRUPT_LOG naming the file and leaves the partition as it was (bit %i: %s)',
    async (bit, _how) => {
      const rng = mulberry32(0xbad + bit)
      const log = await openLog()
      const written = appendWorkload(log, rng, 2000, { keys: 30 })
      await log.close()
      open.length = 0
      const bases = segmentBases(dir)
      const file = logFile(dir, bases[3])
      const batches = batchesOf(file)
      expect(batches.length).toBeGreaterThanOrEqual(3)
      // A middle batch: the open-time check reads only each segment's first and last batches.
      flipBaseOffsetBit(file, batches[1].position, bit)
      const before = listing()

      const reopened = await openLog()
      const pass = compactPartition(reopened, CFG, { now: NOW, cleaner, force: true })
      const err = await pass.then(
        () => null,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(SeglogError)
      expect((err as SeglogError).code).toBe('CORRUPT_LOG')
      expect((err as SeglogError).path).toBe(file)
      expect(listing()).toEqual(before)
      expect(readCleanerCheckpoint(dir)).toBeNull()
      // Everything outside the damaged segment reads back as written.
      const head = reopened.read(0, { maxRecords: bases[3], maxBytes: 1 << 24 }).map((r) => r.offset)
      expect(head).toEqual(written.slice(0, bases[3]).map((r) => r.offset))
    },
  )
})

describe('a damaged cleaner.checkpoint', () => {
  it.each([
    ['not JSON', '{"version":1,"firstDirtyOffset":'],
    ['an array', '[1,2,3]'],
    ['another version', '{"version":7,"firstDirtyOffset":10}'],
    ['a negative offset', '{"version":1,"firstDirtyOffset":-5}'],
    ['an offset as a string', '{"version":1,"firstDirtyOffset":"10"}'],
    ['an offset beyond 2^53', '{"version":1,"firstDirtyOffset":1e300}'],
    ['binary garbage', '\u0000\u00ff\u0013garbage'],
  ] as const)(
    '(%s) is ignored and reported: the pass starts at the log start and writes a valid one',
    async (_name, content) => {
      const rng = mulberry32(0xc4e)
      const log = await openLog()
      const written = appendWorkload(log, rng, 1500, { keys: 25 })
      fs.writeFileSync(path.join(dir, CLEANER_CHECKPOINT), content)

      const res = await compactPartition(log, CFG, { now: NOW, cleaner })
      expect(res.checkpointProblem).toContain(CLEANER_CHECKPOINT)
      expect(res.cleaned, res.reason).toBe(true)
      expect(readAll(log)).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))
      expect(readCleanerCheckpoint(dir)).toBe(res.firstDirtyOffset)
    },
  )

  it('that cannot be read at all (a directory in its place) fails the pass with IO_ERROR, never a crash', async () => {
    const rng = mulberry32(0xc4f)
    const log = await openLog()
    const written = appendWorkload(log, rng, 800, { keys: 25 })
    fs.mkdirSync(path.join(dir, CLEANER_CHECKPOINT))
    await expect(compactPartition(log, CFG, { now: NOW, cleaner })).rejects.toMatchObject({ code: 'IO_ERROR' })
    expect(readAll(log)).toEqual(written)
  })
})

describe('a compacted partition whose middle segment lost data', () => {
  it('reads as CORRUPT_LOG at the missing offsets, never as the next surviving record', async () => {
    const rng = mulberry32(0x313)
    const log = await openLog()
    const written = appendWorkload(log, rng, 3000, { keys: 60 })
    const res = await compactPartition(log, CFG, { now: NOW, cleaner })
    expect(res.cleaned).toBe(true)
    const survivors: Rec[] = readAll(log)
    expect(survivors).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))
    await log.close()
    open.length = 0

    const bases = segmentBases(dir)
    expect(bases.length).toBeGreaterThanOrEqual(3)
    // A middle segment (neither the first nor the active one) holding survivors.
    const k = bases.findIndex(
      (b, i) => i > 0 && i < bases.length - 1 && survivors.some((r) => r.offset >= b && r.offset < bases[i + 1]),
    )
    expect(k).toBeGreaterThan(0)
    const victim = bases[k]
    const next = bases[k + 1]
    fs.truncateSync(logFile(dir, victim), 36)
    const lost = survivors.filter((r) => r.offset >= victim && r.offset < next)
    console.log(`segments ${bases.join(' ')}: truncated ${victim}, ${lost.length} survivors there`)

    const reopened = await openLog()
    for (const r of lost) {
      expect(() => reopened.read(r.offset, { maxRecords: 1 })).toThrow(expect.objectContaining({ code: 'CORRUPT_LOG' }))
    }
    expect(() => reopened.read(0, { maxRecords: survivors.length })).toThrow(
      expect.objectContaining({ code: 'CORRUPT_LOG' }),
    )
    // Before and after the damaged segment, the survivors read back exactly.
    expect(readAll(reopened, next)).toEqual(survivors.filter((r) => r.offset >= next))
    const head = reopened.read(0, { maxRecords: survivors.filter((r) => r.offset < victim).length })
    expect(head.map((r) => r.offset)).toEqual(survivors.filter((r) => r.offset < victim).map((r) => r.offset))
  })
})
