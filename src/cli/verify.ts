/**
 * `seglog verify <dir> [--json]`: checks every partition of a seglog directory (or the one partition directory it
 * is given) against the on-disk format, and reports each problem with its file and position/offset. It repairs
 * nothing and writes nothing: every file is opened read-only, so it can run while another process owns the
 * directory (then a batch being appended at that moment may show as a torn tail).
 *
 * Checks, per partition directory:
 * - file names: every segment file is a 20-digit base offset with `.log`/`.index`/`.timeindex`; an index without
 *   its `.log` is an orphan; temporary files of an operation in progress (`.cleaned`, `.swap`, `.deleted`, `.tmp`)
 *   and unknown files are reported as notes (not damage: the next open finishes or removes them);
 * - every batch of every `.log` (the segment layer's `BatchScanner`): size, magic, offsets against the file name
 *   (no batch below its segment's base offset; base offset equal to it and no gap between batches in a segment never
 *   compacted, per `partition.state`), the next segment's base above every offset, each segment ending right before
 *   the next one's base; then `checkBatch` (CRC-32C, structure) and `decodeRecords` (each record's fields, the record
 *   count, the codec) on each. A walk that meets a torn or garbage tail reports where it starts;
 * - every entry of every `.index`: whole 8-byte entries, offsets and positions increasing, each naming the start of a
 *   batch whose last offset is the entry's offset;
 * - every entry of every `.timeindex`: whole 12-byte entries, timestamps and offsets increasing, each naming a batch
 *   (by its last offset) whose max timestamp is the entry's and above every earlier batch's; in a segment that is not
 *   the last, the last entry is the segment's max timestamp.
 *
 * Output: one line per problem (`FILE: position P (offset O): message`; with `--json`,
 * `{type:'problem', file, position, offset, message}` or `{type:'note', ...}`), then a summary line. Exit code 0
 * when nothing is damaged (notes allowed), 1 when anything is, 2 on bad usage.
 */
import * as path from 'node:path'
import {
  CLEANER_CHECKPOINT,
  CodecRegistry,
  decodeRecords,
  type FileSystem,
  nodeFileSystem,
  parseSegmentFileName,
  readPartitionState,
  STATE_FILE,
  TOPIC_FILE,
} from '../internal.js'
import { isSeglogError } from '../main.js'
import { type CliOutput, type Command, type ParsedArgs, UsageError } from './command.js'
import {
  batchInfo,
  type DumpSink,
  help,
  isWalkProblem,
  logBatches,
  openForReading,
  progressLine,
  readOffsetIndex,
  readTimeIndex,
  type SegmentFile,
  segmentFile,
  sinkFor,
} from './dump.js'

export interface Finding {
  /** `problem` is damage (exit 1); `note` is something to know (an operation in progress, an unknown file). */
  severity: 'problem' | 'note'
  file: string
  /** Byte position in the file, when the finding has one. */
  position?: number
  /** The offset concerned, when there is one. */
  offset?: number
  message: string
}

export interface VerifyTotals {
  partitions: number
  segments: number
  batches: number
  records: number
  bytes: number
}

export interface VerifyReport extends VerifyTotals {
  findings: Finding[]
  /** Problems (damage) among the findings. */
  problems: number
}

export interface VerifyOptions {
  fsys?: FileSystem
  codecs?: CodecRegistry
  /** Called with each finding as it is found. */
  onFinding?: (f: Finding) => void
  /** Called with the bytes of each `.log` done. */
  onBytes?: (n: number) => void
  /** Awaited between batches (the caller's output is full). */
  pressure?: () => Promise<void> | undefined
}

/** A partition directory's name: `<topic>-<partition>`. */
const PARTITION_DIR = /^.+-\d+$/
const KNOWN_FILES = new Set([STATE_FILE, CLEANER_CHECKPOINT, TOPIC_FILE])

function isDirectory(fsys: FileSystem, p: string): boolean {
  try {
    fsys.readdir(p)
    return true
  } catch {
    return false
  }
}

/** The partition directories `target` stands for: itself when it holds segment files, else its `<topic>-<p>`. */
export function partitionDirs(fsys: FileSystem, target: string): { dirs: string[]; notes: Finding[] } {
  let names: string[]
  try {
    names = fsys.readdir(target)
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (code === 'ENOENT') throw new UsageError(`${target} does not exist`)
    if (code === 'ENOTDIR') throw new UsageError(`${target} is not a directory`)
    throw err
  }
  if (names.some((n) => parseSegmentFileName(n) !== null || n === STATE_FILE)) return { dirs: [target], notes: [] }
  const dirs: string[] = []
  const notes: Finding[] = []
  for (const n of names.sort()) {
    const p = path.join(target, n)
    if (n === '.seglog' || !isDirectory(fsys, p)) continue
    if (PARTITION_DIR.test(n)) dirs.push(p)
    else
      notes.push({
        severity: 'note',
        file: p,
        message: 'a directory that is no partition (nor being created or deleted)',
      })
  }
  if (dirs.length === 0 && notes.length === 0) {
    throw new UsageError(`${target} holds no partition directories and no segment files`)
  }
  return { dirs, notes }
}

/** Batches of one segment, by position, for checking index entries against them. */
class SegmentBatches {
  readonly positions: number[] = []
  readonly lastOffsets: number[] = []
  readonly maxTimestamps: number[] = []
  /** The largest max timestamp of the batches before each one (−1 before the first). */
  readonly maxBefore: number[] = []
  private runningMax = -1
  private readonly byLastOffset = new Map<number, number>()

  add(position: number, lastOffset: number, maxTimestamp: number): void {
    this.byLastOffset.set(lastOffset, this.positions.length)
    this.positions.push(position)
    this.lastOffsets.push(lastOffset)
    this.maxTimestamps.push(maxTimestamp)
    this.maxBefore.push(this.runningMax)
    if (maxTimestamp > this.runningMax) this.runningMax = maxTimestamp
  }

  get maxTimestamp(): number {
    return this.runningMax
  }

  /** Index of the batch starting at `position`, or −1. */
  atPosition(position: number): number {
    let lo = 0
    let hi = this.positions.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const p = this.positions[mid]
      if (p === position) return mid
      if (p < position) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }

  /** Index of the batch whose last offset is `offset`, or −1. */
  withLastOffset(offset: number): number {
    return this.byLastOffset.get(offset) ?? -1
  }
}

/** Verifies one partition directory; findings go to `report` (and `onFinding`). */
async function verifyPartition(
  dir: string,
  report: VerifyReport,
  o: Required<Omit<VerifyOptions, 'pressure' | 'onBytes' | 'onFinding'>> & VerifyOptions,
): Promise<void> {
  const { fsys, codecs } = o
  const find = (f: Finding): void => {
    report.findings.push(f)
    if (f.severity === 'problem') report.problems++
    o.onFinding?.(f)
  }
  report.partitions++
  let names: string[]
  try {
    names = fsys.readdir(dir)
  } catch (err) {
    find({ severity: 'problem', file: dir, message: `cannot list the directory: ${(err as Error).message}` })
    return
  }
  const logs: SegmentFile[] = []
  const indexes = new Map<number, SegmentFile>()
  const timeIndexes = new Map<number, SegmentFile>()
  for (const name of names.sort()) {
    const file = path.join(dir, name)
    const f = segmentFile(dir, name)
    if (f !== null) {
      if (f.kind === 'log') logs.push(f)
      else (f.kind === 'index' ? indexes : timeIndexes).set(f.baseOffset, f)
      continue
    }
    if (KNOWN_FILES.has(name)) continue
    const parsed = parseSegmentFileName(name)
    if (parsed !== null || name.endsWith('.tmp') || /\.\d+\.deleted$/.test(name)) {
      find({
        severity: 'note',
        file,
        message: 'a file of an operation in progress; the next open completes or removes it',
      })
    } else if (/\.(log|index|timeindex)$/.test(name)) {
      find({
        severity: 'problem',
        file,
        message: 'not a segment file name: a segment is named by its 20-digit base offset',
      })
    } else {
      find({ severity: 'note', file, message: 'a file seglog does not write' })
    }
  }
  logs.sort((a, b) => a.baseOffset - b.baseOffset)
  for (const idx of [...indexes.values(), ...timeIndexes.values()]) {
    if (!logs.some((l) => l.baseOffset === idx.baseOffset)) {
      find({ severity: 'problem', file: idx.path, message: 'an index without its .log (an orphan)' })
    }
  }

  // Segments at or above compactedEnd were never compacted: their offsets must be contiguous (as the log's open).
  const { state } = readPartitionState(fsys, dir)
  const hasCheckpoint = fsys.exists(path.join(dir, CLEANER_CHECKPOINT))
  const compactedEnd = state?.compactedEnd ?? (hasCheckpoint ? Number.POSITIVE_INFINITY : 0)

  // A file named above its first batch's base offset (a wrong name) is walked from that batch's offset, so its
  // batches are still checked and the segment before it is held to end right before it.
  const bases = logs.map((log) => {
    const first = firstBatchBase(fsys, log.path)
    if (first !== null && first < log.baseOffset) {
      find({
        severity: 'problem',
        file: log.path,
        position: 0,
        offset: first,
        message: `the file name says base offset ${log.baseOffset}, but its first batch starts at offset ${first}`,
      })
      return first
    }
    return log.baseOffset
  })

  for (let s = 0; s < logs.length; s++) {
    const log = logs[s]
    const base = bases[s]
    const isLast = s === logs.length - 1
    report.segments++
    const batches = new SegmentBatches()
    const walk = logBatches(fsys, log.path, base, {
      offsetLimit: isLast ? Number.POSITIVE_INFINITY : bases[s + 1],
      dense: log.baseOffset >= compactedEnd,
    })
    let step = walk.next()
    for (; step.done !== true; step = walk.next()) {
      const b = step.value
      if (isWalkProblem(b)) {
        find({ severity: 'problem', file: log.path, position: b.position, offset: b.offset, message: b.problem })
        continue
      }
      const info = batchInfo(b)
      report.batches++
      batches.add(b.position, b.lastOffset, info.maxTimestamp)
      let problem = info.problem
      if (problem === null) {
        try {
          problem = decodeRecords(
            b.buf,
            b.at,
            b.size,
            0,
            () => {
              report.records++
              return undefined
            },
            codecs.decompressor,
          )
        } catch (err) {
          if (isSeglogError(err, 'COMPRESSION_UNSUPPORTED')) {
            const message = `records not checked: ${err.message}`
            find({ severity: 'note', file: log.path, position: b.position, offset: info.baseOffset, message })
          } else {
            problem = err instanceof Error ? err.message : String(err)
          }
        }
      }
      if (problem !== null) {
        find({ severity: 'problem', file: log.path, position: b.position, offset: info.baseOffset, message: problem })
      }
      const wait = o.pressure?.()
      if (wait !== undefined) await wait
    }
    const end = step.value
    report.bytes += end.size
    o.onBytes?.(end.size)
    const readable = { position: end.end, offset: end.lastOffset }
    if (end.problem !== null) {
      const cut = end.end < end.size
      find({
        severity: 'problem',
        file: log.path,
        ...(cut ? { position: end.end } : {}),
        offset: end.lastOffset + 1,
        message: cut
          ? `${end.problem} (the ${end.size - end.end} bytes from there to the end are unreadable)`
          : end.problem,
      })
    }
    const oi = indexes.get(log.baseOffset)
    if (oi !== undefined) checkOffsetIndex(fsys, oi, base, batches, readable, find)
    const ti = timeIndexes.get(log.baseOffset)
    if (ti !== undefined) checkTimeIndex(fsys, ti, base, batches, isLast && end.end === end.size, readable, find)
  }
}

/** The base offset of the first batch of a `.log`, or null when it has no readable first header. */
function firstBatchBase(fsys: FileSystem, file: string): number | null {
  const handle = openForReading(fsys, file)
  try {
    const head = Buffer.alloc(17)
    if (handle.read(head, 0, 17, 0) < 17 || head[16] !== 2) return null
    const base = Number(head.readBigInt64BE(0))
    return Number.isSafeInteger(base) && base >= 0 ? base : null
  } finally {
    handle.close()
  }
}

/** How far a `.log` could be read: entries past it are not checked (the log is reported instead). */
interface Readable {
  position: number
  offset: number
}

function checkOffsetIndex(
  fsys: FileSystem,
  file: SegmentFile,
  base: number,
  batches: SegmentBatches,
  readable: Readable,
  find: (f: Finding) => void,
): void {
  const idx = readOffsetIndex(fsys, file.path, base)
  if (idx.partial !== null) {
    find({
      severity: 'problem',
      file: file.path,
      position: idx.partial,
      message: `truncated: length ${idx.length} is not a multiple of 8 (a partial entry at byte ${idx.partial})`,
    })
  }
  let prev: { offset: number; position: number } | null = null
  const beyond = idx.entries.findIndex((e) => e.position >= readable.position)
  if (beyond >= 0) unchecked(file, beyond, idx.entries.length, readable, find)
  idx.entries.slice(0, beyond < 0 ? undefined : beyond).forEach((e, i) => {
    const at = i * 8
    const problem = (message: string): void =>
      find({
        severity: 'problem',
        file: file.path,
        position: at,
        offset: e.offset,
        message: `entry ${i} (offset ${e.offset}, position ${e.position}): ${message}`,
      })
    if (prev !== null && (e.offset <= prev.offset || e.position <= prev.position)) {
      problem(`not after the previous entry (offset ${prev.offset}, position ${prev.position})`)
    } else {
      const b = batches.atPosition(e.position)
      if (b < 0) problem('names no batch start in the .log')
      else if (batches.lastOffsets[b] !== e.offset)
        problem(`names the batch at position ${e.position}, whose last offset is ${batches.lastOffsets[b]}`)
    }
    prev = e
  })
}

function checkTimeIndex(
  fsys: FileSystem,
  file: SegmentFile,
  base: number,
  batches: SegmentBatches,
  mayLag: boolean,
  readable: Readable,
  find: (f: Finding) => void,
): void {
  const idx = readTimeIndex(fsys, file.path, base)
  if (idx.partial !== null) {
    find({
      severity: 'problem',
      file: file.path,
      position: idx.partial,
      message: `truncated: length ${idx.length} is not a multiple of 12 (a partial entry at byte ${idx.partial})`,
    })
  }
  let prev: { timestamp: number; offset: number } | null = null
  const beyond = idx.entries.findIndex((e) => e.offset > readable.offset)
  if (beyond >= 0) unchecked(file, beyond, idx.entries.length, readable, find)
  idx.entries.slice(0, beyond < 0 ? undefined : beyond).forEach((e, i) => {
    const at = i * 12
    const problem = (message: string): void =>
      find({
        severity: 'problem',
        file: file.path,
        position: at,
        offset: e.offset,
        message: `entry ${i} (timestamp ${e.timestamp}, offset ${e.offset}): ${message}`,
      })
    if (prev !== null && (e.timestamp <= prev.timestamp || e.offset < prev.offset)) {
      problem(`not after the previous entry (timestamp ${prev.timestamp}, offset ${prev.offset})`)
    } else {
      const b = batches.withLastOffset(e.offset)
      if (b < 0) problem('names no batch that ends at its offset')
      else if (batches.maxTimestamps[b] !== e.timestamp)
        problem(`names a batch whose max timestamp is ${batches.maxTimestamps[b]}`)
      else if (batches.maxBefore[b] >= e.timestamp)
        problem(`an earlier batch already reached timestamp ${batches.maxBefore[b]}`)
    }
    prev = e
  })
  const last = idx.entries.at(-1)
  // The active segment's time index gets its final entry only when the segment stops being active.
  if (
    !mayLag &&
    beyond < 0 &&
    batches.maxTimestamp >= 0 &&
    (last === undefined || last.timestamp !== batches.maxTimestamp)
  ) {
    find({
      severity: 'problem',
      file: file.path,
      position: Math.max(0, idx.entries.length - 1) * 12,
      message: `the last entry ${last === undefined ? '(none)' : `has timestamp ${last.timestamp}`}, not the segment's max timestamp ${batches.maxTimestamp}`,
    })
  }
}

function unchecked(
  file: SegmentFile,
  from: number,
  count: number,
  readable: Readable,
  find: (f: Finding) => void,
): void {
  find({
    severity: 'note',
    file: file.path,
    message: `entries ${from}..${count - 1} not checked: they point past position ${readable.position} (offset ${readable.offset}) of the .log, which is unreadable from there`,
  })
}

/** Verifies a seglog directory or one partition directory (see the module header). Never writes. */
export async function verifyDirectory(target: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const fsys = options.fsys ?? nodeFileSystem
  const codecs = options.codecs ?? new CodecRegistry()
  const report: VerifyReport = {
    partitions: 0,
    segments: 0,
    batches: 0,
    records: 0,
    bytes: 0,
    findings: [],
    problems: 0,
  }
  const { dirs, notes } = partitionDirs(fsys, target)
  for (const n of notes) {
    report.findings.push(n)
    options.onFinding?.(n)
  }
  for (const dir of dirs) await verifyPartition(dir, report, { ...options, fsys, codecs })
  return report
}

function humanFinding(f: Finding): string {
  const where = [
    f.position === undefined ? null : `position ${f.position}`,
    f.offset === undefined ? null : `offset ${f.offset}`,
  ].filter((x) => x !== null)
  return `${f.severity === 'note' ? 'note: ' : ''}${f.file}${where.length > 0 ? `: ${where.join(', ')}` : ''}: ${f.message}`
}

function totalLogBytes(fsys: FileSystem, dirs: readonly string[]): number {
  let total = 0
  for (const d of dirs) {
    try {
      for (const n of fsys.readdir(d)) if (n.endsWith('.log')) total += fsys.fileSize(path.join(d, n))
    } catch {
      // reported when the partition is verified
    }
  }
  return total
}

export const command: Command = {
  usage: 'verify <dir> [--json]',
  summary: 'check every batch (CRC, structure, offsets), index entry and file name; exit 1 on any damage',
  options: { help: 'flag' },
  async run(args: ParsedArgs, io: CliOutput) {
    if (args.options.help === true) return help(io, command)
    const target = args.positionals[0]
    if (target === undefined || target === '') throw new UsageError('the directory is missing')
    if (args.positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[1])}`)
    const json = args.options.json === true
    const sink: DumpSink = sinkFor(io, json, process.stdout)
    const fsys = nodeFileSystem
    const progress = progressLine('verify', totalLogBytes(fsys, partitionDirs(fsys, target).dirs))
    let report: VerifyReport
    try {
      report = await verifyDirectory(target, {
        fsys,
        onFinding: (f) => sink.line({ type: f.severity, ...f, severity: undefined }, humanFinding(f)),
        onBytes: (n) => progress.add(n),
        pressure: sink.pressure,
      })
    } finally {
      progress.finish()
    }
    const { findings, ...totals } = report
    const notes = findings.length - report.problems
    sink.line(
      { type: 'summary', ...totals, notes, clean: report.problems === 0 },
      `verified ${totals.partitions} partition(s), ${totals.segments} segment(s), ${totals.batches} batch(es), ` +
        `${totals.records} record(s), ${totals.bytes} bytes: ` +
        (report.problems === 0 ? 'no damage' : `${report.problems} problem(s)`) +
        (notes > 0 ? `, ${notes} note(s)` : ''),
    )
    return report.problems === 0 ? 0 : 1
  },
}
