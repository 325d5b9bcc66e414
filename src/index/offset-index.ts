/**
 * Sparse offset index (`.index`): maps an offset of the segment to the byte position in the `.log` file where
 * a read should start scanning (Kafka's `OffsetIndex`). File of 8-byte entries, big-endian:
 *
 * | bytes | type  | field          | meaning                                                            |
 * |-------|-------|----------------|--------------------------------------------------------------------|
 * | 0..4  | int32 | relativeOffset | offset − baseOffset (0 ≤ value ≤ 2^31−1)                           |
 * | 4..8  | int32 | position       | byte position in the segment's `.log` of a batch start (≥ 0)       |
 *
 * Invariants (checked by `append`, verified by `sanityCheck`):
 * - file length = entries × 8 exactly; no header, no preallocation, so "trim at roll/close" is implicit;
 * - offsets strictly increase and are ≥ baseOffset; positions never decrease;
 * - at most `maxEntries = floor(maxIndexBytes / 8)` entries.
 *
 * `lookup(t)` returns the entry with the largest offset ≤ t, or `(baseOffset, 0)` when there is none.
 * `truncateTo(o)` drops the entries with offset ≥ o.
 *
 * No checksum; checked against the log on every open and rebuilt from it when found wrong (see `LogSegment`).
 *
 * Concurrency: single writer: the owning segment; not safe for concurrent mutation. Entries live in memory
 * (loaded with one read at construction), so lookups never touch the disk. See `fixed-index.ts`.
 */
import type { FileSystem } from '../io/file-system.js'
import { FixedIndex, type IndexOptions, MAX_RELATIVE_OFFSET } from './fixed-index.js'

export interface OffsetPosition {
  offset: number
  position: number
}

/** Bytes of one `.index` entry: a 4-byte offset relative to the segment's base, then a 4-byte file position. */
export const OFFSET_INDEX_ENTRY_BYTES = 8

/** Writes one `.index` entry at `buf[at]` (big-endian int32 relative offset, int32 position). */
export function encodeOffsetEntry(buf: Buffer, at: number, relativeOffset: number, position: number): void {
  buf.writeInt32BE(relativeOffset, at)
  buf.writeInt32BE(position, at + 4)
}

/** Reads the `.index` entry at `buf[at]`. */
export function decodeOffsetEntry(buf: Buffer, at = 0): { relativeOffset: number; position: number } {
  return { relativeOffset: buf.readInt32BE(at), position: buf.readInt32BE(at + 4) }
}

export class OffsetIndex extends FixedIndex {
  static readonly ENTRY_SIZE = OFFSET_INDEX_ENTRY_BYTES

  private relOffsets = new Int32Array(0)
  private positions = new Int32Array(0)

  /** Loads `path` if it exists (missing = empty); with `{ check: true }` an insane file throws CORRUPT_LOG. */
  constructor(fsys: FileSystem, path: string, baseOffset: number, maxIndexBytes: number, options: IndexOptions = {}) {
    super(fsys, path, baseOffset, maxIndexBytes, OffsetIndex.ENTRY_SIZE, 'offset index')
    this.load(options)
  }

  /** Offset of the last entry, or baseOffset when empty. */
  lastOffset(): number {
    return this.count === 0 ? this.baseOffset : this.baseOffset + this.relOffsets[this.count - 1]
  }

  /**
   * Adds `(offset, position)`. Throws CORRUPT_LOG when the index is full, the offset does not exceed the last
   * entry's (or is below baseOffset), the relative offset does not fit int32, or the position goes backwards.
   */
  append(offset: number, position: number): void {
    if (!Number.isSafeInteger(offset)) throw new TypeError(`offset must be a safe integer, got ${offset}`)
    if (!Number.isSafeInteger(position)) throw new TypeError(`position must be a safe integer, got ${position}`)
    if (this.isFull()) {
      throw this.corrupt(
        `append of offset ${offset} to a full index (${this.count} of ${this.maxEntries} entries)`,
        offset,
      )
    }
    if (this.count > 0 && offset <= this.lastOffset()) {
      throw this.corrupt(`append expected an offset > ${this.lastOffset()}, got ${offset}`, offset)
    }
    const relative = offset - this.baseOffset
    if (relative < 0 || relative > MAX_RELATIVE_OFFSET) {
      throw this.corrupt(
        `append expected an offset in [${this.baseOffset}, ${this.baseOffset + MAX_RELATIVE_OFFSET}], got ${offset}`,
        offset,
      )
    }
    const lastPosition = this.count === 0 ? 0 : this.positions[this.count - 1]
    if (position < lastPosition || position > 0x7fffffff) {
      throw this.corrupt(`append expected a position in [${lastPosition}, 2147483647], got ${position}`, offset)
    }
    encodeOffsetEntry(this.entryBuf, 0, relative, position)
    this.appendEntry()
  }

  /** The entry with the largest offset <= `targetOffset`, or `(baseOffset, 0)` if there is none. */
  lookup(targetOffset: number): OffsetPosition {
    const target = targetOffset - this.baseOffset
    const rel = this.relOffsets
    if (this.count === 0 || !(target >= rel[0])) return { offset: this.baseOffset, position: 0 }
    let lo = 0
    let hi = this.count - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (rel[mid] <= target) lo = mid
      else hi = mid - 1
    }
    return { offset: this.baseOffset + rel[lo], position: this.positions[lo] }
  }

  /** The entry with the largest offset <= `targetOffset`, or null when there is none (unlike `lookup`). */
  floorEntry(targetOffset: number): OffsetPosition | null {
    const target = targetOffset - this.baseOffset
    const rel = this.relOffsets
    if (this.count === 0 || !(target >= rel[0])) return null
    return this.lookup(targetOffset)
  }

  /** Decodes one 8-byte entry as written to the file (relative offset, position). */
  static decode(buf: Buffer, at = 0): { relativeOffset: number; position: number } {
    return decodeOffsetEntry(buf, at)
  }

  /**
   * The entry with the smallest offset >= `targetOffset` (the first indexed batch whose last offset reaches the
   * target), or null when every entry is below it. Point reads use it to jump straight to a cached batch.
   */
  ceiling(targetOffset: number): OffsetPosition | null {
    const target = targetOffset - this.baseOffset
    const rel = this.relOffsets
    if (this.count === 0 || rel[this.count - 1] < target) return null
    let lo = 0
    let hi = this.count - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (rel[mid] >= target) hi = mid
      else lo = mid + 1
    }
    return { offset: this.baseOffset + rel[lo], position: this.positions[lo] }
  }

  entryAt(i: number): OffsetPosition {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new RangeError(`entry ${i} out of range [0, ${this.count}) in ${this.path}`)
    }
    return { offset: this.baseOffset + this.relOffsets[i], position: this.positions[i] }
  }

  protected grow(capacity: number): void {
    const relOffsets = new Int32Array(capacity)
    const positions = new Int32Array(capacity)
    relOffsets.set(this.relOffsets.subarray(0, this.count))
    positions.set(this.positions.subarray(0, this.count))
    this.relOffsets = relOffsets
    this.positions = positions
  }

  protected decodeEntry(buf: Buffer, at: number, slot: number): void {
    this.relOffsets[slot] = buf.readInt32BE(at)
    this.positions[slot] = buf.readInt32BE(at + 4)
  }

  protected offsetAt(slot: number): number {
    return this.baseOffset + this.relOffsets[slot]
  }

  protected checkEntries(): void {
    const rel = this.relOffsets
    const pos = this.positions
    for (let i = 0; i < this.count; i++) {
      const offset = this.baseOffset + rel[i]
      if (rel[i] < 0) throw this.corrupt(`entry ${i} has offset ${offset} below base offset ${this.baseOffset}`, offset)
      if (pos[i] < 0) throw this.corrupt(`entry ${i} has negative position ${pos[i]}`, offset)
      if (i > 0 && rel[i] <= rel[i - 1]) {
        throw this.corrupt(`entry ${i} has offset ${offset}, expected > ${this.baseOffset + rel[i - 1]}`, offset)
      }
      if (i > 0 && pos[i] < pos[i - 1]) {
        throw this.corrupt(`entry ${i} has position ${pos[i]}, expected >= ${pos[i - 1]}`, offset)
      }
    }
  }
}
