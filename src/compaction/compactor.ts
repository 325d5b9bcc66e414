/**
 * compactPartition: one compaction pass of one partition, end to end (Kafka's `LogCleaner.cleanFilthiestLog` for a
 * single log):
 *
 * 1. Summaries of the log's segments (`PartitionLog.segmentSummaries`: sizes from memory, timestamps from each
 *    segment's time index and first batch header).
 * 2. Plan (`planCompaction`) from the checkpointed first dirty offset (`cleaner.checkpoint`); an out-of-range
 *    checkpoint is reset to the log start and rewritten. Not cleanable → resolves `{ cleaned: false, reason }`
 *    without touching anything (unless `force`, which ignores the dirty ratio and lag triggers but still never
 *    touches the active segment or segments held back by minCompactionLagMs).
 * 3. The rewrite on the worker thread (`Cleaner`, `rewrite.ts`) writes `.cleaned` segments.
 * 4. `log.replaceSegments` swaps them in (`.cleaned → .swap → final`), on the main thread.
 * 5. The checkpoint moves to the pass's end offset.
 *
 * Appends and reads go on during step 3 (the worker only reads immutable inactive segments); the swap in step 4 is
 * synchronous and short (renames + two directory fsyncs). If retention removed or truncation changed a replaced
 * segment meanwhile, the swap is abandoned (ABORTED) and the partition is left as it was.
 *
 * Failures: anything that fails before the swap (worker error, abort through `signal`, a closed log) leaves the
 * partition exactly as it was and readable: the `.cleaned` leftovers are deleted, and the promise rejects with a
 * SeglogError (ABORTED for an abort or a lost race; CORRUPT_LOG, IO_ERROR, COMPRESSION_UNSUPPORTED from the worker),
 * so the caller can retry later. Callers run one pass over a log at a time (the engine's housekeeping runs every
 * pass through one serializer).
 */
import type { CleanupPolicy, TopicConfig } from '../config.js'
import { SeglogError } from '../errors.js'
import type { PartitionLog } from '../log/partition-log.js'
import { readCleanerCheckpointFile, writeCleanerCheckpoint } from './checkpoint.js'
import { type Cleaner, sharedCleaner } from './cleaner.js'
import { DEFAULT_COMPACTION_CONFIG } from './compaction-config.js'
import { DEFAULT_OFFSET_MAP_BYTES, MIN_OFFSET_MAP_BYTES } from './offset-map.js'
import { type CompactionPlan, planCompaction } from './planner.js'
import { type CleanJob, type CleanProgress, removeCleanedFiles } from './rewrite.js'

/** Compaction settings (a topic's config); segment sizes default to the log's own effective config. */
export interface CompactionConfig {
  minCleanableDirtyRatio: number
  minCompactionLagMs: number
  maxCompactionLagMs: number
  deleteRetentionMs: number
  /** 'delete' → the pass is skipped. Default 'compact'. */
  cleanupPolicy?: CleanupPolicy
  segmentBytes?: number
  segmentIndexBytes?: number
  indexIntervalBytes?: number
}

export type CompactionConfigInput = Partial<CompactionConfig> | Partial<TopicConfig>

export interface CompactOptions {
  /** Wall clock of the pass (tombstone horizons, lag rules). Default `Date.now()`. */
  now?: number
  /** Offset map memory budget in bytes. Default 16 MiB. */
  mapBytes?: number
  /** Aborts the pass (terminates the worker, removes `.cleaned` files, rejects ABORTED). */
  signal?: AbortSignal
  /** Run even when the dirty ratio / max lag do not call for it (still only over cleanable segments). */
  force?: boolean
  /** The worker to use. Default: the process-wide `sharedCleaner()`. */
  cleaner?: Cleaner
  onProgress?: (progress: CleanProgress) => void
  /** Test hook passed to `PartitionLog.replaceSegments` (crash injection between swap steps). */
  crashPoint?: (point: string) => void
}

export interface CompactionResult {
  /** True when segments were replaced. */
  cleaned: boolean
  /** Segments of the log before / after the pass. */
  segmentsBefore: number
  segmentsAfter: number
  /** Bytes of the replaced segments / of the segments that replaced them (equal when nothing was cleaned). */
  bytesBefore: number
  bytesAfter: number
  recordsRemoved: number
  tombstonesRemoved: number
  durationMs: number
  /** The checkpoint after the pass: where the next pass starts. */
  firstDirtyOffset: number
  /** Why the pass ran or was skipped. */
  reason: string
  plan: CompactionPlan | null
  /** True when the offset map filled: only a prefix of the dirty range was cleaned. */
  mapFull: boolean
  /** Why a damaged `cleaner.checkpoint` was ignored (the pass started at the log start); null when it was fine. */
  checkpointProblem: string | null
}

// ---- the pass ----

function resolveConfig(log: PartitionLog, input: CompactionConfigInput): Required<CompactionConfig> {
  const c = input as Partial<CompactionConfig>
  const eff = log.effectiveConfig
  return {
    minCleanableDirtyRatio: c.minCleanableDirtyRatio ?? DEFAULT_COMPACTION_CONFIG.minCleanableDirtyRatio,
    minCompactionLagMs: c.minCompactionLagMs ?? DEFAULT_COMPACTION_CONFIG.minCompactionLagMs,
    maxCompactionLagMs: c.maxCompactionLagMs ?? DEFAULT_COMPACTION_CONFIG.maxCompactionLagMs,
    deleteRetentionMs: c.deleteRetentionMs ?? DEFAULT_COMPACTION_CONFIG.deleteRetentionMs,
    cleanupPolicy: c.cleanupPolicy ?? 'compact',
    segmentBytes: c.segmentBytes ?? eff.segmentBytes,
    segmentIndexBytes: c.segmentIndexBytes ?? eff.segmentIndexBytes,
    indexIntervalBytes: c.indexIntervalBytes ?? eff.indexIntervalBytes,
  }
}

/**
 * Runs one compaction pass over `log` (see the module header). Resolves with what it did, `cleaned: false` when
 * the plan said there was nothing to do; rejects with a SeglogError when the pass failed or was aborted (the
 * partition is then unchanged and readable).
 */
export function compactPartition(
  log: PartitionLog,
  config: CompactionConfigInput,
  options: CompactOptions = {},
): Promise<CompactionResult> {
  return compactOnce(log, config, options)
}

async function compactOnce(
  log: PartitionLog,
  input: CompactionConfigInput,
  options: CompactOptions,
): Promise<CompactionResult> {
  const started = performance.now()
  const { signal } = options
  if (signal?.aborted) throw new SeglogError('ABORTED', `compaction of ${log.dir} was aborted before it started`)
  if (log.status !== 'open') throw new SeglogError('ENGINE_CLOSED', `partition log ${log.dir} is ${log.status}`)
  const config = resolveConfig(log, input)
  const now = options.now ?? Date.now()
  const mapBytes = options.mapBytes ?? DEFAULT_OFFSET_MAP_BYTES
  if (!Number.isSafeInteger(mapBytes) || mapBytes < MIN_OFFSET_MAP_BYTES) {
    throw new RangeError(`mapBytes must be an integer >= ${MIN_OFFSET_MAP_BYTES}, got ${mapBytes}`)
  }

  const summaries = log.segmentSummaries()
  const segmentsBefore = summaries.length
  const fsys = log.fileSystem
  const { firstDirtyOffset: checkpoint, problem: checkpointProblem } = readCleanerCheckpointFile(log.dir, fsys)
  const skipped = (reason: string, plan: CompactionPlan | null, firstDirty: number): CompactionResult => ({
    cleaned: false,
    segmentsBefore,
    segmentsAfter: log.segmentInfos().length,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
    durationMs: performance.now() - started,
    firstDirtyOffset: firstDirty,
    reason,
    plan,
    mapFull: false,
    checkpointProblem,
  })
  if (config.cleanupPolicy === 'delete') {
    return skipped("cleanup policy is 'delete'", null, checkpoint ?? log.logStartOffset)
  }
  const plan = planCompaction({
    segments: summaries,
    checkpointFirstDirtyOffset: checkpoint,
    logStartOffset: log.logStartOffset,
    logEndOffset: log.logEndOffset,
    config,
    now,
  })
  if (plan.checkpointReset) writeCleanerCheckpoint(log.dir, plan.firstDirtyOffset, fsys)
  const run = plan.cleanable || (options.force === true && plan.cleanableBytes > 0)
  if (!run) return skipped(plan.reason, plan, plan.firstDirtyOffset)

  const job: CleanJob = {
    dir: log.dir,
    segments: summaries
      .filter((s) => s.baseOffset < plan.firstUncleanableOffset)
      .map((s) => ({ baseOffset: s.baseOffset, endOffset: s.endOffset, size: s.size })),
    mapRange: [plan.firstDirtyOffset, plan.firstUncleanableOffset],
    now,
    deleteRetentionMs: config.deleteRetentionMs,
    segmentBytes: config.segmentBytes,
    segmentIndexBytes: config.segmentIndexBytes,
    indexIntervalBytes: config.indexIntervalBytes,
    mapBytes,
    denseFrom: log.compactedEndOffset,
  }
  // Leftovers of an earlier failed pass in this process would otherwise be taken for this pass's output.
  removeCleanedFiles(fsys, log.dir)
  const cleaner = options.cleaner ?? sharedCleaner()
  const reason = options.force && !plan.cleanable ? `forced (${plan.reason})` : plan.reason
  let result: Awaited<ReturnType<Cleaner['run']>>
  try {
    result = await cleaner.run(job, { signal, onProgress: options.onProgress, fs: fsys })
    if (signal?.aborted) throw new SeglogError('ABORTED', `compaction of ${log.dir} was aborted`)
  } catch (err) {
    removeCleanedFiles(fsys, log.dir)
    throw err instanceof SeglogError
      ? err
      : new SeglogError('IO_ERROR', `compaction of ${log.dir} failed: ${String(err)}`, { cause: err })
  }
  if (result.newSegments.length === 0) {
    if (result.endOffset > plan.firstDirtyOffset) writeCleanerCheckpoint(log.dir, result.endOffset, fsys)
    return { ...skipped('the pass made no progress', plan, Math.max(result.endOffset, plan.firstDirtyOffset)) }
  }
  try {
    log.replaceSegments(result.newSegments, result.replacedBaseOffsets, {
      expectedSizes: result.replacedSizes,
      crashPoint: options.crashPoint,
    })
  } catch (err) {
    removeCleanedFiles(fsys, log.dir)
    throw err
  }
  writeCleanerCheckpoint(log.dir, result.endOffset, fsys)
  return {
    cleaned: true,
    segmentsBefore,
    segmentsAfter: log.segmentInfos().length,
    bytesBefore: result.bytesBefore,
    bytesAfter: result.bytesAfter,
    recordsRemoved: result.recordsRemoved,
    tombstonesRemoved: result.tombstonesRemoved,
    durationMs: performance.now() - started,
    firstDirtyOffset: result.endOffset,
    reason,
    plan,
    mapFull: result.mapFull,
    checkpointProblem,
  }
}
