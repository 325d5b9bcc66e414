import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { type LogConfig, type LogEvent, PartitionLog } from '../../src/log/partition-log.js'
import type { RetentionPolicy } from '../../src/retention/planner.js'
import { applyRetention, RETENTION_REASONS } from '../../src/retention/retention.js'
import { type BatchRecordInput, encodeBatch } from '../../src/segment/record-batch.js'
import { codeOf } from '../support/errors.js'

/** Record i has timestamp T0 + i seconds. */
const T0 = 1_700_000_000_000
const SEC = 1000
const PER_SEGMENT = 5
const N = 30

function rec(i: number): BatchRecordInput {
  return { timestamp: T0 + i * SEC, key: Buffer.from('k'), value: Buffer.alloc(100, i) }
}

/** Every batch holds one record of the same shape, so every batch has this size. */
const B = encodeBatch([rec(0)]).length

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-retention-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

/**
 * Records 0..N-1, one per batch, segments of exactly PER_SEGMENT records: bases 0 5 10 15 20 25, the active
 * segment (25) is non-empty, log end 30. Segment k's largest timestamp is T0 + (5k + 4) s.
 */
async function build(config: Partial<LogConfig> = {}, onEvent?: (e: LogEvent) => void): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, {
    config: { segmentBytes: PER_SEGMENT * B, fileDeleteDelayMs: 1_000_000_000, ...config },
    ...(onEvent ? { onEvent } : {}),
  })
  for (let i = 0; i < N; i++) log.append([rec(i)])
  expect(bases(log)).toEqual([0, 5, 10, 15, 20, 25])
  expect(log.sizeInBytes).toBe(N * B)
  return log
}

function bases(log: PartitionLog): number[] {
  return log.segmentInfos().map((s) => s.baseOffset)
}

/** Every readable offset, in order (reading from the log start to the end). */
function readable(log: PartitionLog): number[] {
  return log.read(log.logStartOffset, { maxRecords: 1000, maxBytes: 1 << 20 }).map((r) => r.offset)
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i)
}

/** Expects the log to hold exactly [start, end) and nothing below start. */
function expectReadable(log: PartitionLog, start: number, end: number): void {
  expect(log.logStartOffset).toBe(start)
  expect(log.logEndOffset).toBe(end)
  expect(readable(log)).toEqual(range(start, end))
  if (start > 0) expect(codeOf(() => log.read(start - 1))).toBe('OFFSET_OUT_OF_RANGE')
  expect(log.read(end)).toEqual([])
}

const NONE = { logStartOffset: 0, size: 0, time: 0 }
const time = (retentionMs: number): RetentionPolicy => ({ retentionMs, retentionBytes: -1, deleteEnabled: true })
const size = (retentionBytes: number): RetentionPolicy => ({ retentionMs: -1, retentionBytes, deleteEnabled: true })

/** A second pass at the same clock deletes nothing and changes nothing. */
function expectSecondPassNoop(log: PartitionLog, policy: RetentionPolicy, now: number): void {
  const before = { bases: bases(log), start: log.logStartOffset, end: log.logEndOffset }
  expect(applyRetention(log, policy, now)).toEqual({
    segmentsDeleted: 0,
    bytesDeleted: 0,
    logStartOffset: before.start,
    reasons: NONE,
  })
  expect({ bases: bases(log), start: log.logStartOffset, end: log.logEndOffset }).toEqual(before)
}

describe('PartitionLog.segmentSummaries', () => {
  it('reports end offsets and largest timestamps, the same after a clean reopen', async () => {
    const log = await build()
    const want = [0, 5, 10, 15, 20, 25].map((base) => ({
      baseOffset: base,
      endOffset: base + PER_SEGMENT,
      size: PER_SEGMENT * B,
      largestTimestamp: T0 + (base + 4) * SEC,
      firstBatchTimestamp: T0 + base * SEC,
    }))
    expect(log.segmentSummaries()).toEqual(want)
    await log.close()
    const again = await PartitionLog.open(dir, { config: { segmentBytes: PER_SEGMENT * B } })
    expect(again.segmentSummaries()).toEqual(want)
    await again.close()
  })
})

describe('applyRetention on a real log', () => {
  it('time only: deletes segments whose newest record is older than retentionMs (strictly)', async () => {
    const events: LogEvent[] = []
    const log = await build({}, (e) => events.push(e))
    const now = T0 + 30 * SEC
    // Segment 10 (largest T0+14s) is exactly 16 s old: kept. Segments 0 and 5 are 26 s and 21 s old.
    expect(applyRetention(log, time(16 * SEC), now)).toEqual({
      segmentsDeleted: 2,
      bytesDeleted: 2 * PER_SEGMENT * B,
      logStartOffset: 10,
      reasons: { logStartOffset: 0, size: 0, time: 2 },
    })
    expect(bases(log)).toEqual([10, 15, 20, 25])
    expectReadable(log, 10, 30)
    expect(events.filter((e) => e.type === 'segments-deleted')).toEqual([
      { type: 'segments-deleted', dir, baseOffsets: [0, 5], reason: RETENTION_REASONS.time },
    ])
    expectSecondPassNoop(log, time(16 * SEC), now)

    // One millisecond shorter and segment 10 goes too.
    expect(applyRetention(log, time(16 * SEC - 1), now).reasons).toEqual({ logStartOffset: 0, size: 0, time: 1 })
    expect(bases(log)).toEqual([15, 20, 25])
    expectReadable(log, 15, 30)
    expectSecondPassNoop(log, time(16 * SEC - 1), now)
    await log.close()
  })

  it('size only: keeps at least retentionBytes, exceeding it by less than one segment', async () => {
    const log = await build()
    const now = T0 + 30 * SEC
    // Excess 18 batches: three segments of 5 go (3 left < 5).
    expect(applyRetention(log, size(12 * B), now)).toEqual({
      segmentsDeleted: 3,
      bytesDeleted: 15 * B,
      logStartOffset: 15,
      reasons: { logStartOffset: 0, size: 3, time: 0 },
    })
    expect(bases(log)).toEqual([15, 20, 25])
    expect(log.sizeInBytes).toBe(15 * B)
    expectReadable(log, 15, 30)
    expectSecondPassNoop(log, size(12 * B), now)
    // Exactly at the limit: excess 0, nothing goes.
    expectSecondPassNoop(log, size(15 * B), now)
    await log.close()
  })

  it('size then time: size claims the oldest, time the next old ones', async () => {
    const events: LogEvent[] = []
    const log = await build({}, (e) => events.push(e))
    const now = T0 + 30 * SEC
    // Size: excess 8 batches → segment 0 only. Time (older than 15 s: largest < T0+15s): segments 5 and 10.
    const policy: RetentionPolicy = { retentionMs: 15 * SEC, retentionBytes: 22 * B, deleteEnabled: true }
    expect(applyRetention(log, policy, now)).toEqual({
      segmentsDeleted: 3,
      bytesDeleted: 15 * B,
      logStartOffset: 15,
      reasons: { logStartOffset: 0, size: 1, time: 2 },
    })
    expect(bases(log)).toEqual([15, 20, 25])
    expectReadable(log, 15, 30)
    expect(
      events.flatMap((e) => (e.type === 'segments-deleted' ? [{ bases: e.baseOffsets, reason: e.reason }] : [])),
    ).toEqual([
      { bases: [0], reason: RETENTION_REASONS.size },
      { bases: [5, 10], reason: RETENTION_REASONS.time },
    ])
    expectSecondPassNoop(log, policy, now)
    await log.close()
  })

  it('without the delete policy neither size nor time applies', async () => {
    const log = await build()
    expectSecondPassNoop(log, { retentionMs: 0, retentionBytes: 0, deleteEnabled: false }, T0 + 1_000_000 * SEC)
    expectReadable(log, 0, 30)
    await log.close()
  })

  it('advanceLogStartOffset: the log start stays where it was raised; retention moves it to the first kept base', async () => {
    const log = await build()
    expect(log.advanceLogStartOffset(12)).toBe(12)
    // The log itself drops segments wholly below 12; segment 10 holds 12.
    expect(bases(log)).toEqual([10, 15, 20, 25])
    expectReadable(log, 12, 30)
    const now = T0 + 30 * SEC
    // Nothing to delete: the log start is not moved back to the first base.
    expectSecondPassNoop(log, { retentionMs: 0, retentionBytes: 0, deleteEnabled: false }, now)
    expectSecondPassNoop(log, size(20 * B), now)
    expectReadable(log, 12, 30)
    // Size: 20 batches, limit 15 → segment 10 goes, log start 15.
    expect(applyRetention(log, size(15 * B), now)).toEqual({
      segmentsDeleted: 1,
      bytesDeleted: 5 * B,
      logStartOffset: 15,
      reasons: { logStartOffset: 0, size: 1, time: 0 },
    })
    expect(bases(log)).toEqual([15, 20, 25])
    expectReadable(log, 15, 30)
    // Mid-segment start offsets survive a retention pass and a reopen.
    log.advanceLogStartOffset(22)
    expect(bases(log)).toEqual([20, 25])
    expectSecondPassNoop(log, time(16 * SEC), now)
    expectReadable(log, 22, 30)
    await log.close()
    const again = await PartitionLog.open(dir, { config: { segmentBytes: PER_SEGMENT * B } })
    expect(bases(again)).toEqual([20, 25])
    expectReadable(again, 22, 30)
    await again.close()
  })

  it('log start breach: segments left below the log start (crash before their rename) go under any policy', async () => {
    const log = await build()
    // Keep copies of segments 0 and 5 as they were, then raise the log start past them.
    const names = fs.readdirSync(dir).filter((n) => /^0{18}(00|05)\./.test(n))
    expect(names.length).toBeGreaterThanOrEqual(2)
    const saved = new Map(names.map((n) => [n, fs.readFileSync(path.join(dir, n))]))
    log.advanceLogStartOffset(12)
    await log.close()
    // As if the process died after partition.state was written but before the files were renamed `.deleted`.
    for (const [n, data] of saved) fs.writeFileSync(path.join(dir, n), data)
    const again = await PartitionLog.open(dir, { config: { segmentBytes: PER_SEGMENT * B } })
    expect(bases(again)).toEqual([0, 5, 10, 15, 20, 25])
    expectReadable(again, 12, 30)
    const compactOnly: RetentionPolicy = { retentionMs: 0, retentionBytes: 0, deleteEnabled: false }
    const now = T0 + 1_000_000 * SEC
    expect(applyRetention(again, compactOnly, now)).toEqual({
      segmentsDeleted: 2,
      bytesDeleted: 10 * B,
      logStartOffset: 12,
      reasons: { logStartOffset: 2, size: 0, time: 0 },
    })
    expect(bases(again)).toEqual([10, 15, 20, 25])
    expectReadable(again, 12, 30)
    expectSecondPassNoop(again, compactOnly, now)
    await again.close()
  })

  it('deleting everything keeps the log end offset; the next append gets it', async () => {
    const log = await build()
    const now = T0 + 1_000_000 * SEC
    expect(applyRetention(log, time(0), now)).toEqual({
      segmentsDeleted: 6,
      bytesDeleted: N * B,
      logStartOffset: 30,
      reasons: { logStartOffset: 0, size: 0, time: 6 },
    })
    // The log rolled an empty segment at the log end before deleting the active one.
    expect(log.segmentSummaries()).toEqual([
      { baseOffset: 30, endOffset: 30, size: 0, largestTimestamp: -1, firstBatchTimestamp: -1 },
    ])
    expectReadable(log, 30, 30)
    expect(codeOf(() => log.read(0))).toBe('OFFSET_OUT_OF_RANGE')
    // The empty active segment is never deleted.
    expectSecondPassNoop(log, { retentionMs: 0, retentionBytes: 0, deleteEnabled: true }, now)
    expect(log.append([rec(30)]).baseOffset).toBe(30)
    expectReadable(log, 30, 31)
    await log.close()
    const again = await PartitionLog.open(dir, { config: { segmentBytes: PER_SEGMENT * B } })
    expectReadable(again, 30, 31)
    expect(again.append([rec(31)]).baseOffset).toBe(31)
    await again.close()
  })

  it('renames deleted files `.deleted` at once; they are gone after close and reopen', async () => {
    const log = await build()
    applyRetention(log, size(12 * B), T0 + 30 * SEC)
    const deleted = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.deleted'))
      .sort()
    // Every file of segments 0, 5 and 10 (.log always; .index/.timeindex when they exist) and nothing else.
    expect(deleted.filter((n) => n.endsWith('.log.deleted'))).toEqual(
      [0, 5, 10].map((b) => `${String(b).padStart(20, '0')}.log.deleted`),
    )
    for (const n of deleted) expect([0, 5, 10].map((b) => String(b).padStart(20, '0'))).toContain(n.slice(0, 20))
    for (const b of [0, 5, 10]) expect(fs.existsSync(path.join(dir, `${String(b).padStart(20, '0')}.log`))).toBe(false)
    await log.close()
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.deleted'))).toEqual([])
    const again = await PartitionLog.open(dir, { config: { segmentBytes: PER_SEGMENT * B } })
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.deleted'))).toEqual([])
    expect(bases(again)).toEqual([15, 20, 25])
    expectReadable(again, 15, 30)
    await again.close()
  })

  it('unlinks `.deleted` files after fileDeleteDelayMs', async () => {
    const log = await build({ fileDeleteDelayMs: 20 })
    applyRetention(log, size(12 * B), T0 + 30 * SEC)
    expect(fs.readdirSync(dir).some((n) => n.endsWith('.deleted'))).toBe(true)
    const deadline = Date.now() + 5000
    while (fs.readdirSync(dir).some((n) => n.endsWith('.deleted')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.deleted'))).toEqual([])
    expectReadable(log, 15, 30)
    await log.close()
  })

  it('a reader that started at the log start gets OFFSET_OUT_OF_RANGE below the new log start', async () => {
    const log = await build()
    // The reader reads offsets 0..2 before retention runs.
    let position = 0
    const first = log.read(position, { maxRecords: 3 })
    expect(first.map((r) => r.offset)).toEqual([0, 1, 2])
    position = first[first.length - 1].offset + 1
    applyRetention(log, time(16 * SEC), T0 + 30 * SEC)
    expect(log.logStartOffset).toBe(10)
    let caught: unknown
    try {
      log.read(position)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(SeglogError)
    expect((caught as SeglogError).code).toBe('OFFSET_OUT_OF_RANGE')
    expect((caught as SeglogError).offset).toBe(3)
    // Resetting to the log start (auto.offset.reset=earliest) continues at the first kept offset.
    expect(log.read(log.logStartOffset, { maxRecords: 1 })[0].offset).toBe(10)
    await log.close()
  })
})
