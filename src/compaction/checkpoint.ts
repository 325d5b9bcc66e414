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
 * A missing or unreadable file means "no checkpoint": the next pass starts at the log start offset. That costs a
 * bigger pass, never data. A leftover `cleaner.checkpoint.tmp` is removed by the open-time sweep (`*.tmp`).
 */
import { type FileSystem, nodeFileSystem } from '../io/file-system.js'
import { readJsonFile, writeJsonFile } from '../io/json-file.js'

/** File name of the cleaner checkpoint inside a partition directory (belongs in `src/log/file-names.ts`). */
export const CLEANER_CHECKPOINT_FILE = 'cleaner.checkpoint'

export interface CleanerCheckpoint {
  version: 1
  firstDirtyOffset: number
}

/** The checkpointed first dirty offset of the partition in `dir`, or null when there is none (or it is unreadable). */
export function readCleanerCheckpoint(dir: string, fsys: FileSystem = nodeFileSystem): number | null {
  const v = readJsonFile(fsys, dir, CLEANER_CHECKPOINT_FILE) as Partial<CleanerCheckpoint> | null
  if (v === null || typeof v !== 'object' || v.version !== 1 || typeof v.firstDirtyOffset !== 'number') return null
  if (!Number.isSafeInteger(v.firstDirtyOffset) || v.firstDirtyOffset < 0) return null
  return v.firstDirtyOffset
}

/** Persists `firstDirtyOffset` for the partition in `dir`, atomically and durably. */
export function writeCleanerCheckpoint(dir: string, firstDirtyOffset: number, fsys: FileSystem = nodeFileSystem): void {
  if (!Number.isSafeInteger(firstDirtyOffset) || firstDirtyOffset < 0) {
    throw new TypeError(`firstDirtyOffset must be a non-negative safe integer, got ${firstDirtyOffset}`)
  }
  const data: CleanerCheckpoint = { version: 1, firstDirtyOffset }
  writeJsonFile(fsys, dir, CLEANER_CHECKPOINT_FILE, data)
}
