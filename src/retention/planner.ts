/**
 * Retention planner: decides how many of a partition's oldest segments retention deletes. Pure — no I/O, the
 * clock is passed in — so every rule can be tested on hand-built segment lists; `retention.ts` applies the plan.
 *
 * Kafka's rules (`UnifiedLog.deleteOldSegments`), applied in this order, each to the
 * segments the previous rules left:
 * 1. Log start offset breach (always, whatever the cleanup policy): a segment goes when its *next* segment's base
 *    offset is <= logStartOffset, i.e. every offset it holds is below the log start. The last segment has no next
 *    segment, so this rule never claims it (Kafka: `nextSegmentOpt.exists(_.baseOffset <= logStartOffset)`).
 * 2. Size (only when the policy includes `delete` and retentionBytes >= 0): when the total size of the remaining
 *    segments, active included, is >= retentionBytes, let excess = size - retentionBytes and delete the oldest
 *    segments while `excess - segment.size >= 0`, subtracting as it goes. The log never drops below the limit and
 *    may exceed it by up to one segment.
 * 3. Time (only when the policy includes `delete` and retentionMs >= 0): delete while
 *    `now - segment.largestTimestamp > retentionMs`. One fresh record keeps its whole segment (and, because only a
 *    prefix is deleted, every later one) alive. A segment with no record timestamp (largestTimestamp -1) is never
 *    deleted by time: Kafka falls back to the file's mtime there, which seglog does not track — and treating -1 as
 *    a timestamp would make such a segment look 55 years old and delete it at once.
 *
 * Common walk (Kafka's `deletableSegments`): start at the oldest remaining segment and stop at the first one that
 * does not qualify — a rule only ever claims a prefix. A segment qualifies only when its end offset (next base, or
 * the log end for the last) is <= the high watermark (single node: the log end offset), the rule's predicate holds,
 * and it is not an empty last segment.
 *
 * Invariants of the plan:
 * - `deleteCount` = reasons.logStartOffset + reasons.size + reasons.time; the deleted segments are
 *   `segments.slice(0, deleteCount)` and `bytes` is the sum of their sizes.
 * - An empty last (active) segment is never in the plan. A non-empty one may be: the log then rolls a new empty
 *   segment at the log end before deleting (PartitionLog.deleteOldestSegments), so the log end offset is kept.
 *   Once every segment is claimed nothing remains for the later rules (the rolled segment is empty).
 * - Idempotent: planning again on the surviving segments with the same clock and policy deletes nothing.
 */
import type { SegmentSummary } from '../log/partition-log.js'

/** The planner reads only these fields of a segment's summary (`PartitionLog.segmentSummaries`). */
export type RetentionSegment = Pick<SegmentSummary, 'baseOffset' | 'endOffset' | 'size' | 'largestTimestamp'>

export interface RetentionPolicy {
  /** retention.ms; -1 (any negative) = keep forever. */
  retentionMs: number
  /** retention.bytes, per partition; -1 (any negative) = unlimited. */
  retentionBytes: number
  /** The cleanup policy includes `delete` (size and time rules apply); the log start rule always applies. */
  deleteEnabled: boolean
}

export interface RetentionPlan {
  /** How many of the oldest segments to delete. */
  deleteCount: number
  /** How many segments each rule claimed (they add up to deleteCount). */
  reasons: { logStartOffset: number; size: number; time: number }
  /** Total size of the segments to delete. */
  bytes: number
}

/** Kafka's retention decision for one partition's segments (oldest first). See the file comment for the rules. */
export function planRetention(
  segments: readonly RetentionSegment[],
  logStartOffset: number,
  logEndOffset: number,
  policy: RetentionPolicy,
  now: number,
): RetentionPlan {
  const n = segments.length
  const highWatermark = logEndOffset
  let next = 0

  /** Claims the longest prefix of segments[next..] satisfying `predicate`; returns how many it claimed. */
  const claim = (predicate: (seg: RetentionSegment, isLast: boolean) => boolean): number => {
    const from = next
    while (next < n) {
      const seg = segments[next]
      const isLast = next === n - 1
      if (seg.endOffset > highWatermark) break
      if (!predicate(seg, isLast)) break
      if (isLast && seg.size === 0) break
      next++
    }
    return next - from
  }

  const reasons = { logStartOffset: 0, size: 0, time: 0 }

  reasons.logStartOffset = claim((seg, isLast) => !isLast && seg.endOffset <= logStartOffset)

  if (policy.deleteEnabled && policy.retentionBytes >= 0 && next < n) {
    let size = 0
    for (let i = next; i < n; i++) size += segments[i].size
    if (size >= policy.retentionBytes) {
      let excess = size - policy.retentionBytes
      reasons.size = claim((seg) => {
        if (excess - seg.size < 0) return false
        excess -= seg.size
        return true
      })
    }
  }

  if (policy.deleteEnabled && policy.retentionMs >= 0 && next < n) {
    reasons.time = claim((seg) => seg.largestTimestamp >= 0 && now - seg.largestTimestamp > policy.retentionMs)
  }

  let bytes = 0
  for (let i = 0; i < next; i++) bytes += segments[i].size
  return { deleteCount: next, reasons, bytes }
}
