/**
 * The per-thread gate that starts partition logs' fsync rounds (group commit), and decides when a round may run
 * on the calling thread instead of the libuv pool.
 *
 * A `flush()` never starts an fsync itself: it asks for a round, and every request of one event-loop turn is
 * served together from a `setImmediate` callback, i.e. after the microtasks and I/O callbacks of that turn have
 * run. Why: when an fsync completes, all of its waiters resume in one burst of microtasks and append again; had
 * the first of them started the next fsync at once, it would carry that one append and the other 255 would wait
 * for a third round. Measured (E2, 256 appenders, 1 partition): 127.5 appends per fsync when the first flush of a
 * turn started the fsync, 256 with the gate.
 *
 * The lone-waiter rule: a round runs with `fsyncSync` on the calling thread when it is the only flush asked for
 * in its turn (one waiter, one log), no log's asynchronous round is in flight in this thread, and fsyncs have
 * been fast lately (moving average ≤ `LONE_SYNC_MAX_MS`). Why: the async fsync's hop through the thread pool
 * (submit, wake a pool thread, wake the loop back) cost 40–100 µs of a ~0.2 ms durable append here. The cost
 * is that the event loop is blocked for that fsync; nothing else can run meanwhile, so the rule applies only
 * when nobody else asked for a flush in the same turn (no group commit is lost: a turn with two or more
 * requests, or a request while an async round runs, goes to the pool as before), and the average bounds how
 * long one such block lasts: a slow or busy disk (fsyncs of several ms) switches it off until fsyncs are fast
 * again (async rounds keep feeding the average).
 */

/** A log as the gate sees it. */
export interface FsyncRoundOwner {
  /** Starts the log's requested round: on this thread when `now`, else on the pool. */
  startRound(now: boolean): void
}

/** Longest fsync (moving average) for which a lone waiter's round may block the event loop. */
export const LONE_SYNC_MAX_MS = 1
/** Weight of the newest fsync time in the moving average. */
const AVERAGE_WEIGHT = 0.2

export class FsyncGate {
  private owners: FsyncRoundOwner[] = []
  private requests = 0
  private scheduled = false
  private asyncInFlight = 0
  private averageMs = 0
  /** Rounds started, by how (for tests and benchmarks). */
  readonly stats = { onThread: 0, onPool: 0 }

  /**
   * One more waiter for `owner`'s next round; `first` when that round was not requested yet in this turn (the
   * owner is then served by this turn's gate).
   */
  request(owner: FsyncRoundOwner, first: boolean): void {
    this.requests++
    if (first) this.owners.push(owner)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.serve)
    }
  }

  /** An asynchronous round started (`done` is called once when its fsyncs settled). */
  asyncStarted(): () => void {
    this.asyncInFlight++
    const started = performance.now()
    let settled = false
    return () => {
      if (settled) return
      settled = true
      this.asyncInFlight--
      this.record(performance.now() - started)
    }
  }

  /** How long an fsync took (counted at most `2 * LONE_SYNC_MAX_MS`, so one stall does not switch the rule off). */
  record(ms: number): void {
    this.averageMs += (Math.min(ms, 2 * LONE_SYNC_MAX_MS) - this.averageMs) * AVERAGE_WEIGHT
  }

  /** The moving average of fsync times (ms). */
  get fsyncAverageMs(): number {
    return this.averageMs
  }

  private readonly serve = (): void => {
    this.scheduled = false
    const owners = this.owners
    const lone = this.requests === 1 && owners.length === 1 && this.asyncInFlight === 0
    this.owners = []
    this.requests = 0
    const now = lone && this.averageMs <= LONE_SYNC_MAX_MS
    if (now) this.stats.onThread++
    else this.stats.onPool += owners.length
    for (const owner of owners) owner.startRound(now)
  }
}

/** The gate of this thread (every log of a thread shares the event loop and the libuv pool). */
export const fsyncGate = new FsyncGate()

/** The callers of one round: one promise they all wait on. */
export class RoundWaiters {
  readonly promise: Promise<void>
  resolve!: () => void
  reject!: (err: unknown) => void
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }
}
