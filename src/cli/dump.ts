/**
 * `seglog dump <file or partition dir> [--records] [--json]`: Kafka's DumpLogSegments view of a `.log`, `.index` or
 * `.timeindex` file, or of every segment file of a partition directory in offset order. Read-only: files are opened
 * for reading only, nothing is created, renamed or written, so it works on a directory another process owns.
 *
 * Lines (human, as `kafka-dump-log.sh` prints them; with `--json` one JSON object per line, `type` first):
 * - `file`: `Dumping <path>` / `{type:'file', file, kind, baseOffset}` before each file;
 * - `batch`, per batch of a `.log`: baseOffset, lastOffset, count, position, size, magic, codec, crc, isValid
 *   (`problem` says why not), timestampType and its time (createTime, or logAppendTime) as Kafka prints it,
 *   baseTimestamp, maxTimestamp, partitionLeaderEpoch, producer fields, isTransactional, isControl,
 *   deleteHorizonMs;
 * - `record`, per record of a valid batch with `--records`: offset, timestamp, keySize, valueSize, key, value
 *   (UTF-8 strings, or base64 under keyBase64/valueBase64 when not UTF-8, null for a null key or a tombstone) and
 *   headers (`{name: value}`, base64 under headersBase64 for values that are not UTF-8);
 * - `index` / `timeindex`, per entry: the absolute offset and the position, or the timestamp and the offset;
 * - `problem`: where a file stops making sense (a torn or garbage tail, a partial index entry), with its position.
 *
 * Batches are walked with the segment layer's `BatchScanner` (size, magic and offsets checked, not the CRC, so a
 * batch whose CRC fails is shown with isValid false and the walk goes on); `checkBatch` gives isValid; records
 * are decoded by `decodeRecords` with every built-in codec. `verify.ts` walks files with the same functions.
 *
 * Exit code 0 (the dump is not a check: `seglog verify` is), 2 on bad usage, 1 when a file cannot be read.
 */
import * as path from 'node:path'
import {
  BatchScanner,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CodecRegistry,
  checkBatch,
  DELETE_HORIZON_FLAG_MASK,
  type DecodedRecord,
  decodeOffsetEntry,
  decodeRecords,
  decodeTimeEntry,
  type FileHandle,
  type FileSystem,
  nodeFileSystem,
  OFFSET_INDEX_ENTRY_BYTES,
  parseSegmentFileName,
  readBatchHeader,
  type ScannedBatch,
  TIME_INDEX_ENTRY_BYTES,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
} from '../internal.js'
import { SeglogError } from '../main.js'
import { type CliOutput, type Command, type ParsedArgs, UsageError } from './command.js'

export type FileKind = 'log' | 'index' | 'timeindex'

export interface SegmentFile {
  path: string
  /** The file name inside its directory. */
  name: string
  kind: FileKind
  /** The base offset its name says. */
  baseOffset: number
}

const KIND_BY_SUFFIX: Record<string, FileKind> = { '.log': 'log', '.index': 'index', '.timeindex': 'timeindex' }
const KIND_ORDER: Record<FileKind, number> = { log: 0, index: 1, timeindex: 2 }
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

/** The segment file `name` in `dir` (a plain `.log`/`.index`/`.timeindex`, no temporary suffix), or null. */
export function segmentFile(dir: string, name: string): SegmentFile | null {
  const parsed = parseSegmentFileName(name)
  if (parsed === null || parsed.temp !== null) return null
  return { path: path.join(dir, name), name, kind: KIND_BY_SUFFIX[parsed.suffix], baseOffset: parsed.baseOffset }
}

/** The segment files of a partition directory in offset order (log, index, time index per segment). */
export function segmentFiles(fsys: FileSystem, dir: string): SegmentFile[] {
  const files: SegmentFile[] = []
  for (const name of fsys.readdir(dir)) {
    const f = segmentFile(dir, name)
    if (f !== null) files.push(f)
  }
  return files.sort((a, b) => a.baseOffset - b.baseOffset || KIND_ORDER[a.kind] - KIND_ORDER[b.kind])
}

/** What one batch header and its CRC check say, as `dump` prints it. */
export interface BatchInfo {
  baseOffset: number
  lastOffset: number
  count: number
  position: number
  size: number
  magic: number
  codec: string
  crc: number
  isValid: boolean
  /** Why the batch is not valid (CRC, structure, records), or null. */
  problem: string | null
  partitionLeaderEpoch: number
  timestampType: 'CreateTime' | 'LogAppendTime'
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  isTransactional: boolean
  isControl: boolean
  /** The delete horizon (attribute bit 6, in baseTimestamp) or null. */
  deleteHorizonMs: number | null
}

export function batchInfo(b: ScannedBatch): BatchInfo {
  const h = readBatchHeader(b.buf, b.at)
  const problem = checkBatch(b.buf, b.at, b.size)
  const attrs = h.attributes
  return {
    baseOffset: h.baseOffset,
    lastOffset: b.lastOffset,
    count: h.recordsCount,
    position: b.position,
    size: b.size,
    magic: h.magic,
    codec: CODEC_NAMES[attrs & COMPRESSION_CODEC_MASK] ?? `unknown(${attrs & COMPRESSION_CODEC_MASK})`,
    crc: h.crc,
    isValid: problem === null,
    problem,
    partitionLeaderEpoch: h.partitionLeaderEpoch,
    timestampType: attrs & TIMESTAMP_TYPE_MASK ? 'LogAppendTime' : 'CreateTime',
    baseTimestamp: h.baseTimestamp,
    maxTimestamp: h.maxTimestamp,
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    isTransactional: (attrs & TRANSACTIONAL_FLAG_MASK) !== 0,
    isControl: (attrs & CONTROL_FLAG_MASK) !== 0,
    deleteHorizonMs: attrs & DELETE_HORIZON_FLAG_MASK ? h.baseTimestamp : null,
  }
}

/** How a walk over a `.log` ended. */
export interface LogWalkEnd {
  /** File size in bytes when it was opened. */
  size: number
  /** Position after the last batch read (where unreadable bytes start, when `problem` is set). */
  end: number
  /** Last offset of the last batch read (base offset − 1 when none). */
  lastOffset: number
  /** Why the walk stopped before the end of the file (a torn or garbage tail), or a hole before the next segment. */
  problem: string | null
}

/** A batch whose offsets are wrong: the walk reports it and goes on after it (its size and magic were sound). */
export interface WalkProblem {
  problem: string
  position: number
  /** The offset the batch should have started at. */
  offset: number
}

export interface LogWalkOptions {
  /** Every offset stays below this: the next segment's base (Infinity when unknown). */
  offsetLimit?: number
  /** The segment was never compacted: batches must be contiguous. */
  dense?: boolean
}

/** Opens a file read-only; a failure is IO_ERROR naming it. */
export function openForReading(fsys: FileSystem, file: string): FileHandle {
  try {
    return fsys.open(file, 'r')
  } catch (err) {
    throw ioFailure(err, 'open', file)
  }
}

function ioFailure(err: unknown, op: string, file: string): SeglogError {
  if (err instanceof SeglogError) return err
  const errno = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'EIO'
  const why = err instanceof Error ? err.message : String(err)
  return new SeglogError('IO_ERROR', `${op} failed on ${file}: ${why}`, { cause: err, path: file, errno })
}

/** Thrown by the chunk reader when a file got shorter while being walked (its owner cut it). */
class ShortRead extends Error {}

/**
 * The batches of the `.log` at `file` (named for `baseOffset`), from the segment layer's scanner, one at a time
 * (a generator, so a caller can wait for its output to drain between batches). A batch whose offsets are wrong is
 * yielded as a `WalkProblem` and the walk resumes after it with a fresh scanner (the offsets after damage are not
 * held to contiguity); a size or magic that is wrong ends the walk, as does the end of the file. Returns how it
 * ended.
 */
export function* logBatches(
  fsys: FileSystem,
  file: string,
  baseOffset: number,
  options: LogWalkOptions = {},
): Generator<ScannedBatch | WalkProblem, LogWalkEnd> {
  const handle = openForReading(fsys, file)
  try {
    const size = handle.size()
    const readAt = (position: number, length: number): Buffer => {
      const buf = Buffer.allocUnsafe(length)
      let got = 0
      while (got < length) {
        const n = handle.read(buf, got, length - got, position + got)
        if (n === 0)
          throw new ShortRead(`the file ended at ${position + got} while reading ${length} bytes at ${position}`)
        got += n
      }
      return buf
    }
    const limit = options.offsetLimit ?? Number.POSITIVE_INFINITY
    let start = 0
    let dense = options.dense ?? false
    let lastOffset = baseOffset - 1
    for (;;) {
      const from = start
      const scanner = new BatchScanner((pos, len) => readAt(from + pos, len), {
        baseOffset,
        end: size - from,
        offsetLimit: limit,
        dense,
      })
      let b: ScannedBatch | null
      for (;;) {
        try {
          b = scanner.next()
        } catch (err) {
          if (!(err instanceof ShortRead)) throw ioFailure(err, 'read', file)
          return { size, end: from + scanner.position, lastOffset, problem: err.message }
        }
        if (b === null) break
        lastOffset = b.lastOffset
        yield { ...b, position: from + b.position }
      }
      const end = from + scanner.position
      if (scanner.problem === null) {
        return { size, end, lastOffset, problem: lastOffset === scanner.prevLast ? scanner.holeProblem() : null }
      }
      if (scanner.problemOffset === undefined) return { size, end, lastOffset, problem: scanner.problem }
      // Offsets wrong, but the batch's size and magic passed: step over it and go on.
      const header = readAt(end, 12)
      const skip = header.readInt32BE(8) + 12
      yield {
        problem: scanner.problem.replace(/^batch at position \d+: /, ''),
        position: end,
        offset: scanner.problemOffset,
      }
      start = end + skip
      dense = false
      if (start >= size) return { size, end: size, lastOffset, problem: null }
    }
  } finally {
    handle.close()
  }
}

/** True for what `logBatches` yields for a batch whose offsets are wrong. */
export function isWalkProblem(x: ScannedBatch | WalkProblem): x is WalkProblem {
  return (x as WalkProblem).problem !== undefined
}

/** The entries of an index file, as decoded; a trailing partial entry is `partial` (its byte position). */
export interface IndexEntries<E> {
  entries: E[]
  length: number
  partial: number | null
}

/** Reads a whole index file (they are small: at most `segmentIndexBytes`). */
function readIndexFile(fsys: FileSystem, file: string): Buffer {
  let data: Buffer | null
  try {
    data = fsys.readFile(file)
  } catch (err) {
    throw ioFailure(err, 'read', file)
  }
  if (data === null)
    throw new SeglogError('IO_ERROR', `read failed on ${file}: no such file`, { path: file, errno: 'ENOENT' })
  return data
}

export function readOffsetIndex(
  fsys: FileSystem,
  file: string,
  baseOffset: number,
): IndexEntries<{ offset: number; position: number }> {
  const data = readIndexFile(fsys, file)
  const whole = data.length - (data.length % OFFSET_INDEX_ENTRY_BYTES)
  const entries: { offset: number; position: number }[] = []
  for (let at = 0; at < whole; at += OFFSET_INDEX_ENTRY_BYTES) {
    const e = decodeOffsetEntry(data, at)
    entries.push({ offset: baseOffset + e.relativeOffset, position: e.position })
  }
  return { entries, length: data.length, partial: whole === data.length ? null : whole }
}

export function readTimeIndex(
  fsys: FileSystem,
  file: string,
  baseOffset: number,
): IndexEntries<{ timestamp: number; offset: number }> {
  const data = readIndexFile(fsys, file)
  const whole = data.length - (data.length % TIME_INDEX_ENTRY_BYTES)
  const entries: { timestamp: number; offset: number }[] = []
  for (let at = 0; at < whole; at += TIME_INDEX_ENTRY_BYTES) {
    const e = decodeTimeEntry(data, at)
    entries.push({ timestamp: e.timestamp, offset: baseOffset + e.relativeOffset })
  }
  return { entries, length: data.length, partial: whole === data.length ? null : whole }
}

// ---- output ----

/** A string or base64 field pair: `{ [name]: utf8 }` when the bytes are UTF-8, else `{ [name + 'Base64']: b64 }`. */
function bytesField(name: string, bytes: Buffer | Uint8Array | null): Record<string, string | null> {
  if (bytes === null) return { [name]: null }
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const text = buf.toString('utf8')
  return Buffer.byteLength(text) === buf.length && !text.includes('\uFFFD')
    ? { [name]: text }
    : { [`${name}Base64`]: buf.toString('base64') }
}

export interface RecordLine {
  offset: number
  timestamp: number
  keySize: number
  valueSize: number
  key?: string | null
  keyBase64?: string
  value?: string | null
  valueBase64?: string
  headers: Record<string, string | null>
  headersBase64?: Record<string, string>
}

export function recordLine(r: DecodedRecord): RecordLine {
  const headers: Record<string, string | null> = {}
  const headersBase64: Record<string, string> = {}
  for (const h of r.headers) {
    const f = bytesField('v', h.value)
    if ('v' in f) headers[h.key] = f.v
    else headersBase64[h.key] = f.vBase64 as string
  }
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    keySize: r.key === null ? -1 : r.key.length,
    valueSize: r.value === null ? -1 : r.value.length,
    ...bytesField('key', r.key),
    ...bytesField('value', r.value),
    headers,
    ...(Object.keys(headersBase64).length > 0 ? { headersBase64 } : {}),
  }
}

function humanBatch(b: BatchInfo): string {
  const lastSequence = b.baseSequence < 0 ? -1 : b.baseSequence + b.lastOffset - b.baseOffset
  const time =
    b.timestampType === 'LogAppendTime' ? `LogAppendTime: ${b.maxTimestamp}` : `CreateTime: ${b.maxTimestamp}`
  return (
    `baseOffset: ${b.baseOffset} lastOffset: ${b.lastOffset} count: ${b.count} baseSequence: ${b.baseSequence} ` +
    `lastSequence: ${lastSequence} producerId: ${b.producerId} producerEpoch: ${b.producerEpoch} ` +
    `partitionLeaderEpoch: ${b.partitionLeaderEpoch} isTransactional: ${b.isTransactional} ` +
    `isControl: ${b.isControl} deleteHorizonMs: ${b.deleteHorizonMs ?? 'none'} position: ${b.position} ${time} ` +
    `size: ${b.size} magic: ${b.magic} compresscodec: ${b.codec} crc: ${b.crc} isvalid: ${b.isValid}` +
    (b.problem === null ? '' : ` problem: ${b.problem}`)
  )
}

function humanRecord(r: RecordLine, type: BatchInfo['timestampType']): string {
  const headerKeys = [...Object.keys(r.headers), ...Object.keys(r.headersBase64 ?? {})]
  const show = (text: string | null | undefined, b64: string | undefined): string =>
    b64 !== undefined ? `base64:${b64}` : text === null || text === undefined ? 'null' : text
  return (
    `| offset: ${r.offset} ${type}: ${r.timestamp} keySize: ${r.keySize} valueSize: ${r.valueSize} ` +
    `headerKeys: [${headerKeys.join(',')}] key: ${show(r.key, r.keyBase64)} payload: ${show(r.value, r.valueBase64)}`
  )
}

/** Where dump and verify write a line: its JSON form with `--json`, else its human form. */
export interface DumpSink {
  line(json: Record<string, unknown>, human: string): void
  /** A promise to wait for before writing more (the output is full), or undefined. */
  pressure?(): Promise<void> | undefined
}

/** A sink writing to `io`; `stream` (stdout) is watched for backpressure, so a dump to a slow pipe stays small. */
export function sinkFor(
  io: CliOutput,
  json: boolean,
  stream?: NodeJS.WritableStream & { writableNeedDrain?: boolean },
): DumpSink {
  return {
    line: (j, h) => io.out(json ? JSON.stringify(j) : h),
    pressure: () =>
      stream?.writableNeedDrain === true
        ? new Promise<void>((resolve) => stream.once('drain', () => resolve()))
        : undefined,
  }
}

export interface DumpOptions {
  records: boolean
  fsys?: FileSystem
  codecs?: CodecRegistry
  /** Called after each file with its size in bytes. */
  onFileDone?: (bytes: number) => void
}

/** Dumps one segment file (see the module header). */
export async function dumpFile(file: SegmentFile, sink: DumpSink, options: DumpOptions): Promise<void> {
  const fsys = options.fsys ?? nodeFileSystem
  sink.line({ type: 'file', file: file.path, kind: file.kind, baseOffset: file.baseOffset }, `Dumping ${file.path}`)
  if (file.kind === 'log') {
    sink.line(
      { type: 'start', file: file.path, baseOffset: file.baseOffset },
      `Log starting offset: ${file.baseOffset}`,
    )
    const codecs = options.codecs ?? new CodecRegistry()
    const batches = logBatches(fsys, file.path, file.baseOffset)
    let step = batches.next()
    for (; step.done !== true; step = batches.next()) {
      const b = step.value
      if (isWalkProblem(b)) {
        sink.line(
          { type: 'problem', file: file.path, position: b.position, offset: b.offset, message: b.problem },
          `Batch at position ${b.position} of ${file.path} is out of place: ${b.problem}`,
        )
        continue
      }
      const info = batchInfo(b)
      const recordLines: RecordLine[] = []
      if (options.records && info.isValid) {
        let recordProblem: string | null
        try {
          recordProblem = decodeRecords(
            b.buf,
            b.at,
            b.size,
            0,
            (r) => {
              recordLines.push(recordLine(r))
              return undefined
            },
            codecs.decompressor,
          )
        } catch (err) {
          recordProblem = err instanceof Error ? err.message : String(err)
        }
        if (recordProblem !== null) {
          info.isValid = false
          info.problem = recordProblem
        }
      }
      sink.line({ type: 'batch', file: file.path, ...info }, humanBatch(info))
      for (const r of recordLines)
        sink.line({ type: 'record', file: file.path, ...r }, humanRecord(r, info.timestampType))
      const wait = sink.pressure?.()
      if (wait !== undefined) await wait
    }
    const end = step.value
    if (end.problem !== null) {
      sink.line(
        { type: 'problem', file: file.path, position: end.end, message: end.problem },
        `Found ${end.size - end.end} invalid bytes at position ${end.end} of ${file.path}: ${end.problem}`,
      )
    }
    options.onFileDone?.(end.size)
    return
  }
  if (file.kind === 'index') {
    const idx = readOffsetIndex(fsys, file.path, file.baseOffset)
    for (const e of idx.entries) {
      sink.line(
        { type: 'index', file: file.path, offset: e.offset, position: e.position },
        `offset: ${e.offset} position: ${e.position}`,
      )
    }
    indexTail(file, idx, OFFSET_INDEX_ENTRY_BYTES, sink)
    options.onFileDone?.(idx.length)
    return
  }
  const idx = readTimeIndex(fsys, file.path, file.baseOffset)
  for (const e of idx.entries) {
    sink.line(
      { type: 'timeindex', file: file.path, timestamp: e.timestamp, offset: e.offset },
      `timestamp: ${e.timestamp} offset: ${e.offset}`,
    )
  }
  indexTail(file, idx, TIME_INDEX_ENTRY_BYTES, sink)
  options.onFileDone?.(idx.length)
}

function indexTail(file: SegmentFile, idx: IndexEntries<unknown>, entryBytes: number, sink: DumpSink): void {
  if (idx.partial === null) return
  const message = `${idx.length - idx.partial} bytes of a partial ${entryBytes}-byte entry at the end (length ${idx.length})`
  sink.line({ type: 'problem', file: file.path, position: idx.partial, message }, `Found ${message} of ${file.path}`)
}

// ---- progress ----

/** Bytes below which no progress line is shown. */
export const PROGRESS_MIN_BYTES = 64 * 1024 * 1024

/**
 * A progress line on stderr (`\r`-rewritten, at most 4 times a second) while `done` grows towards `total`; shown
 * only when stderr is a terminal and the work is large. `finish` clears it.
 */
export function progressLine(what: string, total: number): { add(bytes: number): void; finish(): void } {
  const tty = process.stderr.isTTY === true && total >= PROGRESS_MIN_BYTES
  let done = 0
  let last = 0
  let shown = false
  const mib = (n: number): string => (n / 1048576).toFixed(0)
  return {
    add(bytes) {
      done += bytes
      if (!tty) return
      const now = Date.now()
      if (now - last < 250) return
      last = now
      shown = true
      process.stderr.write(`\r${what}: ${mib(done)} of ${mib(total)} MiB (${Math.floor((done / total) * 100)}%)`)
    },
    finish() {
      if (shown) process.stderr.write('\r\x1b[K')
    },
  }
}

// ---- the command ----

/** `seglog <command> --help`: the usage line and the summary on stdout, exit 0. */
export function help(io: CliOutput, c: Command): number {
  io.out(`usage: seglog ${c.usage}`)
  io.out(`  ${c.summary}`)
  return 0
}

/** What `target` names: one segment file, or the segment files of a partition directory. */
export function dumpTargets(fsys: FileSystem, target: string): SegmentFile[] {
  let isDir: boolean
  try {
    fsys.readdir(target)
    isDir = true
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (code === 'ENOENT') throw new UsageError(`${target} does not exist`)
    if (code !== 'ENOTDIR') throw ioFailure(err, 'readdir', target)
    isDir = false
  }
  if (!isDir) {
    const f = segmentFile(path.dirname(target), path.basename(target))
    if (f === null) {
      throw new UsageError(`${target} is not a segment file (NNNNNNNNNNNNNNNNNNNN.log, .index or .timeindex)`)
    }
    return [f]
  }
  const files = segmentFiles(fsys, target)
  if (files.length === 0) throw new UsageError(`${target} holds no segment files (.log, .index, .timeindex)`)
  return files
}

function totalBytes(fsys: FileSystem, files: readonly SegmentFile[]): number {
  let total = 0
  for (const f of files) {
    try {
      total += fsys.fileSize(f.path)
    } catch {
      // a file that went away is reported when it is dumped
    }
  }
  return total
}

export const command: Command = {
  usage: 'dump <file or partition dir> [--records] [--json]',
  summary: "print batches (and with --records, records) and index entries, as Kafka's DumpLogSegments",
  options: { records: 'flag', help: 'flag' },
  async run(args: ParsedArgs, io: CliOutput) {
    if (args.options.help === true) return help(io, command)
    const target = args.positionals[0]
    if (target === undefined || target === '') throw new UsageError('the file or partition directory is missing')
    if (args.positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[1])}`)
    const fsys = nodeFileSystem
    const files = dumpTargets(fsys, target)
    const sink = sinkFor(io, args.options.json === true, process.stdout)
    const progress = progressLine('dump', totalBytes(fsys, files))
    const codecs = new CodecRegistry()
    try {
      for (const f of files) {
        await dumpFile(f, sink, {
          records: args.options.records === true,
          fsys,
          codecs,
          onFileDone: (n) => progress.add(n),
        })
      }
    } finally {
      progress.finish()
    }
    return 0
  },
}
