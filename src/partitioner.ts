/**
 * Partition choice for records without an explicit partition, the way Kafka's Java producer does it
 * (`BuiltInPartitioner`, `Utils.murmur2`), so the same key lands on the same partition here, in KafkaJS and in Kafka.
 *
 * Rules:
 * - **Keyed records**: `toPositive(murmur2(keyBytes)) % numPartitions`, over the key's serialized bytes (a string
 *   key is its UTF-8 bytes; an empty key is a key, not a null one) and over **all** partitions of the topic.
 *   `murmur2` is Kafka's `Utils.murmur2` bit for bit (seed 0x9747b28c, little-endian 4-byte blocks, signed int32
 *   result); `toPositive` masks the sign bit (`n & 0x7fffffff`), it is not `Math.abs`.
 * - **Null keys** (`StickyPartitioner`, KIP-794): per topic, stay on one partition until at least `batchBytes`
 *   (default 16384, Kafka's `batch.size`) have gone to it, then move to another partition chosen uniformly at
 *   random among the others (never the same one when there are two or more). The first choice for a topic is
 *   uniform over all partitions. If the topic's partition count drops below the current choice (the caller
 *   passes a smaller count), a new one is picked.
 * - Precedence (explicit partition → key hash → sticky) is the caller's: this module only answers the last two.
 */
// Imported, not the global: in Node 20 the global `Buffer` is a getter (Buffer.isBuffer 11.7 vs 6.7 ns measured).
import { Buffer } from 'node:buffer'

const SEED = 0x9747b28c
const M = 0x5bd1e995

/** Kafka's murmur2 (`Utils.murmur2`): 32-bit arithmetic with wrap-around; returns a signed int32. */
export function murmur2(data: Uint8Array): number {
  return murmur2Seeded(data, SEED) | 0
}

/**
 * Kafka's murmur2 with a caller-chosen seed over `data[start, end)`, as an unsigned 32-bit value (the compaction
 * offset map uses it with other seeds).
 */
export function murmur2Seeded(data: Uint8Array, seed: number, start = 0, end = data.length): number {
  const length = end - start
  let h = (seed ^ length) | 0
  const blocksEnd = start + (length & ~3)
  for (let i = start; i < blocksEnd; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  const rest = length & 3
  if (rest === 3) h ^= data[blocksEnd + 2] << 16
  if (rest >= 2) h ^= data[blocksEnd + 1] << 8
  if (rest >= 1) {
    h ^= data[blocksEnd]
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h >>> 0
}

/**
 * Kafka's murmur2 of a string's UTF-8 bytes read straight from its char codes when the string is ASCII (then each
 * char code is its byte); returns null when it is not (the caller hashes the encoded bytes). Measured in the
 * clients bench: encoding each string key into a scratch Buffer and taking a view for the hash was ~10% of the
 * producer's CPU (`buf.write` + `subarray` per message).
 */
export function murmur2Ascii(s: string): number | null {
  const length = s.length
  let h = (SEED ^ length) | 0
  const blocksEnd = length & ~3
  for (let i = 0; i < blocksEnd; i += 4) {
    const c0 = s.charCodeAt(i)
    const c1 = s.charCodeAt(i + 1)
    const c2 = s.charCodeAt(i + 2)
    const c3 = s.charCodeAt(i + 3)
    if ((c0 | c1 | c2 | c3) > 0x7f) return null
    let k = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  const rest = length & 3
  if (rest > 0) {
    const c0 = s.charCodeAt(blocksEnd)
    const c1 = rest >= 2 ? s.charCodeAt(blocksEnd + 1) : 0
    const c2 = rest === 3 ? s.charCodeAt(blocksEnd + 2) : 0
    if ((c0 | c1 | c2) > 0x7f) return null
    h ^= (c2 << 16) | (c1 << 8) | c0
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not the absolute value). */
export function toPositive(n: number): number {
  return n & 0x7fffffff
}

function checkPartitionCount(numPartitions: number): void {
  if (typeof numPartitions !== 'number')
    throw new TypeError(`numPartitions must be a number, got ${typeof numPartitions}`)
  if (!Number.isInteger(numPartitions) || numPartitions < 1) {
    throw new RangeError(`numPartitions must be an integer >= 1, got ${numPartitions}`)
  }
}

/** The partition of a keyed record: `toPositive(murmur2(keyBytes)) % numPartitions`. */
export function partitionForKey(keyBytes: Uint8Array, numPartitions: number): number {
  if (!(keyBytes instanceof Uint8Array)) throw new TypeError('keyBytes must be a Uint8Array (or Buffer)')
  checkPartitionCount(numPartitions)
  return toPositive(murmur2(keyBytes)) % numPartitions
}

let keyScratch = Buffer.allocUnsafe(256)

/**
 * The partition of a string key (its UTF-8 bytes, as `partitionForKey`): ASCII keys are hashed from their char
 * codes, others are encoded into a reused buffer first. `numPartitions` is the caller's, already checked.
 */
export function partitionForStringKey(key: string, numPartitions: number): number {
  let h = murmur2Ascii(key)
  if (h === null) {
    const len = Buffer.byteLength(key, 'utf8')
    if (len > keyScratch.length) keyScratch = Buffer.allocUnsafe(Math.max(len, keyScratch.length * 2))
    keyScratch.write(key, 0, len, 'utf8')
    h = murmur2Seeded(keyScratch, SEED, 0, len) | 0
  }
  return toPositive(h) % numPartitions
}

let runScratch = Buffer.allocUnsafe(16384)

/**
 * The partitions of several string keys at once, as `partitionForStringKey` gives them one by one: `text` is the
 * keys concatenated, `lengths[0, count)` their lengths in order; partition `k` goes to `out[slots[k]]`. Returns
 * false, writing nothing, when `text` is not all ASCII (the caller then hashes key by key). Why: the keys are
 * written as bytes in one native call and hashed from the buffer; reading them with `charCodeAt` costs ~3 ns per
 * char on a flat string and ~7 on a concatenated one (template literals are), measured ~100 vs ~30 ns per
 * 16-char key. `numPartitions` is the caller's, already checked.
 */
export function partitionStringKeyRun(
  text: string,
  lengths: Int32Array,
  slots: Int32Array,
  count: number,
  numPartitions: number,
  out: Int32Array,
): boolean {
  const total = text.length
  if (Buffer.byteLength(text, 'utf8') !== total) return false
  if (runScratch.length < total) runScratch = Buffer.allocUnsafe(Math.max(total, runScratch.length * 2))
  runScratch.write(text, 0, total, 'latin1')
  let at = 0
  for (let k = 0; k < count; k++) {
    const end = at + lengths[k]
    out[slots[k]] = toPositive(murmur2Seeded(runScratch, SEED, at, end) | 0) % numPartitions
    at = end
  }
  return true
}

export interface StickyPartitionerOptions {
  /** Bytes that go to one partition before moving on (Kafka's `batch.size`). Default 16384. */
  batchBytes?: number
  /** Source of uniform numbers in [0, 1); `Math.random` by default (tests pass a seeded one). */
  random?: () => number
}

interface StickyState {
  partition: number
  bytes: number
}

export const DEFAULT_STICKY_BATCH_BYTES = 16384

/** Sticky assignment for null-key records, per topic (see the module header for the rules). */
export class StickyPartitioner {
  readonly batchBytes: number
  readonly #random: () => number
  readonly #topics = new Map<string, StickyState>()

  constructor(options: StickyPartitionerOptions = {}) {
    const batchBytes = options.batchBytes ?? DEFAULT_STICKY_BATCH_BYTES
    if (typeof batchBytes !== 'number' || !Number.isFinite(batchBytes) || batchBytes < 1) {
      throw new RangeError(`batchBytes must be a number >= 1, got ${String(batchBytes)}`)
    }
    if (options.random !== undefined && typeof options.random !== 'function') {
      throw new TypeError('random must be a function returning a number in [0, 1)')
    }
    this.batchBytes = batchBytes
    this.#random = options.random ?? Math.random
  }

  /** The partition for a null-key record of `bytes` bytes on `topic`, which has `numPartitions` partitions. */
  partition(topic: string, numPartitions: number, bytes: number): number {
    checkPartitionCount(numPartitions)
    if (typeof bytes !== 'number' || !(bytes >= 0)) throw new TypeError(`bytes must be a number >= 0, got ${bytes}`)
    let state = this.#topics.get(topic)
    if (state === undefined) {
      state = { partition: this.#pick(numPartitions, -1), bytes: 0 }
      this.#topics.set(topic, state)
    } else if (state.partition >= numPartitions) {
      state.partition = this.#pick(numPartitions, -1)
      state.bytes = 0
    } else if (state.bytes >= this.batchBytes) {
      state.partition = this.#pick(numPartitions, state.partition)
      state.bytes = 0
    }
    state.bytes += bytes
    return state.partition
  }

  /** Drops the state of a topic (after it is deleted or recreated). */
  forget(topic: string): void {
    this.#topics.delete(topic)
  }

  /** Uniform over [0, n), excluding `current` when it is a valid partition and n > 1. */
  #pick(n: number, current: number): number {
    if (n === 1) return 0
    const choices = current >= 0 ? n - 1 : n
    const r = Math.min(choices - 1, Math.max(0, Math.floor(this.#random() * choices)))
    return current >= 0 && r >= current ? r + 1 : r
  }
}
