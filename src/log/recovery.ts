/**
 * The crash protocol, in one place: what every leftover file in a partition directory means on open, and what
 * is done about it. File kinds are declared in `segment/file-names.ts`. Order of operations (Kafka's `LogLoader`):
 *
 * 1. `*.tmp` (an atomic small-file write that did not reach its rename) → deleted; the old file is intact.
 * 2. `*.deleted` (a segment scheduled for deletion) → deleted.
 * 3. `*.cleaned` (compaction output not yet complete) → deleted, together with every `*.swap` whose base offset
 *    is >= the smallest `.cleaned` base (they belong to the same unfinished operation).
 * 4. Remaining `*.swap` (compaction output that was complete and was replacing older segments) → the swap is
 *    finished: every ordinary segment file whose base offset lies in [smallest swap base, largest swap end) is
 *    deleted (those are the replaced segments), then each `.swap` is renamed to its final name.
 * 5. Index files with no `.log` → deleted. The directory is fsynced if anything above changed it.
 *
 * Then, when the last close was not clean, every segment from the one holding the recovery point onward is
 * scanned (`LogSegment.recover`): CRC and structure of each batch checked, indexes rebuilt, the file cut after
 * the last valid batch, and every later segment dropped. Recovery is the only place that cuts data.
 */
import { ioError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import {
  CLEANED_SUFFIX,
  DELETED_SUFFIX,
  LOG_SUFFIX,
  parseSegmentFileName,
  SWAP_SUFFIX,
  segmentFileName,
  TMP_SUFFIX,
} from '../segment/file-names.js'
import { BATCH_OVERHEAD, batchLastOffset, batchSizeAt } from '../segment/record-batch.js'

export interface SweepReport {
  deleted: string[]
  swapsCompleted: string[]
  /** Base offsets of the `.log` files present after the sweep, ascending. */
  segmentBaseOffsets: number[]
}

/** Next offset after the last complete batch of a (fully written) file, or `baseOffset` when it has none. */
function endOffsetOfFile(fsys: FileSystem, path: string, baseOffset: number): number {
  const handle = fsys.open(path, 'r')
  try {
    const size = handle.size()
    const hdr = Buffer.allocUnsafe(BATCH_OVERHEAD)
    let pos = 0
    let next = baseOffset
    while (pos + BATCH_OVERHEAD <= size) {
      handle.read(hdr, 0, BATCH_OVERHEAD, pos)
      const s = batchSizeAt(hdr, 0)
      if (s < BATCH_OVERHEAD || pos + s > size) break
      next = batchLastOffset(hdr, 0) + 1
      pos += s
    }
    return next
  } finally {
    handle.close()
  }
}

/** Steps 1–5 above. Returns what it did, for the open's report. */
export function sweepPartitionDir(fsys: FileSystem, dir: string): SweepReport {
  const report: SweepReport = { deleted: [], swapsCompleted: [], segmentBaseOffsets: [] }
  let changed = false
  const remove = (name: string): void => {
    try {
      fsys.unlink(`${dir}/${name}`)
    } catch (err) {
      throw ioError(err, 'delete', `${dir}/${name}`)
    }
    report.deleted.push(name)
    changed = true
  }
  let names: string[]
  try {
    names = fsys.readdir(dir)
  } catch (err) {
    throw ioError(err, 'readdir', dir)
  }

  // 1 + 2: tmp and deleted files.
  for (const name of names) {
    if (name.endsWith(TMP_SUFFIX) || name.endsWith(DELETED_SUFFIX)) remove(name)
  }
  names = names.filter((n) => !n.endsWith(TMP_SUFFIX) && !n.endsWith(DELETED_SUFFIX))

  // 3: abandoned compaction output.
  const cleaned = names.map(parseSegmentFileName).filter((p) => p !== null && p.temp === CLEANED_SUFFIX)
  if (cleaned.length > 0) {
    const minCleaned = Math.min(...cleaned.map((p) => p!.baseOffset))
    for (const name of names) {
      const p = parseSegmentFileName(name)
      if (p === null) continue
      if (p.temp === CLEANED_SUFFIX || (p.temp === SWAP_SUFFIX && p.baseOffset >= minCleaned)) remove(name)
    }
    names = names.filter((n) => !report.deleted.includes(n))
  }

  // 4: finish complete swaps.
  const swapLogs = names
    .map(parseSegmentFileName)
    .filter((p) => p !== null && p.temp === SWAP_SUFFIX && p.suffix === LOG_SUFFIX)
    .map((p) => p!.baseOffset)
  if (swapLogs.length > 0) {
    const minSwap = Math.min(...swapLogs)
    let maxSwapEnd = minSwap
    for (const base of swapLogs) {
      const path = `${dir}/${segmentFileName(base, LOG_SUFFIX)}${SWAP_SUFFIX}`
      try {
        maxSwapEnd = Math.max(maxSwapEnd, endOffsetOfFile(fsys, path, base), base + 1)
      } catch (err) {
        throw ioError(err, 'read', path)
      }
    }
    for (const name of names) {
      const p = parseSegmentFileName(name)
      if (p !== null && p.temp === null && p.baseOffset >= minSwap && p.baseOffset < maxSwapEnd) remove(name)
    }
    names = names.filter((n) => !report.deleted.includes(n))
  }
  // Every remaining `.swap` is renamed to its final name — also when no `.log.swap` is left (a crash between
  // renaming a segment's `.log.swap` and its index `.swap` files): the old files at that base are already gone.
  for (const name of names) {
    const p = parseSegmentFileName(name)
    if (p === null || p.temp !== SWAP_SUFFIX) continue
    const finalName = name.slice(0, -SWAP_SUFFIX.length)
    try {
      fsys.rename(`${dir}/${name}`, `${dir}/${finalName}`)
    } catch (err) {
      throw ioError(err, 'rename', `${dir}/${name}`)
    }
    report.swapsCompleted.push(name)
    changed = true
  }
  names = names.map((n) => (n.endsWith(SWAP_SUFFIX) ? n.slice(0, -SWAP_SUFFIX.length) : n))

  // 5: orphan indexes.
  const logs = new Set<number>()
  for (const name of names) {
    const p = parseSegmentFileName(name)
    if (p !== null && p.temp === null && p.suffix === LOG_SUFFIX) logs.add(p.baseOffset)
  }
  for (const name of names) {
    const p = parseSegmentFileName(name)
    if (p !== null && p.temp === null && p.suffix !== LOG_SUFFIX && !logs.has(p.baseOffset)) remove(name)
  }
  if (changed) {
    try {
      fsys.syncDirNow(dir)
    } catch (err) {
      throw ioError(err, 'fsync', dir)
    }
  }
  report.segmentBaseOffsets = [...logs].sort((a, b) => a - b)
  return report
}
