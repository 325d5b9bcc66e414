/**
 * LogSegment on its own: one `.log` of RecordBatch v2 batches with its sparse `.index` and `.timeindex`, over the
 * real file system. Each test builds batches with `encodeBatch`, stamps their base offsets as the log does, and
 * checks the segment through its public methods against the files on disk and against the rules its header states.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isSeglogError } from '../../src/errors.js'
import { nodeFileSystem } from '../../src/io/file-system.js'
import { type DecodedRecord, encodeBatch, setBatchBaseOffset } from '../../src/segment/record-batch.js'
import { LogSegment, type SegmentConfig } from '../../src/segment/segment.js'

const BASE = 1000
const T0 = 1_700_000_000_000
const CONFIG: SegmentConfig = { indexIntervalBytes: 300, segmentIndexBytes: 10 * 1024 * 1024 }
const NOW = T0

let dir: string
const open: LogSegment[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-segment-'))
})
afterEach(() => {
  for (const s of open.splice(0)) s.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

function create(config: SegmentConfig = CONFIG, base = BASE): LogSegment {
  const s = LogSegment.create(nodeFileSystem, dir, base, config, NOW)
  open.push(s)
  return s
}

function load(config: SegmentConfig = CONFIG, base = BASE): LogSegment {
  const s = LogSegment.load(nodeFileSystem, dir, base, config, NOW)
  open.push(s)
  return s
}

/** The value of the record at `offset` (so any record read back can be checked by its offset alone). */
const recordValue = (offset: number): string => `value-${offset}-${'x'.repeat(offset % 17)}`
/** Its timestamp: increasing with the offset, 10 ms apart. */
const timestampOf = (offset: number): number => T0 + (offset - BASE) * 10

interface Appended {
  position: number
  size: number
  baseOffset: number
  lastOffset: number
  maxTimestamp: number
}

/**
 * Appends a batch of `count` records at `baseOffset` (offsets baseOffset .. baseOffset + count - 1), stamped the
 * way the log stamps it, and returns where it landed.
 */
function appendBatch(seg: LogSegment, baseOffset: number, count: number): Appended {
  const records = Array.from({ length: count }, (_, i) => ({
    timestamp: timestampOf(baseOffset + i),
    key: `k${baseOffset + i}`,
    value: Buffer.from(recordValue(baseOffset + i)),
  }))
  const batch = encodeBatch(records)
  setBatchBaseOffset(batch, 0, baseOffset)
  const position = seg.size
  const lastOffset = baseOffset + count - 1
  const maxTimestamp = timestampOf(lastOffset)
  seg.append(batch, lastOffset, maxTimestamp)
  return { position, size: batch.length, baseOffset, lastOffset, maxTimestamp }
}

/** Appends batches of the given record counts, offsets dense from BASE. */
function fill(seg: LogSegment, counts: number[]): Appended[] {
  let next = seg.nextOffset
  return counts.map((n) => {
    const a = appendBatch(seg, next, n)
    next += n
    return a
  })
}

function readRecords(seg: LogSegment, target: number, maxRecords = 1_000, maxBytes = 1 << 20): DecodedRecord[] {
  const out: DecodedRecord[] = []
  seg.readRecords(target, maxRecords, maxBytes, true, out, undefined, null)
  return out
}

function offsetEntries(seg: LogSegment): { offset: number; position: number }[] {
  return Array.from({ length: seg.offsetIndex.entries }, (_, i) => seg.offsetIndex.entryAt(i))
}

function timeEntries(seg: LogSegment): { timestamp: number; offset: number }[] {
  return Array.from({ length: seg.timeIndex.entries }, (_, i) => seg.timeIndex.entryAt(i))
}

/** The `.index` file decoded as FORMAT.md lays it out: 8-byte entries (relative offset int32, position int32). */
function offsetIndexFile(seg: LogSegment): { offset: number; position: number }[] {
  const buf = fs.readFileSync(seg.offsetIndexPath)
  expect(buf.length % 8).toBe(0)
  return Array.from({ length: buf.length / 8 }, (_, i) => ({
    offset: seg.baseOffset + buf.readInt32BE(i * 8),
    position: buf.readInt32BE(i * 8 + 4),
  }))
}

/** The `.timeindex` file decoded: 12-byte entries (timestamp int64, relative offset int32). */
function timeIndexFile(seg: LogSegment): { timestamp: number; offset: number }[] {
  const buf = fs.readFileSync(seg.timeIndexPath)
  expect(buf.length % 12).toBe(0)
  return Array.from({ length: buf.length / 12 }, (_, i) => ({
    timestamp: Number(buf.readBigInt64BE(i * 12)),
    offset: seg.baseOffset + buf.readInt32BE(i * 12 + 8),
  }))
}

/**
 * The index entries the header's rule gives for these batches: an entry (last offset, start position) for a batch
 * appended when more than `indexIntervalBytes` were appended since the last entry (never for the first batch),
 * and next to it (max timestamp so far, offset of the batch that carried it) when that timestamp grew.
 */
function expectedEntries(batches: Appended[], interval: number) {
  const offsets: { offset: number; position: number }[] = []
  const times: { timestamp: number; offset: number }[] = []
  let since = 0
  let maxTs = -1
  let maxTsOffset = -1
  for (const b of batches) {
    if (b.maxTimestamp > maxTs) {
      maxTs = b.maxTimestamp
      maxTsOffset = b.lastOffset
    }
    if (since > interval) {
      offsets.push({ offset: b.lastOffset, position: b.position })
      if (times.length === 0 || maxTs > times[times.length - 1].timestamp)
        times.push({ timestamp: maxTs, offset: maxTsOffset })
      since = b.size
    } else since += b.size
  }
  return { offsets, times }
}

function codeAndPath(fn: () => unknown): { code: string; path: string | undefined } | undefined {
  try {
    fn()
  } catch (err) {
    if (!isSeglogError(err)) throw err
    return { code: err.code, path: err.path }
  }
  return undefined
}

describe('LogSegment append and read', () => {
  it('stores batches back to back from position 0 and tracks size, next offset and max timestamp', () => {
    const seg = create()
    expect(seg.size).toBe(0)
    expect(seg.nextOffset).toBe(BASE)
    expect(readRecords(seg, BASE)).toEqual([])
    const batches = fill(seg, [1, 3, 2, 5, 1])
    let position = 0
    for (const b of batches) {
      expect(b.position).toBe(position)
      position += b.size
    }
    expect(seg.size).toBe(position)
    expect(fs.statSync(seg.logPath).size).toBe(position)
    expect(seg.nextOffset).toBe(BASE + 12)
    expect(seg.largestTimestamp()).toBe(timestampOf(BASE + 11))
    expect(path.basename(seg.logPath)).toBe(`${String(BASE).padStart(20, '0')}.log`)
  })

  it('reads every offset back from the batch that holds it, at its start or inside it', () => {
    const seg = create()
    const batches = fill(seg, [1, 4, 2, 7, 3])
    for (const b of batches) {
      for (let o = b.baseOffset; o <= b.lastOffset; o++) {
        // readBatches returns the whole batch holding `o`, from its first byte.
        const range = seg.readBatches(o, 1)
        expect(range?.position, `batch for offset ${o}`).toBe(b.position)
        expect(range?.buffer.length).toBeGreaterThanOrEqual(b.size)
        // readRecords starts at `o` itself, inside the batch, and goes on to the log end.
        const records = readRecords(seg, o)
        expect(records.map((r) => r.offset)).toEqual(Array.from({ length: BASE + 17 - o }, (_, i) => o + i))
        for (const r of records) {
          expect(r.value?.toString()).toBe(recordValue(r.offset))
          expect(r.key?.toString()).toBe(`k${r.offset}`)
          expect(r.timestamp).toBe(timestampOf(r.offset))
        }
      }
    }
  })

  it('returns nothing at or past the next offset, and the first batch for offsets below the base', () => {
    const seg = create()
    fill(seg, [2, 2])
    expect(seg.readBatches(BASE + 4, 1 << 20)).toBeNull()
    expect(seg.readBatches(BASE + 100, 1 << 20)).toBeNull()
    expect(readRecords(seg, BASE + 4)).toEqual([])
    expect(seg.readBatches(0, 1)?.position).toBe(0)
    expect(readRecords(seg, 0).map((r) => r.offset)).toEqual([BASE, BASE + 1, BASE + 2, BASE + 3])
  })

  it('returns at most maxRecords from the target on, and successive reads give every record once', () => {
    const seg = create()
    const batches = fill(seg, [5, 5, 5])
    expect(readRecords(seg, BASE + 2, 2).map((r) => r.offset)).toEqual([BASE + 2, BASE + 3])
    for (const maxRecords of [1, 3, 4, 7, 100]) {
      const seen: number[] = []
      let next = BASE + 1
      for (let calls = 0; next < seg.nextOffset; calls++) {
        expect(calls, `maxRecords ${maxRecords}: reads make progress`).toBeLessThan(20)
        const out: DecodedRecord[] = []
        const r = seg.readRecords(next, maxRecords, 1 << 20, true, out, undefined, null)
        expect(out.length).toBeGreaterThan(0)
        expect(out.length).toBeLessThanOrEqual(maxRecords)
        seen.push(...out.map((x) => x.offset))
        next = r!.nextOffset
      }
      expect(seen, `maxRecords ${maxRecords}`).toEqual(Array.from({ length: 14 }, (_, i) => BASE + 1 + i))
    }
    // maxBytes below any batch: the batch holding the target still comes whole, nothing after it.
    expect(readRecords(seg, BASE + 6, 1_000, 1).map((r) => r.offset)).toEqual([BASE + 6, BASE + 7, BASE + 8, BASE + 9])
    expect(seg.readBatches(BASE + 6, 1)?.buffer.length).toBe(batches[1].size)
  })

  it('serves the first batch whose last offset reaches the target when offsets have gaps (after compaction)', () => {
    const seg = create()
    const a = appendBatch(seg, BASE, 2)
    const b = appendBatch(seg, BASE + 5, 3)
    const c = appendBatch(seg, BASE + 20, 1)
    expect(seg.nextOffset).toBe(BASE + 21)
    expect(seg.readBatches(BASE + 1, 1)?.position).toBe(a.position)
    expect(seg.readBatches(BASE + 3, 1)?.position).toBe(b.position)
    expect(seg.readBatches(BASE + 8, 1)?.position).toBe(c.position)
    expect(readRecords(seg, BASE + 2).map((r) => r.offset)).toEqual([BASE + 5, BASE + 6, BASE + 7, BASE + 20])
  })

  it('never reads past its size: bytes written after the last batch it appended are invisible', () => {
    const seg = create()
    fill(seg, [3, 3])
    const size = seg.size
    // A write in progress (or a torn tail): bytes past `size` that no append has completed.
    const fd = fs.openSync(seg.logPath, 'r+')
    fs.writeSync(fd, Buffer.alloc(500, 0xab), 0, 500, size)
    fs.closeSync(fd)
    expect(seg.readBatches(BASE + 6, 1 << 20)).toBeNull()
    expect(readRecords(seg, BASE).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5].map((i) => BASE + i))
    expect(seg.size).toBe(size)
  })

  it('finds the first offset whose timestamp is at or after a given time', () => {
    const seg = create()
    fill(seg, [3, 4, 5, 2, 6])
    for (const o of [BASE, BASE + 1, BASE + 7, BASE + 13, BASE + 19]) {
      expect(seg.findOffsetByTimestamp(timestampOf(o), BASE)).toEqual({ offset: o, timestamp: timestampOf(o) })
      expect(seg.findOffsetByTimestamp(timestampOf(o) - 5, BASE)?.offset).toBe(o)
    }
    expect(seg.findOffsetByTimestamp(timestampOf(BASE + 5), BASE + 9)?.offset).toBe(BASE + 9)
    expect(seg.findOffsetByTimestamp(timestampOf(BASE + 19) + 1, BASE)).toBeNull()
  })

  it('rejects a batch whose bytes changed on disk with CORRUPT_LOG naming the file', () => {
    const seg = create()
    const batches = fill(seg, [2, 3, 2])
    const fd = fs.openSync(seg.logPath, 'r+')
    const at = batches[1].position + batches[1].size - 3 // inside the last record's value (CRC-covered)
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, at)
    fs.closeSync(fd)
    expect(readRecords(seg, BASE, 1_000, batches[0].size).map((r) => r.offset)).toEqual([BASE, BASE + 1])
    expect(codeAndPath(() => readRecords(seg, BASE + 3))).toEqual({ code: 'CORRUPT_LOG', path: seg.logPath })
  })
})

describe('LogSegment indexes', () => {
  it('adds an entry only after more than indexIntervalBytes were appended, naming the batch start and its last offset', () => {
    const seg = create()
    const batches = fill(seg, [1, 2, 3, 1, 4, 2, 2, 5, 1, 1, 3, 2, 6, 1, 2])
    const expected = expectedEntries(batches, CONFIG.indexIntervalBytes)
    expect(expected.offsets.length).toBeGreaterThan(3)
    expect(offsetEntries(seg)).toEqual(expected.offsets)
    expect(timeEntries(seg)).toEqual(expected.times)
    // The first batch is never indexed; entries strictly increase.
    expect(offsetEntries(seg)[0].position).toBeGreaterThan(0)
    const offs = offsetEntries(seg).map((e) => e.offset)
    expect(offs).toEqual([...offs].sort((a, b) => a - b))
    expect(new Set(offs).size).toBe(offs.length)
    // On disk the files hold exactly those entries (entries × entry size, no preallocation).
    expect(offsetIndexFile(seg)).toEqual(expected.offsets)
    expect(timeIndexFile(seg)).toEqual(expected.times)
  })

  it('writes no index entry while less than indexIntervalBytes were appended', () => {
    const seg = create({ ...CONFIG, indexIntervalBytes: 1 << 20 })
    fill(seg, [3, 3, 3, 3])
    expect(seg.offsetIndex.entries).toBe(0)
    expect(seg.timeIndex.entries).toBe(0)
    expect(readRecords(seg, BASE + 10).map((r) => r.offset)).toEqual([BASE + 10, BASE + 11])
  })

  it('adds the final time-index entry (the segment maximum) when it stops being active', () => {
    const seg = create()
    const batches = fill(seg, [2, 2, 2, 2, 2, 2, 2, 2])
    const before = timeEntries(seg)
    seg.onBecomeInactive()
    const last = batches[batches.length - 1]
    expect(timeEntries(seg)).toEqual([...before, { timestamp: last.maxTimestamp, offset: last.lastOffset }])
  })

  it('rebuilds the same indexes from the log alone (recover), on a segment loaded from disk', () => {
    const seg = create()
    const batches = fill(seg, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
    seg.onBecomeInactive()
    const offsets = offsetEntries(seg)
    const times = timeEntries(seg)
    seg.syncNow()
    seg.close()
    fs.rmSync(seg.offsetIndexPath)
    fs.writeFileSync(seg.timeIndexPath, Buffer.alloc(0))
    const again = load()
    const result = again.recover(1 << 20)
    expect(result).toMatchObject({ validBytes: seg.size, truncatedBytes: 0, nextOffset: BASE + 44, reason: null })
    expect(offsetEntries(again)).toEqual(offsets)
    expect(timeEntries(again)).toEqual(times)
    expect(offsetIndexFile(again)).toEqual(offsets)
    expect(readRecords(again, batches[5].baseOffset + 4, 1)[0].offset).toBe(batches[5].baseOffset + 4)
  })
})

describe('LogSegment truncateTo', () => {
  it('cuts at the start of the batch holding the offset, drops later index entries, and appends go on from there', () => {
    const seg = create()
    const batches = fill(
      seg,
      Array.from({ length: 12 }, () => 3),
    )
    const cut = batches[7]
    const removed = seg.truncateTo(cut.baseOffset + 1) // inside batch 7: the whole batch goes
    expect(removed).toBe(batches[11].position + batches[11].size - cut.position)
    expect(seg.size).toBe(cut.position)
    expect(fs.statSync(seg.logPath).size).toBe(cut.position)
    expect(seg.nextOffset).toBe(cut.baseOffset)
    expect(readRecords(seg, BASE).map((r) => r.offset)).toEqual(Array.from({ length: 21 }, (_, i) => BASE + i))
    for (const e of offsetEntries(seg)) expect(e.position).toBeLessThan(cut.position)
    expect(offsetEntries(seg)).toEqual(expectedEntries(batches.slice(0, 7), CONFIG.indexIntervalBytes).offsets)
    const next = appendBatch(seg, seg.nextOffset, 2)
    expect(next.position).toBe(cut.position)
    expect(readRecords(seg, cut.baseOffset).map((r) => r.value?.toString())).toEqual([
      recordValue(cut.baseOffset),
      recordValue(cut.baseOffset + 1),
    ])
  })

  it('empties the segment when truncated to its base offset or below, and removes nothing past its end', () => {
    const seg = create()
    fill(
      seg,
      Array.from({ length: 10 }, () => 4),
    )
    expect(seg.truncateTo(BASE + 40)).toBe(0)
    expect(seg.nextOffset).toBe(BASE + 40)
    const size = seg.size
    expect(seg.truncateTo(BASE)).toBe(size)
    expect(seg.size).toBe(0)
    expect(seg.nextOffset).toBe(BASE)
    expect(seg.offsetIndex.entries).toBe(0)
    expect(seg.timeIndex.entries).toBe(0)
    expect(fs.statSync(seg.logPath).size).toBe(0)
    expect(readRecords(seg, BASE)).toEqual([])
    appendBatch(seg, BASE, 1)
    expect(readRecords(seg, BASE).map((r) => r.offset)).toEqual([BASE])
    // An offset inside the first batch takes the whole batch: the segment is empty again at its base.
    seg.truncateTo(BASE)
    appendBatch(seg, BASE, 4)
    const one = seg.size
    expect(seg.truncateTo(BASE + 2)).toBe(one)
    expect(seg.size).toBe(0)
    expect(seg.nextOffset).toBe(BASE)
    expect(readRecords(seg, BASE)).toEqual([])
  })
})

describe('LogSegment recovery, flush and close', () => {
  it('recover cuts a partial batch at the end of the file and keeps every complete one', () => {
    const seg = create()
    const batches = fill(seg, [2, 2, 2])
    const size = seg.size
    seg.syncNow()
    seg.close()
    // A torn write: the first 40 bytes of a copy of the last batch.
    const torn = fs.readFileSync(seg.logPath).subarray(batches[2].position, batches[2].position + 40)
    fs.appendFileSync(seg.logPath, torn)
    const again = load()
    expect(again.recover(1 << 20)).toMatchObject({ validBytes: size, truncatedBytes: 40, nextOffset: BASE + 6 })
    expect(fs.statSync(again.logPath).size).toBe(size)
    expect(again.size).toBe(size)
    expect(readRecords(again, BASE).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5].map((i) => BASE + i))
    appendBatch(again, BASE + 6, 1)
    expect(readRecords(again, BASE + 6).map((r) => r.offset)).toEqual([BASE + 6])
  })

  it('reads the same records after syncNow, close and load as before, reopening its file on demand', async () => {
    const seg = create()
    fill(seg, [3, 3, 3])
    await seg.sync()
    seg.syncNow()
    const before = readRecords(seg, BASE).map((r) => [r.offset, r.timestamp, r.value?.toString()])
    seg.close()
    // A closed segment reopens its file lazily on the next read.
    expect(readRecords(seg, BASE).map((r) => [r.offset, r.timestamp, r.value?.toString()])).toEqual(before)
    seg.close()
    const again = load()
    expect(again.size).toBe(seg.size)
    expect(again.recover(1 << 20).truncatedBytes).toBe(0)
    expect(readRecords(again, BASE).map((r) => [r.offset, r.timestamp, r.value?.toString()])).toEqual(before)
  })

  it('a closed segment whose .log was removed fails its next read with IO_ERROR ENOENT and creates no file', () => {
    const seg = create()
    fill(seg, [3, 3])
    seg.syncNow()
    seg.close()
    fs.unlinkSync(seg.logPath)
    let caught: unknown
    try {
      readRecords(seg, BASE)
    } catch (err) {
      caught = err
    }
    expect(isSeglogError(caught)).toBe(true)
    expect(caught).toMatchObject({ code: 'IO_ERROR', errno: 'ENOENT', path: seg.logPath })
    expect(fs.existsSync(seg.logPath)).toBe(false)
    // A write path reopens the same way: no empty file appears at the missing path.
    expect(() => appendBatch(seg, BASE + 6, 1)).toThrow(expect.objectContaining({ code: 'IO_ERROR', errno: 'ENOENT' }))
    expect(fs.existsSync(seg.logPath)).toBe(false)
  })

  it('deleteFiles removes its .log, .index and .timeindex', () => {
    const seg = create()
    fill(seg, [4, 4, 4, 4, 4, 4, 4, 4])
    expect(seg.offsetIndex.entries).toBeGreaterThan(0)
    const files = [seg.logPath, seg.offsetIndexPath, seg.timeIndexPath]
    for (const f of files) expect(fs.existsSync(f), f).toBe(true)
    seg.deleteFiles()
    for (const f of files) expect(fs.existsSync(f), f).toBe(false)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('asks to roll only when not empty and the next batch would pass segmentBytes', () => {
    const seg = create()
    expect(seg.shouldRoll(10_000, BASE, T0, 100, Number.MAX_SAFE_INTEGER, NOW)).toBe(false)
    const [b] = fill(seg, [1])
    expect(seg.shouldRoll(100, BASE + 1, T0, b.size + 100, Number.MAX_SAFE_INTEGER, NOW)).toBe(false)
    expect(seg.shouldRoll(101, BASE + 1, T0, b.size + 100, Number.MAX_SAFE_INTEGER, NOW)).toBe(true)
  })
})

describe('LogSegment opened read-only', () => {
  /** Writes a shorter segment with the same base offset elsewhere and renames it over `seg`'s `.log`, as compaction's swap does. */
  function replaceUnder(seg: LogSegment): number {
    const other = fs.mkdtempSync(path.join(dir, 'other-'))
    const s = LogSegment.create(nodeFileSystem, other, BASE, CONFIG, NOW)
    fill(s, [3])
    s.close()
    fs.renameSync(path.join(other, path.basename(seg.logPath)), seg.logPath)
    return fs.statSync(seg.logPath).size
  }

  function readOnly(): LogSegment {
    const s = LogSegment.openReadOnly(nodeFileSystem, dir, BASE, CONFIG, NOW)
    open.push(s)
    return s
  }

  it('reads the file it opened when another process replaces the file under its name before the first read', () => {
    const w = create()
    const written = fill(w, [5, 5, 5, 5, 5, 5, 5, 5])
    w.close()
    const seg = readOnly()
    const sizeBefore = seg.size
    expect(replaceUnder(seg)).toBeLessThan(sizeBefore)
    // A scan of the whole segment (an inactive one whose indexes did not match) reads the file opened above.
    seg.rebuildIndexes(null)
    expect(seg.damage).toBeNull()
    expect(seg.size).toBe(sizeBefore)
    expect(seg.nextOffset).toBe(written.at(-1)!.lastOffset + 1)
    expect(readRecords(seg, BASE).map((r) => r.offset)).toEqual(Array.from({ length: 40 }, (_, i) => BASE + i))
  })

  it('takes the size it follows from the file it opened, not from whatever the path now names', () => {
    const w = create()
    fill(w, [5, 5, 5, 5])
    w.close()
    const seg = readOnly()
    seg.openTail()
    expect(seg.nextOffset).toBe(BASE + 20)
    replaceUnder(seg)
    // Nothing was appended to the file it reads: nothing to take in, and it was not cut.
    expect(seg.followTail()).toBe(0)
    expect(readRecords(seg, BASE + 10).map((r) => r.offset)[0]).toBe(BASE + 10)
  })
})
