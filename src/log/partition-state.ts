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
 * | `clean.logEndOffset`, `clean.maxTimestamp`, `clean.offsetOfMaxTimestamp`, `clean.firstBatchTimestamp` | integers | the active segment's append state, so opening reads no segment body |
 *
 * Why JSON: the file is written a handful of times per segment and read once per open; a text format that
 * `cat` shows is worth more than the bytes saved. A file that does not parse or validate is treated as absent:
 * that costs a full recovery scan, never data.
 */
import type { FileSystem } from '../io/file-system.js'
import { readJsonFile, writeJsonFile } from '../io/json-file.js'
import { STATE_FILE } from './file-names.js'

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
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)

/** Reads `partition.state`; null when missing or unreadable (the caller then recovers everything). */
export function readPartitionState(fsys: FileSystem, dir: string): PartitionState | null {
  const v = readJsonFile(fsys, dir, STATE_FILE) as Partial<PartitionState> | null
  if (v === null || typeof v !== 'object') return null
  if (v.version !== 1 || !isInt(v.logStartOffset) || !isInt(v.recoveryPoint)) return null
  const c = v.clean
  if (c !== null && c !== undefined) {
    const fields = [
      c.activeBaseOffset,
      c.activeSize,
      c.logEndOffset,
      c.maxTimestamp,
      c.offsetOfMaxTimestamp,
      c.firstBatchTimestamp,
    ]
    if (!fields.every(isInt))
      return { version: 1, logStartOffset: v.logStartOffset, recoveryPoint: v.recoveryPoint, clean: null }
  }
  return { version: 1, logStartOffset: v.logStartOffset, recoveryPoint: v.recoveryPoint, clean: c ?? null }
}

export function writePartitionState(fsys: FileSystem, dir: string, state: PartitionState): void {
  writeJsonFile(fsys, dir, STATE_FILE, state)
}
