/**
 * The CPU half of a compaction pass (Kafka's `buildOffsetMap` and `MemoryRecords.filterTo`): CRC checks, record
 * parsing, the offset map, the retention rule per record and the rebuilding of batches. No I/O at all: the pass
 * around it (`rewrite.ts`) reads runs of batches through its FileSystem, feeds them here, and writes the bytes
 * it gets back; the cleaner runs both on its worker thread (`cleaner-worker.ts`), tests also in-process
 * (`runCleanJob`), with the same results.
 *
 * Rules (see `rewrite.ts` for the pass around them):
 * - Map: each batch whose last offset reaches the first dirty offset is CRC-checked; a keyed record at or above
 *   it is put in the map (key → latest offset). When the map fills, it stops and every later `map` call is a
 *   no-op: the pass then covers only the prefix that fit (map.latestOffset + 1).
 * - Filter, per record (`shouldRetain`): keep when offset > map.latestOffset; else drop unkeyed records; else keep
 *   only when offset >= map[key] (absent = −1) and it has a value, or it is a tombstone whose batch has no delete
 *   horizon yet, or now < that horizon. Per batch: all kept and nothing to stamp → the bytes as they are; some
 *   kept → rebuilt at the same base offset with the same lastOffsetDelta, producer fields, leader epoch, codec
 *   and timestamp type, surviving records keeping their offset deltas and their bytes from the key length on; a
 *   batch that keeps a tombstone and has no horizon is stamped (attribute bit 6, baseTimestamp = now +
 *   deleteRetentionMs, record timestamp deltas re-based on it); none kept → dropped, its header-only form handed
 *   back as `trailingEmpty` (the pass keeps the last one of a group so the group's end offset survives). Control
 *   batches are kept as they are.
 *
 * Invariants: one pass at a time per core (`begin` resets it); batches of a pass arrive in log order; every
 * batch handed in already passed the scanner's size and offset checks (`BatchScanner`), the CRC is checked here.
 * Compressed batches are decompressed and, when rebuilt, recompressed with the same codec, from a `CodecRegistry`
 * built in this thread: every Kafka codec is built in (gzip, snappy, lz4, zstd; their optional packages load in
 * the thread on first use), so the worker reads and writes what the main thread does. A codec passed to
 * `Seglog.open({ codecs })` is a function of the main thread and does not reach the worker: the built-in one of
 * that type is used here, and a type whose package is missing is COMPRESSION_UNSUPPORTED.
 */
import { CodecRegistry, type CompressionType } from '../compression.js'
import { SeglogError } from '../errors.js'
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_OVERHEAD,
  batchAttributes,
  batchBaseOffset,
  batchBaseTimestamp,
  batchLastOffset,
  batchMaxTimestamp,
  batchRecordsCount,
  CODEC_IDS,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  checkBatch,
  crc32c,
  DELETE_HORIZON_FLAG_MASK,
  LENGTH_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  walkRecords,
  writeInt32,
  writeInt64,
} from '../segment/record-batch.js'
import { type Cursor, varintSize, writeVarint } from '../segment/varint.js'
import { OffsetMap } from './offset-map.js'

/** What a pass tells the core before its first run. */
export interface CoreBegin {
  mapBytes: number
  /** The first dirty offset: records below it add no keys. */
  firstDirty: number
  now: number
  deleteRetentionMs: number
}

/**
 * Complete batches of one source segment that lie in one buffer: batch i is
 * `buf[batches[3i], batches[3i] + batches[3i + 1])`, at file position `batches[3i + 2]`.
 */
export interface BatchRun {
  /** The source `.log`, for error messages. */
  path: string
  buf: Uint8Array
  batches: number[]
}

export interface MapReply {
  /** The map is full: the pass covers only what was mapped so far. */
  full: boolean
}

export interface FilterReply {
  /** The surviving batches of the run, back to back (possibly empty). */
  out: Uint8Array
  /** When the run's last batch kept nothing: its header-only form; null otherwise. */
  trailingEmpty: Uint8Array | null
}

export interface CoreEnd {
  keysMapped: number
  /** map.latestOffset + 1 (the firstDirty offset when nothing was mapped). */
  endOffset: number
  full: boolean
  recordsRemoved: number
  tombstonesRemoved: number
}

const CODEC_NAMES = new Map<number, CompressionType>(
  (Object.entries(CODEC_IDS) as [CompressionType, number][]).map(([name, id]) => [id, name]),
)

function corrupt(path: string, position: number, what: string, offset?: number): SeglogError {
  return new SeglogError('CORRUPT_LOG', `${path}: batch at position ${position}: ${what}`, { path, offset })
}

function verify(path: string, buf: Buffer, at: number, size: number, position: number): void {
  const problem = checkBatch(buf, at, size)
  if (problem !== null) throw corrupt(path, position, problem, batchBaseOffset(buf, at))
}

const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))

/** A record of a batch, located (not copied) in its records buffer. */
interface RecordRef {
  offset: number
  timestamp: number
  attributes: number
  /** Key bytes [keyStart, keyStart + keyLength) in `buf`; keyLength −1 = null key. */
  keyStart: number
  keyLength: number
  tombstone: boolean
  /** Bytes from the key length varint to the record's end: copied as is when the record is rebuilt. */
  restStart: number
  end: number
}

interface BatchRecords {
  /** Buffer holding the (decompressed) records. */
  buf: Buffer
  records: RecordRef[]
}

/** Locates every record of a verified batch (decompressing when needed) with the one record walker (`walkRecords`). */
function parseRecords(
  path: string,
  batch: Buffer,
  at: number,
  size: number,
  position: number,
  codecs: CodecRegistry,
): BatchRecords {
  const attributes = batchAttributes(batch, at)
  const baseOffset = batchBaseOffset(batch, at)
  const baseTimestamp = batchBaseTimestamp(batch, at)
  const maxTimestamp = batchMaxTimestamp(batch, at)
  const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0
  const count = batchRecordsCount(batch, at)
  let buf = batch
  const c: Cursor = { pos: at + RECORDS_OFFSET, end: at + size }
  const codec = attributes & COMPRESSION_CODEC_MASK
  if (codec !== 0) {
    buf = codecs.decompressor(codec, batch.subarray(c.pos, c.end))
    c.pos = 0
    c.end = buf.length
  }
  const records: RecordRef[] = []
  const problem = walkRecords(buf, c, count, Number.NEGATIVE_INFINITY, (f) => {
    records.push({
      offset: baseOffset + f.offsetDelta,
      timestamp: logAppendTime ? maxTimestamp : baseTimestamp + f.timestampDelta,
      attributes: f.attributes,
      keyStart: f.keyStart,
      keyLength: f.keyLength,
      tombstone: f.valueLength === -1,
      restStart: f.keyLengthAt,
      end: f.end,
    })
    return undefined
  })
  if (problem !== null) throw corrupt(path, position, problem, baseOffset)
  return { buf, records }
}

interface FilterContext {
  map: OffsetMap
  now: number
  deleteRetentionMs: number
  codecs: CodecRegistry
  recordsRemoved: number
  tombstonesRemoved: number
}

/** What a batch becomes: the bytes to write, or null (nothing survives) with its empty-header form. */
type BatchOutcome = { kind: 'keep'; buf: Buffer; at: number; size: number } | { kind: 'empty'; header: Buffer }

/** Kafka's retention rule for one record (see the module header). */
function shouldRetain(
  r: RecordRef,
  buf: Buffer,
  map: OffsetMap,
  retainTombstones: boolean,
): { keep: boolean; expiredTombstone: boolean } {
  if (r.offset > map.latestOffset) return { keep: true, expiredTombstone: false }
  if (r.keyLength < 0) return { keep: false, expiredTombstone: false }
  if (r.offset < map.get(buf, r.keyStart, r.keyStart + r.keyLength)) return { keep: false, expiredTombstone: false }
  if (r.tombstone && !retainTombstones) return { keep: false, expiredTombstone: true }
  return { keep: true, expiredTombstone: false }
}

/** A header-only batch keeping the original's offsets, producer fields and max timestamp (Kafka's writeEmptyHeader). */
function emptyHeader(batch: Buffer, at: number): Buffer {
  const out = Buffer.from(batch.subarray(at, at + BATCH_OVERHEAD))
  writeInt32(out, LENGTH_OFFSET, BATCH_OVERHEAD - LOG_OVERHEAD)
  const attributes = batchAttributes(batch, at) & ~(COMPRESSION_CODEC_MASK | DELETE_HORIZON_FLAG_MASK)
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET)
  const maxTimestamp = batchMaxTimestamp(batch, at)
  writeInt64(out, BASE_TIMESTAMP_OFFSET, maxTimestamp)
  writeInt64(out, MAX_TIMESTAMP_OFFSET, maxTimestamp)
  writeInt32(out, RECORDS_COUNT_OFFSET, 0)
  writeInt32(out, CRC_OFFSET, crc32c(out, ATTRIBUTES_OFFSET, out.length))
  return out
}

/** Rebuilds a batch holding only `kept`, at the original base offset (Kafka's buildRetainedRecordsInto). */
function rebuildBatch(
  batch: Buffer,
  at: number,
  rbuf: Buffer,
  kept: RecordRef[],
  deleteHorizon: number | null,
  codecs: CodecRegistry,
): Buffer {
  const originalAttributes = batchAttributes(batch, at)
  const logAppendTime = (originalAttributes & TIMESTAMP_TYPE_MASK) !== 0
  const baseOffset = batchBaseOffset(batch, at)
  let maxTimestamp: number
  let baseTimestamp: number
  if (logAppendTime) {
    maxTimestamp = batchMaxTimestamp(batch, at)
    baseTimestamp = deleteHorizon ?? maxTimestamp
  } else {
    maxTimestamp = -1
    for (const r of kept) if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp
    baseTimestamp = deleteHorizon ?? kept[0].timestamp
  }
  let recordsSize = 0
  const bodies = new Array<number>(kept.length)
  for (let i = 0; i < kept.length; i++) {
    const r = kept[i]
    const tsDelta = logAppendTime ? 0 : r.timestamp - baseTimestamp
    const body = 1 + varintSize(tsDelta) + varintSize(r.offset - baseOffset) + (r.end - r.restStart)
    bodies[i] = body
    recordsSize += varintSize(body) + body
  }
  let records: Buffer = Buffer.allocUnsafe(recordsSize)
  let pos = 0
  for (let i = 0; i < kept.length; i++) {
    const r = kept[i]
    pos = writeVarint(records, pos, bodies[i])
    records[pos++] = r.attributes
    pos = writeVarint(records, pos, logAppendTime ? 0 : r.timestamp - baseTimestamp)
    pos = writeVarint(records, pos, r.offset - baseOffset)
    pos += rbuf.copy(records, pos, r.restStart, r.end)
  }
  const codec = originalAttributes & COMPRESSION_CODEC_MASK
  if (codec !== 0) {
    const name = CODEC_NAMES.get(codec)
    const compression = name === undefined ? undefined : codecs.compressionFor(name)
    if (compression === undefined) {
      throw new SeglogError('COMPRESSION_UNSUPPORTED', `cannot recompress a batch with codec id ${codec}`)
    }
    records = compression.compress(records)
  }
  const out = Buffer.allocUnsafe(BATCH_OVERHEAD + records.length)
  // baseOffset, length, epoch, magic, crc (rewritten), attributes, lastOffsetDelta: from the original ...
  batch.copy(out, 0, at, at + BATCH_OVERHEAD)
  records.copy(out, BATCH_OVERHEAD)
  writeInt64(out, BASE_OFFSET_OFFSET, baseOffset)
  writeInt32(out, LENGTH_OFFSET, out.length - LOG_OVERHEAD)
  const attributes = deleteHorizon === null ? originalAttributes : originalAttributes | DELETE_HORIZON_FLAG_MASK
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET)
  writeInt64(out, BASE_TIMESTAMP_OFFSET, baseTimestamp)
  writeInt64(out, MAX_TIMESTAMP_OFFSET, maxTimestamp)
  // Producer id/epoch/base sequence (bytes 43..57) stay as copied.
  writeInt32(out, RECORDS_COUNT_OFFSET, kept.length)
  writeInt32(out, CRC_OFFSET, crc32c(out, ATTRIBUTES_OFFSET, out.length))
  return out
}

function filterBatch(
  path: string,
  batch: Buffer,
  at: number,
  size: number,
  position: number,
  ctx: FilterContext,
): BatchOutcome {
  const attributes = batchAttributes(batch, at)
  if ((attributes & CONTROL_FLAG_MASK) !== 0) return { kind: 'keep', buf: batch, at, size }
  const hasHorizon = (attributes & DELETE_HORIZON_FLAG_MASK) !== 0
  const horizon = hasHorizon ? batchBaseTimestamp(batch, at) : null
  const retainTombstones = horizon === null || ctx.now < horizon
  const { buf: rbuf, records } = parseRecords(path, batch, at, size, position, ctx.codecs)
  const kept: RecordRef[] = []
  let keptTombstone = false
  for (const r of records) {
    const verdict = shouldRetain(r, rbuf, ctx.map, retainTombstones)
    if (verdict.keep) {
      kept.push(r)
      if (r.tombstone) keptTombstone = true
    } else if (verdict.expiredTombstone) ctx.tombstonesRemoved++
  }
  ctx.recordsRemoved += records.length - kept.length
  const stamp = keptTombstone && !hasHorizon
  if (kept.length === records.length && !stamp) return { kind: 'keep', buf: batch, at, size }
  if (kept.length === 0) return { kind: 'empty', header: emptyHeader(batch, at) }
  // Clamped so the horizon (an int64 in the header, the base of every record's timestamp delta) stays exact when
  // tombstones are kept "forever" (deleteRetentionMs up to 2^53 − 1).
  const deleteHorizon = stamp ? Math.min(ctx.now + ctx.deleteRetentionMs, Number.MAX_SAFE_INTEGER) : horizon
  const rebuilt = rebuildBatch(batch, at, rbuf, kept, deleteHorizon, ctx.codecs)
  return { kind: 'keep', buf: rebuilt, at: 0, size: rebuilt.length }
}

let cachedMap: OffsetMap | null = null

/**
 * One offset map per thread, cleared between passes instead of reallocated: measured over 11 passes with a
 * fresh 16 MiB map each, the cleaner thread's RSS grew by ~157 MB (old maps waiting for its GC) against ~84 MB
 * when the memory was reused. Jobs in one thread run one at a time, so sharing is safe.
 */
function reusableMap(bytes: number): OffsetMap {
  if (cachedMap === null || cachedMap.memoryBytes !== bytes) cachedMap = new OffsetMap(bytes)
  else cachedMap.clear()
  return cachedMap
}

/** One pass's CPU state: the offset map and the filter's counters (see the module header). */
export class CleanCore {
  private map: OffsetMap | null = null
  private full = false
  private ctx: FilterContext | null = null
  private firstDirty = 0

  begin(b: CoreBegin): void {
    this.map = reusableMap(b.mapBytes)
    this.full = false
    this.firstDirty = b.firstDirty
    this.ctx = {
      map: this.map,
      now: b.now,
      deleteRetentionMs: b.deleteRetentionMs,
      codecs: new CodecRegistry(),
      recordsRemoved: 0,
      tombstonesRemoved: 0,
    }
  }

  private state(): { map: OffsetMap; ctx: FilterContext } {
    if (this.map === null || this.ctx === null) throw new SeglogError('INTERNAL', 'compaction core used before begin')
    return { map: this.map, ctx: this.ctx }
  }

  /** Puts the keys of a run's batches in the map (a no-op once it is full). */
  mapRun(run: BatchRun): MapReply {
    const { map, ctx } = this.state()
    if (this.full) return { full: true }
    const buf = asBuffer(run.buf)
    const b = run.batches
    for (let i = 0; i < b.length; i += 3) {
      const at = b[i]
      const size = b[i + 1]
      const position = b[i + 2]
      const last = batchLastOffset(buf, at)
      if (last < this.firstDirty) continue
      verify(run.path, buf, at, size, position)
      if ((batchAttributes(buf, at) & CONTROL_FLAG_MASK) === 0) {
        const { buf: rbuf, records } = parseRecords(run.path, buf, at, size, position, ctx.codecs)
        for (const r of records) {
          if (r.keyLength < 0 || r.offset < this.firstDirty) continue
          if (!map.tryPut(rbuf, r.offset, r.keyStart, r.keyStart + r.keyLength)) {
            this.full = true
            return { full: true }
          }
        }
      }
      map.updateLatestOffset(last)
    }
    return { full: false }
  }

  /** A source segment was mapped to its end: offsets up to `offset` count as covered (trailing gaps). */
  mapThrough(offset: number): void {
    const { map } = this.state()
    if (!this.full) map.updateLatestOffset(offset)
  }

  /** What a run's batches become (see the module header). */
  filter(run: BatchRun): FilterReply {
    const { ctx } = this.state()
    const buf = asBuffer(run.buf)
    const b = run.batches
    const out: Buffer[] = []
    let outBytes = 0
    let trailingEmpty: Buffer | null = null
    for (let i = 0; i < b.length; i += 3) {
      const at = b[i]
      const size = b[i + 1]
      const position = b[i + 2]
      verify(run.path, buf, at, size, position)
      const outcome = filterBatch(run.path, buf, at, size, position, ctx)
      if (outcome.kind === 'empty') trailingEmpty = outcome.header
      else {
        trailingEmpty = null
        out.push(outcome.buf.subarray(outcome.at, outcome.at + outcome.size))
        outBytes += outcome.size
      }
    }
    return { out: out.length === 1 ? out[0] : Buffer.concat(out, outBytes), trailingEmpty }
  }

  end(): CoreEnd {
    const { map, ctx } = this.state()
    return {
      keysMapped: map.size,
      endOffset: Math.max(map.latestOffset + 1, this.firstDirty),
      full: this.full,
      recordsRemoved: ctx.recordsRemoved,
      tombstonesRemoved: ctx.tombstonesRemoved,
    }
  }
}
