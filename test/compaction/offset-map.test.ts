import { describe, expect, it } from 'vitest'
import {
  DEFAULT_OFFSET_MAP_BYTES,
  murmur2Seeded,
  murmur3,
  OFFSET_MAP_LOAD_FACTOR,
  OffsetMap,
} from '../../src/compaction/offset-map.js'
import { murmur2 } from '../../src/partitioner.js'
import { mulberry32 } from '../support/random.js'

function randomKey(rng: () => number): Buffer {
  const len = Math.floor(rng() * 24)
  const key = Buffer.allocUnsafe(len)
  for (let i = 0; i < len; i++) key[i] = Math.floor(rng() * 256)
  return key
}

describe('OffsetMap', () => {
  it("murmur2Seeded with Kafka's seed equals the partitioner's murmur2", () => {
    const rng = mulberry32(7)
    for (let i = 0; i < 500; i++) {
      const key = randomKey(rng)
      expect(murmur2Seeded(key, 0x9747b28c)).toBe(murmur2(key) >>> 0)
    }
    // Kafka's vectors (UtilsTest.testMurmur2).
    expect(murmur2Seeded(Buffer.from('21'), 0x9747b28c) | 0).toBe(-973932308)
    expect(murmur2Seeded(Buffer.from('foobar'), 0x9747b28c) | 0).toBe(-790332482)
  })

  it('murmur3 matches the published MurmurHash3 x86_32 vectors', () => {
    const h = (s: string, seed: number) => murmur3(Buffer.from(s, 'latin1'), seed)
    expect(h('', 0)).toBe(0)
    expect(h('', 1)).toBe(0x514e28b7)
    expect(h('', 0xffffffff)).toBe(0x81f16f39)
    expect(h('\0\0\0\0', 0)).toBe(0x2362f9de)
    expect(h('aaaa', 0x9747b28c)).toBe(0x5a97808a)
    expect(h('Hello, world!', 0x9747b28c)).toBe(0x24884cba)
    expect(h('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe(0x2fa826cd)
  })

  it('keeps keys apart that murmur2 confuses under every seed (a trailing zero byte vs a shorter key)', () => {
    const a = Buffer.from([0x68])
    const b = Buffer.from([0x6b, 0x00])
    for (const seed of [0x9747b28c, 1, 12345]) expect(murmur2Seeded(a, seed)).toBe(murmur2Seeded(b, seed))
    const map = new OffsetMap(1024)
    map.put(a, 1)
    map.put(b, 2)
    expect(map.size).toBe(2)
    expect(map.get(a)).toBe(1)
    expect(map.get(b)).toBe(2)
  })

  it('hashes a sub-range of a buffer like a copy of those bytes', () => {
    const buf = Buffer.from('xxhello-worldyy')
    expect(murmur2Seeded(buf, 5, 2, 13)).toBe(murmur2Seeded(Buffer.from('hello-world'), 5))
  })

  it('matches a JS Map model on random keys until it is full (seed 0x0ff5e7)', () => {
    const SEED = 0x0ff5e7
    const rng = mulberry32(SEED)
    for (const budget of [64, 1000, 16 * 1024, 256 * 1024]) {
      const map = new OffsetMap(budget)
      const model = new Map<string, number>()
      const keys: string[] = []
      let offset = 0
      let refused = 0
      // Mostly new keys, some updates of known ones, until the map refuses a few new keys.
      while (refused < 5) {
        let key: Buffer
        if (keys.length > 0 && rng() < 0.3) {
          key = Buffer.from(keys[Math.floor(rng() * keys.length)], 'hex')
        } else key = randomKey(rng)
        offset += 1 + Math.floor(rng() * 3)
        const known = model.has(key.toString('hex'))
        const ok = map.tryPut(key, offset)
        const shouldTake = known || model.size < map.maxEntries
        // expect() only on a mismatch: it is slow in a loop of ~15k steps.
        if (ok !== shouldTake) expect(ok, `seed ${SEED} budget ${budget} key ${key.toString('hex')}`).toBe(shouldTake)
        if (shouldTake) {
          if (!known) keys.push(key.toString('hex'))
          model.set(key.toString('hex'), offset)
        } else refused++
        if (map.size !== model.size) expect(map.size).toBe(model.size)
        if (map.isFull() !== model.size >= map.maxEntries) expect(map.isFull()).toBe(model.size >= map.maxEntries)
      }
      const wrong = [...model].filter(([hex, off]) => map.get(Buffer.from(hex, 'hex')) !== off)
      expect(wrong, `seed ${SEED} budget ${budget}`).toEqual([])
      for (let i = 0; i < 200; i++) {
        const k = randomKey(rng)
        if (!model.has(k.toString('hex'))) expect(map.get(k)).toBe(-1)
      }
      expect(map.maxEntries).toBe(Math.max(1, Math.floor(map.slots * OFFSET_MAP_LOAD_FACTOR)))
    }
  })

  it('uses exactly its byte budget whatever the number of keys', () => {
    for (const budget of [64, 4096, 100_000, 1 << 20]) {
      const map = new OffsetMap(budget)
      expect(map.memoryBytes).toBe(budget)
      for (let i = 0; !map.isFull(); i++) map.put(Buffer.from(`k${i}`), i)
      expect(map.memoryBytes).toBe(budget)
      expect(map.slots * 16).toBeLessThanOrEqual(budget)
      // A slot costs 16 bytes: the table uses all of the budget but the last < 16 bytes (and a prime rounding).
      expect(budget - map.slots * 16).toBeLessThan(16 + 16 * 200)
    }
    expect(new OffsetMap().memoryBytes).toBe(DEFAULT_OFFSET_MAP_BYTES)
  })

  it('tracks the latest offset, also when fast-forwarded, and clears', () => {
    const map = new OffsetMap(1024)
    expect(map.latestOffset).toBe(-1)
    map.put(Buffer.from('a'), 5)
    map.put(Buffer.from('b'), 9)
    map.put(Buffer.from('a'), 12)
    expect(map.get(Buffer.from('a'))).toBe(12)
    expect(map.latestOffset).toBe(12)
    map.updateLatestOffset(40)
    map.updateLatestOffset(20)
    expect(map.latestOffset).toBe(40)
    expect(map.size).toBe(2)
    map.clear()
    expect(map.size).toBe(0)
    expect(map.latestOffset).toBe(-1)
    expect(map.get(Buffer.from('a'))).toBe(-1)
  })

  it('treats an empty key as a key', () => {
    const map = new OffsetMap(1024)
    map.put(Buffer.alloc(0), 3)
    expect(map.get(Buffer.alloc(0))).toBe(3)
  })

  it('refuses budgets too small to hold anything', () => {
    expect(() => new OffsetMap(10)).toThrow(RangeError)
    expect(() => new OffsetMap(100.5)).toThrow(RangeError)
  })
})
