/**
 * BatchScanner: the one sequential walk over a segment's batches. Recovery's scan (`LogSegment.recover` and the
 * index rebuild) and both compaction passes (the offset map and the rewrite) step through a `.log` with it.
 *
 * It reads the file forward in chunks through a caller-supplied `read` (so every byte goes through the injected
 * FileSystem), and hands out each complete batch as a view into the chunk that holds it, after checking what a
 * batch's CRC cannot cover:
 * - the batch's size (at least the 61-byte header, at most `maxBatchBytes`, inside the bytes to scan) and magic;
 * - its offsets (`batchOffsetProblem`): the base offset above the previous batch's last offset (right after it in
 *   a segment never compacted), inside the segment, a record count that fits lastOffsetDelta, a last offset
 *   below the next segment's base.
 * The CRC itself is the caller's to check (`checkBatch`): compaction checks it on the worker thread, where the
 * bytes are decoded anyway.
 *
 * The checks themselves live here once, as two functions: `batchHeaderProblem` (size, magic, inside the file) and
 * `batchOffsetProblem`. The scanner calls them for each batch; so does `LogSegment` for the header walks of point
 * and sequential reads (`locate`, `readBatches`) and of the open-time index check (`checkOnOpen`). Those walks keep
 * their own small header reader instead of this object: they start at an index entry or the read hint, step over
 * a few headers of an 8–16 KiB chunk and stop at the first batch reaching the target, where a scanner's
 * allocation, 1 MiB chunking and batch views would cost more than the point read itself (W4 is ~2 µs).
 *
 * Invariants: batches come out in file order, back to back from the start position (0 unless told); a batch is handed out only when it
 * passed the checks above; after the first problem `next()` returns null forever and `problem` says why. The
 * scanner holds on to no chunk but the current one, so a view stays valid after later calls for as long as the
 * reader leaves its chunk alone (compaction reuses two chunk buffers in turn). Not safe to share between callers;
 * one scanner walks one file once.
 */
import { MAX_RELATIVE_OFFSET } from '../index/fixed-index.js'
import {
  BATCH_OVERHEAD,
  batchBaseOffset,
  batchLastOffset,
  batchRecordsCount,
  batchSizeAt,
  HEADER_SIZE_UP_TO_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAGIC_V2,
  readInt32,
} from './record-batch.js'

/**
 * Why the batch header at `buf[at]` (file position `pos`) is not a plausible v2 batch inside [pos, end) of at most
 * `maxBatchBytes`, or null: its size must cover the 61-byte header, its magic be 2, and the whole batch fit before
 * `end`. `buf` must hold at least the header up to the magic byte (`HEADER_SIZE_UP_TO_MAGIC`) at `at`.
 */
export function batchHeaderProblem(
  buf: Buffer,
  at: number,
  pos: number,
  end: number,
  maxBatchBytes: number = Number.POSITIVE_INFINITY,
): string | null {
  const size = batchSizeAt(buf, at, buf.length)
  if (size < BATCH_OVERHEAD || size > maxBatchBytes) return `batch at position ${pos} has an invalid size ${size}`
  const magic = buf[at + MAGIC_OFFSET]
  if (magic !== MAGIC_V2) return `batch at position ${pos} has magic ${magic} (expected ${MAGIC_V2})`
  if (pos + size > end) return `batch at position ${pos} needs ${size} bytes, only ${end - pos} remain in the file`
  return null
}

/**
 * Largest offset a log may use: a batch based there still ends (base + lastOffsetDelta + 1) inside the exact range
 * of a JS number. Anything above it read from a file or a checkpoint is damage.
 */
export const MAX_LOG_OFFSET = Number.MAX_SAFE_INTEGER - 0x8000_0000

/**
 * Why the offsets in the batch header at `buf[at]` cannot be right in a segment based at `segmentBase`, or null.
 * `prevLast` is the last offset of the batch before it (NaN when unknown), `limit` the offset every offset of the
 * segment stays below (the next segment's base, or the log end), `dense` whether the segment was never compacted.
 * Bytes 0–7 (the base offset) are outside the CRC, so these checks are all that stands between a flipped bit there
 * and wrong offsets being served: the base must be a safe integer >= the segment's base and above `prevLast`
 * (right after it when dense), the record count must fit the batch's offset span (equal it when dense), and the
 * last offset must stay below `limit` and within int32 of the segment's base.
 */
export function batchOffsetProblem(
  buf: Buffer,
  at: number,
  segmentBase: number,
  prevLast: number,
  limit: number,
  dense: boolean,
): string | null {
  const base = batchBaseOffset(buf, at)
  const delta = readInt32(buf, at + LAST_OFFSET_DELTA_OFFSET)
  const count = batchRecordsCount(buf, at)
  if (!Number.isSafeInteger(base) || base < segmentBase || base > MAX_LOG_OFFSET) {
    return `base offset ${base} is outside the segment (base offset ${segmentBase})`
  }
  if (delta < 0) return `negative lastOffsetDelta ${delta}`
  if (count < 0 || count > delta + 1) return `record count ${count} does not fit lastOffsetDelta ${delta}`
  if (dense && count !== delta + 1) {
    return `record count ${count} does not match lastOffsetDelta ${delta} in a segment that was never compacted`
  }
  if (!Number.isNaN(prevLast)) {
    if (base <= prevLast) return `base offset ${base} does not follow the previous batch's last offset ${prevLast}`
    if (dense && base !== prevLast + 1) {
      return `base offset ${base} leaves a gap after offset ${prevLast} in a segment that was never compacted`
    }
  }
  const last = base + delta
  if (last >= limit) return `last offset ${last} is not below ${limit}, where the next segment or the log end starts`
  if (last - segmentBase > MAX_RELATIVE_OFFSET) {
    return `last offset ${last} is more than 2^31-1 past the segment's base offset ${segmentBase}`
  }
  return null
}

/** Bytes read at once by a scanner unless told otherwise. */
export const SCAN_CHUNK_BYTES = 1024 * 1024

export interface BatchScanOptions {
  /** The segment's base offset. */
  baseOffset: number
  /** Bytes of the file to walk: [0, end). */
  end: number
  /** Every offset of the segment stays below this (the next segment's base; Infinity when unknown). */
  offsetLimit: number
  /** The segment was never compacted: batches are contiguous and full. */
  dense: boolean
  /** Largest batch accepted; default unbounded. */
  maxBatchBytes?: number
  /** Bytes read at once; default `SCAN_CHUNK_BYTES`. A bigger batch is read whole. */
  chunkBytes?: number
  /**
   * Where the walk starts: a batch boundary and the last offset of the batch before it (NaN when unknown: the
   * first batch is then not checked against a predecessor). Default: position 0, `baseOffset − 1`.
   */
  start?: { position: number; prevLast: number }
}

/** A batch the scanner handed out: `buf[at, at + size)` is the whole batch, at file position `position`. */
export interface ScannedBatch {
  buf: Buffer
  at: number
  size: number
  position: number
  lastOffset: number
}

/**
 * Reads `length` bytes at `position` into a buffer the scanner may keep until its next read. It must return all
 * of them (the caller decides what a short file means: CORRUPT_LOG for a segment, ABORTED for a compaction source
 * that changed) and throws its own typed error otherwise.
 */
export type ChunkReader = (position: number, length: number) => Buffer

export class BatchScanner {
  private chunk: Buffer = Buffer.alloc(0)
  private chunkPos = 0
  private pos = 0
  private prev: number
  /** Why the walk stopped before `end` (null while it goes on, or when it reached the end cleanly). */
  problem: string | null = null
  /** With an offsets problem: the offset the failing batch should have started at (undefined for a size problem). */
  problemOffset: number | undefined
  private readonly maxBatchBytes: number
  private readonly chunkBytes: number

  constructor(
    private readonly read: ChunkReader,
    private readonly options: BatchScanOptions,
  ) {
    this.pos = options.start?.position ?? 0
    this.prev = options.start?.prevLast ?? options.baseOffset - 1
    this.maxBatchBytes = options.maxBatchBytes ?? Number.POSITIVE_INFINITY
    this.chunkBytes = options.chunkBytes ?? SCAN_CHUNK_BYTES
  }

  /** File position after the last batch handed out. */
  get position(): number {
    return this.pos
  }

  /** Last offset of the last batch handed out (base offset − 1 before the first). */
  get prevLast(): number {
    return this.prev
  }

  /** The next checked batch, or null at the end or at the first problem (then `problem` says why). */
  next(): ScannedBatch | null {
    if (this.problem !== null) return null
    const { end } = this.options
    const pos = this.pos
    if (pos >= end) return null
    if (pos + HEADER_SIZE_UP_TO_MAGIC > this.chunkPos + this.chunk.length) {
      const len = Math.min(end - pos, this.chunkBytes)
      if (len < HEADER_SIZE_UP_TO_MAGIC) {
        this.problem = `${len} trailing bytes at position ${pos} are too few for a batch header`
        return null
      }
      this.chunk = this.read(pos, len)
      this.chunkPos = pos
    }
    let at = pos - this.chunkPos
    const bad = batchHeaderProblem(this.chunk, at, pos, end, this.maxBatchBytes)
    if (bad !== null) {
      this.problem = bad
      return null
    }
    const size = batchSizeAt(this.chunk, at, this.chunk.length)
    if (at + size > this.chunk.length) {
      this.chunk = this.read(pos, Math.min(end - pos, Math.max(size, this.chunkBytes)))
      this.chunkPos = pos
      at = 0
    }
    const o = this.options
    const why = batchOffsetProblem(this.chunk, at, o.baseOffset, this.prev, o.offsetLimit, o.dense)
    if (why !== null) {
      this.problem = `batch at position ${pos}: ${why}`
      this.problemOffset = this.prev + 1
      return null
    }
    const lastOffset = batchLastOffset(this.chunk, at)
    this.prev = lastOffset
    this.pos = pos + size
    return { buf: this.chunk, at, size, position: pos, lastOffset }
  }

  /**
   * After the walk reached `end` cleanly: why the data ends before the next segment's base offset (a segment must
   * end right before the next one begins), or null. Always null when the limit is unknown (Infinity).
   */
  holeProblem(): string | null {
    const next = this.prev + 1
    const limit = this.options.offsetLimit
    if (this.problem !== null || !Number.isFinite(limit) || Number.isNaN(next) || next === limit) return null
    return `the segment's data ends at offset ${next}, before the next segment's base offset ${limit}`
  }
}
