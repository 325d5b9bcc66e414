import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import {
  ATTRIBUTES_OFFSET,
  BATCH_OVERHEAD,
  BatchArena,
  type BatchRecordInput,
  batchLastOffset,
  batchSizeAt,
  checkBatch,
  crc32c,
  type DecodedRecord,
  decodeRecords,
  encodeBatch,
  MIN_ONE_RECORD_BATCH_SIZE,
  RECORDS_OFFSET,
  type RecordFields,
  readBatchHeader,
  setBatchBaseOffset,
  TimestampType,
  walkRecords,
} from '../../src/segment/record-batch.js'
import { readVarint, uvarintSize, writeVarint, zigzag } from '../../src/segment/varint.js'

const GOLDEN_HEX =
  '0000000000000000' +
  '0000003a' +
  '00000000' +
  '02' +
  'e99b8dd8' +
  '0000' +
  '00000000' +
  '0000018bcfe56800' +
  '0000018bcfe56800' +
  'ffffffffffffffff' +
  'ffff' +
  'ffffffff' +
  '00000001' +
  '100000000' +
  '26b02760' +
  '0'

function decodeAll(batch: Buffer): DecodedRecord[] {
  const out: DecodedRecord[] = []
  const err = decodeRecords(batch, 0, batch.length, 0, (r) => {
    out.push(r)
    return true
  })
  expect(err).toBeNull()
  return out
}

describe('RecordBatch v2 codec', () => {
  it('computes the CRC-32C check value of "123456789" as 0xE3069283', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283)
  })

  it('encodes the reference golden batch byte for byte', () => {
    const batch = encodeBatch([{ timestamp: 1700000000000, key: Buffer.from('k'), value: Buffer.from('v') }])
    expect(batch.toString('hex')).toBe(GOLDEN_HEX)
    expect(batch.length).toBe(70)
  })

  it('decodes the reference golden batch', () => {
    const golden = Buffer.from(GOLDEN_HEX, 'hex')
    expect(checkBatch(golden, 0, golden.length)).toBeNull()
    const h = readBatchHeader(golden, 0)
    expect(h).toMatchObject({ baseOffset: 0, size: 70, magic: 2, crc: 0xe99b8dd8, recordsCount: 1, producerId: -1 })
    const [r] = decodeAll(golden)
    expect(r.offset).toBe(0)
    expect(r.timestamp).toBe(1700000000000)
    expect(r.key?.toString()).toBe('k')
    expect(r.value?.toString()).toBe('v')
    expect(r.headers).toEqual([])
  })

  it('detects a flip of any CRC-covered byte', () => {
    const batch = encodeBatch([
      {
        timestamp: 1700000000000,
        key: Buffer.from('key'),
        value: Buffer.from('value'),
        headers: [{ key: 'h', value: Buffer.from('x') }],
      },
    ])
    for (let i = ATTRIBUTES_OFFSET; i < batch.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const copy = Buffer.from(batch)
        copy[i] ^= bit
        expect(checkBatch(copy, 0, copy.length), `byte ${i} bit ${bit}`).toMatch(/CRC mismatch/)
      }
    }
  })

  it('lets the base offset be stamped without invalidating the CRC', () => {
    const batch = encodeBatch([
      { timestamp: 5, key: null, value: Buffer.from('a') },
      { timestamp: 6, key: null, value: Buffer.from('b') },
    ])
    setBatchBaseOffset(batch, 0, 123_456_789_012)
    expect(checkBatch(batch, 0, batch.length)).toBeNull()
    expect(batchLastOffset(batch, 0)).toBe(123_456_789_013)
    expect(decodeAll(batch).map((r) => r.offset)).toEqual([123_456_789_012, 123_456_789_013])
  })

  it('round-trips null keys, tombstones, headers with null values, and timestamps before the base', () => {
    const records: BatchRecordInput[] = [
      { timestamp: 1_000_000, key: null, value: Buffer.from('first') },
      { timestamp: 999_000, key: Buffer.from('k2'), value: null },
      {
        timestamp: 5_000_000_000_000,
        key: Buffer.alloc(0),
        value: Buffer.alloc(300, 7),
        headers: [
          { key: 'trace-ü', value: Buffer.from([1, 2, 3]) },
          { key: 'empty', value: null },
          { key: 'trace-ü', value: Buffer.alloc(0) },
        ],
      },
    ]
    const batch = encodeBatch(records, { baseOffset: 10 })
    const h = readBatchHeader(batch, 0)
    expect(h.maxTimestamp).toBe(5_000_000_000_000)
    expect(h.baseTimestamp).toBe(1_000_000)
    const out = decodeAll(batch)
    expect(out.map((r) => r.offset)).toEqual([10, 11, 12])
    expect(out.map((r) => r.timestamp)).toEqual([1_000_000, 999_000, 5_000_000_000_000])
    expect(out[0].key).toBeNull()
    expect(out[1].value).toBeNull()
    expect(out[2].key?.length).toBe(0)
    expect(out[2].value?.equals(Buffer.alloc(300, 7))).toBe(true)
    expect(out[2].headers.map((x) => [x.key, x.value && [...x.value]])).toEqual([
      ['trace-ü', [1, 2, 3]],
      ['empty', null],
      ['trace-ü', []],
    ])
  })

  it('reports LogAppendTime as every record timestamp', () => {
    const batch = encodeBatch(
      [
        { timestamp: 1, key: null, value: Buffer.from('a') },
        { timestamp: 2, key: null, value: Buffer.from('b') },
      ],
      { timestampType: TimestampType.LogAppendTime, logAppendTime: 42_000 },
    )
    expect(readBatchHeader(batch, 0).attributes & 0x08).toBe(0x08)
    expect(decodeAll(batch).map((r) => r.timestamp)).toEqual([42_000, 42_000])
  })

  it('skips records below the minimum offset and stops when emit returns false', () => {
    const records = Array.from({ length: 10 }, (_, i) => ({ timestamp: i, key: null, value: Buffer.from([i]) }))
    const batch = encodeBatch(records, { baseOffset: 100 })
    const seen: number[] = []
    decodeRecords(batch, 0, batch.length, 104, (r) => {
      seen.push(r.offset)
      return seen.length < 3
    })
    expect(seen).toEqual([104, 105, 106])
  })

  it('encodes a record with no key, no value and no headers in the smallest one-record batch (68 bytes)', () => {
    const batch = encodeBatch([{ timestamp: 1_700_000_000_000, key: null, value: null }])
    expect(batch.length).toBe(MIN_ONE_RECORD_BATCH_SIZE)
    expect(MIN_ONE_RECORD_BATCH_SIZE).toBe(68)
  })

  it('reports the size a partial batch needs so readers can ignore it', () => {
    const batch = encodeBatch([{ timestamp: 1, key: null, value: Buffer.alloc(50) }])
    expect(batchSizeAt(batch, 0)).toBe(batch.length)
    expect(batchSizeAt(batch.subarray(0, 16), 0)).toBe(-1)
    expect(batch.length).toBeGreaterThan(BATCH_OVERHEAD)
  })

  it('rejects a record count that disagrees with the records section', () => {
    const batch = encodeBatch([
      { timestamp: 1, key: null, value: Buffer.from('a') },
      { timestamp: 1, key: null, value: Buffer.from('b') },
    ])
    batch.writeInt32BE(1, 57)
    const err = decodeRecords(batch, 0, batch.length, 0, () => true)
    expect(err).toMatch(/trailing bytes/)
  })
})

describe('record walker', () => {
  const records: BatchRecordInput[] = [
    { timestamp: 100, key: 'k0', value: Buffer.from('v0'), headers: [{ key: 'h', value: Buffer.from('hv') }] },
    { timestamp: 105, key: null, value: null },
    { timestamp: 103, key: 'key-2', value: Buffer.from('value-2'), headers: [{ key: 'a', value: null }] },
  ]

  function walk(batch: Buffer, minOffsetDelta = Number.NEGATIVE_INFINITY) {
    const seen: (RecordFields & { i: number })[] = []
    const c = { pos: RECORDS_OFFSET, end: batch.length }
    const problem = walkRecords(batch, c, batch.readInt32BE(57), minOffsetDelta, (f, i) => {
      seen.push({ ...f, i })
      return undefined
    })
    return { problem, seen }
  }

  it('yields each record with the positions of its key, value and headers, and the records fill the section', () => {
    const batch = encodeBatch(records)
    const { problem, seen } = walk(batch)
    expect(problem).toBeNull()
    expect(seen.map((f) => f.offsetDelta)).toEqual([0, 1, 2])
    expect(seen.map((f) => f.timestampDelta)).toEqual([0, 5, 3])
    const text = (start: number, length: number) => (length < 0 ? null : batch.toString('utf8', start, start + length))
    expect(seen.map((f) => text(f.keyStart, f.keyLength))).toEqual(['k0', null, 'key-2'])
    expect(seen.map((f) => text(f.valueStart, f.valueLength))).toEqual(['v0', null, 'value-2'])
    expect(seen.map((f) => f.headerCount)).toEqual([1, 0, 1])
    expect(seen[0].start).toBe(RECORDS_OFFSET)
    expect(seen[1].start).toBe(seen[0].end)
    expect(seen[2].end).toBe(batch.length)
    for (const f of seen) expect(f.keyLengthAt).toBeLessThan(f.keyStart + Math.max(f.keyLength, 0) + 1)
  })

  it('skips records whose offset delta is below the minimum without parsing their fields', () => {
    const batch = encodeBatch(records)
    const { problem, seen } = walk(batch, 2)
    expect(problem).toBeNull()
    expect(seen.map((f) => f.i)).toEqual([2])
  })

  it('reports a header whose value runs past its record as a structural error', () => {
    const batch = encodeBatch([records[0]])
    // Record 0's last byte is the header value "hv"; its length varint (zigzag 2 = 4) sits right before it.
    const lengthAt = batch.length - 3
    expect(batch[lengthAt]).toBe(4)
    batch[lengthAt] = 6
    expect(walk(batch).problem).toMatch(/record 0 header 0 has an invalid value length/)
    expect(decodeRecords(batch, 0, batch.length, 0, () => true)).toMatch(
      /record 0 header 0 has an invalid value length/,
    )
  })
})

/** kafkajs's own RecordBatch v2 decoder (CommonJS internals): an independent reading of what we write. */
const require = createRequire(import.meta.url)
const KafkaJsDecoder = require('kafkajs/src/protocol/decoder')
const kafkaJsDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  d: unknown,
) => Promise<{ records: { timestamp: string; headers: Record<string, unknown> }[] }>

describe('RecordBatch timestamps', () => {
  const now = 1_795_000_000_000
  const MAX = Number.MAX_SAFE_INTEGER
  const pairs = [
    [8.64e15, now],
    [MAX, now],
    [MAX, 0],
    [0, MAX],
    [now, MAX, 0, 2 ** 52 + 1, 2 ** 52 - 1],
    [-1, MAX],
    [MAX, -1],
  ]

  it('stores timestamps any distance apart in one batch exactly, as an independent Kafka decoder reads them', async () => {
    for (const timestamps of pairs) {
      const batch = encodeBatch(timestamps.map((timestamp) => ({ timestamp, key: null, value: null })))
      expect(checkBatch(batch, 0, batch.length)).toBeNull()
      expect(
        decodeAll(batch).map((r) => r.timestamp),
        String(timestamps),
      ).toEqual(timestamps)
      const theirs = await kafkaJsDecodeBatch(new KafkaJsDecoder(batch))
      expect(theirs.records.map((r) => r.timestamp)).toEqual(timestamps.map(String))
      expect(readBatchHeader(batch, 0).maxTimestamp).toBe(Math.max(...timestamps))
    }
  })

  it('refuses a record timestamp it cannot store exactly with INVALID_RECORD, naming the record', () => {
    for (const bad of [Number.NaN, 1.5, -2, MAX + 1, 2 ** 60, Number.POSITIVE_INFINITY]) {
      let err: unknown
      try {
        encodeBatch([
          { timestamp: 1, key: null, value: null },
          { timestamp: bad, key: null, value: null },
        ])
      } catch (e) {
        err = e
      }
      expect(err, String(bad)).toBeInstanceOf(SeglogError)
      expect((err as SeglogError).code).toBe('INVALID_RECORD')
      expect((err as SeglogError).message).toMatch(/record 1 has timestamp/)
    }
  })
})

describe('zigzag varints', () => {
  it('round-trip every safe integer exactly, including ones whose zigzag passes 2^53', () => {
    const MAX = Number.MAX_SAFE_INTEGER
    const values = [
      2 ** 52,
      2 ** 52 + 1,
      -(2 ** 52),
      -(2 ** 52) - 1,
      MAX,
      -MAX,
      MAX - 1,
      -(MAX - 1),
      2 ** 53,
      -(2 ** 53),
    ]
    for (const v of values) {
      const buf = Buffer.alloc(12)
      const end = writeVarint(buf, 0, v)
      const c = { pos: 0, end }
      expect(readVarint(buf, c), String(v)).toBe(v)
      expect(c.pos).toBe(end)
    }
  })

  it('read a 10-byte Kafka varlong, and report one beyond 2^53 as NaN instead of rounding it', () => {
    // zigzag(−2) = 3, written with redundant continuation groups to 10 bytes (legal for Kafka's decoder).
    const padded = Buffer.from([0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])
    expect(readVarint(padded, { pos: 0, end: padded.length })).toBe(-2)
    // zigzag(2^53 + 2) = 2^54 + 4: exact in 64 bits, not as a JS number.
    const big = Buffer.alloc(12)
    let z = 2n ** 54n + 4n
    let n = 0
    while (z >= 0x80n) {
      big[n++] = Number(z & 0x7fn) | 0x80
      z >>= 7n
    }
    big[n++] = Number(z)
    const c = { pos: 0, end: n }
    expect(readVarint(big, c)).toBeNaN()
    expect(c.pos).toBe(0)
  })

  it('round-trip int32 and int64-range values', () => {
    const values = [0, 1, -1, 63, -64, 64, 300, -300, 2 ** 31 - 1, -(2 ** 31), 2 ** 40 + 5, -(2 ** 45), 2 ** 52]
    for (const v of values) {
      const buf = Buffer.alloc(12)
      const end = writeVarint(buf, 0, v)
      expect(end).toBe(uvarintSize(zigzag(v)))
      const c = { pos: 0, end }
      expect(readVarint(buf, c)).toBe(v)
      expect(c.pos).toBe(end)
    }
  })

  it('report a truncated varint as NaN', () => {
    const buf = Buffer.from([0x80, 0x80])
    expect(readVarint(buf, { pos: 0, end: 2 })).toBeNaN()
  })
})

describe('CRC-32C implementations', () => {
  it('agree on random buffers of every size class, including slices at odd offsets', async () => {
    const { crc32c: fast, crc32cJs } = await import('../../src/segment/crc32c.js')
    let seed = 7
    console.log('crc property seed', seed)
    const rnd = () => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    for (const size of [0, 1, 61, 511, 512, 513, 4096, 65_537, 200_000]) {
      const buf = Buffer.alloc(size + 3)
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rnd() * 256)
      expect(fast(buf, 3, buf.length)).toBe(crc32cJs(buf.subarray(3)))
      expect(fast(buf)).toBe(crc32cJs(buf))
    }
  })
})

describe('decoded record views', () => {
  it('are real Buffers sharing the batch memory, with every Buffer method', () => {
    const batch = encodeBatch([{ timestamp: 1, key: Buffer.from('key'), value: Buffer.from('hello world') }])
    const [r] = decodeAll(batch)
    expect(Buffer.isBuffer(r.value)).toBe(true)
    expect(r.value?.toString('utf8')).toBe('hello world')
    expect(r.value?.subarray(0, 5).toString()).toBe('hello')
    expect(r.value?.equals(Buffer.from('hello world'))).toBe(true)
    expect(r.key?.toString('hex')).toBe('6b6579')
    expect(r.value?.buffer).toBe(batch.buffer)
    expect(JSON.stringify(r.key)).toBe(JSON.stringify(Buffer.from('key')))
  })
})

describe('decoded record views (equality)', () => {
  it('compare equal to ordinary Buffers with deep equality', () => {
    const batch = encodeBatch([{ timestamp: 1, key: Buffer.from([1, 2]), value: Buffer.from('v') }])
    const [r] = decodeAll(batch)
    expect(r.key).toEqual(Buffer.from([1, 2]))
    expect(r.key?.constructor).toBe(Buffer)
    expect(r.key?.slice(0, 1)).toEqual(Buffer.from([1]))
  })
})

describe('string keys', () => {
  it('are written as UTF-8 exactly like the equivalent Buffer key', () => {
    const asString = encodeBatch([{ timestamp: 9, key: 'clé-ü', value: Buffer.from('v') }])
    const asBuffer = encodeBatch([{ timestamp: 9, key: Buffer.from('clé-ü'), value: Buffer.from('v') }])
    expect(asString.equals(asBuffer)).toBe(true)
  })

  it('encode byte for byte like Buffer keys in every mix of ASCII, non-ASCII, long, Buffer and null keys', () => {
    const seed = 1307
    let state = seed
    const next = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0
      return state % n
    }
    const pieces = ['a', 'user-', '0123456789', 'é', '\u{1f600}', 'x'.repeat(70), '\u00ff', '~']
    for (let round = 0; round < 300; round++) {
      const count = 1 + next(12)
      const records: BatchRecordInput[] = []
      for (let i = 0; i < count; i++) {
        const kind = next(6)
        let key: string | Buffer | null
        if (kind === 0) key = null
        else if (kind === 1) key = Buffer.from(`buf-${i}`)
        else {
          key = ''
          for (let p = next(4); p >= 0; p--) key += pieces[next(round % 3 === 0 ? pieces.length : 3)]
          key += `${round}-${i}`
        }
        records.push({ timestamp: 100 + i, key, value: Buffer.from(`v${i}`) })
      }
      const asBuffers = records.map((r) => ({ ...r, key: typeof r.key === 'string' ? Buffer.from(r.key) : r.key }))
      const got = encodeBatch(records)
      const want = encodeBatch(asBuffers)
      if (!got.equals(want))
        throw new Error(`seed ${seed} round ${round}: keys ${JSON.stringify(records.map((r) => r.key))}`)
      const gzip = { codec: 1, compress: (plain: Buffer) => Buffer.from(plain) }
      const compressed = encodeBatch(records, { compression: gzip })
      expect(compressed.equals(encodeBatch(asBuffers, { compression: gzip })), `seed ${seed} round ${round}`).toBe(true)
    }
  })

  it('that are empty strings or all ASCII are read back exactly', () => {
    const keys = ['', 'k1', '', 'key-with-more-than-sixty-four-characters-'.repeat(3), 'z', '']
    const batch = encodeBatch(keys.map((key, i) => ({ timestamp: i, key, value: null })))
    const got: string[] = []
    decodeRecords(batch, 0, batch.length, 0, (r) => {
      got.push(r.key === null ? 'null' : r.key.toString())
      return true
    })
    expect(got).toEqual(keys)
  })
})

describe('batch arenas', () => {
  it('hand out disjoint memory until reset, then reuse it, and leave small and huge batches to the caller', () => {
    const arena = new BatchArena()
    expect(arena.take(4095)).toBeNull()
    expect(arena.take(4 * 1024 * 1024 + 1)).toBeNull()
    const taken: Buffer[] = []
    for (let i = 0; i < 40; i++) {
      const b = arena.take(4096 + i * 1000) as Buffer
      expect(Buffer.isBuffer(b)).toBe(true)
      b.fill(i)
      taken.push(b)
    }
    // Growing past a block never moves or overwrites what was taken before the reset.
    for (const [i, b] of taken.entries()) expect(b.every((x) => x === i)).toBe(true)
    arena.reset()
    const again = arena.take(4096) as Buffer
    again.fill(255)
    expect(again.buffer).toBe(taken[taken.length - 1].buffer)
  })

  it('give the same batch bytes as a fresh allocation, compressed or not', () => {
    const records: BatchRecordInput[] = Array.from({ length: 200 }, (_, i) => ({
      timestamp: 1_700_000_000_000 + i,
      key: `key-${i}`,
      value: Buffer.alloc(60, i),
    }))
    const arena = new BatchArena()
    const copy = { codec: 1, compress: (plain: Buffer) => Buffer.concat([plain, plain]) }
    const plain = encodeBatch(records, { arena })
    const packed = encodeBatch(records, { arena, compression: copy })
    expect(plain.buffer).toBe(packed.buffer)
    expect(plain.equals(encodeBatch(records))).toBe(true)
    expect(packed.equals(encodeBatch(records, { compression: copy }))).toBe(true)
  })
})
