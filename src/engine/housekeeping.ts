/**
 * Background work of the engine: retention and compaction passes, on their timers and on demand
 * (`runRetention`, `compact`).
 *
 * Invariants: every pass, retention or compaction, timer or manual, runs through one serializer (`serial`), so
 * at most one pass touches the partitions at a time and a compaction never races a retention pass over the same
 * segments. The timers are unref'd (background work never keeps a process alive), and a timer tick that finds a
 * compaction pass queued or running adds none. A partition whose pass fails is reported (`retention-failed`,
 * `compaction-failed`) and retried at the next pass; a compaction pass that lost a race with another change of
 * its partition (the swap found its segments changed) is re-planned at once, a few times, and then fails with
 * INTERNAL: a caller sees ABORTED only when close() stopped the pass. `stop()` ends the timers, aborts a
 * compaction in progress (its worker is terminated and its `.cleaned` files removed) and waits for the queue.
 *
 * Concurrency: callable at any time on the event loop while the engine is open; passes queue in call order.
 */
import type { Cleaner } from '../compaction/cleaner.js'
import type { CompactionResult } from '../compaction/compactor.js'
import { internalError, ioError, SeglogError } from '../errors.js'
import type { RetentionResult } from '../retention/retention.js'
import type { EngineContext, PartitionState, TopicState } from './context.js'

/**
 * The compaction modules (planner, rewrite, the worker's host) and retention's, loaded by the first pass that
 * needs them. Why: loading them took 6.5–8.7 ms (compaction) and ~1 ms (retention) of every owner's open,
 * measured in a fresh process, and most processes close before a pass ever runs.
 */
let compactionModules: Promise<[typeof import('../compaction/cleaner.js'), typeof import('../compaction/compactor.js')]>
let retentionModule: Promise<typeof import('../retention/retention.js')>

function loadCompaction() {
  compactionModules ??= Promise.all([import('../compaction/cleaner.js'), import('../compaction/compactor.js')])
  return compactionModules
}

function loadRetention() {
  retentionModule ??= import('../retention/retention.js')
  return retentionModule
}

export type PartitionRetention = { topic: string; partition: number } & RetentionResult
export type PartitionCompaction = { topic: string; partition: number } & CompactionResult

export interface HousekeepingOptions {
  /** Retention timer period (ms); 0 = never. */
  retentionIntervalMs: number
  /** Cleaner timer period (ms); 0 = never. */
  cleanerBackoffMs: number
  /** Memory budget of the compaction offset map. */
  cleanerMapBytes: number
}

/** The longest a retention pass opens partitions before it yields to the event loop (ms). */
const RETENTION_SLICE_MS = 5

/** Attempts of one partition's compaction when the swap keeps finding the partition changed meanwhile. */
const COMPACTION_ATTEMPTS = 3

export class Housekeeping {
  private queue: Promise<unknown> = Promise.resolve()
  private compactionsQueued = 0
  private retentionTimer: NodeJS.Timeout | null = null
  private cleanerTimer: NodeJS.Timeout | null = null
  private cleaner: Cleaner | null = null
  private readonly abort = new AbortController()

  constructor(
    private readonly ctx: EngineContext,
    private readonly topics: { all(): Iterable<TopicState> },
    private readonly options: HousekeepingOptions,
  ) {}

  /** Starts the timers (once the engine is open). */
  start(): void {
    const { retentionIntervalMs, cleanerBackoffMs } = this.options
    if (cleanerBackoffMs > 0) {
      this.cleanerTimer = setInterval(() => {
        if (this.ctx.isOpen() && this.compactionsQueued === 0) void this.compact(null, false).catch(() => {})
      }, cleanerBackoffMs)
      this.cleanerTimer.unref()
    }
    if (retentionIntervalMs > 0) {
      this.retentionTimer = setInterval(() => {
        if (this.ctx.isOpen()) void this.runRetention().catch(() => {})
      }, retentionIntervalMs)
      this.retentionTimer.unref()
    }
  }

  /** Ends the timers, aborts a compaction in progress and waits for every queued pass. Never rejects. */
  async stop(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer)
    this.retentionTimer = null
    if (this.cleanerTimer) clearInterval(this.cleanerTimer)
    this.cleanerTimer = null
    this.abort.abort()
    await this.queue.catch(() => {})
    await this.cleaner?.close().catch(() => {})
  }

  /** The one serializer of passes; a pass whose turn comes after close began is ABORTED. */
  private serial<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(() => {
      if (!this.ctx.isOpen() || this.abort.signal.aborted) {
        throw new SeglogError('ABORTED', `${what} was stopped: the engine at ${this.ctx.dir} is closing`)
      }
      return fn()
    })
    this.queue = run.catch(() => {})
    return this.ctx.track(run)
  }

  /** Retention over every topic (Kafka's rules); resolves once it is applied on disk. */
  runRetention(): Promise<PartitionRetention[]> {
    return this.serial('retention', () => this.retentionPass(this.topics.all()))
  }

  /**
   * A compaction pass over `only` (or every compacted topic), `force` ignoring the dirty-ratio and lag triggers.
   * A forced pass rejects with the first partition's failure; a background one reports it and goes on.
   */
  compact(only: TopicState | null, force: boolean): Promise<PartitionCompaction[]> {
    this.compactionsQueued++
    const run = this.serial('compaction', () => this.compactionPass(only ? [only] : [...this.topics.all()], force))
    const done = () => void this.compactionsQueued--
    run.then(done, done)
    return run
  }

  private async retentionPass(topics: Iterable<TopicState>): Promise<PartitionRetention[]> {
    const out: PartitionRetention[] = []
    const { applyRetention } = await loadRetention()
    const now = this.ctx.clock()
    let slice = performance.now()
    for (const t of topics) {
      const policy = {
        retentionMs: t.config.retentionMs,
        retentionBytes: t.config.retentionBytes,
        deleteEnabled: t.config.cleanupPolicy !== 'compact',
      }
      for (const p of t.partitions) {
        // Partitions not used since a clean open are opened here (~0.1 ms each): let the event loop in between, so
        // the first pass over 1,000 such partitions does not hold appends and reads for its whole length.
        if (p.opened === null && performance.now() - slice >= RETENTION_SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve))
          if (!this.ctx.isOpen() || this.abort.signal.aborted) return out
          slice = performance.now()
        }
        const started = performance.now()
        try {
          const result = applyRetention(p.log, policy, now)
          if (result.segmentsDeleted === 0) continue
          const report = { topic: t.record.name, partition: p.index, ...result }
          out.push(report)
          this.ctx.onEvent({ type: 'retention', ...report, durationMs: performance.now() - started })
        } catch (err) {
          const error = ioError(err, 'retention', p.dir)
          this.ctx.onEvent({ type: 'retention-failed', topic: t.record.name, partition: p.index, error })
        }
      }
    }
    return out
  }

  private async compactionPass(topics: readonly TopicState[], force: boolean): Promise<PartitionCompaction[]> {
    const out: PartitionCompaction[] = []
    for (const t of topics) {
      if (t.config.cleanupPolicy === 'delete') continue
      for (const p of t.partitions) {
        if (!this.ctx.isOpen() || this.abort.signal.aborted) return out
        try {
          const result = await this.compactPartition(t, p, force)
          out.push({ topic: t.record.name, partition: p.index, ...result })
          if (result.cleaned) {
            const { plan: _plan, ...rest } = result
            this.ctx.onEvent({ type: 'compaction', topic: t.record.name, partition: p.index, ...rest })
          }
        } catch (err) {
          const error = ioError(err, 'compaction', p.dir)
          if (error.code === 'ABORTED' && !this.ctx.isOpen()) {
            // close() stopped the pass: a manual compact() says so; the background pass just ends.
            if (force) throw error
            return out
          }
          this.ctx.onEvent({ type: 'compaction-failed', topic: t.record.name, partition: p.index, error })
          if (force) throw error
        }
      }
      // Retention of a `compact,delete` topic runs inside the same turn of the serializer.
      if (t.config.cleanupPolicy === 'compact,delete') await this.retentionPass([t])
    }
    return out
  }

  /** One partition's pass, re-planned when its swap found the partition changed meanwhile. */
  private async compactPartition(t: TopicState, p: PartitionState, force: boolean): Promise<CompactionResult> {
    const [{ Cleaner }, { compactPartition: compactLog }] = await loadCompaction()
    for (let attempt = 1; ; attempt++) {
      this.cleaner ??= new Cleaner()
      try {
        return await compactLog(p.log, t.config, {
          now: this.ctx.clock(),
          mapBytes: this.options.cleanerMapBytes,
          signal: this.abort.signal,
          force,
          cleaner: this.cleaner,
        })
      } catch (err) {
        // ABORTED that neither close() nor our signal caused: the swap lost a race with another change of the
        // partition (deleteRecords, a truncation). That is no abort of the caller's: re-plan, then INTERNAL.
        const lostRace =
          err instanceof SeglogError && err.code === 'ABORTED' && this.ctx.isOpen() && !this.abort.signal.aborted
        if (!lostRace) throw err
        if (attempt >= COMPACTION_ATTEMPTS) {
          throw internalError(
            `compaction of ${p.dir} found the partition changed meanwhile ${attempt} times: ${err.message}`,
            { cause: err, path: p.dir },
          )
        }
      }
    }
  }
}
