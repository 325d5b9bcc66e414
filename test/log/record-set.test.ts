/**
 * A Kafka client's record set stored as it came (`appendRecordSet`) and stored batches served as they are on disk
 * (`readRaw`): what a Produce and a Fetch do to a partition.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CodecRegistry } from '../../src/compression.js'
import { isSeglogError, type SeglogError } from '../../src/errors.js'
import { type LogConfig, type LogEvent, PartitionLog, type PartitionLogOptions } from '../../src/log/partition-log.js'
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  type BatchRecordInput,
  batchBaseOffset,
  batchLastOffset,
  batchMaxTimestamp,
  batchSizeAt,
  CODEC_IDS,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  checkBatch,
  crc32c,
  encodeBatch,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  readBatchHeader,
  TIMESTAMP_TYPE_MASK,
  TimestampType,
  writeInt32,
  writeInt64,
} from '../../src/segment/record-batch.js'
import { codeOf } from '../support/errors.js'
import { FaultyFileSystem } from '../support/faulty-fs.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-recordset-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const T0 = 1_700_000_000_000

function rec(i: number): BatchRecordInput {
  return {
    timestamp: T0 + i,
    key: Buffer.from(`k${i}`),
    value: Buffer.from(`v${i}-${'x'.repeat(i % 29)}`),
    headers: i % 2 === 0 ? [{ key: 'i', value: Buffer.from(String(i)) }] : null,
  }
}

/** A client batch (base offset 0) of records `from`..`from + count - 1`. */
function clientBatch(from: number, count: number, options: Parameters<typeof encodeBatch>[1] = {}): Buffer {
  const records: BatchRecordInput[] = []
  for (let i = from; i < from + count; i++) records.push(rec(i))
  return encodeBatch(records, options)
}

/** Recomputes the CRC of a batch whose covered bytes a test changed. */
function fixCrc(batch: Buffer, at = 0): void {
  const size = batchSizeAt(batch, at)
  writeInt32(batch, at + CRC_OFFSET, crc32c(batch, at + ATTRIBUTES_OFFSET, at + size))
}

function errorOf(fn: () => unknown): SeglogError {
  try {
    fn()
  } catch (err) {
    if (isSeglogError(err)) return err
    throw err
  }
  throw new Error('expected a SeglogError')
}

async function open(config: Partial<LogConfig> = {}, extra: PartitionLogOptions = {}): Promise<PartitionLog> {
  return PartitionLog.open(dir, { config, ...extra })
}

function logFileBytes(): number {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
}

/** The batches inside raw chunks, each as [base offset, last offset]. */
function batchRanges(chunks: Buffer[]): [number, number][] {
  const out: [number, number][] = []
  for (const c of chunks) {
    for (let at = 0; at < c.length; at += batchSizeAt(c, at)) {
      expect(checkBatch(c, at, batchSizeAt(c, at))).toBeNull()
      out.push([batchBaseOffset(c, at), batchLastOffset(c, at)])
    }
  }
  return out
}

describe('appendRecordSet', () => {
  it('stores a set of several client batches with one write, offsets assigned densely, records intact', async () => {
    const ffs = new FaultyFileSystem(dir)
    const log = await open({}, { fs: ffs })
    log.append([rec(0)])
    const set = Buffer.concat([clientBatch(1, 3), clientBatch(4, 5), clientBatch(9, 1)])
    const sent = Buffer.from(set)
    const writesBefore = ffs.writes.filter((w) => w.path.endsWith('.log')).length
    const info = log.appendRecordSet(set)
    expect(ffs.writes.filter((w) => w.path.endsWith('.log')).length).toBe(writesBefore + 1)
    expect(info).toMatchObject({ baseOffset: 1, lastOffset: 9, batches: 3, logAppendTime: -1, maxTimestamp: T0 + 9 })
    expect(log.logEndOffset).toBe(10)
    const records = log.read(0, { maxRecords: 100 })
    expect(records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    for (const r of records) {
      const want = rec(r.offset)
      expect(r.timestamp).toBe(want.timestamp)
      expect(r.key?.toString()).toBe((want.key as Buffer).toString())
      expect(r.value?.toString()).toBe(want.value?.toString())
      expect(r.headers.map((h) => [h.key, h.value?.toString()])).toEqual(
        (want.headers ?? []).map((h) => [h.key, h.value?.toString()]),
      )
    }
    // Stored as sent: only the base offsets (outside the CRC) differ from the client's bytes.
    const stored = log.readRaw(1, 1 << 20)
    const bytes = Buffer.concat(stored.chunks)
    expect(bytes.length).toBe(sent.length)
    for (let at = 0; at < bytes.length; at += batchSizeAt(bytes, at)) {
      const size = batchSizeAt(bytes, at)
      expect(bytes.subarray(at + 8, at + size).equals(sent.subarray(at + 8, at + size))).toBe(true)
    }
    await log.close()
    const again = await open()
    expect(again.read(0, { maxRecords: 100 }).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    await again.close()
  })

  it('keeps the producer id, epoch, base sequence and attributes the client sent', async () => {
    const log = await open()
    const batch = clientBatch(0, 4)
    writeInt64(batch, PRODUCER_ID_OFFSET, 4242)
    batch.writeInt16BE(7, PRODUCER_EPOCH_OFFSET)
    batch.writeInt32BE(100, BASE_SEQUENCE_OFFSET)
    fixCrc(batch)
    log.appendRecordSet(batch)
    const h = readBatchHeader(log.readRaw(0, 1 << 20).chunks[0], 0)
    expect(h).toMatchObject({ producerId: 4242, producerEpoch: 7, baseSequence: 100, attributes: 0 })
    await log.close()
  })

  it('writes nothing when any batch of the set is invalid, whichever check it fails', async () => {
    const log = await open({ maxMessageBytes: 4096 })
    log.appendRecordSet(clientBatch(0, 2))
    const end = log.logEndOffset
    const size = logFileBytes()
    const good = clientBatch(10, 3)
    const cases: { name: string; set: () => Buffer; code: string; kind?: string }[] = [
      {
        name: 'a bad CRC in the second batch',
        set: () => {
          const bad = clientBatch(20, 3)
          bad[bad.length - 1] ^= 0x01
          return Buffer.concat([good, bad, good])
        },
        code: 'INVALID_RECORD',
        kind: 'crc',
      },
      {
        name: 'a truncated last batch',
        set: () => Buffer.concat([good, good.subarray(0, 70)]),
        code: 'INVALID_RECORD',
      },
      { name: 'trailing bytes', set: () => Buffer.concat([good, Buffer.alloc(5)]), code: 'INVALID_RECORD' },
      { name: 'an empty set', set: () => Buffer.alloc(0), code: 'INVALID_RECORD' },
      {
        name: 'magic 1',
        set: () => {
          const b = clientBatch(0, 1)
          b[16] = 1
          return Buffer.concat([good, b])
        },
        code: 'INVALID_RECORD',
        kind: 'structure',
      },
      {
        name: 'a batch above maxMessageBytes',
        set: () => Buffer.concat([good, encodeBatch([{ ...rec(0), value: Buffer.alloc(5000) }])]),
        code: 'RECORD_TOO_LARGE',
      },
      {
        name: 'a record count that does not match lastOffsetDelta',
        set: () => {
          const b = clientBatch(0, 3)
          writeInt32(b, 57, 2)
          fixCrc(b)
          return Buffer.concat([good, b])
        },
        code: 'INVALID_RECORD',
        kind: 'offsets',
      },
      {
        name: 'a base offset other than 0',
        set: () => Buffer.concat([good, encodeBatch([rec(0)], { baseOffset: 5 })]),
        code: 'INVALID_RECORD',
        kind: 'offsets',
      },
      {
        name: 'a control batch',
        set: () => {
          const b = clientBatch(0, 1)
          b.writeInt16BE(CONTROL_FLAG_MASK, ATTRIBUTES_OFFSET)
          fixCrc(b)
          return b
        },
        code: 'INVALID_RECORD',
      },
      {
        name: 'records that do not fill the records section (CRC recomputed)',
        set: () => {
          const b = Buffer.concat([clientBatch(0, 2), Buffer.alloc(3)])
          writeInt32(b, 8, b.length - 12)
          fixCrc(b)
          return Buffer.concat([good, b])
        },
        code: 'INVALID_RECORD',
        kind: 'records',
      },
      {
        name: 'a record whose offsetDelta is not its index (CRC recomputed)',
        set: () => {
          const b = clientBatch(0, 2)
          // Record 0: length varint, attributes, timestampDelta 0, then offsetDelta 0 → 1 (zigzag 2).
          expect(b[61 + 3]).toBe(0)
          b[61 + 3] = 2
          fixCrc(b)
          return Buffer.concat([good, b])
        },
        code: 'INVALID_RECORD',
        kind: 'offsets',
      },
      {
        name: 'a negative base timestamp (CRC recomputed)',
        set: () => {
          const b = clientBatch(0, 2)
          writeInt64(b, 27, -5)
          fixCrc(b)
          return b
        },
        code: 'INVALID_RECORD',
        kind: 'timestamp',
      },
    ]
    for (const c of cases) {
      const err = errorOf(() => log.appendRecordSet(c.set()))
      expect(err.code, c.name).toBe(c.code)
      if (c.kind !== undefined) expect((err.cause as { kind?: string }).kind, c.name).toBe(c.kind)
      expect(log.logEndOffset, c.name).toBe(end)
      expect(logFileBytes(), c.name).toBe(size)
    }
    expect(log.appendRecordSet(Buffer.from(good)).baseOffset).toBe(end)
    await log.close()
  })

  it('rejects a set larger than segmentBytes as a whole (it must land in one segment)', async () => {
    const log = await open({ segmentBytes: 4096 })
    const big = Buffer.concat([clientBatch(0, 50), clientBatch(50, 50), clientBatch(100, 50)])
    expect(big.length).toBeGreaterThan(4096)
    expect(codeOf(() => log.appendRecordSet(big))).toBe('RECORD_TOO_LARGE')
    expect(log.logEndOffset).toBe(0)
    await log.close()
  })

  it('rolls before a set that would push the active segment past segmentBytes, never splitting the set', async () => {
    const log = await open({ segmentBytes: 1500, indexIntervalBytes: 100 })
    let next = 0
    for (let k = 0; k < 20; k++) {
      const set = Buffer.concat([clientBatch(next, 4), clientBatch(next + 4, 3)])
      expect(log.appendRecordSet(set).baseOffset).toBe(next)
      next += 7
    }
    const segs = log.segmentInfos()
    expect(segs.length).toBeGreaterThan(3)
    for (const s of segs) expect(s.size).toBeLessThanOrEqual(1500)
    // Each segment starts at the start of a set.
    for (const s of segs) expect(s.baseOffset % 7).toBe(0)
    expect(log.read(0, { maxRecords: 1000 }).map((r) => r.offset)).toEqual(Array.from({ length: next }, (_, i) => i))
    await log.close()
    const again = await open({ segmentBytes: 1500, indexIntervalBytes: 100 })
    for (let o = 0; o < next; o += 5) expect(again.read(o, { maxRecords: 1 })[0].offset).toBe(o)
    await again.close()
  })

  it('stamps LogAppendTime into every batch (timestamp type bit and max timestamp) with a CRC that verifies', async () => {
    const now = T0 + 99_999
    const log = await open({}, { clock: () => now })
    const set = Buffer.concat([clientBatch(0, 3), clientBatch(3, 2, { compression: gzip() })])
    const info = log.appendRecordSet(set, { timestampType: TimestampType.LogAppendTime })
    expect(info.logAppendTime).toBe(now)
    expect(info.maxTimestamp).toBe(now)
    const { chunks } = log.readRaw(0, 1 << 20)
    const stored = Buffer.concat(chunks)
    let n = 0
    for (let at = 0; at < stored.length; at += batchSizeAt(stored, at), n++) {
      const h = readBatchHeader(stored, at)
      expect(h.attributes & TIMESTAMP_TYPE_MASK).toBe(TIMESTAMP_TYPE_MASK)
      expect(h.maxTimestamp).toBe(now)
      expect(checkBatch(stored, at, h.size)).toBeNull()
    }
    expect(n).toBe(2)
    expect(h2(stored)).toBe(CODEC_IDS.gzip)
    await log.close()
    const again = await open({}, { decompress: new CodecRegistry().decompressor })
    expect(again.read(0, { maxRecords: 10 }).map((r) => r.timestamp)).toEqual([now, now, now, now, now])
    await again.close()
  })

  it('corrects a CreateTime batch whose max timestamp is not its records’ largest, and clears a LogAppendTime bit', async () => {
    const log = await open()
    const b = clientBatch(0, 3)
    writeInt64(b, MAX_TIMESTAMP_OFFSET, T0 - 1_000)
    b.writeInt16BE(TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET)
    fixCrc(b)
    const info = log.appendRecordSet(b)
    expect(info.maxTimestamp).toBe(T0 + 2)
    const stored = log.readRaw(0, 1 << 20).chunks[0]
    expect(batchMaxTimestamp(stored, 0)).toBe(T0 + 2)
    expect(readBatchHeader(stored, 0).attributes & TIMESTAMP_TYPE_MASK).toBe(0)
    expect(checkBatch(stored, 0, stored.length)).toBeNull()
    expect(log.findOffsetByTimestamp(T0 + 1)).toEqual({ offset: 1, timestamp: T0 + 1 })
    await log.close()
  })

  it('checks keys and values as the topic asks, walking compressed batches through their codec', async () => {
    const log = await open({}, { decompress: new CodecRegistry().decompressor })
    const keyless = encodeBatch([{ ...rec(0), key: null }], { compression: gzip() })
    const err = errorOf(() => log.appendRecordSet(keyless, { requireKeys: true }))
    expect(err.code).toBe('INVALID_RECORD')
    expect((err.cause as { kind: string }).kind).toBe('key')
    const checkValue = (v: Buffer | null) => (v === null || v.toString().startsWith('v') ? null : 'not a v-value')
    const odd = encodeBatch([rec(0), { ...rec(1), value: Buffer.from('nope') }], { compression: gzip() })
    expect(codeOf(() => log.appendRecordSet(odd, { checkValue }))).toBe('INVALID_RECORD')
    expect(log.logEndOffset).toBe(0)
    expect(
      log.appendRecordSet(clientBatch(0, 3, { compression: gzip() }), { requireKeys: true, checkValue }).lastOffset,
    ).toBe(2)
    await log.close()
  })

  it('stores a batch of a codec it has no decoder for as sent, unless the topic must see its records', async () => {
    const log = await open()
    // "snappy" here is any payload: without a codec the records cannot be read, only the CRC is checked.
    const snappy = encodeBatch([rec(0), rec(1)], { compression: { codec: CODEC_IDS.snappy, compress: (r) => r } })
    expect(codeOf(() => log.appendRecordSet(Buffer.from(snappy), { requireKeys: true }))).toBe(
      'COMPRESSION_UNSUPPORTED',
    )
    expect(log.logEndOffset).toBe(0)
    expect(log.appendRecordSet(Buffer.from(snappy)).lastOffset).toBe(1)
    expect(log.readRaw(0, 1000).bytes).toBe(snappy.length)
    expect(codeOf(() => log.read(0))).toBe('COMPRESSION_UNSUPPORTED')
    await log.close()
  })

  it('leaves nothing behind when the write fails with ENOSPC, and appends again afterwards', async () => {
    const ffs = new FaultyFileSystem(dir)
    const log = await open({ indexIntervalBytes: 64 }, { fs: ffs })
    log.appendRecordSet(Buffer.concat([clientBatch(0, 5), clientBatch(5, 5)]))
    const size = logFileBytes()
    ffs.failNext({ op: 'write', path: '.log', errno: 'ENOSPC' })
    const err = errorOf(() => log.appendRecordSet(Buffer.concat([clientBatch(10, 5), clientBatch(15, 5)])))
    expect(err.code).toBe('IO_ERROR')
    expect(err.errno).toBe('ENOSPC')
    expect(log.logEndOffset).toBe(10)
    expect(logFileBytes()).toBe(size)
    expect(log.appendRecordSet(Buffer.concat([clientBatch(10, 5), clientBatch(15, 5)])).baseOffset).toBe(10)
    await log.close()
    const again = await open({ indexIntervalBytes: 64 })
    expect(again.read(0, { maxRecords: 100 }).map((r) => r.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    for (let o = 0; o < 20; o++) expect(again.read(o, { maxRecords: 1 })[0].offset).toBe(o)
    await again.close()
  })

  it('leaves the indexes as they were when the index write fails, and the log appends again', async () => {
    const ffs = new FaultyFileSystem(dir)
    const events: LogEvent[] = []
    const log = await open({ indexIntervalBytes: 64 }, { fs: ffs, onEvent: (e) => events.push(e) })
    log.appendRecordSet(Buffer.concat([clientBatch(0, 5), clientBatch(5, 5)]))
    ffs.failNext({ op: 'write', path: '.timeindex', errno: 'ENOSPC' })
    expect(codeOf(() => log.appendRecordSet(Buffer.concat([clientBatch(10, 5), clientBatch(15, 5)])))).toBe('IO_ERROR')
    expect(log.logEndOffset).toBe(10)
    // Batches of other sizes: an index entry left from the failed append would name a wrong position.
    log.appendRecordSet(Buffer.concat([clientBatch(10, 2), clientBatch(12, 3), clientBatch(15, 5)]))
    for (let o = 0; o < 20; o++) expect(log.read(o, { maxRecords: 1 })[0].offset).toBe(o)
    expect(events.filter((e) => e.type === 'indexes-rebuilt')).toEqual([])
    await log.close()
  })
})

describe('readRaw', () => {
  /** A log of 10 sets of two batches (3 and 4 records), small segments. */
  async function filled(config: Partial<LogConfig> = {}): Promise<PartitionLog> {
    const log = await open({ segmentBytes: 1024, indexIntervalBytes: 128, ...config })
    for (let k = 0; k < 10; k++) log.appendRecordSet(Buffer.concat([clientBatch(k * 7, 3), clientBatch(k * 7 + 3, 4)]))
    return log
  }

  it('returns whole batches from the one holding the offset, even from the middle of a batch', async () => {
    const log = await filled()
    expect(log.logEndOffset).toBe(70)
    for (let o = 0; o < 70; o++) {
      const { chunks, bytes } = log.readRaw(o, 1)
      expect(bytes).toBe(chunks.reduce((n, c) => n + c.length, 0))
      const ranges = batchRanges(chunks)
      expect(ranges.length).toBe(1)
      expect(ranges[0][0]).toBeLessThanOrEqual(o)
      expect(ranges[0][1]).toBeGreaterThanOrEqual(o)
    }
    await log.close()
  })

  it('follows with whole batches while they fit maxBytes, across segments, until the log end', async () => {
    const log = await filled()
    expect(log.segmentInfos().length).toBeGreaterThan(2)
    const all = log.readRaw(5, 1 << 20)
    const ranges = batchRanges(all.chunks)
    expect(ranges[0]).toEqual([3, 6])
    expect(ranges.at(-1)?.[1]).toBe(69)
    for (let k = 1; k < ranges.length; k++) expect(ranges[k][0]).toBe(ranges[k - 1][1] + 1)
    for (const budget of [200, 300, 500, 1000, 2500]) {
      const r = log.readRaw(5, budget)
      expect(r.bytes).toBeLessThanOrEqual(Math.max(budget, batchSizeAt(r.chunks[0], 0)))
      const got = batchRanges(r.chunks)
      expect(got).toEqual(ranges.slice(0, got.length))
      // Nothing more would have fit.
      const nextSize = all.chunks.length > 0 ? sizes(all.chunks)[got.length] : undefined
      if (nextSize !== undefined) expect(r.bytes + nextSize).toBeGreaterThan(budget)
    }
    expect(log.readRaw(70, 1000)).toEqual({ chunks: [], bytes: 0 })
    expect(codeOf(() => log.readRaw(71, 1000))).toBe('OFFSET_OUT_OF_RANGE')
    log.advanceLogStartOffset(10)
    expect(codeOf(() => log.readRaw(9, 1000))).toBe('OFFSET_OUT_OF_RANGE')
    // The log start lies inside the batch [10, 13]: that whole batch is served.
    expect(batchRanges(log.readRaw(10, 1).chunks)).toEqual([[10, 13]])
    await log.close()
  })

  it('never serves a stored batch whose CRC fails: CORRUPT_LOG for it, the batches before it for a longer read', async () => {
    const log = await filled({ segmentBytes: 1 << 20 })
    const stored = Buffer.concat(log.readRaw(0, 1 << 20).chunks)
    // Damage the fourth batch (offsets 10..13) inside its records.
    const positions: number[] = []
    for (let at = 0; at < stored.length; at += batchSizeAt(stored, at)) positions.push(at)
    const file = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.log'))!)
    const fd = fs.openSync(file, 'r+')
    fs.writeSync(fd, Buffer.from([stored[positions[3] + 70] ^ 0x10]), 0, 1, positions[3] + 70)
    fs.closeSync(fd)
    expect(codeOf(() => log.readRaw(10, 1 << 20))).toBe('CORRUPT_LOG')
    expect(codeOf(() => log.readRaw(12, 1))).toBe('CORRUPT_LOG')
    const before = log.readRaw(0, 1 << 20)
    expect(batchRanges(before.chunks)).toEqual([
      [0, 2],
      [3, 6],
      [7, 9],
    ])
    expect(batchRanges(log.readRaw(14, 1 << 20).chunks)[0]).toEqual([14, 16])
    await log.close()
  })
})

function gzip() {
  return new CodecRegistry().compressionFor('gzip')!
}

/** Codec id of the second batch of a stored run. */
function h2(stored: Buffer): number {
  return readBatchHeader(stored, batchSizeAt(stored, 0)).attributes & 0x07
}

/** Sizes of the batches inside raw chunks, in order. */
function sizes(chunks: Buffer[]): number[] {
  const out: number[] = []
  for (const c of chunks) for (let at = 0; at < c.length; at += batchSizeAt(c, at)) out.push(batchSizeAt(c, at))
  return out
}
