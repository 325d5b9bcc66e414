import { Partitioners, type PartitionMetadata } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  murmur2,
  murmur2Ascii,
  partitionForKey,
  partitionForStringKey,
  partitionStringKeyRun,
  StickyPartitioner,
  toPositive,
} from '../src/partitioner.js'
import { mulberry32 } from './support/random.js'

// Kafka's UtilsTest.testMurmur2 vectors, with the partition each gives for 3, 6, 10 and 12 partitions.
const VECTORS: [key: string, murmur: number, positive: number, p3: number, p6: number, p10: number, p12: number][] = [
  ['21', -973932308, 1173551340, 0, 0, 0, 0],
  ['foobar', -790332482, 1357151166, 0, 0, 6, 6],
  ['a-little-bit-long-string', -985981536, 1161502112, 2, 2, 2, 8],
  ['a-little-bit-longer-string', -1486304829, 661178819, 2, 5, 9, 11],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971, 2088585677, 2, 5, 7, 5],
  ['abc', 479470107, 479470107, 0, 3, 7, 3],
  ['', 275646681, 275646681, 0, 3, 1, 9],
]

function keyTable(): (string | Buffer)[] {
  const rnd = mulberry32(794)
  const keys: (string | Buffer)[] = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'order-1', 'user:42', ' ', '\u0000']
  for (let i = 0; i < 60; i++) keys.push(`key-${i}`)
  for (let i = 0; i < 20; i++) keys.push(`customer/${(rnd() * 1e9) | 0}/orders`)
  const unicode = ['é', 'ñandú', 'Grüße', '日本語のキー', '😀', 'emoji-🚀-key', 'Ωμέγα', 'مفتاح', 'ключ', '𝄞 clef']
  for (const u of unicode) for (let i = 0; i < 4; i++) keys.push(`${u}${i === 0 ? '' : i}`)
  // Binary keys of every tail length, including bytes >= 0x80 (they must be read as unsigned).
  for (let len = 0; len < 40; len++) {
    const b = Buffer.alloc(len)
    for (let j = 0; j < len; j++) b[j] = (rnd() * 256) | 0
    keys.push(b)
  }
  for (let i = 0; i < 30; i++) keys.push(Buffer.alloc(1 + (i % 9), 0xff - i))
  for (let i = 0; i < 10; i++)
    keys.push(Buffer.from(Array.from({ length: 100 + i * 37 }, (_, j) => (j * 31 + i) & 0xff)))
  return keys
}

const toBytes = (key: string | Buffer): Buffer => (typeof key === 'string' ? Buffer.from(key, 'utf8') : key)

function metadata(numPartitions: number): PartitionMetadata[] {
  return Array.from({ length: numPartitions }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
  }))
}

describe('murmur2', () => {
  it.each(VECTORS)(
    'hashes %j exactly as Kafka does, and its partitions match the reference table',
    (key, hash, positive, p3, p6, p10, p12) => {
      const bytes = Buffer.from(key, 'utf8')
      expect(murmur2(bytes)).toBe(hash)
      expect(toPositive(murmur2(bytes))).toBe(positive)
      expect([3, 6, 10, 12].map((n) => partitionForKey(bytes, n))).toEqual([p3, p6, p10, p12])
    },
  )

  it('returns a signed 32-bit integer', () => {
    for (const key of keyTable()) {
      const h = murmur2(toBytes(key))
      expect(h | 0).toBe(h)
    }
  })

  it('toPositive clears the sign bit instead of taking the absolute value', () => {
    expect(toPositive(-1)).toBe(0x7fffffff)
    expect(toPositive(-973932308)).toBe(1173551340)
    expect(toPositive(-2147483648)).toBe(0)
    expect(toPositive(5)).toBe(5)
  })

  it('accepts a plain Uint8Array the same as a Buffer', () => {
    const b = Buffer.from('foobar')
    expect(murmur2(new Uint8Array(b))).toBe(murmur2(b))
    expect(murmur2(b.subarray(3))).toBe(murmur2(Buffer.from('bar')))
  })
})

describe('partitionForKey', () => {
  const keys = keyTable()
  const counts = [1, 2, 3, 6, 7, 10, 32, 100]

  it('is given a table of at least 200 mixed keys', () => {
    expect(keys.length).toBeGreaterThanOrEqual(200)
    expect(keys.some((k) => Buffer.isBuffer(k))).toBe(true)
    expect(keys).toContain('')
  })

  it.each(counts)('agrees with kafkajs DefaultPartitioner for every key over %i partitions', (numPartitions) => {
    const kafkajs = Partitioners.DefaultPartitioner()
    const partitionMetadata = metadata(numPartitions)
    const mismatches: string[] = []
    for (const key of keys) {
      const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } })
      const actual = partitionForKey(toBytes(key), numPartitions)
      if (actual !== expected) mismatches.push(`${JSON.stringify(key)}: ${actual} != ${expected}`)
    }
    expect(mismatches).toEqual([])
  })

  it('rejects a partition count that is not a positive integer', () => {
    const key = Buffer.from('k')
    expect(() => partitionForKey(key, 0)).toThrow(RangeError)
    expect(() => partitionForKey(key, 1.5)).toThrow(RangeError)
    expect(() => partitionForKey(key, '3' as unknown as number)).toThrow(TypeError)
    expect(() => partitionForKey('k' as unknown as Uint8Array, 3)).toThrow(TypeError)
  })
})

describe('partitionForStringKey', () => {
  const strings = keyTable().filter((k): k is string => typeof k === 'string')
  const counts = [1, 2, 3, 6, 7, 10, 32, 100]

  it.each(counts)('gives every string key the partition of its UTF-8 bytes over %i partitions', (numPartitions) => {
    const mismatches: string[] = []
    for (const key of strings) {
      const expected = partitionForKey(Buffer.from(key, 'utf8'), numPartitions)
      const actual = partitionForStringKey(key, numPartitions)
      if (actual !== expected) mismatches.push(`${JSON.stringify(key)}: ${actual} != ${expected}`)
    }
    expect(mismatches).toEqual([])
  })

  it('hashes an ASCII key from its char codes and leaves any other key to its bytes', () => {
    for (const key of ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'foobar', '\u007f\u007f\u007f']) {
      expect(murmur2Ascii(key)).toBe(murmur2(Buffer.from(key, 'utf8')))
    }
    // A char above 0x7f in a full block and in each tail position.
    for (const key of ['\u0080abc', 'abcdé', 'abcdeé', 'abcdefé', 'ÿ', '日本']) expect(murmur2Ascii(key)).toBeNull()
  })
})

describe('partitionStringKeyRun', () => {
  it('gives each key of a run the partition it gets alone, into the slots named', () => {
    const keys = keyTable().filter((k): k is string => typeof k === 'string' && Buffer.byteLength(k) === k.length)
    expect(keys.length).toBeGreaterThan(4)
    for (const numPartitions of [2, 6, 7, 100]) {
      const count = keys.length
      const lengths = Int32Array.from(keys, (k) => k.length)
      // Slots in reverse order with a gap, so a write to the wrong slot shows.
      const slots = Int32Array.from(keys, (_, k) => 2 * (count - 1 - k))
      const out = new Int32Array(2 * count).fill(-7)
      expect(partitionStringKeyRun(keys.join(''), lengths, slots, count, numPartitions, out)).toBe(true)
      for (let k = 0; k < count; k++) {
        expect(out[slots[k]], JSON.stringify(keys[k])).toBe(partitionForKey(Buffer.from(keys[k]), numPartitions))
        expect(out[slots[k] + 1]).toBe(-7)
      }
    }
  })

  it('writes nothing and returns false when any key is not ASCII', () => {
    const keys = ['aaaa', 'bbbb', 'cé', 'dddd']
    const out = new Int32Array(4).fill(-7)
    const lengths = Int32Array.from(keys, (k) => k.length)
    expect(partitionStringKeyRun(keys.join(''), lengths, Int32Array.from([0, 1, 2, 3]), 4, 6, out)).toBe(false)
    expect([...out]).toEqual([-7, -7, -7, -7])
  })
})

describe('StickyPartitioner', () => {
  it('keeps a partition until batchBytes went to it, then moves to another one', () => {
    const sticky = new StickyPartitioner({ batchBytes: 100, random: mulberry32(1) })
    const first = sticky.partition('t', 6, 10)
    for (let i = 2; i <= 10; i++) expect(sticky.partition('t', 6, 10)).toBe(first)
    const eleventh = sticky.partition('t', 6, 10)
    expect(eleventh).not.toBe(first)
    for (let i = 12; i <= 20; i++) expect(sticky.partition('t', 6, 10)).toBe(eleventh)
    expect(sticky.partition('t', 6, 10)).not.toBe(eleventh)
  })

  it('moves on after one record that alone exceeds batchBytes', () => {
    const sticky = new StickyPartitioner({ batchBytes: 100, random: mulberry32(2) })
    const first = sticky.partition('t', 3, 500)
    expect(sticky.partition('t', 3, 1)).not.toBe(first)
  })

  it('defaults batchBytes to 16384 as Kafka batch.size', () => {
    const sticky = new StickyPartitioner({ random: mulberry32(3) })
    expect(sticky.batchBytes).toBe(16384)
    const first = sticky.partition('t', 4, 16383)
    expect(sticky.partition('t', 4, 1)).toBe(first)
    expect(sticky.partition('t', 4, 1)).not.toBe(first)
  })

  it('covers all partitions over many records, roughly evenly', () => {
    const sticky = new StickyPartitioner({ batchBytes: 100, random: mulberry32(4) })
    const counts = new Array<number>(7).fill(0)
    for (let i = 0; i < 70_000; i++) counts[sticky.partition('t', 7, 10)]++
    for (const c of counts) {
      expect(c).toBeGreaterThan(0)
      expect(c).toBeGreaterThan(10_000 * 0.8)
      expect(c).toBeLessThan(10_000 * 1.2)
    }
  })

  it('always answers 0 for a single partition', () => {
    const sticky = new StickyPartitioner({ batchBytes: 10, random: mulberry32(5) })
    for (let i = 0; i < 100; i++) expect(sticky.partition('t', 1, 7)).toBe(0)
  })

  it('keeps separate state per topic', () => {
    const sticky = new StickyPartitioner({ batchBytes: 100, random: mulberry32(6) })
    const a = sticky.partition('a', 1000, 90)
    const b = sticky.partition('b', 1000, 90)
    // Topic b's records do not count toward topic a's batch.
    expect(sticky.partition('a', 1000, 5)).toBe(a)
    expect(sticky.partition('b', 1000, 5)).toBe(b)
  })

  it('picks again when the partition count no longer includes its choice', () => {
    const sticky = new StickyPartitioner({ batchBytes: 1000, random: () => 0.99 })
    expect(sticky.partition('t', 10, 1)).toBe(9)
    expect(sticky.partition('t', 4, 1)).toBe(3)
  })

  it('uses the random source to choose, never returning the current partition', () => {
    const sticky = new StickyPartitioner({ batchBytes: 1, random: () => 0 })
    expect(sticky.partition('t', 5, 1)).toBe(0)
    // With random() = 0 the only way to differ from partition 0 is to skip it: the next pick is 1, then 0 again.
    expect(sticky.partition('t', 5, 1)).toBe(1)
    expect(sticky.partition('t', 5, 1)).toBe(0)
    sticky.forget('t')
    expect(sticky.partition('t', 5, 1)).toBe(0)
  })

  it('rejects invalid options and arguments', () => {
    expect(() => new StickyPartitioner({ batchBytes: 0 })).toThrow(RangeError)
    const sticky = new StickyPartitioner()
    expect(() => sticky.partition('t', 0, 1)).toThrow(RangeError)
    expect(() => sticky.partition('t', 3, -1)).toThrow(TypeError)
  })
})
