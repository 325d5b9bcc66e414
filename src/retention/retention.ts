/**
 * Retention pass for one partition: takes the PartitionLog's segment summaries (`segmentSummaries`), asks the pure planner
 * (`planner.ts`, Kafka's log-start → size → time rules) how many of the oldest segments go, and deletes them.
 *
 * Mechanics (all in `PartitionLog.deleteOldestSegments`, Kafka's `deleteSegments`/`deleteSegmentFiles`):
 * - Segments leave the in-memory list first (new reads no longer see them), then their files are renamed
 *   `.deleted` and unlinked after `fileDeleteDelayMs`; leftovers are removed by the sweep at the next open.
 * - The log start offset rises to the base of the first surviving segment (never moves back); reads below it
 *   fail with OFFSET_OUT_OF_RANGE.
 * - When the plan claims every segment (the last one is then non-empty), the log first rolls an empty segment at
 *   the log end offset, so the log end offset is kept and the next append gets it.
 *
 * Invariants: only a prefix of segments is deleted; an empty active segment is never deleted; the log end offset
 * never changes; a second pass with the same clock and policy deletes nothing.
 *
 * Each rule's share is deleted by its own `deleteOldestSegments` call (in rule order), so every
 * `segments-deleted` event names the rule that claimed its segments.
 */
import type { PartitionLog } from '../log/partition-log.js'
import { planRetention, type RetentionPlan, type RetentionPolicy } from './planner.js'

export interface RetentionResult {
  segmentsDeleted: number
  bytesDeleted: number
  /** The log start offset after the pass. */
  logStartOffset: number
  /** How many segments each rule claimed. */
  reasons: RetentionPlan['reasons']
}

/** Reason strings of the `segments-deleted` events, per rule (Kafka's segment deletion reasons). */
export const RETENTION_REASONS = {
  logStartOffset: 'log start offset breach',
  size: 'retention size breach',
  time: 'retention time breach',
} as const

/**
 * Plans retention at `now` and applies it to `log` (which must be open and writable). Returns what was
 * deleted; nothing is deleted when no rule claims a segment.
 */
export function applyRetention(log: PartitionLog, policy: RetentionPolicy, now: number): RetentionResult {
  const segments = log.segmentSummaries()
  const plan = planRetention(segments, log.logStartOffset, log.logEndOffset, policy, now)
  let deleted = 0
  for (const rule of ['logStartOffset', 'size', 'time'] as const) {
    const count = plan.reasons[rule]
    if (count > 0) deleted += log.deleteOldestSegments(count, RETENTION_REASONS[rule])
  }
  // deleted === plan.deleteCount: the planner never claims an empty last segment (the only case the log skips).
  let bytes = 0
  for (let i = 0; i < deleted; i++) bytes += segments[i].size
  return {
    segmentsDeleted: deleted,
    bytesDeleted: bytes,
    logStartOffset: log.logStartOffset,
    reasons: plan.reasons,
  }
}
