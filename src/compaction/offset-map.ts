/**
 * OffsetMap: key → latest offset, in a fixed amount of memory (Kafka's `SkimpyOffsetMap`).
 *
 * Layout: ONE ArrayBuffer of exactly `bytes` bytes (the budget), viewed as an open-addressing table of
 * `slots` 16-byte slots: an offset (Float64Array, exact for safe integers; -1 = empty slot) and a 64-bit key
 * hash (two Uint32 words: Kafka's murmur2 and MurmurHash3 x86_32 of the key bytes). Not murmur2 twice with two
 * seeds: murmur2 starts from `seed ^ length` and XORs the last 1–3 bytes in unmixed, so keys such as `68` and
 * `6b00` collide under EVERY seed (measured on random short keys); murmur3 mixes the tail and the length
 * separately, so such pairs differ in the second word. `slots` is the largest prime that
 * fits, so double hashing (start = h1 mod slots, step = 1 + h2 mod (slots − 1)) visits every slot. Memory is the
 * budget whatever the number of keys; the map counts as full at load factor 0.9 (Kafka's
 * `log.cleaner.io.buffer.load.factor`), and the cleaner then maps only the prefix of the dirty range that fit.
 *
 * Keys are identified by their 64-bit hash alone (Kafka keeps a 16-byte MD5): two different keys with the same
 * hash are taken for one key, which would make the cleaner drop the older one's record. With n keys in the map the
 * chance of any such collision is about n² / 2^65 (1e-8 for a million keys).
 */
import { murmur2Seeded } from '../partitioner.js'

/** Default memory budget of one map (16 MiB ≈ 1M slots, ≈ 940k keys per pass). */
export const DEFAULT_OFFSET_MAP_BYTES = 16 * 1024 * 1024
/** Bytes per slot: 8 (offset) + 8 (64-bit key hash). */
const OFFSET_MAP_SLOT_BYTES = 16
/** The map is full when this fraction of its slots is used. */
export const OFFSET_MAP_LOAD_FACTOR = 0.9
/** Smallest budget accepted (a handful of slots). */
export const MIN_OFFSET_MAP_BYTES = 64

const SEED_1 = 0x9747b28c
const SEED_2 = 0x2f1b3c5d

export { murmur2Seeded }

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/** MurmurHash3 x86_32 over `data[start, end)`; returns an unsigned 32-bit value. */
export function murmur3(data: Uint8Array, seed: number, start = 0, end = data.length): number {
  const length = end - start
  let h = seed | 0
  const blocksEnd = start + (length & ~3)
  for (let i = start; i < blocksEnd; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const rest = length & 3
  if (rest > 0) {
    let k = 0
    if (rest === 3) k ^= data[blocksEnd + 2] << 16
    if (rest >= 2) k ^= data[blocksEnd + 1] << 8
    k ^= data[blocksEnd]
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
  }
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

function isPrime(n: number): boolean {
  if (n < 2) return false
  if (n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}

/** Largest prime <= n (n >= 2). */
function primeAtMost(n: number): number {
  let p = n
  while (!isPrime(p)) p--
  return p
}

export class OffsetMap {
  /** Slots in the table (a prime). */
  readonly slots: number
  /** Keys the map takes before `isFull()` (load factor 0.9). */
  readonly maxEntries: number
  private readonly memory: ArrayBuffer
  private readonly offsets: Float64Array
  private readonly hashes: Uint32Array
  private entries = 0
  private latest = -1
  /** Probes made by lookups and inserts (for tests and stats). */
  probes = 0
  /** Hash of the key last passed to `find`. */
  private h1 = 0
  private h2 = 0

  /** `bytes` is the whole memory budget; the map allocates exactly that. */
  constructor(bytes: number = DEFAULT_OFFSET_MAP_BYTES) {
    if (!Number.isSafeInteger(bytes) || bytes < MIN_OFFSET_MAP_BYTES) {
      throw new RangeError(`offset map budget must be an integer >= ${MIN_OFFSET_MAP_BYTES} bytes, got ${bytes}`)
    }
    this.slots = primeAtMost(Math.floor(bytes / OFFSET_MAP_SLOT_BYTES))
    this.maxEntries = Math.max(1, Math.floor(this.slots * OFFSET_MAP_LOAD_FACTOR))
    this.memory = new ArrayBuffer(bytes)
    this.offsets = new Float64Array(this.memory, 0, this.slots)
    this.hashes = new Uint32Array(this.memory, this.slots * 8, this.slots * 2)
    this.offsets.fill(-1)
  }

  /** Bytes held by the table: always the budget given to the constructor. */
  get memoryBytes(): number {
    return this.memory.byteLength
  }

  /** Distinct keys (hashes) stored. */
  get size(): number {
    return this.entries
  }

  /** Largest offset put (or fast-forwarded to with `updateLatestOffset`); -1 when empty. */
  get latestOffset(): number {
    return this.latest
  }

  /** True once `maxEntries` keys are stored: a new key should not be added (`tryPut` refuses it). */
  isFull(): boolean {
    return this.entries >= this.maxEntries
  }

  /** Slot holding `key`, or the empty slot where it would go (as -slot - 1). */
  private find(key: Uint8Array, start: number, end: number): number {
    const h1 = murmur2Seeded(key, SEED_1, start, end)
    const h2 = murmur3(key, SEED_2, start, end)
    this.h1 = h1
    this.h2 = h2
    const slots = this.slots
    let slot = h1 % slots
    const step = slots > 1 ? 1 + (h2 % (slots - 1)) : 1
    const offsets = this.offsets
    const hashes = this.hashes
    for (let attempt = 0; attempt < slots; attempt++) {
      this.probes++
      if (offsets[slot] < 0) return -slot - 1
      if (hashes[2 * slot] === h1 && hashes[2 * slot + 1] === h2) return slot
      slot += step
      if (slot >= slots) slot -= slots
    }
    return -slots - 1
  }

  /**
   * Records `offset` as the latest offset of `key` (bytes `key[start, end)`). Throws RangeError only when the key
   * is new and every slot is taken (callers stop at `isFull()` long before).
   */
  put(key: Uint8Array, offset: number, start = 0, end = key.length): void {
    const found = this.find(key, start, end)
    if (found >= 0) {
      this.offsets[found] = offset
    } else {
      const slot = -found - 1
      if (slot >= this.slots) throw new RangeError('attempt to add a key to a full offset map')
      this.insertAt(slot, offset)
    }
    if (offset > this.latest) this.latest = offset
  }

  /** Like `put`, but refuses (returns false) a new key once the map `isFull()`; updates always succeed. */
  tryPut(key: Uint8Array, offset: number, start = 0, end = key.length): boolean {
    const found = this.find(key, start, end)
    if (found >= 0) this.offsets[found] = offset
    else {
      if (this.isFull()) return false
      this.insertAt(-found - 1, offset)
    }
    if (offset > this.latest) this.latest = offset
    return true
  }

  private insertAt(slot: number, offset: number): void {
    this.hashes[2 * slot] = this.h1
    this.hashes[2 * slot + 1] = this.h2
    this.offsets[slot] = offset
    this.entries++
  }

  /** Latest offset recorded for `key`, or -1 when absent. */
  get(key: Uint8Array, start = 0, end = key.length): number {
    const found = this.find(key, start, end)
    return found >= 0 ? this.offsets[found] : -1
  }

  /** Raises latestOffset (Kafka fast-forwards it across offset gaps at the end of a fully mapped segment). */
  updateLatestOffset(offset: number): void {
    if (offset > this.latest) this.latest = offset
  }

  clear(): void {
    this.offsets.fill(-1)
    this.entries = 0
    this.latest = -1
    this.probes = 0
  }
}
