/**
 * LogSegment: one `.log` file of RecordBatch v2 batches plus its sparse `.index` and `.timeindex`.
 *
 * Invariants
 * - `baseOffset` <= every offset in the segment, and > every offset of the previous segment.
 * - Batches are stored back to back from position 0; `size` is the end of the last complete batch this process
 *   knows of. Readers never look past `size`, so a write in progress or a torn tail is invisible to them.
 * - Offsets strictly increase from batch to batch (gaps are legal after compaction).
 * - Index entries are added only after more than `indexIntervalBytes` were appended since the last entry; an
 *   entry is (last offset of the batch, file position where that batch starts). The time index entry next to it
 *   is (max timestamp so far, offset of the batch that carried it).
 *
 * What is checksummed: each batch (CRC-32C, see record-batch.ts). Indexes carry no checksum: after an unclean
 * shutdown `recover()` rebuilds them from the log; they are trusted only after a clean shutdown (and after a
 * sanity check when loaded).
 *
 * Concurrency: a segment is owned by one PartitionLog; all mutating calls come from it, serialised. Reads are
 * synchronous and may interleave with appends between calls (JS is single threaded), never inside one.
 */
import { corruptLog, ioError, SeglogError } from '../errors.js'
import { OffsetIndex } from '../index/offset-index.js'
import { TimeIndex } from '../index/time-index.js'
import type { FileHandle, FileSystem } from '../io/file-system.js'
import { INDEX_SUFFIX, LOG_SUFFIX, segmentFileName, TIME_INDEX_SUFFIX } from '../log/file-names.js'
import {
  BATCH_OVERHEAD,
  batchAttributes,
  batchBaseOffset,
  batchContext,
  batchLastOffset,
  batchMaxTimestamp,
  batchRecordsCount,
  batchSizeAt,
  COMPRESSION_CODEC_MASK,
  checkBatch,
  type DecodedRecord,
  type Decompressor,
  decodeRecordAt,
  decodeRecords,
  HEADER_SIZE_UP_TO_MAGIC,
  indexRecords,
  type RecordContext,
  type RecordTable,
} from './record-batch.js'
import type { Cursor } from './varint.js'

export interface SegmentConfig {
  indexIntervalBytes: number
  segmentIndexBytes: number
}

/** What recovery found in a segment. */
export interface SegmentRecoveryResult {
  validBytes: number
  truncatedBytes: number
  /** Next offset after the last valid batch, or the base offset when the segment holds none. */
  nextOffset: number
  /** Why the scan stopped early, when it did. */
  reason: string | null
}

/** State that lets an active segment resume appending without reading its body (after a clean shutdown). */
export interface SegmentResumeState {
  nextOffset: number
  maxTimestamp: number
  offsetOfMaxTimestamp: number
  firstBatchTimestamp: number
}

export interface BatchRange {
  /** Buffer holding complete batches only. */
  buffer: Buffer
  /** File position of buffer[0]. */
  position: number
}

/** Bytes read at once when walking batch headers from an index entry (two syscalls cost more than 8 KB of copy). */
const HEADER_CHUNK_BYTES = 8 * 1024
/** Batches with fewer records are cheap to read whole; no record table is kept for them. */
const TABLE_MIN_RECORDS = 16

/** A verified batch whose record positions are known (see BatchCache). */
export interface BatchInfo {
  segment: LogSegment
  position: number
  size: number
  lastOffset: number
  count: number
  ctx: RecordContext
  table: RecordTable | null
}

interface Located {
  position: number
  size: number
  lastOffset: number
  /** Records in the batch. */
  count: number
  info: BatchInfo | undefined
  /** A buffer already read that holds the whole batch, or null. */
  chunk: Buffer | null
  chunkPos: number
}

/**
 * A bounded LRU of verified batches and their record tables, shared by the partitions of an engine.
 *
 * Why: a point read (`maxRecords: 1`) into a 1,000-record batch would otherwise read and CRC-check ~120 KB to
 * return ~120 bytes (measured: ~370 µs vs ~2 µs for the raw read). A batch is CRC-checked the first time it is
 * read; its table (8 bytes per record) then lets later point reads fetch single records. Memory is bounded by
 * `maxBytes` whatever the log length. Entries die with their segment (truncation, deletion, close).
 */
export class BatchCache {
  /** Insertion order; `get` only sets a flag (second-chance eviction), so a hit costs no Map mutation. */
  private readonly lru = new Map<BatchInfo, number>()
  private readonly used = new WeakSet<BatchInfo>()
  private bytes = 0

  constructor(readonly maxBytes: number = 16 * 1024 * 1024) {}

  get(segment: LogSegment, position: number): BatchInfo | undefined {
    const info = segment.cachedBatches?.get(position)
    if (info !== undefined) this.used.add(info)
    return info
  }

  put(info: BatchInfo): void {
    const cost = 96 + (info.table ? info.table.starts.byteLength + (info.table.deltas?.byteLength ?? 0) : 0)
    if (cost > this.maxBytes) return
    const seg = info.segment
    seg.cachedBatches ??= new Map()
    const old = seg.cachedBatches.get(info.position)
    if (old !== undefined) this.remove(old)
    seg.cachedBatches.set(info.position, info)
    this.lru.set(info, cost)
    this.bytes += cost
    while (this.bytes > this.maxBytes) {
      const oldest = this.lru.keys().next().value as BatchInfo
      if (this.used.has(oldest)) {
        // Second chance: recently read entries go to the back once.
        this.used.delete(oldest)
        const c = this.lru.get(oldest)!
        this.lru.delete(oldest)
        this.lru.set(oldest, c)
        continue
      }
      this.remove(oldest)
    }
  }

  private remove(info: BatchInfo): void {
    const cost = this.lru.get(info)
    if (cost === undefined) return
    this.lru.delete(info)
    this.used.delete(info)
    this.bytes -= cost
    const map = info.segment.cachedBatches
    if (map?.get(info.position) === info) map.delete(info.position)
  }

  /** Forgets every batch of a segment (it was truncated, deleted or closed). */
  dropSegment(segment: LogSegment): void {
    const map = segment.cachedBatches
    if (!map) return
    for (const info of [...map.values()]) this.remove(info)
    segment.cachedBatches = null
  }

  get size(): number {
    return this.bytes
  }
}

/** Bytes read at once when scanning headers forward from an index entry: enough to cover one index interval. */
const SCAN_CHUNK_BYTES = 16 * 1024
/** Bytes read at once by recovery's sequential scan. */
const RECOVERY_CHUNK_BYTES = 1024 * 1024

export class LogSegment {
  readonly baseOffset: number
  private readonly fs: FileSystem
  private readonly dir: string
  private readonly config: SegmentConfig
  private logHandle: FileHandle | null = null
  private offsetIndexRef: OffsetIndex | null = null
  private timeIndexRef: TimeIndex | null = null
  /** Bytes of complete batches. */
  size: number
  /** Next offset after the last batch; -1 when unknown (an inactive segment loaded without a scan). */
  nextOffset: number
  maxTimestamp = -1
  offsetOfMaxTimestamp: number
  /** maxTimestamp of the first batch (Kafka's rolling-based timestamp); -1 = none, NaN = not read yet. */
  firstBatchTimestamp = Number.NaN
  private bytesSinceLastIndexEntry = 0
  /** Wall-clock creation time, for time-based roll of segments whose batches carry no timestamp. */
  readonly createdMs: number
  /** Data or index bytes written since the last fsync. */
  dirty = false
  /** Batches of this segment held by a BatchCache (owned by the cache). */
  cachedBatches: Map<number, BatchInfo> | null = null
  /** Sequential-read hint: where the batch after the last read starts. */
  private readHintOffset = -1
  private readHintPosition = 0

  private constructor(
    fsys: FileSystem,
    dir: string,
    baseOffset: number,
    config: SegmentConfig,
    size: number,
    now: number,
  ) {
    this.fs = fsys
    this.dir = dir
    this.baseOffset = baseOffset
    this.config = config
    this.size = size
    this.nextOffset = size === 0 ? baseOffset : -1
    this.offsetOfMaxTimestamp = baseOffset
    this.createdMs = now
  }

  /** Creates a new empty segment (its `.log` file is created now, its indexes on first entry). */
  static create(fsys: FileSystem, dir: string, baseOffset: number, config: SegmentConfig, now: number): LogSegment {
    const seg = new LogSegment(fsys, dir, baseOffset, config, 0, now)
    const path = seg.logPath
    try {
      seg.logHandle = fsys.open(path, 'rw')
      seg.logHandle.truncate(0)
    } catch (err) {
      throw ioError(err, 'create segment', path)
    }
    seg.firstBatchTimestamp = -1
    seg.dirty = true
    return seg
  }

  /** Opens an existing segment file without reading its body. */
  static load(fsys: FileSystem, dir: string, baseOffset: number, config: SegmentConfig, now: number): LogSegment {
    const path = `${dir}/${segmentFileName(baseOffset, LOG_SUFFIX)}`
    let size: number
    try {
      size = fsys.fileSize(path)
    } catch (err) {
      throw ioError(err, 'stat segment', path)
    }
    return new LogSegment(fsys, dir, baseOffset, config, size, now)
  }

  get logPath(): string {
    return `${this.dir}/${segmentFileName(this.baseOffset, LOG_SUFFIX)}`
  }

  get offsetIndexPath(): string {
    return `${this.dir}/${segmentFileName(this.baseOffset, INDEX_SUFFIX)}`
  }

  get timeIndexPath(): string {
    return `${this.dir}/${segmentFileName(this.baseOffset, TIME_INDEX_SUFFIX)}`
  }

  /** The offset index, loaded on first use and sanity-checked; an insane one is rebuilt from the log. */
  get offsetIndex(): OffsetIndex {
    if (this.offsetIndexRef === null) this.loadIndexes()
    return this.offsetIndexRef!
  }

  get timeIndex(): TimeIndex {
    if (this.timeIndexRef === null) this.loadIndexes()
    return this.timeIndexRef!
  }

  private loadIndexes(): void {
    const max = this.config.segmentIndexBytes
    try {
      this.offsetIndexRef = new OffsetIndex(this.fs, this.offsetIndexPath, this.baseOffset, max, { check: true })
      this.timeIndexRef = new TimeIndex(this.fs, this.timeIndexPath, this.baseOffset, max, { check: true })
      const lastIndexed =
        this.offsetIndexRef.entries > 0 ? this.offsetIndexRef.entryAt(this.offsetIndexRef.entries - 1) : null
      if (lastIndexed !== null && lastIndexed.position >= Math.max(this.size, 1)) {
        throw corruptLog(
          `last entry position ${lastIndexed.position} is past the log size ${this.size}`,
          this.offsetIndexPath,
        )
      }
    } catch (err) {
      if (!(err instanceof SeglogError) || err.code !== 'CORRUPT_LOG') throw err
      // An index is a cache of the log: rebuild it rather than trust it.
      this.offsetIndexRef?.close()
      this.timeIndexRef?.close()
      this.offsetIndexRef = new OffsetIndex(this.fs, this.offsetIndexPath, this.baseOffset, max, { check: false })
      this.timeIndexRef = new TimeIndex(this.fs, this.timeIndexPath, this.baseOffset, max, { check: false })
      this.rebuildIndexes()
    }
  }

  private handle(): FileHandle {
    if (this.logHandle === null) {
      try {
        this.logHandle = this.fs.open(this.logPath, 'rw')
      } catch (err) {
        throw ioError(err, 'open segment', this.logPath)
      }
    }
    return this.logHandle
  }

  /** Resumes the append state of an active segment from a clean-shutdown record. */
  resume(state: SegmentResumeState): void {
    this.nextOffset = state.nextOffset
    this.maxTimestamp = state.maxTimestamp
    this.offsetOfMaxTimestamp = state.offsetOfMaxTimestamp
    this.firstBatchTimestamp = state.firstBatchTimestamp
  }

  resumeState(): SegmentResumeState {
    return {
      nextOffset: this.nextOffset,
      maxTimestamp: this.maxTimestamp,
      offsetOfMaxTimestamp: this.offsetOfMaxTimestamp,
      firstBatchTimestamp: this.rollingTimestamp(),
    }
  }

  /** maxTimestamp of the first batch, read (61 bytes) on first need; -1 when the segment is empty. */
  rollingTimestamp(): number {
    if (Number.isNaN(this.firstBatchTimestamp)) {
      if (this.size < BATCH_OVERHEAD) this.firstBatchTimestamp = -1
      else {
        const hdr = Buffer.allocUnsafe(BATCH_OVERHEAD)
        this.readAt(hdr, BATCH_OVERHEAD, 0)
        this.firstBatchTimestamp = batchMaxTimestamp(hdr, 0)
      }
    }
    return this.firstBatchTimestamp
  }

  /**
   * Kafka's roll rule, checked before an append of `incomingBytes` whose last offset is `lastOffset` and
   * whose max timestamp is `incomingMaxTimestamp`.
   */
  shouldRoll(
    incomingBytes: number,
    lastOffset: number,
    incomingMaxTimestamp: number,
    segmentBytes: number,
    segmentMs: number,
    now: number,
  ): boolean {
    if (this.size === 0) return false
    if (this.size > segmentBytes - incomingBytes) return true
    const first = this.rollingTimestamp()
    const waited = first >= 0 ? incomingMaxTimestamp - first : now - this.createdMs
    if (waited > segmentMs) return true
    if (this.offsetIndex.isFull() || this.timeIndex.isFull()) return true
    return lastOffset - this.baseOffset > 0x7fffffff
  }

  /**
   * Appends one validated batch (its base offset already stamped). On a failed write the file is cut back to
   * its previous size so nothing of the batch stays; if even that fails the caller must poison the log.
   */
  append(batch: Buffer, lastOffset: number, maxTimestamp: number): void {
    const position = this.size
    const handle = this.handle()
    // The batch and its index entries land together or not at all: on any failure the indexes go back to their
    // previous entry counts and the file is cut back to `position`. If even that fails the error is marked
    // unrecoverable and the caller poisons the log (recovery repairs it at the next open).
    const newMax = maxTimestamp > this.maxTimestamp
    const maxTs = newMax ? maxTimestamp : this.maxTimestamp
    const offsetOfMaxTs = newMax ? lastOffset : this.offsetOfMaxTimestamp
    const indexNow = this.bytesSinceLastIndexEntry > this.config.indexIntervalBytes
    const offsetEntries = indexNow ? this.offsetIndex.entries : 0
    const timeEntries = indexNow ? this.timeIndex.entries : 0
    try {
      handle.write(batch, 0, batch.length, position)
      if (indexNow) {
        this.offsetIndex.append(lastOffset, position)
        this.timeIndex.maybeAppend(maxTs, offsetOfMaxTs)
      }
    } catch (err) {
      try {
        if (indexNow) {
          this.offsetIndex.truncateToEntries(offsetEntries)
          this.timeIndex.truncateToEntries(timeEntries)
        }
        handle.truncate(position)
      } catch (undoErr) {
        throw Object.assign(ioError(err, 'append', this.logPath), { unrecoverable: undoErr })
      }
      throw ioError(err, 'append', this.logPath)
    }
    if (this.size === 0) this.firstBatchTimestamp = maxTimestamp
    this.maxTimestamp = maxTs
    this.offsetOfMaxTimestamp = offsetOfMaxTs
    this.bytesSinceLastIndexEntry = indexNow ? batch.length : this.bytesSinceLastIndexEntry + batch.length
    this.size = position + batch.length
    this.nextOffset = lastOffset + 1
    this.dirty = true
  }

  private readAt(buf: Buffer, length: number, position: number): number {
    try {
      return this.handle().read(buf, 0, length, position)
    } catch (err) {
      throw ioError(err, 'read', this.logPath)
    }
  }

  /** Reads `length` bytes at `position` into a new buffer; fewer only if the file is shorter (a bug upstream). */
  private readExact(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length)
    const n = this.readAt(buf, length, position)
    if (n < length) {
      throw corruptLog(`expected ${length} bytes at position ${position}, file has ${n}`, this.logPath)
    }
    return buf
  }

  /**
   * Complete batches starting with the first batch whose last offset >= `target`, about `maxBytes` of them
   * (always at least that first batch). Null when no batch in this segment reaches `target`.
   */
  readBatches(target: number, maxBytes: number): BatchRange | null {
    const end = this.size
    let pos: number
    if (target === this.readHintOffset) pos = this.readHintPosition
    else pos = this.offsetIndex.lookup(target).position
    let chunk: Buffer | null = null
    let chunkPos = 0
    let chunkEnd = 0
    while (pos < end) {
      if (chunk === null || pos + BATCH_OVERHEAD > chunkEnd) {
        const len = Math.min(end - pos, Math.max(SCAN_CHUNK_BYTES, Math.min(maxBytes, RECOVERY_CHUNK_BYTES)))
        if (len < BATCH_OVERHEAD) return null
        chunk = this.readExact(pos, len)
        chunkPos = pos
        chunkEnd = pos + len
      }
      const at = pos - chunkPos
      const size = batchSizeAt(chunk, at, chunk.length)
      if (size < BATCH_OVERHEAD)
        throw corruptLog(`batch at position ${pos} has invalid size ${size}`, this.logPath, target)
      if (pos + size > end) return null
      if (batchLastOffset(chunk, at) >= target) {
        const want = Math.min(end - pos, Math.max(size, maxBytes))
        const buffer = pos + want <= chunkEnd ? chunk.subarray(at, at + want) : this.readExact(pos, want)
        // Keep complete batches only.
        let used = 0
        let lastStart = 0
        while (used < buffer.length) {
          const s = batchSizeAt(buffer, used, buffer.length)
          if (s < BATCH_OVERHEAD || used + s > buffer.length) break
          lastStart = used
          used += s
        }
        const out = used === buffer.length ? buffer : buffer.subarray(0, used)
        this.readHintOffset = batchLastOffset(out, lastStart) + 1
        this.readHintPosition = pos + used
        return { buffer: out, position: pos }
      }
      pos += size
    }
    return null
  }

  /**
   * Finds the batch holding `target` (the first whose last offset >= target): its position, size and last
   * offset, using the sequential-read hint, then the offset index, then a forward walk over batch headers
   * (cached batch headers need no I/O). Null when no batch of this segment reaches `target`.
   */
  private locate(target: number, cache: BatchCache | null): Located | null {
    const end = this.size
    let pos: number
    if (target === this.readHintOffset) pos = this.readHintPosition
    else {
      if (cache !== null) {
        // The first indexed batch reaching `target` is the one holding it when its base is <= target: with its
        // header cached, no I/O is needed to find it.
        const ceil = this.offsetIndex.ceiling(target)
        const info = ceil === null ? undefined : cache.get(this, ceil.position)
        if (info !== undefined && info.ctx.baseOffset <= target) {
          return {
            position: info.position,
            size: info.size,
            lastOffset: info.lastOffset,
            count: info.count,
            info,
            chunk: null,
            chunkPos: 0,
          }
        }
      }
      pos = this.offsetIndex.lookup(target).position
    }
    let chunk: Buffer | null = null
    let chunkPos = 0
    for (;;) {
      if (pos >= end) return null
      const info = cache?.get(this, pos)
      let size: number
      let last: number
      let count: number
      if (info !== undefined) {
        size = info.size
        last = info.lastOffset
        count = info.count
      } else {
        if (end - pos < BATCH_OVERHEAD) return null
        if (chunk === null || pos + BATCH_OVERHEAD > chunkPos + chunk.length) {
          // One read covers many small batches' headers; for big batches it is still one syscall (~2 µs).
          chunk = this.readExact(pos, Math.min(end - pos, HEADER_CHUNK_BYTES))
          chunkPos = pos
        }
        const at = pos - chunkPos
        size = batchSizeAt(chunk, at, chunk.length)
        if (size < BATCH_OVERHEAD) {
          throw corruptLog(`batch at position ${pos} has invalid size ${size}`, this.logPath, target)
        }
        if (pos + size > end) return null
        last = batchLastOffset(chunk, at)
        count = batchRecordsCount(chunk, at)
      }
      if (last >= target) {
        const inChunk = chunk !== null && pos + size <= chunkPos + chunk.length
        return { position: pos, size, lastOffset: last, count, info, chunk: inChunk ? chunk : null, chunkPos }
      }
      pos += size
    }
  }

  /**
   * Decodes records with offset >= `target` into `emit`, at most `maxRecords`, reading about `maxBytes` of
   * batches (the batch holding `target` is read even when larger, if `atLeastOne`; later batches only while they
   * fit). Every batch is CRC-checked the first time it is read; with a `cache`, a batch that a
   * point read verified keeps its record table there, so later point reads fetch single records.
   * Returns null when this segment holds nothing at or after `target`.
   */
  readRecords(
    target: number,
    maxRecords: number,
    maxBytes: number,
    atLeastOne: boolean,
    out: DecodedRecord[],
    decompress: Decompressor | undefined,
    cache: BatchCache | null,
  ): { nextOffset: number; bytes: number; count: number } | null {
    const found = this.locate(target, cache)
    if (found === null) return null
    const { position, size, info } = found
    if (!atLeastOne && size > maxBytes) return { nextOffset: target, bytes: 0, count: 0 }
    if (info !== undefined && info.table !== null && maxRecords < info.count) {
      return this.readFromTable(info, target, maxRecords, out, found)
    }
    const end = this.size
    // Read about what maxRecords needs, judged by the first batch's bytes per record (+1/8 slack), never more
    // than maxBytes: a consumer asking for 500 records of ~130 bytes must not pull in 1 MiB (measured: readSync
    // was 31% of consumer time; sizing the read made it 2.4x faster).
    const estimate = found.count > 0 ? Math.ceil((size / found.count) * maxRecords * 1.125) : size
    const want =
      found.count >= maxRecords ? size : Math.min(end - position, Math.max(size, Math.min(maxBytes, estimate)))
    const buf =
      found.chunk !== null && position + want <= found.chunkPos + found.chunk.length
        ? found.chunk.subarray(position - found.chunkPos, position - found.chunkPos + want)
        : this.readExact(position, want)
    let at = 0
    let emitted = 0
    let next = target
    let nextPos = position
    while (at < buf.length && emitted < maxRecords) {
      const bsize = batchSizeAt(buf, at, buf.length)
      if (bsize < BATCH_OVERHEAD || at + bsize > buf.length) break
      const base = batchBaseOffset(buf, at)
      const p = position + at
      const cached = at === 0 ? info : cache?.get(this, p)
      if (cached === undefined) {
        const problem = checkBatch(buf, at, bsize)
        if (problem !== null)
          throw corruptLog(`batch at position ${p} (offset ${base}): ${problem}`, this.logPath, base)
      }
      const count = batchRecordsCount(buf, at)
      const remaining = maxRecords - emitted
      if (cache !== null && cached === undefined && remaining < count && count >= TABLE_MIN_RECORDS) {
        // A partial read of a big batch: remember where its records start so the next point read into it
        // fetches single records instead of the whole (already verified) batch.
        this.cacheBatch(cache, buf, at, bsize, p)
      }
      let stoppedInside = false
      const problem = decodeRecords(
        buf,
        at,
        bsize,
        target,
        (r) => {
          out.push(r)
          emitted++
          next = r.offset + 1
          if (emitted >= maxRecords) {
            stoppedInside = true
            return false
          }
          return true
        },
        decompress,
      )
      if (problem !== null) throw corruptLog(`batch at position ${p} (offset ${base}): ${problem}`, this.logPath, base)
      const last = batchLastOffset(buf, at)
      if (stoppedInside && next <= last) {
        nextPos = p
        break
      }
      next = Math.max(next, last + 1)
      at += bsize
      nextPos = position + at
    }
    this.readHintOffset = next
    this.readHintPosition = nextPos
    return { nextOffset: next, bytes: at === 0 ? size : at, count: emitted }
  }

  private cacheBatch(cache: BatchCache, buf: Buffer, at: number, size: number, position: number): void {
    if ((batchAttributes(buf, at) & COMPRESSION_CODEC_MASK) !== 0) return
    const table = indexRecords(buf, at, size)
    if (table === null) return
    cache.put({
      segment: this,
      position,
      size,
      lastOffset: batchLastOffset(buf, at),
      count: batchRecordsCount(buf, at),
      ctx: batchContext(buf, at),
      table,
    })
  }

  /** Point-read fast path: reads only the wanted records of a verified batch, by its cached record table. */
  private readFromTable(
    info: BatchInfo,
    target: number,
    maxRecords: number,
    out: DecodedRecord[],
    found: Located,
  ): { nextOffset: number; bytes: number; count: number } {
    const { starts, deltas } = info.table!
    const rel = target - info.ctx.baseOffset
    let i0: number
    if (deltas === null) i0 = Math.max(0, rel)
    else {
      let lo = 0
      let hi = info.count
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (deltas[mid] < rel) lo = mid + 1
        else hi = mid
      }
      i0 = lo
    }
    const i1 = Math.min(info.count, i0 + maxRecords)
    const from = found.position + starts[i0]
    const length = starts[i1] - starts[i0]
    const buf =
      found.chunk !== null && from + length <= found.chunkPos + found.chunk.length
        ? found.chunk.subarray(from - found.chunkPos, from - found.chunkPos + length)
        : this.readExact(from, length)
    const c: Cursor = { pos: 0, end: buf.length }
    let next = target
    for (let i = i0; i < i1; i++) {
      const r = decodeRecordAt(buf, c, info.ctx, target, i)
      if (typeof r === 'string') {
        throw corruptLog(`batch at position ${info.position} (offset ${info.ctx.baseOffset}): ${r}`, this.logPath)
      }
      if (r === null) continue
      out.push(r)
      next = r.offset + 1
    }
    if (i1 === info.count) {
      next = info.lastOffset + 1
      this.readHintOffset = next
      this.readHintPosition = info.position + info.size
    } else {
      this.readHintOffset = next
      this.readHintPosition = info.position
    }
    return { nextOffset: next, bytes: length, count: i1 - i0 }
  }

  /**
   * Decodes records with offset >= `fromOffset` from a batch range, checking every batch's CRC and structure.
   * Corruption is reported as CORRUPT_LOG naming this file and the batch's offset, never skipped.
   */
  decodeRange(
    range: BatchRange,
    fromOffset: number,
    emit: (r: DecodedRecord) => boolean | undefined,
    decompress?: Decompressor,
  ): { nextOffset: number; stopped: boolean } {
    const buf = range.buffer
    let at = 0
    let next = fromOffset
    let stopped = false
    const sink = (r: DecodedRecord): boolean | undefined => {
      const more = emit(r)
      if (more === false) stopped = true
      return more
    }
    while (at < buf.length && !stopped) {
      const size = batchSizeAt(buf, at, buf.length)
      const problem = checkBatch(buf, at, size)
      const base = batchBaseOffset(buf, at)
      if (problem !== null) {
        throw corruptLog(`batch at position ${range.position + at} (offset ${base}): ${problem}`, this.logPath, base)
      }
      const structural = decodeRecords(buf, at, size, fromOffset, sink, decompress)
      if (structural !== null) {
        throw corruptLog(`batch at position ${range.position + at} (offset ${base}): ${structural}`, this.logPath, base)
      }
      if (!stopped) next = Math.max(next, batchLastOffset(buf, at) + 1)
      at += size
    }
    return { nextOffset: next, stopped }
  }

  /**
   * First offset >= `startingOffset` whose record timestamp >= `timestamp`, or null if none in this segment
   * (Kafka's `LogSegment.findOffsetByTimestamp`).
   */
  findOffsetByTimestamp(
    timestamp: number,
    startingOffset: number,
    decompress?: Decompressor,
  ): { offset: number; timestamp: number } | null {
    const fromTimeIndex = this.timeIndex.lookup(timestamp).offset
    let target = Math.max(fromTimeIndex, startingOffset)
    for (;;) {
      const range = this.readBatches(target, SCAN_CHUNK_BYTES)
      if (range === null) return null
      let found: { offset: number; timestamp: number } | null = null
      const buf = range.buffer
      let at = 0
      while (at < buf.length && found === null) {
        const size = batchSizeAt(buf, at, buf.length)
        if (batchMaxTimestamp(buf, at) >= timestamp) {
          this.decodeRange(
            { buffer: buf.subarray(at, at + size), position: range.position + at },
            startingOffset,
            (r) => {
              if (r.timestamp >= timestamp) {
                found = { offset: r.offset, timestamp: r.timestamp }
                return false
              }
              return true
            },
            decompress,
          )
        }
        target = batchLastOffset(buf, at) + 1
        at += size
      }
      if (found !== null) return found
    }
  }

  /**
   * Rebuilds both indexes from the log and cuts the file after the last valid batch (Kafka's
   * `LogSegment.recover`). Batches must pass the CRC and structure checks and have increasing offsets at or
   * above the base offset, and no batch may exceed `maxBatchBytes`.
   */
  recover(maxBatchBytes: number): SegmentRecoveryResult {
    const offsetIndex =
      this.offsetIndexRef ??
      new OffsetIndex(this.fs, this.offsetIndexPath, this.baseOffset, this.config.segmentIndexBytes, { check: false })
    const timeIndex =
      this.timeIndexRef ??
      new TimeIndex(this.fs, this.timeIndexPath, this.baseOffset, this.config.segmentIndexBytes, { check: false })
    this.offsetIndexRef = offsetIndex
    this.timeIndexRef = timeIndex
    const fileSize = this.handle().size()
    this.cachedBatches = null
    const scan = this.scan(fileSize, maxBatchBytes, true)
    const truncated = fileSize - scan.validBytes
    if (truncated > 0) {
      try {
        this.handle().truncate(scan.validBytes)
      } catch (err) {
        throw ioError(err, 'truncate', this.logPath)
      }
      this.dirty = true
    }
    this.size = scan.validBytes
    return { validBytes: scan.validBytes, truncatedBytes: truncated, nextOffset: this.nextOffset, reason: scan.reason }
  }

  /** Rebuilds the indexes of a segment whose log is trusted (an index was missing or insane). */
  private rebuildIndexes(): void {
    if (this.offsetIndexRef === null) {
      this.loadIndexes()
      return
    }
    this.scan(this.size, Number.MAX_SAFE_INTEGER, false)
  }

  /** Sequential scan that resets and refills both indexes; returns where the valid data ends. */
  private scan(
    limit: number,
    maxBatchBytes: number,
    tolerateTail: boolean,
  ): { validBytes: number; reason: string | null } {
    const offsetIndex = this.offsetIndexRef!
    const timeIndex = this.timeIndexRef!
    offsetIndex.reset()
    timeIndex.reset()
    this.maxTimestamp = -1
    this.offsetOfMaxTimestamp = this.baseOffset
    this.firstBatchTimestamp = -1
    let expectedMin = this.baseOffset
    let pos = 0
    let bytesSinceEntry = 0
    let reason: string | null = null
    let chunk: Buffer = Buffer.alloc(0)
    let chunkPos = 0
    while (pos < limit) {
      if (pos + HEADER_SIZE_UP_TO_MAGIC > chunkPos + chunk.length) {
        const len = Math.min(limit - pos, RECOVERY_CHUNK_BYTES)
        if (len < HEADER_SIZE_UP_TO_MAGIC) {
          reason = `${len} trailing bytes are too few for a batch header`
          break
        }
        chunk = this.readExact(pos, len)
        chunkPos = pos
      }
      let at = pos - chunkPos
      const size = batchSizeAt(chunk, at, chunk.length)
      if (size < BATCH_OVERHEAD || size > maxBatchBytes) {
        reason = `batch at position ${pos} has invalid size ${size}`
        break
      }
      if (pos + size > limit) {
        reason = `batch at position ${pos} needs ${size} bytes, only ${limit - pos} remain`
        break
      }
      if (at + size > chunk.length) {
        chunk = this.readExact(pos, Math.min(limit - pos, Math.max(size, RECOVERY_CHUNK_BYTES)))
        chunkPos = pos
        at = 0
      }
      const problem = checkBatch(chunk, at, size)
      const base = batchBaseOffset(chunk, at)
      const last = batchLastOffset(chunk, at)
      if (problem !== null) reason = `batch at position ${pos} (offset ${base}): ${problem}`
      else if (base < expectedMin) reason = `batch at position ${pos} has offset ${base}, expected >= ${expectedMin}`
      if (reason !== null) break
      const maxTs = batchMaxTimestamp(chunk, at)
      if (pos === 0) this.firstBatchTimestamp = maxTs
      if (maxTs > this.maxTimestamp) {
        this.maxTimestamp = maxTs
        this.offsetOfMaxTimestamp = last
      }
      if (bytesSinceEntry > this.config.indexIntervalBytes) {
        offsetIndex.append(last, pos)
        timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp)
        bytesSinceEntry = 0
      }
      bytesSinceEntry += size
      expectedMin = last + 1
      pos += size
    }
    if (reason !== null && !tolerateTail) {
      throw corruptLog(`while rebuilding indexes: ${reason}`, this.logPath)
    }
    this.bytesSinceLastIndexEntry = bytesSinceEntry
    this.nextOffset = expectedMin
    this.dirty = true
    return { validBytes: pos, reason }
  }

  /**
   * Removes every batch whose last offset >= `offset`... precisely: cuts the log at the start of the batch that
   * holds `offset` (batches are atomic, so records of that batch below `offset` go too). Returns bytes removed.
   */
  truncateTo(offset: number): number {
    if (offset <= this.baseOffset) {
      const removed = this.size
      this.cutAt(0, this.baseOffset)
      return removed
    }
    const range = this.readBatches(offset, BATCH_OVERHEAD)
    if (range === null) return 0
    const removed = this.size - range.position
    const newNext = range.position === 0 ? this.baseOffset : -1
    this.cutAt(range.position, newNext)
    if (newNext === -1) this.rebuildIndexes()
    return removed
  }

  private cutAt(position: number, nextOffset: number): void {
    try {
      this.handle().truncate(position)
    } catch (err) {
      throw ioError(err, 'truncate', this.logPath)
    }
    this.size = position
    this.readHintOffset = -1
    this.cachedBatches = null
    this.dirty = true
    if (position === 0) {
      this.offsetIndex.reset()
      this.timeIndex.reset()
      this.nextOffset = nextOffset
      this.maxTimestamp = -1
      this.offsetOfMaxTimestamp = this.baseOffset
      this.firstBatchTimestamp = -1
      this.bytesSinceLastIndexEntry = 0
    }
  }

  /** Largest record timestamp in the segment (from the time index; -1 when empty). */
  largestTimestamp(): number {
    if (this.maxTimestamp >= 0) return this.maxTimestamp
    return this.timeIndex.lastEntry().timestamp
  }

  /** Adds the final time-index entry when the segment stops being active (Kafka's onBecomeInactiveSegment). */
  onBecomeInactive(): void {
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true)
    this.readHintOffset = -1
  }

  /**
   * fsync of the log, off the event loop. The indexes are not fsynced here (Kafka does the same): they are
   * fsynced at roll and close, and an active segment's indexes are rebuilt by recovery after an unclean
   * shutdown anyway. Measured: fsyncing all three files made a durable 100-record append 1.8× a raw
   * append+fsync instead of ~1.3×.
   */
  async sync(): Promise<void> {
    if (!this.dirty) return
    this.dirty = false
    try {
      await this.handle().sync()
    } catch (err) {
      this.dirty = true
      throw ioError(err, 'fsync', this.logPath)
    }
  }

  /** fsync of the log and both indexes, on the calling thread (roll, close, recovery). */
  syncNow(): void {
    try {
      this.handle().syncNow()
      this.offsetIndexRef?.syncNow()
      this.timeIndexRef?.syncNow()
    } catch (err) {
      throw ioError(err, 'fsync', this.logPath)
    }
    this.dirty = false
  }

  /** Closes file handles (the segment can be reopened lazily by the next read). */
  close(): void {
    this.cachedBatches = null
    try {
      this.logHandle?.close()
    } finally {
      this.logHandle = null
      this.offsetIndexRef?.close()
      this.timeIndexRef?.close()
    }
  }

  /** Drops the in-memory indexes of an inactive segment (they reload on demand). */
  releaseIndexes(): void {
    this.offsetIndexRef?.close()
    this.timeIndexRef?.close()
    this.offsetIndexRef = null
    this.timeIndexRef = null
  }

  /** Closes and removes the segment's three files. */
  deleteFiles(): void {
    this.close()
    for (const path of [this.logPath, this.offsetIndexPath, this.timeIndexPath]) {
      try {
        if (this.fs.exists(path)) this.fs.unlink(path)
      } catch (err) {
        throw ioError(err, 'delete', path)
      }
    }
  }
}
