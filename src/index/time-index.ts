/**
 * Sparse time index (`.timeindex`): entry `(T, O)` means "the largest timestamp seen up to and including offset O
 * is T", so any record with timestamp > T is after O (Kafka's `TimeIndex`). File of 12-byte entries, big-endian:
 *
 * | bytes  | type  | field          | meaning                                                           |
 * |--------|-------|----------------|-------------------------------------------------------------------|
 * | 0..8   | int64 | timestamp      | ms since the epoch; running max timestamp of the segment          |
 * | 8..12  | int32 | relativeOffset | offset − baseOffset (0 ≤ value ≤ 2^31−1)                          |
 *
 * The int64 is written and read as two 32-bit halves (high signed, low unsigned) into a JS number; values must be
 * safe integers (|t| ≤ 2^53−1), which every millisecond timestamp is.
 *
 * Invariants (checked by `maybeAppend`, verified by `sanityCheck`):
 * - file length = entries × 12 exactly; no header, no preallocation, so "trim at roll/close" is implicit;
 * - timestamps never decrease (appends make them strictly increase); offsets never decrease and are ≥ baseOffset;
 * - at most `maxEntries = floor(maxIndexBytes / 12)` entries; `isFull()` is `entries ≥ maxEntries − 1` because the
 *   last slot is reserved for the final entry written at roll/close (`maybeAppend(t, o, true)`).
 *
 * `maybeAppend(t, o)` appends only if t > the last entry's timestamp (−1 when empty, Kafka's NO_TIMESTAMP, so
 * a −1 timestamp is never indexed); an equal timestamp is silently skipped; a smaller timestamp or offset than the
 * last entry's is CORRUPT_LOG. `lookup(t)` returns the entry with the largest timestamp ≤ t, or `(−1, baseOffset)`.
 * `truncateTo(o)` drops the entries with offset ≥ o.
 *
 * No checksum; checked against the log on every open and rebuilt from it when found wrong (see `LogSegment`).
 *
 * Concurrency: single writer: the owning segment; not safe for concurrent mutation. Entries live in memory
 * (loaded with one read at construction), so lookups never touch the disk. See `fixed-index.ts`.
 */
import type { FileSystem } from '../io/file-system.js'
import { FixedIndex, type IndexOptions, MAX_RELATIVE_OFFSET } from './fixed-index.js'

export interface TimestampOffset {
  timestamp: number
  offset: number
}

/** Kafka's RecordBatch.NO_TIMESTAMP: the timestamp of the empty index's "last entry". */
export const NO_TIMESTAMP = -1

const TWO_32 = 0x1_0000_0000

/** Bytes of one `.timeindex` entry: an 8-byte timestamp, then a 4-byte offset relative to the segment's base. */
export const TIME_INDEX_ENTRY_BYTES = 12

/** Writes one `.timeindex` entry at `buf[at]` (big-endian int64 timestamp, int32 relative offset). */
export function encodeTimeEntry(buf: Buffer, at: number, timestamp: number, relativeOffset: number): void {
  const hi = Math.floor(timestamp / TWO_32)
  buf.writeInt32BE(hi, at)
  buf.writeUInt32BE(timestamp - hi * TWO_32, at + 4)
  buf.writeInt32BE(relativeOffset, at + 8)
}

/** Reads the `.timeindex` entry at `buf[at]`. */
export function decodeTimeEntry(buf: Buffer, at = 0): { timestamp: number; relativeOffset: number } {
  return { timestamp: buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4), relativeOffset: buf.readInt32BE(at + 8) }
}

export class TimeIndex extends FixedIndex {
  static readonly ENTRY_SIZE = TIME_INDEX_ENTRY_BYTES

  private timestamps = new Float64Array(0)
  private relOffsets = new Int32Array(0)

  /** Loads `path` if it exists (missing = empty); with `{ check: true }` an insane file throws CORRUPT_LOG. */
  constructor(fsys: FileSystem, path: string, baseOffset: number, maxIndexBytes: number, options: IndexOptions = {}) {
    super(fsys, path, baseOffset, maxIndexBytes, TimeIndex.ENTRY_SIZE, 'time index')
    this.load(options)
  }

  /** Full one entry early: the last slot is kept for the entry appended at roll/close with skipFullCheck. */
  override isFull(): boolean {
    return this.count >= this.maxEntries - 1
  }

  /** The last entry, or `(-1, baseOffset)` when empty. */
  lastEntry(): TimestampOffset {
    if (this.count === 0) return { timestamp: NO_TIMESTAMP, offset: this.baseOffset }
    return this.entryAt(this.count - 1)
  }

  /**
   * Appends `(timestamp, offset)` if `timestamp` is greater than the last entry's; an equal one is skipped.
   * Throws CORRUPT_LOG when the index is full (unless `skipFullCheck`, which may still not go past maxEntries),
   * when the timestamp or offset is smaller than the last entry's, or when the offset is below baseOffset or its
   * relative offset does not fit int32.
   */
  maybeAppend(timestamp: number, offset: number, skipFullCheck = false): void {
    if (!Number.isSafeInteger(timestamp)) throw new TypeError(`timestamp must be a safe integer, got ${timestamp}`)
    if (!Number.isSafeInteger(offset)) throw new TypeError(`offset must be a safe integer, got ${offset}`)
    if ((!skipFullCheck && this.isFull()) || this.count >= this.maxEntries) {
      throw this.corrupt(
        `append of (${timestamp}, ${offset}) to a full index (${this.count} of ${this.maxEntries} entries)`,
        offset,
      )
    }
    const last = this.lastEntry()
    if (this.count > 0 && offset < last.offset) {
      throw this.corrupt(`append expected an offset >= ${last.offset}, got ${offset}`, offset)
    }
    if (this.count > 0 && timestamp < last.timestamp) {
      throw this.corrupt(`append expected a timestamp >= ${last.timestamp}, got ${timestamp}`, offset)
    }
    if (timestamp <= last.timestamp) return
    const relative = offset - this.baseOffset
    if (relative < 0 || relative > MAX_RELATIVE_OFFSET) {
      throw this.corrupt(
        `append expected an offset in [${this.baseOffset}, ${this.baseOffset + MAX_RELATIVE_OFFSET}], got ${offset}`,
        offset,
      )
    }
    encodeTimeEntry(this.entryBuf, 0, timestamp, relative)
    this.appendEntry()
  }

  /** The entry with the largest timestamp <= `targetTimestamp`, or `(-1, baseOffset)` if there is none. */
  lookup(targetTimestamp: number): TimestampOffset {
    const ts = this.timestamps
    if (this.count === 0 || !(targetTimestamp >= ts[0])) return { timestamp: NO_TIMESTAMP, offset: this.baseOffset }
    let lo = 0
    let hi = this.count - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (ts[mid] <= targetTimestamp) lo = mid
      else hi = mid - 1
    }
    return { timestamp: ts[lo], offset: this.baseOffset + this.relOffsets[lo] }
  }

  /** Decodes one 12-byte entry as written to the file (timestamp, relative offset). */
  static decode(buf: Buffer, at = 0): { timestamp: number; relativeOffset: number } {
    return decodeTimeEntry(buf, at)
  }

  entryAt(i: number): TimestampOffset {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new RangeError(`entry ${i} out of range [0, ${this.count}) in ${this.path}`)
    }
    return { timestamp: this.timestamps[i], offset: this.baseOffset + this.relOffsets[i] }
  }

  protected grow(capacity: number): void {
    const timestamps = new Float64Array(capacity)
    const relOffsets = new Int32Array(capacity)
    timestamps.set(this.timestamps.subarray(0, this.count))
    relOffsets.set(this.relOffsets.subarray(0, this.count))
    this.timestamps = timestamps
    this.relOffsets = relOffsets
  }

  protected decodeEntry(buf: Buffer, at: number, slot: number): void {
    this.timestamps[slot] = buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4)
    this.relOffsets[slot] = buf.readInt32BE(at + 8)
  }

  protected offsetAt(slot: number): number {
    return this.baseOffset + this.relOffsets[slot]
  }

  protected checkEntries(): void {
    const ts = this.timestamps
    const rel = this.relOffsets
    for (let i = 0; i < this.count; i++) {
      const offset = this.baseOffset + rel[i]
      if (!Number.isSafeInteger(ts[i])) throw this.corrupt(`entry ${i} has an out-of-range timestamp ${ts[i]}`, offset)
      if (rel[i] < 0) throw this.corrupt(`entry ${i} has offset ${offset} below base offset ${this.baseOffset}`, offset)
      if (i > 0 && ts[i] < ts[i - 1]) {
        throw this.corrupt(`entry ${i} has timestamp ${ts[i]}, expected >= ${ts[i - 1]}`, offset)
      }
      if (i > 0 && rel[i] < rel[i - 1]) {
        throw this.corrupt(`entry ${i} has offset ${offset}, expected >= ${this.baseOffset + rel[i - 1]}`, offset)
      }
    }
  }
}
