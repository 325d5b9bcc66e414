/**
 * `cleaner.checkpoint`: where the next compaction pass of a partition starts (Kafka's `cleaner-offset-checkpoint`,
 * one file per partition directory here). UTF-8 JSON, replaced atomically (`writeFileAtomic`: tmp → fsync →
 * rename → fsync directory):
 *
 * | field              | type    | meaning                                                                    |
 * |--------------------|---------|----------------------------------------------------------------------------|
 * | `version`          | 1       | any other value → the file is ignored                                      |
 * | `firstDirtyOffset` | integer | first offset not yet covered by a finished pass (the map's latest offset + 1) |
 *
 * A missing file, or one that does not parse or validate, means "no checkpoint": the next pass starts at the log
 * start offset (and the pass result says why a file was ignored). That costs a bigger pass, never data; a value
 * outside the log is reset by the planner. A file that cannot be read at all is IO_ERROR. A leftover `cleaner.checkpoint.tmp` is removed by the open-time sweep (`*.tmp`).
 */
import { ioError } from '../errors.js'
import { type FileSystem, nodeFileSystem } from '../io/file-system.js'
import { writeJsonFile } from '../io/json-file.js'
import { CLEANER_CHECKPOINT } from '../segment/file-names.js'

export interface CleanerCheckpoint {
  version: 1
  firstDirtyOffset: number
}

export interface CleanerCheckpointRead {
  /** The checkpointed first dirty offset; null when there is none or it cannot be used. */
  firstDirtyOffset: number | null
  /** Why an existing file was ignored (not JSON, wrong shape, out of range); null when missing or valid. */
  problem: string | null
}

/**
 * Reads and validates the checkpoint of the partition in `dir`. A damaged file is ignored and says why (the pass
 * then starts at the log start, which costs work, never data); failing to read it at all is IO_ERROR.
 */
export function readCleanerCheckpointFile(dir: string, fsys: FileSystem = nodeFileSystem): CleanerCheckpointRead {
  const path = `${dir}/${CLEANER_CHECKPOINT}`
  let raw: Buffer | null
  try {
    raw = fsys.readFile(path)
  } catch (err) {
    throw ioError(err, 'read', path)
  }
  if (raw === null) return { firstDirtyOffset: null, problem: null }
  let v: unknown
  try {
    v = JSON.parse(raw.toString('utf8'))
  } catch {
    return { firstDirtyOffset: null, problem: `${CLEANER_CHECKPOINT} is not valid JSON (${raw.length} bytes)` }
  }
  const o = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Partial<CleanerCheckpoint>) : null
  if (o === null || o.version !== 1) {
    return { firstDirtyOffset: null, problem: `${CLEANER_CHECKPOINT} is not a version 1 checkpoint` }
  }
  const offset = o.firstDirtyOffset
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    return {
      firstDirtyOffset: null,
      problem: `${CLEANER_CHECKPOINT} firstDirtyOffset ${String(offset)} is not an offset`,
    }
  }
  return { firstDirtyOffset: offset, problem: null }
}

/** The checkpointed first dirty offset of the partition in `dir`, or null when there is none (or it is unreadable). */
export function readCleanerCheckpoint(dir: string, fsys: FileSystem = nodeFileSystem): number | null {
  return readCleanerCheckpointFile(dir, fsys).firstDirtyOffset
}

/** Persists `firstDirtyOffset` for the partition in `dir`, atomically and durably. */
export function writeCleanerCheckpoint(dir: string, firstDirtyOffset: number, fsys: FileSystem = nodeFileSystem): void {
  if (!Number.isSafeInteger(firstDirtyOffset) || firstDirtyOffset < 0) {
    throw new TypeError(`firstDirtyOffset must be a non-negative safe integer, got ${firstDirtyOffset}`)
  }
  const data: CleanerCheckpoint = { version: 1, firstDirtyOffset }
  writeJsonFile(fsys, dir, CLEANER_CHECKPOINT, data)
}
