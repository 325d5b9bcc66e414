/**
 * `partition.state`: the partition's small checkpoint file, replaced atomically (tmp → fsync → rename → fsync
 * directory, see `writeFileAtomic`). UTF-8 JSON, one object:
 *
 * | field           | type           | meaning                                                                  |
 * |-----------------|----------------|--------------------------------------------------------------------------|
 * | `version`       | 1              | format version; any other value → the file is ignored (full recovery)     |
 * | `logStartOffset`| integer        | first readable offset (may lie inside the first segment)                  |
 * | `recoveryPoint` | integer        | every byte below this offset is known to be fsynced; recovery starts here |
 * | `clean`         | object or null | present only after a clean close, cleared before the next mutation        |
 * | `clean.activeBaseOffset`, `clean.activeSize` | integers | the active segment as it was closed; checked against the file |
 * | `clean.logEndOffset`, `clean.maxTimestamp`, `clean.offsetOfMaxTimestamp`, `clean.firstBatchTimestamp` | integers | the active segment's append state, so opening scans no segment body (checked against its last batches) |
 * | `compactedEnd`  | integer or null (optional) | segments based at or above it were never compacted, so their offsets are contiguous; null or absent = unknown |
 * | `crc`           | integer (optional) | CRC-32C of the JSON text of every other field, in the order written; a file whose fields do not match it is ignored |
 *
 * Why a checksum: a flipped bit in a digit leaves valid JSON with another number in range, and a wrong
 * `logStartOffset` would hide records without any error. A file without `crc` (written by hand, or by an
 * earlier version) is only type- and range-checked.
 * Every field is untrusted input: a value of the wrong type or out of range (offsets are integers in
 * [0, MAX_LOG_OFFSET]) makes the reader drop what it cannot use and say why (`problem`), so the open can report
 * it. The open then checks what remains against the segments on disk (`PartitionLog`).
 *
 * Why JSON: the file is written a handful of times per segment and read once per open; a text format that
 * `cat` shows is worth more than the bytes saved. A file that does not parse or validate is treated as absent:
 * that costs a full recovery scan, never data.
 */
import { ioError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import { writeJsonFile, writeJsonFileAsync } from '../io/json-file.js'
import { MAX_LOG_OFFSET } from '../segment/batch-scanner.js'
import { crc32c } from '../segment/crc32c.js'
import { STATE_FILE } from '../segment/file-names.js'

export interface CleanShutdownState {
  activeBaseOffset: number
  activeSize: number
  logEndOffset: number
  maxTimestamp: number
  offsetOfMaxTimestamp: number
  firstBatchTimestamp: number
}

export interface PartitionState {
  version: 1
  logStartOffset: number
  recoveryPoint: number
  clean: CleanShutdownState | null
  /** Segments with a base offset >= this were never compacted; null = unknown (treated as possibly compacted). */
  compactedEnd: number | null
}

export interface PartitionStateRead {
  /** What could be used; null when the file is missing or unusable as a whole. */
  state: PartitionState | null
  /** Why (part of) an existing file was ignored; null when it was missing or fully valid. */
  problem: string | null
}

const isOffset = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_LOG_OFFSET
const isTimestamp = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= -1

/** Why a clean-shutdown record cannot describe a segment, or null. */
function cleanProblem(c: Record<string, unknown>): string | null {
  const { activeBaseOffset, activeSize, logEndOffset, maxTimestamp, offsetOfMaxTimestamp, firstBatchTimestamp } = c
  if (!isOffset(activeBaseOffset)) return `clean.activeBaseOffset ${String(activeBaseOffset)} is not an offset`
  if (!(typeof activeSize === 'number' && Number.isSafeInteger(activeSize) && activeSize >= 0)) {
    return `clean.activeSize ${String(activeSize)} is not a size`
  }
  if (!isOffset(logEndOffset) || logEndOffset < activeBaseOffset) {
    return `clean.logEndOffset ${String(logEndOffset)} is not an offset at or above ${activeBaseOffset}`
  }
  if (!isTimestamp(maxTimestamp)) return `clean.maxTimestamp ${String(maxTimestamp)} is not a timestamp`
  if (!isTimestamp(firstBatchTimestamp))
    return `clean.firstBatchTimestamp ${String(firstBatchTimestamp)} is not a timestamp`
  if (
    !isOffset(offsetOfMaxTimestamp) ||
    offsetOfMaxTimestamp < activeBaseOffset ||
    offsetOfMaxTimestamp > logEndOffset
  ) {
    return `clean.offsetOfMaxTimestamp ${String(offsetOfMaxTimestamp)} is outside [${activeBaseOffset}, ${logEndOffset}]`
  }
  return null
}

/** Reads and validates `partition.state` (see the module header). I/O failures other than "missing" are IO_ERROR. */
export function readPartitionState(fsys: FileSystem, dir: string): PartitionStateRead {
  const path = `${dir}/${STATE_FILE}`
  let raw: Buffer | null
  try {
    raw = fsys.readFile(path)
  } catch (err) {
    throw ioError(err, 'read', path)
  }
  if (raw === null) return { state: null, problem: null }
  let v: unknown
  try {
    v = JSON.parse(raw.toString('utf8'))
  } catch {
    return { state: null, problem: `${STATE_FILE} is not valid JSON (${raw.length} bytes)` }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return { state: null, problem: `${STATE_FILE} does not hold an object` }
  }
  const o = v as Record<string, unknown>
  if ('crc' in o) {
    const { crc, ...fields } = o
    const computed = crc32c(Buffer.from(JSON.stringify(fields)))
    if (crc !== computed) {
      return {
        state: null,
        problem: `${STATE_FILE} does not match its checksum (stored ${String(crc)}, computed ${computed})`,
      }
    }
  }
  if (o.version !== 1) return { state: null, problem: `${STATE_FILE} has version ${String(o.version)}, not 1` }
  if (!isOffset(o.logStartOffset)) {
    return { state: null, problem: `${STATE_FILE} logStartOffset ${String(o.logStartOffset)} is not an offset` }
  }
  if (!isOffset(o.recoveryPoint)) {
    return { state: null, problem: `${STATE_FILE} recoveryPoint ${String(o.recoveryPoint)} is not an offset` }
  }
  const problems: string[] = []
  let clean: CleanShutdownState | null = null
  if (o.clean !== null && o.clean !== undefined) {
    const why =
      typeof o.clean === 'object' && !Array.isArray(o.clean)
        ? cleanProblem(o.clean as Record<string, unknown>)
        : 'clean is not an object'
    if (why === null) clean = o.clean as CleanShutdownState
    else problems.push(`clean-shutdown state ignored: ${why}`)
  }
  let compactedEnd: number | null = null
  if (o.compactedEnd !== null && o.compactedEnd !== undefined) {
    if (isOffset(o.compactedEnd)) compactedEnd = o.compactedEnd
    else problems.push(`compactedEnd ${String(o.compactedEnd)} ignored: not an offset`)
  }
  const state: PartitionState = {
    version: 1,
    logStartOffset: o.logStartOffset,
    recoveryPoint: o.recoveryPoint,
    clean: clean === null ? null : { ...clean },
    compactedEnd,
  }
  return { state, problem: problems.length === 0 ? null : `${STATE_FILE}: ${problems.join('; ')}` }
}

export function writePartitionState(fsys: FileSystem, dir: string, state: PartitionState): void {
  writeJsonFile(fsys, dir, STATE_FILE, withCrc(state))
}

/** `writePartitionState` with its fsyncs on the thread pool (a close of many partitions). */
export function writePartitionStateAsync(fsys: FileSystem, dir: string, state: PartitionState): Promise<void> {
  return writeJsonFileAsync(fsys, dir, STATE_FILE, withCrc(state))
}

function withCrc(state: PartitionState): PartitionState & { crc: number } {
  const fields = { ...state }
  return { ...fields, crc: crc32c(Buffer.from(JSON.stringify(fields))) }
}
