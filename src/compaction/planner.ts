/**
 * Compaction planning: which part of a partition a cleaning pass may touch and whether it should run now
 * (Kafka's `LogCleanerManager.cleanableOffsets`, `calculateCleanableBytes`, `maxCompactionDelay` and
 * `LogToClean`). PURE: no I/O, the clock is an argument.
 *
 * Rules
 * - firstDirtyOffset = the checkpointed value, or logStartOffset when there is none; reset to logStartOffset when
 *   it is below logStartOffset or above logEndOffset (the caller rewrites the checkpoint then).
 * - The first uncleanable offset is the minimum of: the log end offset (single node: last stable offset = high
 *   watermark = log end), the active segment's base offset and, when `minCompactionLagMs > 0`, the base of the
 *   first dirty non-active segment whose largest timestamp is newer than `now - minCompactionLagMs`. It is never
 *   below firstDirtyOffset and is segment aligned (the base of the segment holding it), so the active segment
 *   is never cleaned.
 * - cleanBytes = bytes of the segments before the one holding firstDirtyOffset; cleanableBytes = bytes of the
 *   segments from that one up to the first uncleanable segment; dirtyRatio = cleanable / (clean + cleanable).
 * - Cleanable when dirtyRatio > minCleanableDirtyRatio, or when max compaction lag is exceeded (the earliest
 *   first-batch timestamp (> 0) among the dirty non-active segments is older than `now - maxCompactionLagMs`)
 *   and cleanableBytes > 0.
 *
 * `groupSegments` is Kafka's `groupSegmentsBySize`: consecutive segments are merged while the group's summed log
 * size stays <= segmentBytes, its summed index sizes <= maxIndexBytes, and its offset span fits an int32
 * relative offset (empty segments are exempt from the span check). Every group holds at least one segment.
 */
import type { SegmentSummary } from '../log/partition-log.js'
import { segmentIndexFor } from '../segment/segment.js'

export { DEFAULT_COMPACTION_CONFIG } from './compaction-config.js'
/** What the planner knows of each segment (`PartitionLog.segmentSummaries`); the last summary is the active segment. */
export type { SegmentSummary }

export interface CompactionPlanConfig {
  minCleanableDirtyRatio: number
  minCompactionLagMs: number
  maxCompactionLagMs: number
}

export interface PlanInput {
  segments: readonly SegmentSummary[]
  /** First dirty offset from the cleaner checkpoint, or null when there is no checkpoint. */
  checkpointFirstDirtyOffset: number | null
  logStartOffset: number
  logEndOffset: number
  config: CompactionPlanConfig
  now: number
}

export interface CompactionPlan {
  /** True when a pass should run now (dirty ratio above the minimum, or max compaction lag exceeded). */
  cleanable: boolean
  /** Where the offset map starts. */
  firstDirtyOffset: number
  /** Where the offset map stops (exclusive); segment aligned, <= the active segment's base. */
  firstUncleanableOffset: number
  cleanBytes: number
  cleanableBytes: number
  /** cleanableBytes / (cleanBytes + cleanableBytes); 0 for an empty log. */
  dirtyRatio: number
  /** How long past `maxCompactionLagMs` the oldest dirty segment is (0 when not past). */
  maxCompactionDelayMs: number
  /** True when the checkpointed first dirty offset was out of range and was reset to logStartOffset. */
  checkpointReset: boolean
  /** Why the pass is (not) cleanable, for logs and results. */
  reason: string
}

/** Kafka's `maxCompactionDelay`: how far past the max lag the earliest dirty non-active segment is. */
function maxCompactionDelay(
  segments: readonly SegmentSummary[],
  dirtyIndex: number,
  maxCompactionLagMs: number,
  now: number,
): number {
  let earliest = Number.POSITIVE_INFINITY
  for (let i = dirtyIndex; i < segments.length - 1; i++) {
    const ts = segments[i].firstBatchTimestamp
    if (ts > 0 && ts < earliest) earliest = ts
  }
  const cleanUntil = now - Math.max(maxCompactionLagMs, 0)
  return earliest < cleanUntil ? cleanUntil - earliest : 0
}

/** Decides the range and eligibility of a compaction pass (see the module header). */
export function planCompaction(input: PlanInput): CompactionPlan {
  const { segments, logStartOffset, logEndOffset, config, now } = input
  if (segments.length === 0) throw new TypeError('planCompaction needs at least one (active) segment')
  for (let i = 1; i < segments.length; i++) {
    if (segments[i].baseOffset <= segments[i - 1].baseOffset) {
      throw new TypeError(`segments must be sorted by base offset (index ${i})`)
    }
  }

  const checkpoint = input.checkpointFirstDirtyOffset
  let firstDirty = checkpoint ?? logStartOffset
  let checkpointReset = false
  if (firstDirty < logStartOffset || firstDirty > logEndOffset) {
    firstDirty = logStartOffset
    checkpointReset = checkpoint !== null
  }

  const activeIndex = segments.length - 1
  const active = segments[activeIndex]
  const dirtyIndex = segmentIndexFor(segments, firstDirty)

  // First uncleanable offset: log end, active base, and the min-lag bound.
  let uncleanable = Math.min(logEndOffset, active.baseOffset)
  const lag = Math.max(config.minCompactionLagMs, 0)
  if (lag > 0) {
    for (let i = dirtyIndex; i < activeIndex; i++) {
      if (segments[i].largestTimestamp > now - lag) {
        uncleanable = Math.min(uncleanable, segments[i].baseOffset)
        break
      }
    }
  }
  uncleanable = Math.max(uncleanable, firstDirty)
  // Segment aligned: the first uncleanable segment is the non-active one holding `uncleanable`, else the active.
  const uncleanableIndex = Math.min(segmentIndexFor(segments, uncleanable), activeIndex)
  const firstUncleanableOffset = segments[uncleanableIndex].baseOffset

  let cleanBytes = 0
  for (let i = 0; i < dirtyIndex; i++) cleanBytes += segments[i].size
  let cleanableBytes = 0
  for (let i = dirtyIndex; i < uncleanableIndex; i++) cleanableBytes += segments[i].size
  const total = cleanBytes + cleanableBytes
  const dirtyRatio = total === 0 ? 0 : cleanableBytes / total

  const delay = maxCompactionDelay(segments, dirtyIndex, config.maxCompactionLagMs, now)
  let cleanable: boolean
  let reason: string
  if (cleanableBytes === 0) {
    cleanable = false
    reason =
      uncleanableIndex < activeIndex
        ? `nothing cleanable: segment ${firstUncleanableOffset} has records newer than minCompactionLagMs (${lag} ms)`
        : 'nothing cleanable: no dirty records outside the active segment'
  } else if (dirtyRatio > config.minCleanableDirtyRatio) {
    cleanable = true
    reason = `dirty ratio ${dirtyRatio.toFixed(3)} > minCleanableDirtyRatio ${config.minCleanableDirtyRatio}`
  } else if (delay > 0) {
    cleanable = true
    reason = `max compaction lag exceeded by ${delay} ms`
  } else {
    cleanable = false
    reason = `dirty ratio ${dirtyRatio.toFixed(3)} <= minCleanableDirtyRatio ${config.minCleanableDirtyRatio}`
  }
  return {
    cleanable,
    firstDirtyOffset: firstDirty,
    firstUncleanableOffset,
    cleanBytes,
    cleanableBytes,
    dirtyRatio,
    maxCompactionDelayMs: delay,
    checkpointReset,
    reason,
  }
}

/** A segment as `groupSegments` sees it. */
export interface GroupableSegment {
  baseOffset: number
  /** Exclusive upper bound of its offsets (next segment's base, or the end of the cleaned range for the last). */
  endOffset: number
  size: number
  /** Bytes of its `.index`, when known (counted against maxIndexBytes). */
  offsetIndexBytes?: number
  /** Bytes of its `.timeindex`, when known (counted against maxIndexBytes). */
  timeIndexBytes?: number
}

const INT32_MAX = 0x7fffffff

/**
 * Splits consecutive segments into groups that each become one cleaned segment (Kafka's
 * `groupSegmentsBySize`). A group grows while its summed size <= segmentBytes, its summed offset-index and
 * time-index sizes each <= maxIndexBytes, and (for non-empty segments) the last offset it would cover minus
 * the group's base fits an int32. Each group has at least one segment.
 */
export function groupSegments<T extends GroupableSegment>(
  segments: readonly T[],
  segmentBytes: number,
  maxIndexBytes: number,
): T[][] {
  const groups: T[][] = []
  let i = 0
  while (i < segments.length) {
    const first = segments[i]
    const group: T[] = [first]
    let logSize = first.size
    let indexSize = first.offsetIndexBytes ?? 0
    let timeIndexSize = first.timeIndexBytes ?? 0
    i++
    while (i < segments.length) {
      const s = segments[i]
      const fits =
        logSize + s.size <= segmentBytes &&
        indexSize + (s.offsetIndexBytes ?? 0) <= maxIndexBytes &&
        timeIndexSize + (s.timeIndexBytes ?? 0) <= maxIndexBytes &&
        (s.size === 0 || s.endOffset - 1 - first.baseOffset <= INT32_MAX)
      if (!fits) break
      group.push(s)
      logSize += s.size
      indexSize += s.offsetIndexBytes ?? 0
      timeIndexSize += s.timeIndexBytes ?? 0
      i++
    }
    groups.push(group)
  }
  return groups
}
