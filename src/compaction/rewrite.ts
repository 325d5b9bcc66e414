/**
 * One compaction pass over a partition directory (Kafka's `Cleaner.doClean`, `buildOffsetMap`, `cleanSegments`,
 * `cleanInto`): the I/O around the CPU work of `clean-core.ts` (CRC checks, parsing, the offset map, the
 * retention rule, rebuilding batches). Every file operation goes through the FileSystem it is given. The cleaner
 * runs it on its worker thread (`cleaner.ts`), with a FileSystem equivalent to the engine's, or a proxy to it
 * (`worker-fs.ts`); `runCleanJob` runs it on the calling thread. Within a pass everything is sequential: read a
 * chunk (`SCAN_CHUNK_BYTES`, 1 MiB) of source, hand its batches to the core, write what survives.
 *
 * 1. **Offset map** over the dirty range [firstDirty, firstUncleanable): the segments it covers are scanned
 *    (`BatchScanner`: sizes and offsets checked) and their batches fed in runs to `core.mapRun`. When the map
 *    fills, the pass covers only the prefix that fit: `endOffset` = map.latestOffset + 1 (mid-batch when it
 *    filled inside one, as Kafka). After each fully mapped segment the latest offset is fast-forwarded to the
 *    segment's end − 1, so trailing gaps count as cleaned.
 * 2. **Rewrite** every segment from the log's first one to the one holding endOffset − 1, in groups
 *    (`groupSegments`: summed size <= segmentBytes, index sizes <= segmentIndexBytes, offset span fits int32);
 *    each group becomes ONE segment named after its first base offset, written as `<base>.log.cleaned`,
 *    `<base>.index.cleaned`, `<base>.timeindex.cleaned` (all three always) and fsynced. The batches come back
 *    from `core.filter`; a batch left with nothing is dropped, except the LAST batch of a group, which stays as
 *    a bare 61-byte header so the group's end offset survives (recovery derives a `.swap` set's extent from
 *    it). Indexes are built as `LogSegment.append` builds them (an entry when more than indexIntervalBytes were
 *    written since the last), plus the final time-index entry, with the index modules' own entry encoding.
 * Every source segment must end right before the next one's base offset; anything else is CORRUPT_LOG.
 *
 * Not modelled (seglog writes neither): transactions (aborted batches are kept like any other) and producer
 * state (Kafka keeps an active idempotent producer's last batch even when empty). The cleaned `.log` gets a new
 * mtime: seglog never reads a segment's mtime (retention and the compaction planner use record timestamps).
 *
 * Source files are only read (inactive segments are immutable), each opened for one walk over it, so a pass
 * holds at most three descriptors at once (a source, the `.log.cleaned`, one index being written). One that
 * retention deletes meanwhile fails the pass (ABORTED) or is noticed by the swap. `stop` is asked between
 * chunks and groups: a stopped pass fails with its error. On any failure the `.cleaned` files the pass wrote
 * are removed (best effort; the open-time sweep removes what is left).
 */
import { ioError, SeglogError } from '../errors.js'
import { encodeOffsetEntry, OFFSET_INDEX_ENTRY_BYTES } from '../index/offset-index.js'
import { encodeTimeEntry, TIME_INDEX_ENTRY_BYTES } from '../index/time-index.js'
import { type FileHandle, type FileSystem, nodeFileSystem } from '../io/file-system.js'
import { BatchScanner, SCAN_CHUNK_BYTES } from '../segment/batch-scanner.js'
import {
  CLEANED_SUFFIX,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  offsetPrefix,
  segmentFileName,
  TIME_INDEX_SUFFIX,
} from '../segment/file-names.js'
import { batchLastOffset, batchMaxTimestamp, batchSizeAt } from '../segment/record-batch.js'
import { type BatchRun, CleanCore } from './clean-core.js'
import { type GroupableSegment, groupSegments } from './planner.js'

/** One segment the pass cleans. */
export interface CleanSegmentInput {
  baseOffset: number
  /** Exclusive upper bound: the next segment's base offset. */
  endOffset: number
  /** Bytes of complete batches in its `.log` (the log's in-memory size). */
  size: number
}

/** A compaction job. */
export interface CleanJob {
  dir: string
  /** Segments from the log's first one up to (not including) the first uncleanable one, ascending. */
  segments: CleanSegmentInput[]
  /** [firstDirtyOffset, firstUncleanableOffset): the range the offset map covers. */
  mapRange: [number, number]
  now: number
  deleteRetentionMs: number
  segmentBytes: number
  segmentIndexBytes: number
  indexIntervalBytes: number
  mapBytes: number
  /**
   * Segments based at or above this were never compacted: their batches must be contiguous. Default Infinity
   * (every segment may have compaction gaps).
   */
  denseFrom?: number
}

export interface CleanedSegment {
  baseOffset: number
  size: number
}

export interface CleanResult {
  /** The cleaned segments written (as `.cleaned` files), ascending; empty when the pass made no progress. */
  newSegments: CleanedSegment[]
  /** Base offsets of the segments they replace (a prefix of the log), ascending. */
  replacedBaseOffsets: number[]
  /** Sizes of those segments as read. */
  replacedSizes: number[]
  recordsRemoved: number
  /** Bytes of the replaced segments. */
  bytesBefore: number
  /** Bytes of the cleaned segments. */
  bytesAfter: number
  /** map.latestOffset + 1: the next pass's first dirty offset. */
  endOffset: number
  /** True when the map filled before covering the whole dirty range. */
  mapFull: boolean
  keysMapped: number
  /** Tombstones that outlived their delete horizon and were removed. */
  tombstonesRemoved: number
}

export type CleanProgress =
  | { stage: 'map-built'; endOffset: number; keys: number; full: boolean }
  | { stage: 'group-written'; baseOffset: number; size: number; groupsLeft: number }

/** Size of the writers' staging buffer: the `.log.cleaned` is written in pieces of up to this much. */
const WRITE_FLUSH_BYTES = 1024 * 1024
const INT32_MAX = 0x7fffffff

// ---- reading ----

interface SourceSegment extends CleanSegmentInput, GroupableSegment {
  path: string
}

function changed(path: string, what: string): SeglogError {
  return new SeglogError('ABORTED', `${path} ${what}; it changed`, { path })
}

/** Opens a source `.log` for one walk; gone = ABORTED (retention or a truncation removed it meanwhile). */
function openSource(fsys: FileSystem, dir: string, path: string, baseOffset: number): FileHandle {
  try {
    return fsys.open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SeglogError('ABORTED', `segment ${offsetPrefix(baseOffset)} of ${dir} went away`, {
        path,
        cause: err,
      })
    }
    throw ioError(err, 'open', path)
  }
}

/**
 * The pass's read buffers: two chunk-sized ones used in turn, since the run of the previous chunk is still to be
 * processed when the scanner reads the next (a batch bigger than a chunk gets a buffer of its own). Nothing keeps
 * a view of a chunk past the next read: the core copies what it keeps (keys into the map's hashes, output into
 * the writer's staging buffer). Why: a fresh 1 MiB buffer per read (2,540 of them in the compaction benchmark's
 * pass) meant page faults, zeroing and GC work in the worker, whose GC helper threads then took CPU from the
 * main thread; in the benchmark's L scenario (medians of 5 interleaved runs on a loaded 2-core machine) the pass
 * took 11.4 s instead of 12.3 s and durable appends during it had p99 1.53x idle instead of 1.67x.
 */
class ChunkBuffers {
  private readonly bufs = [Buffer.allocUnsafeSlow(SCAN_CHUNK_BYTES), Buffer.allocUnsafeSlow(SCAN_CHUNK_BYTES)]
  private turn = 0
  take(length: number): Buffer {
    if (length > SCAN_CHUNK_BYTES) return Buffer.allocUnsafeSlow(length)
    this.turn ^= 1
    return this.bufs[this.turn].subarray(0, length)
  }
}

/** A scanner over a source segment; a short read means the file changed under the pass (ABORTED). */
function scannerFor(src: SourceSegment, handle: FileHandle, dense: boolean, chunks: ChunkBuffers): BatchScanner {
  const read = (position: number, length: number): Buffer => {
    const buf = chunks.take(length)
    let done = 0
    while (done < length) {
      let n: number
      try {
        n = handle.read(buf, done, length - done, position + done)
      } catch (err) {
        throw ioError(err, 'read', src.path)
      }
      if (n === 0) throw changed(src.path, `is shorter than expected (${position + done} bytes)`)
      done += n
    }
    return buf
  }
  return new BatchScanner(read, { baseOffset: src.baseOffset, end: src.size, offsetLimit: src.endOffset, dense })
}

function corruptSource(src: SourceSegment, scanner: BatchScanner): SeglogError {
  const why = scanner.problem ?? scanner.holeProblem() ?? 'unreadable'
  return new SeglogError('CORRUPT_LOG', `${src.path}: ${why}`, {
    path: src.path,
    offset: scanner.problemOffset ?? scanner.prevLast + 1,
  })
}

/**
 * Walks `src` and hands its batches to `onRun` in runs (the batches of one scanner chunk); `onRun` returns false
 * to stop. `stop` is asked before each run. At the end the segment must end right before the next one's base
 * (CORRUPT_LOG otherwise). Returns false when `onRun` stopped the walk.
 */
function walkRuns(
  fsys: FileSystem,
  dir: string,
  src: SourceSegment,
  dense: boolean,
  stop: () => SeglogError | null,
  chunks: ChunkBuffers,
  onRun: (run: BatchRun) => boolean,
): boolean {
  const handle = openSource(fsys, dir, src.path, src.baseOffset)
  try {
    const scanner = scannerFor(src, handle, dense, chunks)
    let runBuf: Buffer | null = null
    let runStart = 0
    let runEnd = 0
    let batches: number[] = []
    const flush = (): boolean => {
      if (runBuf === null) return true
      const stopped = stop()
      if (stopped !== null) throw stopped
      const run: BatchRun = { path: src.path, buf: runBuf.subarray(runStart, runEnd), batches }
      runBuf = null
      batches = []
      return onRun(run)
    }
    for (let b = scanner.next(); b !== null; b = scanner.next()) {
      if (runBuf !== b.buf) {
        if (!flush()) return false
        runBuf = b.buf
        runStart = b.at
      }
      batches.push(b.at - runStart, b.size, b.position)
      runEnd = b.at + b.size
    }
    if (!flush()) return false
    if (scanner.problem !== null || scanner.holeProblem() !== null) throw corruptSource(src, scanner)
    return true
  } finally {
    try {
      handle.close()
    } catch {
      // read-only handle; nothing to lose
    }
  }
}

// ---- writing ----

/** Writes one cleaned segment: `.log.cleaned` plus both indexes, built as LogSegment.append builds them. */
class CleanedSegmentWriter {
  readonly logPath: string
  readonly indexPath: string
  readonly timeIndexPath: string
  private log: FileHandle | null
  private size = 0
  /** Bytes in `staging` not written yet; they belong at the end of the file (`size - pendingBytes`). */
  private pendingBytes = 0
  private readonly maxOffsetEntries: number
  private readonly maxTimeEntries: number
  private offsetEntries = Buffer.alloc(OFFSET_INDEX_ENTRY_BYTES * 64)
  private offsetCount = 0
  private timeEntries = Buffer.alloc(TIME_INDEX_ENTRY_BYTES * 64)
  private timeCount = 0
  private lastTimeEntry = -1
  private bytesSinceLastEntry = 0
  private maxTimestamp = -1
  private offsetOfMaxTimestamp: number

  constructor(
    private readonly fs: FileSystem,
    dir: string,
    readonly baseOffset: number,
    private readonly indexIntervalBytes: number,
    segmentIndexBytes: number,
    /** Where appended batches are copied until written (shared by the pass's writers, one at a time). */
    private readonly staging: Buffer,
  ) {
    this.logPath = `${dir}/${segmentFileName(baseOffset, LOG_SUFFIX)}${CLEANED_SUFFIX}`
    this.indexPath = `${dir}/${segmentFileName(baseOffset, INDEX_SUFFIX)}${CLEANED_SUFFIX}`
    this.timeIndexPath = `${dir}/${segmentFileName(baseOffset, TIME_INDEX_SUFFIX)}${CLEANED_SUFFIX}`
    this.maxOffsetEntries = Math.floor(segmentIndexBytes / OFFSET_INDEX_ENTRY_BYTES)
    this.maxTimeEntries = Math.floor(segmentIndexBytes / TIME_INDEX_ENTRY_BYTES)
    this.offsetOfMaxTimestamp = baseOffset
    this.log = this.create(this.logPath)
  }

  private create(path: string): FileHandle {
    let handle: FileHandle
    try {
      handle = this.fs.open(path, 'rw')
    } catch (err) {
      throw ioError(err, 'create', path)
    }
    try {
      handle.truncate(0)
    } catch (err) {
      handle.close()
      throw ioError(err, 'truncate', path)
    }
    return handle
  }

  /** Appends the complete batches in `data` (back to back). */
  appendAll(data: Buffer): void {
    let at = 0
    while (at < data.length) {
      const size = batchSizeAt(data, at, data.length)
      this.append(data, at, size)
      at += size
    }
  }

  /** Appends one complete batch (`batch[at, at + size)`); the bytes are copied or written before it returns. */
  append(batch: Buffer, at: number, size: number): void {
    const position = this.size
    const lastOffset = batchLastOffset(batch, at)
    const maxTimestamp = batchMaxTimestamp(batch, at)
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp
      this.offsetOfMaxTimestamp = lastOffset
    }
    if (this.bytesSinceLastEntry > this.indexIntervalBytes) {
      const relative = lastOffset - this.baseOffset
      // A full index only makes reads scan further; it never makes them wrong.
      if (this.offsetCount < this.maxOffsetEntries && relative <= INT32_MAX) this.addOffsetEntry(relative, position)
      if (this.timeCount < this.maxTimeEntries - 1) this.maybeAddTimeEntry()
      this.bytesSinceLastEntry = 0
    }
    this.bytesSinceLastEntry += size
    if (this.pendingBytes + size > this.staging.length) this.flushPending()
    if (size > this.staging.length) {
      this.writeAt(batch.subarray(at, at + size), this.size)
    } else {
      this.pendingBytes += batch.copy(this.staging, this.pendingBytes, at, at + size)
    }
    this.size += size
  }

  private writeAt(data: Buffer, position: number): void {
    if (this.log === null) return
    try {
      this.log.write(data, 0, data.length, position)
    } catch (err) {
      throw ioError(err, 'write', this.logPath)
    }
  }

  private addOffsetEntry(relative: number, position: number): void {
    if ((this.offsetCount + 1) * OFFSET_INDEX_ENTRY_BYTES > this.offsetEntries.length) {
      const grown = Buffer.alloc(this.offsetEntries.length * 2)
      this.offsetEntries.copy(grown)
      this.offsetEntries = grown
    }
    encodeOffsetEntry(this.offsetEntries, this.offsetCount * OFFSET_INDEX_ENTRY_BYTES, relative, position)
    this.offsetCount++
  }

  /** Time-index entry (max timestamp so far, its batch's last offset), when newer than the last entry. */
  private maybeAddTimeEntry(): void {
    if (this.maxTimestamp <= this.lastTimeEntry) return
    const relative = this.offsetOfMaxTimestamp - this.baseOffset
    if (relative > INT32_MAX) return
    if ((this.timeCount + 1) * TIME_INDEX_ENTRY_BYTES > this.timeEntries.length) {
      const grown = Buffer.alloc(this.timeEntries.length * 2)
      this.timeEntries.copy(grown)
      this.timeEntries = grown
    }
    encodeTimeEntry(this.timeEntries, this.timeCount * TIME_INDEX_ENTRY_BYTES, this.maxTimestamp, relative)
    this.timeCount++
    this.lastTimeEntry = this.maxTimestamp
  }

  private flushPending(): void {
    if (this.pendingBytes === 0) return
    this.writeAt(this.staging.subarray(0, this.pendingBytes), this.size - this.pendingBytes)
    this.pendingBytes = 0
  }

  /**
   * Writes the rest, the final time-index entry and both indexes; fsyncs all three on the thread pool (a cleaned
   * segment's fsync can take tens of ms; the event loop keeps serving appends meanwhile); returns the log size.
   */
  async finish(): Promise<number> {
    this.flushPending()
    if (this.timeCount < this.maxTimeEntries) this.maybeAddTimeEntry()
    const writeIndex = async (path: string, data: Buffer): Promise<void> => {
      const handle = this.create(path)
      try {
        handle.write(data, 0, data.length, 0)
        await handle.sync()
      } catch (err) {
        throw ioError(err, 'write', path)
      } finally {
        handle.close()
      }
    }
    await writeIndex(this.indexPath, this.offsetEntries.subarray(0, this.offsetCount * OFFSET_INDEX_ENTRY_BYTES))
    await writeIndex(this.timeIndexPath, this.timeEntries.subarray(0, this.timeCount * TIME_INDEX_ENTRY_BYTES))
    try {
      await this.log?.sync()
    } catch (err) {
      throw ioError(err, 'fsync', this.logPath)
    }
    this.close()
    return this.size
  }

  close(): void {
    const log = this.log
    this.log = null
    try {
      log?.close()
    } catch {
      // nothing more to do with it
    }
  }

  /** Closes and removes whatever was written. */
  discard(): void {
    this.close()
    for (const p of [this.logPath, this.indexPath, this.timeIndexPath]) {
      try {
        if (this.fs.exists(p)) this.fs.unlink(p)
      } catch {
        // left for the caller's / the open-time sweep
      }
    }
  }
}

// ---- the job ----

/** The job's segments as the pass sees them; each `.log` must still hold the bytes the job counts (ABORTED). */
function sourcesOf(job: CleanJob, fsys: FileSystem): SourceSegment[] {
  const fileSize = (path: string): number => {
    try {
      return fsys.fileSize(path)
    } catch {
      return 0
    }
  }
  return job.segments.map((s) => {
    const path = `${job.dir}/${segmentFileName(s.baseOffset, LOG_SUFFIX)}`
    let size: number
    try {
      size = fsys.fileSize(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new SeglogError('ABORTED', `segment ${offsetPrefix(s.baseOffset)} of ${job.dir} went away`, {
          path,
          cause: err,
        })
      }
      throw ioError(err, 'stat', path)
    }
    if (size < s.size) throw changed(path, `has ${size} bytes, expected ${s.size}`)
    return {
      ...s,
      path,
      offsetIndexBytes: fileSize(`${job.dir}/${segmentFileName(s.baseOffset, INDEX_SUFFIX)}`),
      timeIndexBytes: fileSize(`${job.dir}/${segmentFileName(s.baseOffset, TIME_INDEX_SUFFIX)}`),
    }
  })
}

function checkJob(job: CleanJob): void {
  const [firstDirty, firstUncleanable] = job.mapRange
  if (!(firstDirty <= firstUncleanable)) throw new TypeError(`invalid map range [${firstDirty}, ${firstUncleanable})`)
  for (let i = 0; i < job.segments.length; i++) {
    const s = job.segments[i]
    if (!(s.endOffset > s.baseOffset) || (i > 0 && s.baseOffset !== job.segments[i - 1].endOffset)) {
      throw new TypeError(`segment ${i} [${s.baseOffset}, ${s.endOffset}) does not follow its predecessor`)
    }
  }
}

export interface CleanPassOptions {
  /** Where every file operation goes. Default: the real file system. */
  fs?: FileSystem
  onProgress?: (p: CleanProgress) => void
  /** Asked between chunks and groups: an error ends the pass with it (an abort). */
  stop?: () => SeglogError | null
}

/** Runs one pass (see the module header) on the calling thread. */
export async function cleanPass(job: CleanJob, options: CleanPassOptions = {}): Promise<CleanResult> {
  checkJob(job)
  const fsys = options.fs ?? nodeFileSystem
  const { onProgress } = options
  const stop = options.stop ?? (() => null)
  const [firstDirty, firstUncleanable] = job.mapRange
  const denseFrom = job.denseFrom ?? Number.POSITIVE_INFINITY
  const sources = sourcesOf(job, fsys)
  const core = new CleanCore()
  const chunks = new ChunkBuffers()
  const staging = Buffer.allocUnsafeSlow(WRITE_FLUSH_BYTES)
  const written: CleanedSegmentWriter[] = []
  try {
    core.begin({ mapBytes: job.mapBytes, firstDirty, now: job.now, deleteRetentionMs: job.deleteRetentionMs })
    let full = false
    for (const src of sources) {
      if (full) break
      if (src.endOffset <= firstDirty || src.baseOffset >= firstUncleanable) continue
      const whole = walkRuns(fsys, job.dir, src, src.baseOffset >= denseFrom, stop, chunks, (run) => {
        full = core.mapRun(run).full
        return !full
      })
      if (whole && !full) core.mapThrough(Math.min(src.endOffset, firstUncleanable) - 1)
    }
    const mapped = core.end()
    const endOffset = mapped.endOffset
    onProgress?.({ stage: 'map-built', endOffset, keys: mapped.keysMapped, full: mapped.full })
    const result: CleanResult = {
      newSegments: [],
      replacedBaseOffsets: [],
      replacedSizes: [],
      recordsRemoved: 0,
      bytesBefore: 0,
      bytesAfter: 0,
      endOffset,
      mapFull: mapped.full,
      keysMapped: mapped.keysMapped,
      tombstonesRemoved: 0,
    }
    if (endOffset <= firstDirty) return result
    const toClean = sources.filter((s) => s.baseOffset < endOffset)
    const groups = groupSegments(toClean, job.segmentBytes, job.segmentIndexBytes)
    for (let g = 0; g < groups.length; g++) {
      const stopped = stop()
      if (stopped !== null) throw stopped
      const group = groups[g]
      const writer = new CleanedSegmentWriter(
        fsys,
        job.dir,
        group[0].baseOffset,
        job.indexIntervalBytes,
        job.segmentIndexBytes,
        staging,
      )
      written.push(writer)
      // The last source batch of the group, when nothing of it survived: kept as a bare header.
      let trailingEmpty: Uint8Array | null = null
      for (const src of group) {
        walkRuns(fsys, job.dir, src, src.baseOffset >= denseFrom, stop, chunks, (run) => {
          const reply = core.filter(run)
          if (reply.out.byteLength > 0) writer.appendAll(asBuffer(reply.out))
          trailingEmpty = reply.trailingEmpty
          return true
        })
        result.replacedBaseOffsets.push(src.baseOffset)
        result.replacedSizes.push(src.size)
        result.bytesBefore += src.size
      }
      if (trailingEmpty !== null) writer.appendAll(asBuffer(trailingEmpty))
      const size = await writer.finish()
      result.newSegments.push({ baseOffset: group[0].baseOffset, size })
      result.bytesAfter += size
      onProgress?.({ stage: 'group-written', baseOffset: group[0].baseOffset, size, groupsLeft: groups.length - g - 1 })
    }
    const counts = core.end()
    result.recordsRemoved = counts.recordsRemoved
    result.tombstonesRemoved = counts.tombstonesRemoved
    return result
  } catch (err) {
    for (const w of written) w.discard()
    throw err
  }
}

const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))

/** Runs one pass in-process (on the calling thread). On failure the `.cleaned` files it wrote are removed. */
export function runCleanJob(job: CleanJob, options: CleanPassOptions = {}): Promise<CleanResult> {
  return cleanPass(job, options)
}

/** Removes every `*.cleaned` file in `dir` (leftovers of a failed or aborted pass). Returns the names removed. */
export function removeCleanedFiles(fsys: FileSystem, dir: string): string[] {
  let names: string[]
  try {
    names = fsys.readdir(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    if (!name.endsWith(CLEANED_SUFFIX)) continue
    try {
      fsys.unlink(`${dir}/${name}`)
      removed.push(name)
    } catch {
      // gone already, or left for the open-time sweep
    }
  }
  return removed
}
