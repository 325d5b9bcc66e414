/**
 * Kafka's compaction defaults (`min.cleanable.dirty.ratio`, `min/max.compaction.lag.ms`, `delete.retention.ms`):
 * the one source of these numbers; the topic config table (`src/config.ts`) builds on it. A leaf module (it
 * imports nothing), so that table does not load the planner or the log.
 */
export const DEFAULT_COMPACTION_CONFIG = Object.freeze({
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  deleteRetentionMs: 24 * 60 * 60 * 1000,
})
