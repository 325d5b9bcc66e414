/**
 * The rewrite itself (`runCleanJob`, in-process) and the worker wrapper (`Cleaner`): index files built as
 * LogSegment builds them, empty batches kept only at the end of a group, failures cleaned up.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cleaner } from '../../src/compaction/cleaner.js'
import { runCleanJob } from '../../src/compaction/rewrite.js'
import { nodeFileSystem } from '../../src/io/file-system.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import {
  batchLastOffset,
  batchMaxTimestamp,
  batchSizeAt,
  readBatchHeader,
  readInt64,
} from '../../src/segment/record-batch.js'
import { LogSegment } from '../../src/segment/segment.js'
import { mulberry32 } from '../support/random.js'
import {
  appendWorkload,
  expectedAfterPass,
  jobFor,
  readAll,
  SMALL_LOG,
  TS_BASE,
  tempDir,
  tempFiles,
  toInput,
} from './support.js'

const NOW = TS_BASE + 10_000_000
let dir: string

beforeEach(() => {
  dir = tempDir()
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const name = (base: number, suffix: string): string => `${String(base).padStart(20, '0')}${suffix}`

function readEntries(file: string, size: number): Buffer[] {
  const data = fs.readFileSync(file)
  const out: Buffer[] = []
  for (let at = 0; at + size <= data.length; at += size) out.push(data.subarray(at, at + size))
  return out
}

describe('runCleanJob', () => {
  it('writes offset and time indexes exactly as LogSegment builds them, plus the final time entry (seed 0x1d)', async () => {
    const log = await PartitionLog.open(dir, {
      config: { ...SMALL_LOG, segmentBytes: 64 * 1024, indexIntervalBytes: 300 },
    })
    appendWorkload(log, mulberry32(0x1d), 3000, { keys: 400, maxBatch: 4 })
    log.roll()
    appendWorkload(log, mulberry32(0x1e), 10, { keys: 400 })
    const result = await runCleanJob(jobFor(log, NOW))
    await log.close()
    expect(result.newSegments.length).toBeGreaterThan(0)
    let indexed = 0
    for (const seg of result.newSegments) {
      const logFile = path.join(dir, `${name(seg.baseOffset, '.log')}.cleaned`)
      const data = fs.readFileSync(logFile)
      expect(data.length).toBe(seg.size)
      // Every offset-index entry points at a batch start whose last offset is the entry's offset.
      const starts = new Map<number, number>()
      let maxTs = -1
      for (let pos = 0; pos < data.length; pos += batchSizeAt(data, pos)) {
        starts.set(pos, batchLastOffset(data, pos))
        maxTs = Math.max(maxTs, batchMaxTimestamp(data, pos))
      }
      const offsets = readEntries(path.join(dir, `${name(seg.baseOffset, '.index')}.cleaned`), 8)
      indexed += offsets.length
      for (const e of offsets) expect(starts.get(e.readInt32BE(4))).toBe(seg.baseOffset + e.readInt32BE(0))
      const times = readEntries(path.join(dir, `${name(seg.baseOffset, '.timeindex')}.cleaned`), 12)
      expect(readInt64(times.at(-1)!, 0)).toBe(maxTs)

      // LogSegment.recover on a copy rebuilds the same offset index and the same time index minus the final entry.
      const copy = path.join(dir, 'copy')
      fs.mkdirSync(copy, { recursive: true })
      for (const suffix of ['.log', '.index', '.timeindex']) {
        fs.copyFileSync(
          path.join(dir, `${name(seg.baseOffset, suffix)}.cleaned`),
          path.join(copy, name(seg.baseOffset, suffix)),
        )
      }
      const cfg = { indexIntervalBytes: 300, segmentIndexBytes: 10 * 1024 * 1024 }
      const rebuilt = LogSegment.load(nodeFileSystem, copy, seg.baseOffset, cfg, NOW)
      rebuilt.recover(Number.MAX_SAFE_INTEGER)
      rebuilt.syncNow()
      rebuilt.close()
      expect(readEntries(path.join(copy, name(seg.baseOffset, '.index')), 8)).toEqual(offsets)
      const rebuiltTimes = readEntries(path.join(copy, name(seg.baseOffset, '.timeindex')), 12)
      expect(times.slice(0, rebuiltTimes.length)).toEqual(rebuiltTimes)
      expect(times.length - rebuiltTimes.length).toBeLessThanOrEqual(1)
      fs.rmSync(copy, { recursive: true, force: true })
    }
    expect(indexed).toBeGreaterThan(10)
  })

  it('cleans segments that span several read chunks record for record (seed 0xc4)', async () => {
    // 3 MiB segments: each is read in 1 MiB chunks through the pass's two reused buffers, and large survivors'
    // output goes through the writer's staging buffer more than once.
    const log = await PartitionLog.open(dir, { config: { ...SMALL_LOG, segmentBytes: 3 * 1024 * 1024 } })
    const rng = mulberry32(0xc4)
    const written = appendWorkload(log, rng, 160_000, { keys: 30_000, maxBatch: 50 })
    log.roll()
    written.push(...appendWorkload(log, rng, 10, { keys: 30_000 }))
    const job = jobFor(log, NOW)
    expect(job.segments.filter((s) => s.size > 2 * 1024 * 1024).length).toBeGreaterThanOrEqual(2)
    const result = await runCleanJob(job)
    expect(result.bytesAfter).toBeGreaterThan(1024 * 1024)
    log.replaceSegments(result.newSegments, result.replacedBaseOffsets)
    expect(readAll(log)).toEqual(expectedAfterPass(written, 0, result.endOffset))
    await log.close()
  })

  it('keeps the last batch of a group as a bare header when none of its records survive', async () => {
    const log = await PartitionLog.open(dir, { config: { ...SMALL_LOG, segmentBytes: 4096 } })
    const big = (key: string, i: number) =>
      toInput({ offset: i, timestamp: TS_BASE + i, key, value: `${key}-${i}-${'p'.repeat(1400)}`, headers: [] })
    log.append([big('a', 0)])
    log.append([big('b', 1)])
    log.roll()
    log.append([big('a', 2)])
    log.append([big('b', 3)])
    log.roll()
    log.append([big('c', 4)])
    const job = jobFor(log, NOW)
    const result = await runCleanJob(job)
    // Two groups (each segment alone: together they exceed segmentBytes); the first lost both its records.
    expect(result.newSegments.map((s) => s.baseOffset)).toEqual([0, 2])
    expect(result.newSegments[0].size).toBe(61)
    const header = readBatchHeader(fs.readFileSync(path.join(dir, `${name(0, '.log')}.cleaned`)), 0)
    expect(header.recordsCount).toBe(0)
    expect(header.baseOffset + header.lastOffsetDelta).toBe(1)
    expect(header.baseOffset).toBe(1)
    expect(header.attributes & 7).toBe(0)
    expect(result.recordsRemoved).toBe(2)
    expect(result.endOffset).toBe(4)
    // Swapped in, a read from offset 0 skips the empty batch.
    log.replaceSegments(result.newSegments, result.replacedBaseOffsets)
    expect(readAll(log).map((r) => [r.offset, r.key])).toEqual([
      [2, 'a'],
      [3, 'b'],
      [4, 'c'],
    ])
    expect(log.read(0, { maxRecords: 1 })[0].offset).toBe(2)
    await log.close()
  })

  it('removes what it wrote when it fails, and reports a damaged batch as CORRUPT_LOG', async () => {
    const log = await PartitionLog.open(dir, { config: SMALL_LOG })
    appendWorkload(log, mulberry32(0xf00), 1000, { keys: 20 })
    const job = jobFor(log, NOW)
    await log.close()
    const victim = job.segments[job.segments.length - 2]
    const file = path.join(dir, name(victim.baseOffset, '.log'))
    const data = fs.readFileSync(file)
    data[70] ^= 0x55
    fs.writeFileSync(file, data)
    await expect(runCleanJob(job)).rejects.toMatchObject({ code: 'CORRUPT_LOG', path: file })
    expect(tempFiles(dir)).toEqual([])
  })

  it('aborts (ABORTED) when a segment it was given is gone', async () => {
    const log = await PartitionLog.open(dir, { config: SMALL_LOG })
    appendWorkload(log, mulberry32(0xf01), 500, { keys: 20 })
    const job = jobFor(log, NOW)
    await log.close()
    fs.renameSync(path.join(dir, name(job.segments[1].baseOffset, '.log')), path.join(dir, 'elsewhere'))
    await expect(runCleanJob(job)).rejects.toMatchObject({ code: 'ABORTED' })
  })
})

describe('Cleaner', () => {
  it('runs jobs on a worker thread, one at a time, and reports worker errors as SeglogErrors', async () => {
    const log = await PartitionLog.open(dir, { config: SMALL_LOG })
    appendWorkload(log, mulberry32(0xc1), 800, { keys: 20 })
    const job = jobFor(log, NOW)
    await log.close()
    const cleaner = new Cleaner()
    try {
      const progress: string[] = []
      const [a, b] = await Promise.all([
        cleaner.run(job, { onProgress: (p) => progress.push(p.stage) }),
        cleaner.run({ ...job, mapRange: [0, 0] }),
      ])
      expect(a.newSegments.length).toBeGreaterThan(0)
      expect(progress[0]).toBe('map-built')
      expect(progress.filter((s) => s === 'group-written').length).toBe(a.newSegments.length)
      expect(b.newSegments).toEqual([])
      expect(cleaner.hasWorker).toBe(true)
      await expect(cleaner.run({ ...job, dir: path.join(dir, 'missing') })).rejects.toMatchObject({
        name: 'SeglogError',
        code: 'ABORTED',
      })
      await expect(cleaner.run({ ...job, mapBytes: 10 })).rejects.toMatchObject({ name: 'SeglogError' })
    } finally {
      await cleaner.close()
    }
    expect(cleaner.hasWorker).toBe(false)
    await expect(cleaner.run(job)).rejects.toMatchObject({ code: 'ENGINE_CLOSED' })
  })

  it('close() stops a running job with ABORTED', async () => {
    const log = await PartitionLog.open(dir, { config: SMALL_LOG })
    appendWorkload(log, mulberry32(0xc2), 3000, { keys: 20 })
    const job = jobFor(log, NOW)
    await log.close()
    const cleaner = new Cleaner()
    let closing: Promise<void> | null = null
    const running = cleaner.run(job, {
      onProgress: () => {
        closing ??= cleaner.close()
      },
    })
    await expect(running).rejects.toMatchObject({ code: 'ABORTED' })
    expect(closing).not.toBe(null)
    await closing
    expect(cleaner.hasWorker).toBe(false)
  })
})
