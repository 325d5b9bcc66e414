import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { nodeFileSystem } from '../../src/io/file-system.js'
import { type LogConfig, type LogEvent, PartitionLog } from '../../src/log/partition-log.js'
import { type BatchRecordInput, TimestampType } from '../../src/segment/record-batch.js'
import { codeOf } from '../support/errors.js'
import { FaultyFileSystem } from '../support/faulty-fs.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

function rec(i: number, extra: Partial<BatchRecordInput> = {}): BatchRecordInput {
  return {
    timestamp: 1_700_000_000_000 + i,
    key: i % 5 === 0 ? null : Buffer.from(`key-${i}`),
    value: Buffer.from(`value-${i}-${'x'.repeat(i % 37)}`),
    headers: i % 3 === 0 ? [{ key: 'n', value: Buffer.from(String(i)) }] : null,
    ...extra,
  }
}

function expectRecord(r: { offset: number; timestamp: number; key: Buffer | null; value: Buffer | null }, i: number) {
  const want = rec(i)
  expect(r.offset).toBe(i)
  expect(r.timestamp).toBe(want.timestamp)
  expect(r.key === null ? null : r.key.toString()).toBe(want.key === null ? null : want.key.toString())
  expect(r.value?.toString()).toBe(want.value?.toString())
}

/** Appends records 0..n-1 in batches of `batch`. */
function fill(log: PartitionLog, n: number, batch: number): void {
  for (let i = 0; i < n; i += batch) {
    const records: BatchRecordInput[] = []
    for (let j = i; j < Math.min(n, i + batch); j++) records.push(rec(j))
    log.append(records)
  }
}

async function open(config: Partial<LogConfig> = {}, extra: Parameters<typeof PartitionLog.open>[1] = {}) {
  return PartitionLog.open(dir, { config, ...extra })
}

describe('PartitionLog reads', () => {
  it('returns nothing at the log end offset and OFFSET_OUT_OF_RANGE outside [start, end]', async () => {
    const log = await open()
    expect(log.read(0)).toEqual([])
    expect(codeOf(() => log.read(1))).toBe('OFFSET_OUT_OF_RANGE')
    fill(log, 10, 3)
    expect(log.logEndOffset).toBe(10)
    expect(log.read(10)).toEqual([])
    expect(codeOf(() => log.read(11))).toBe('OFFSET_OUT_OF_RANGE')
    log.advanceLogStartOffset(4)
    expect(codeOf(() => log.read(3))).toBe('OFFSET_OUT_OF_RANGE')
    expect(log.read(4, { maxRecords: 1 })[0].offset).toBe(4)
    await log.close()
  })

  it('rolls by size into the expected number of segments and reads across boundaries once, in order, intact', async () => {
    const log = await open({ segmentBytes: 2048, indexIntervalBytes: 128 })
    // One record per batch; every batch is the same size, so the segment count is predictable.
    const sizes: number[] = []
    for (let i = 0; i < 200; i++) {
      const r = { timestamp: 1_700_000_000_000 + i, key: Buffer.from('k'), value: Buffer.alloc(100, i) }
      log.append([r])
      sizes.push(log.sizeInBytes)
    }
    const batchSize = sizes[0]
    const perSegment = Math.floor(2048 / batchSize)
    expect(log.segmentInfos().length).toBe(Math.ceil(200 / perSegment))
    for (const s of log.segmentInfos()) expect(s.size).toBeLessThanOrEqual(2048)
    const all = log.read(0, { maxRecords: 1000, maxBytes: 1 << 30 })
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i))
    expect(all.every((r, i) => r.value?.equals(Buffer.alloc(100, i)) && r.key?.toString() === 'k')).toBe(true)
    await log.close()
  })

  it('returns every record with key, value, headers and timestamp intact from any starting offset', async () => {
    const log = await open({ segmentBytes: 4096, indexIntervalBytes: 256 })
    fill(log, 500, 7)
    expect(log.segmentInfos().length).toBeGreaterThan(3)
    for (const start of [0, 1, 6, 7, 8, 99, 250, 498, 499]) {
      const got = []
      let next = start
      while (next < log.logEndOffset) {
        const chunk = log.read(next, { maxRecords: 13, maxBytes: 700 })
        expect(chunk.length).toBeGreaterThan(0)
        got.push(...chunk)
        next = chunk[chunk.length - 1].offset + 1
      }
      expect(got.length).toBe(500 - start)
      for (const [k, r] of got.entries()) expectRecord(r, start + k)
      const withHeaders = got.filter((r) => r.offset % 3 === 0)
      for (const r of withHeaders) expect(r.headers).toEqual([{ key: 'n', value: Buffer.from(String(r.offset)) }])
    }
    await log.close()
  })

  it('returns at least one record even when it alone exceeds maxBytes', async () => {
    const log = await open()
    log.append([{ timestamp: 1, key: null, value: Buffer.alloc(5000) }])
    log.append([{ timestamp: 2, key: null, value: Buffer.alloc(10) }])
    const got = log.read(0, { maxBytes: 10 })
    expect(got.length).toBe(1)
    expect(got[0].value?.length).toBe(5000)
    await log.close()
  })

  it('finds the first offset with a timestamp at or after a target, or null', async () => {
    const log = await open({ segmentBytes: 2048, indexIntervalBytes: 100 })
    // Timestamps go up by 10 per record, with one out-of-order record.
    for (let i = 0; i < 300; i++) {
      const ts = i === 150 ? 5 : 1000 + i * 10
      log.append([{ timestamp: ts, key: null, value: Buffer.alloc(40) }])
    }
    expect(log.offsetForTimestamp(0)).toBe(0)
    expect(log.offsetForTimestamp(1000)).toBe(0)
    expect(log.offsetForTimestamp(1001)).toBe(1)
    expect(log.offsetForTimestamp(1000 + 149 * 10)).toBe(149)
    expect(log.offsetForTimestamp(1000 + 151 * 10 - 5)).toBe(151)
    expect(log.offsetForTimestamp(1000 + 299 * 10)).toBe(299)
    expect(log.offsetForTimestamp(1000 + 299 * 10 + 1)).toBeNull()
    await log.close()
  })
})

describe('PartitionLog appends', () => {
  it('rejects a batch over maxMessageBytes with RECORD_TOO_LARGE and writes nothing', async () => {
    const log = await open({ maxMessageBytes: 1000 })
    log.append([rec(0)])
    const before = log.sizeInBytes
    expect(codeOf(() => log.append([{ timestamp: 1, key: null, value: Buffer.alloc(1000) }]))).toBe('RECORD_TOO_LARGE')
    expect(log.sizeInBytes).toBe(before)
    expect(log.logEndOffset).toBe(1)
    await log.close()
  })

  it('rejects a batch larger than segmentBytes with RECORD_TOO_LARGE', async () => {
    const log = await open({ segmentBytes: 500 })
    expect(codeOf(() => log.append([{ timestamp: 1, key: null, value: Buffer.alloc(600) }]))).toBe('RECORD_TOO_LARGE')
    expect(log.logEndOffset).toBe(0)
    await log.close()
  })

  it('rolls when record timestamps span more than segmentMs', async () => {
    const log = await open({ segmentMs: 1000 })
    log.append([{ timestamp: 10_000, key: null, value: Buffer.from('a') }])
    log.append([{ timestamp: 10_900, key: null, value: Buffer.from('b') }])
    expect(log.segmentInfos().length).toBe(1)
    log.append([{ timestamp: 11_001, key: null, value: Buffer.from('c') }])
    expect(log.segmentInfos().map((s) => s.baseOffset)).toEqual([0, 2])
    await log.close()
  })

  it('rolls when the offset index is full', async () => {
    const log = await open({ segmentIndexBytes: 8 * 3, indexIntervalBytes: 1 })
    for (let i = 0; i < 12; i++) log.append([rec(i)])
    expect(log.segmentInfos().length).toBeGreaterThan(1)
    for (const [i, r] of log.read(0, { maxRecords: 12 }).entries()) expectRecord(r, i)
    await log.close()
  })

  it('stamps LogAppendTime from the clock into every record', async () => {
    const log = await open({}, { clock: () => 123_456 })
    const info = log.append([rec(0), rec(1)], { timestampType: TimestampType.LogAppendTime })
    expect(info.logAppendTime).toBe(123_456)
    expect(log.read(0).map((r) => r.timestamp)).toEqual([123_456, 123_456])
    await log.close()
  })

  it('accepts a pre-encoded batch and rejects one with a bad CRC as INVALID_RECORD', async () => {
    const { encodeBatch } = await import('../../src/segment/record-batch.js')
    const log = await open()
    const batch = encodeBatch([rec(0), rec(1)], { baseOffset: 999 })
    expect(log.appendBatch(batch).baseOffset).toBe(0)
    const bad = encodeBatch([rec(2)])
    bad[bad.length - 1] ^= 0xff
    expect(codeOf(() => log.appendBatch(bad))).toBe('INVALID_RECORD')
    expect(log.logEndOffset).toBe(2)
    await log.close()
  })

  it('shares one fsync among many concurrent flush waiters (group commit)', async () => {
    const ffs = new FaultyFileSystem(dir)
    const log = await PartitionLog.open(dir, { fs: ffs })
    log.append([rec(0)])
    await log.flush()
    ffs.resetStats()
    const waits: Promise<void>[] = []
    for (let i = 0; i < 50; i++) {
      log.append([rec(i + 1)])
      waits.push(log.flush())
    }
    await Promise.all(waits)
    const logSyncs = ffs.syncs.filter((p) => p.endsWith('.log')).length
    expect(logSyncs).toBeLessThanOrEqual(2)
    expect(log.recoveryPoint).toBe(51)
    await log.close()
  })

  it('throws ENGINE_CLOSED on any use after close', async () => {
    const log = await open()
    fill(log, 3, 1)
    await log.close()
    expect(codeOf(() => log.read(0))).toBe('ENGINE_CLOSED')
    expect(codeOf(() => log.append([rec(0)]))).toBe('ENGINE_CLOSED')
    expect(codeOf(() => log.offsetForTimestamp(0))).toBe('ENGINE_CLOSED')
    expect(codeOf(() => log.truncateTo(0))).toBe('ENGINE_CLOSED')
    await expect(log.flush()).rejects.toMatchObject({ code: 'ENGINE_CLOSED' })
    await log.close()
  })
})

describe('PartitionLog truncation and log start', () => {
  it('truncates to an offset, across segments, and continues appending from there', async () => {
    const log = await open({ segmentBytes: 1024 })
    fill(log, 100, 1)
    const segsBefore = log.segmentInfos().length
    expect(log.truncateTo(40)).toBe(40)
    expect(log.segmentInfos().length).toBeLessThan(segsBefore)
    expect(log.read(0, { maxRecords: 1000 }).length).toBe(40)
    expect(log.append([rec(40)]).baseOffset).toBe(40)
    await log.close()
    const again = await open({ segmentBytes: 1024 })
    expect(again.logEndOffset).toBe(41)
    for (const [i, r] of again.read(0, { maxRecords: 1000 }).entries()) expectRecord(r, i)
    await again.close()
  })

  it('removes a whole batch when truncating inside it', async () => {
    const log = await open()
    fill(log, 10, 5)
    expect(log.truncateTo(7)).toBe(5)
    expect(log.logEndOffset).toBe(5)
    await log.close()
  })

  it('advances the log start offset, deletes whole segments below it and keeps it across reopen', async () => {
    const events: LogEvent[] = []
    const log = await open({ segmentBytes: 1024, fileDeleteDelayMs: 0 }, { onEvent: (e) => events.push(e) })
    fill(log, 100, 1)
    const bases = log.segmentInfos().map((s) => s.baseOffset)
    const cut = bases[3] + 1
    expect(log.advanceLogStartOffset(cut)).toBe(cut)
    expect(log.segmentInfos()[0].baseOffset).toBe(bases[3])
    expect(events.some((e) => e.type === 'segments-deleted')).toBe(true)
    expect(codeOf(() => log.advanceLogStartOffset(101))).toBe('OFFSET_OUT_OF_RANGE')
    await log.close()
    const again = await open({ segmentBytes: 1024 })
    expect(again.logStartOffset).toBe(cut)
    expect(again.read(cut, { maxRecords: 1 })[0].offset).toBe(cut)
    expect(fs.readdirSync(dir).some((n) => n.endsWith('.deleted'))).toBe(false)
    await again.close()
  })

  it('keeps the log end offset when every segment is deleted', async () => {
    const log = await open({ segmentBytes: 1024, fileDeleteDelayMs: 0 })
    fill(log, 30, 1)
    const n = log.segmentInfos().length
    log.deleteOldestSegments(n, 'test')
    expect(log.logStartOffset).toBe(30)
    expect(log.logEndOffset).toBe(30)
    expect(log.read(30)).toEqual([])
    expect(log.append([rec(30)]).baseOffset).toBe(30)
    await log.close()
  })
})

describe('PartitionLog open', () => {
  it('reads only a few batch headers of each segment, and no whole file, when opening after a clean close', async () => {
    const config = { segmentBytes: 128 * 1024, indexIntervalBytes: 1024 }
    const log = await open(config)
    fill(log, 12_000, 4)
    await log.close()
    const ffs = new FaultyFileSystem(dir)
    const again = await PartitionLog.open(dir, { fs: ffs, config })
    const segments = again.segmentInfos().length
    expect(segments).toBeGreaterThanOrEqual(5)
    // The index check reads each segment's tail after its last index entry and the batches its time index names:
    // a few 8 KiB header chunks per segment, not the segment bodies.
    const logBytesRead = ffs.readBytes((p) => p.endsWith('.log'))
    expect(logBytesRead).toBeLessThanOrEqual(segments * 3 * 8 * 1024)
    expect(logBytesRead).toBeLessThan(again.sizeInBytes / 4)
    // Index files are probed (lengths, first and last entries), never read whole; only partition.state is.
    expect(ffs.readBytes((p) => p.endsWith('index'))).toBeLessThanOrEqual(segments * 40 * 12)
    expect(ffs.fileReads.map((p) => path.basename(p))).toEqual(['partition.state'])
    expect(again.logEndOffset).toBe(12_000)
    expect(again.append([rec(12_000)]).baseOffset).toBe(12_000)
    for (const [k, r] of again.read(11_995, { maxRecords: 10 }).entries()) expectRecord(r, 11_995 + k)
    await again.close()
  })

  it('rebuilds deleted or garbage index files and answers every lookup right afterwards', async () => {
    const config = { segmentBytes: 8192, indexIntervalBytes: 200 }
    const log = await open(config)
    for (let i = 0; i < 600; i++) log.append([{ timestamp: 1000 + i * 3, key: null, value: Buffer.alloc(60, i % 256) }])
    await log.close()
    const indexFiles = fs.readdirSync(dir).filter((n) => n.endsWith('.index') || n.endsWith('.timeindex'))
    expect(indexFiles.length).toBeGreaterThan(4)
    indexFiles.forEach((name, k) => {
      const p = path.join(dir, name)
      if (k % 3 === 0) fs.rmSync(p)
      else if (k % 3 === 1) fs.writeFileSync(p, Buffer.alloc(37, 0xab))
      else fs.writeFileSync(p, Buffer.alloc(fs.statSync(p).size, 0xff))
    })
    const again = await open(config)
    for (let o = 0; o < 600; o += 7) {
      const [r] = again.read(o, { maxRecords: 1 })
      expect(r.offset).toBe(o)
      expect(r.value?.[0]).toBe(o % 256)
    }
    for (let i = 0; i < 600; i += 11) expect(again.offsetForTimestamp(1000 + i * 3)).toBe(i)
    expect(again.offsetForTimestamp(1000 + 599 * 3 + 1)).toBeNull()
    await again.close()
  })

  it('creates the directory when missing and starts an empty log at offset 0', async () => {
    const sub = path.join(dir, 'a', 'b')
    const log = await PartitionLog.open(sub)
    expect(log.logStartOffset).toBe(0)
    expect(log.logEndOffset).toBe(0)
    expect(fs.readdirSync(sub)).toContain('00000000000000000000.log')
    await log.close()
  })
})

describe('PartitionLog point reads', () => {
  it('return the right records from large batches, through the batch cache, across truncation and reopen', async () => {
    const { BatchCache } = await import('../../src/segment/batch-cache.js')
    const cache = new BatchCache(1 << 20)
    const log = await open({ segmentBytes: 64 * 1024, indexIntervalBytes: 1024 }, { batchCache: cache })
    fill(log, 3000, 100)
    let seed = 99
    console.log('point-read seed', seed)
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    }
    for (let k = 0; k < 600; k++) {
      const o = Math.floor(rnd() * 3000)
      const n = 1 + Math.floor(rnd() * 3)
      const got = log.read(o, { maxRecords: n })
      expect(got.length).toBeGreaterThanOrEqual(1)
      for (const [j, r] of got.entries()) expectRecord(r, o + j)
    }
    expect(cache.size).toBeGreaterThan(0)
    // Inside a batch of 100: the whole batch [1400, 1500) goes, and the cached tables of that segment with it.
    expect(log.truncateTo(1450)).toBe(1400)
    for (let i = 1400; i < 1600; i += 50) {
      const records: BatchRecordInput[] = []
      for (let j = i; j < i + 50; j++) records.push(rec(j))
      log.append(records)
    }
    for (let o = 1400; o < 1600; o += 7)
      for (const [j, r] of log.read(o, { maxRecords: 2 }).entries()) expectRecord(r, o + j)
    await log.close()
    const again = await open({ segmentBytes: 64 * 1024, indexIntervalBytes: 1024 }, { batchCache: cache })
    for (let o = 0; o < 1600; o += 13) expectRecord(again.read(o, { maxRecords: 1 })[0], o)
    await again.close()
  })

  it('report corruption in a batch even when reading a single record from it', async () => {
    const log = await open()
    fill(log, 200, 100)
    await log.close()
    const file = path.join(dir, '00000000000000000000.log')
    const bytes = fs.readFileSync(file)
    bytes[bytes.length - 10] ^= 0x55
    fs.writeFileSync(file, bytes)
    const again = await open()
    expect(codeOf(() => again.read(150, { maxRecords: 1 }))).toBe('CORRUPT_LOG')
    expectRecord(again.read(5, { maxRecords: 1 })[0], 5)
    await again.close()
  })
})

describe('PartitionLog opened read-only', () => {
  const identity = (p: string): string | null => {
    const st = fs.statSync(p, { throwIfNoEntry: false })
    return st === undefined ? null : `${st.dev}:${st.ino}`
  }

  it('notices a segment its owner replaced under its name just after the reader opened it, and reads the replacement', async () => {
    const config = { segmentBytes: 2048, indexIntervalBytes: 128 }
    const owner = await open(config)
    fill(owner, 60, 3)
    expect(owner.segmentInfos().length).toBeGreaterThan(1)
    await owner.close()
    // The same records with other values of the same length, in a log that rolls at the same offsets.
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-replacement-'))
    try {
      const twin = await PartitionLog.open(other, { config })
      for (let i = 0; i < 60; i += 3) {
        const batch = [i, i + 1, i + 2].map((j) => ({
          ...rec(j),
          value: Buffer.from(rec(j).value!.toString().toUpperCase()),
        }))
        twin.append(batch)
      }
      await twin.close()
      const first = '00000000000000000000.log'
      const target = path.join(dir, first)
      let swapped = false
      // The owner's swap lands right after the reader opened the file, before anything else looked at the path.
      const fsys = {
        ...nodeFileSystem,
        open: (p: string, mode: Parameters<typeof nodeFileSystem.open>[1]) => {
          const h = nodeFileSystem.open(p, mode)
          if (p === target && !swapped) {
            swapped = true
            fs.renameSync(path.join(other, first), target)
          }
          return h
        },
      }
      const reader = PartitionLog.openReadOnly(dir, { config, fs: fsys, fileIdentity: identity })
      try {
        expect(swapped).toBe(true)
        expect(reader.read(0, { maxRecords: 1 })[0].value?.toString()).toBe(rec(0).value!.toString())
        expect(reader.refresh()).toBe(true)
        expect(reader.read(0, { maxRecords: 1 })[0].value?.toString()).toBe(rec(0).value!.toString().toUpperCase())
        expect(reader.read(0, { maxRecords: 100, maxBytes: 1 << 30 }).map((r) => r.offset)).toEqual(
          Array.from({ length: 60 }, (_, i) => i),
        )
      } finally {
        await reader.close()
      }
    } finally {
      fs.rmSync(other, { recursive: true, force: true })
    }
  })
})
