/**
 * The read side of the engine: `read`, `offsets`, `offsetForTimestamp`, `stream`, and `waitPast`, the one wait
 * for an append that live streams and consumers share.
 *
 * Invariants: a read never changes a partition. A waiter is woken by every append to its partition, by the
 * partition being retired (topic deleted, engine closing) and by its signal or `WaitCancel`; it re-checks for itself, so a spurious
 * wake-up is harmless, and `waitPast` checks the log end before it registers, so an append between a caller's
 * empty read and its wait is never missed (no lost wake-up). Waiters hold no resources once woken.
 *
 * Concurrency: any number of reads, streams and waits run at once on the event loop; reads are synchronous.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { checkBoolean, checkInteger, describeValue } from '../check.js'
import { SeglogError } from '../errors.js'
import { decodeHeaders, decodeValue } from '../format.js'
import { holdProcess } from '../keep-alive.js'
import type { SeglogRecord } from '../records.js'
import type { DecodedRecord } from '../segment/record-batch.js'
import type { EngineContext, PartitionState, TopicState } from './context.js'

export interface ReadOptions {
  maxRecords?: number
  maxBytes?: number
}

export type StreamFrom = number | 'earliest' | 'latest' | { timestamp: number }

export interface StreamOptions {
  from?: StreamFrom
  /** Keep waiting for new records at the log end instead of finishing. */
  live?: boolean
  signal?: AbortSignal
  /** Records fetched per read (default 500). */
  maxRecords?: number
}

/** How the reads room finds topics and partitions (the topic registry). */
export interface TopicLookup {
  /** The topic, or TOPIC_NOT_FOUND (TypeError for a non-string). */
  topic(name: string): TopicState
  /** The partition, or PARTITION_NOT_FOUND (TypeError for a non-integer). */
  partition(topic: TopicState, partition: number): PartitionState
  /** The current state of a topic, undefined when it does not exist. */
  find(name: string): TopicState | undefined
}

/** Wakes every caller waiting on `p` (after an append, or when the partition is retired). */
export function wake(p: PartitionState): void {
  if (p.waiters.size === 0) return
  const waiters = [...p.waiters]
  p.waiters.clear()
  for (const w of waiters) w()
}

/**
 * Ends a wait early, as an aborted AbortSignal does, for a caller that waits over and over: a consumer's partition
 * loop waits at the log end every time it catches up (in T1 about one wait per batch read, ~12,000 per million
 * records). Why not an AbortSignal: an AbortController plus an add/removeEventListener per wait cost ~135 ms of a
 * 3.2 s T1 profile; this is one field write per wait. `cancel()` ends the wait in progress, if any (a canceller
 * serves one wait at a time; a new wait ends the one before); with none in progress it does nothing, so the caller
 * checks its own reasons to stop before it waits (synchronously: nothing runs in between).
 */
export class WaitCancel {
  /** The wait in progress (its resolver), null when there is none. Set and cleared by `waitPast`. */
  current: (() => void) | null = null

  cancel(): void {
    const current = this.current
    if (current !== null) current()
  }
}

/**
 * Resolves once `p`'s log end offset is above `offset` (a record at `offset` exists; callers pass the next offset
 * they want to read): at once if it already is, or if the engine is not open or
 * `signal` aborted; else at the next append, retirement of the partition, abort or `WaitCancel.cancel()`. Never
 * rejects.
 */
export function waitPast(
  ctx: EngineContext,
  p: PartitionState,
  offset: number,
  signal?: AbortSignal | WaitCancel,
): Promise<void> {
  if (!ctx.isOpen()) return Promise.resolve()
  let end: number
  try {
    end = p.log.logEndOffset
  } catch {
    // The partition's first-use open failed: the caller's next read meets (and reports) the error.
    return Promise.resolve()
  }
  if (end > offset) return Promise.resolve()
  if (signal instanceof WaitCancel) {
    return new Promise<void>((resolve) => {
      const done = () => {
        p.waiters.delete(done)
        if (signal.current === done) signal.current = null
        resolve()
      }
      signal.cancel()
      signal.current = done
      p.waiters.add(done)
    })
  }
  if (signal?.aborted) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const done = () => {
      p.waiters.delete(done)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    p.waiters.add(done)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** Waits between a read-only log's retries of a read its owner's work cut short (~2.5 s in all). */
const READER_RETRY_MS = [5, 10, 20, 40, 80, 160, 320, 640, 1280]

/** A read failure that an owner's retention or compaction can cause in a reader of its directory. */
function ownerMayCause(err: unknown): boolean {
  return (
    err instanceof SeglogError && ((err.code === 'IO_ERROR' && err.errno === 'ENOENT') || err.code === 'CORRUPT_LOG')
  )
}

export class Reads {
  constructor(
    private readonly ctx: EngineContext,
    private readonly topics: TopicLookup,
  ) {}

  private toRecord(t: TopicState, partition: number, r: DecodedRecord): SeglogRecord {
    return {
      topic: t.record.name,
      partition,
      offset: r.offset,
      timestamp: r.timestamp,
      key: r.key,
      value: decodeValue(t.config.format, r.value, r.offset),
      headers: decodeHeaders(r.headers),
    }
  }

  /**
   * Records of one partition with offset >= `offset`, in order: `[]` at the log end, OFFSET_OUT_OF_RANGE below
   * the log start or above the log end.
   */
  read(topic: string, partition: number, offset: number, options: ReadOptions): SeglogRecord[] {
    const { t, p, limits } = this.checkRead(topic, partition, offset, options)
    return p.log.read(offset, limits).map((r) => this.toRecord(t, partition, r))
  }

  /**
   * `read`, for a read-only open: a read that a segment's disappearance or replacement by the owner (retention,
   * compaction's swap) cut short is retried, the partition refreshed, after a short wait while the owner finishes.
   */
  async readSettled(topic: string, partition: number, offset: number, options: ReadOptions): Promise<SeglogRecord[]> {
    const { t, p, limits } = this.checkRead(topic, partition, offset, options)
    let records: DecodedRecord[]
    try {
      records = p.log.read(offset, limits)
    } catch (err) {
      records = await this.retryRead(p, offset, limits, err)
    }
    return records.map((r) => this.toRecord(t, partition, r))
  }

  /**
   * After `first` failed a read of a read-only log: while the failure is one an owner's ordinary work causes
   * (a segment file gone, or replaced so that what was seen of it no longer holds), waits, refreshes and reads
   * again, for up to ~2.5 s; rethrows anything else, and the last failure when the wait runs out. An owner's
   * own logs never see this (their files change only through them).
   */
  private async retryRead(
    p: PartitionState,
    offset: number,
    limits: { maxRecords?: number; maxBytes?: number },
    first: unknown,
  ): Promise<DecodedRecord[]> {
    let err = first
    for (const ms of READER_RETRY_MS) {
      if (!p.log.readOnly || !ownerMayCause(err) || !this.ctx.isOpen()) throw err
      await sleep(ms)
      try {
        p.log.refresh()
        return p.log.read(offset, limits)
      } catch (e) {
        err = e
      }
    }
    throw err
  }

  private checkRead(
    topic: string,
    partition: number,
    offset: number,
    options: ReadOptions,
  ): { t: TopicState; p: PartitionState; limits: { maxRecords?: number; maxBytes?: number } } {
    this.ctx.assertOpen()
    const t = this.topics.topic(topic)
    const p = this.topics.partition(t, partition)
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) {
      throw new TypeError(`offset must be an integer, got ${String(offset)}`)
    }
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const { maxRecords, maxBytes } = options
    if (maxRecords !== undefined && (!Number.isInteger(maxRecords) || maxRecords < 1)) {
      throw new TypeError('maxRecords must be a positive integer')
    }
    if (maxBytes !== undefined && (!Number.isInteger(maxBytes) || maxBytes < 1)) {
      throw new TypeError('maxBytes must be a positive integer')
    }
    return { t, p, limits: { maxRecords, maxBytes } }
  }

  offsets(topic: string, partition: number): { logStartOffset: number; logEndOffset: number } {
    this.ctx.assertOpen()
    const p = this.topics.partition(this.topics.topic(topic), partition)
    return { logStartOffset: p.log.logStartOffset, logEndOffset: p.log.logEndOffset }
  }

  /** First offset whose timestamp >= `timestamp`, or null. */
  offsetForTimestamp(topic: string, partition: number, timestamp: number): number | null {
    this.ctx.assertOpen()
    const p = this.topics.partition(this.topics.topic(topic), partition)
    if (typeof timestamp !== 'number' || Number.isNaN(timestamp)) throw new TypeError('timestamp must be a number')
    return p.log.offsetForTimestamp(timestamp)
  }

  /** `waitPast` by topic and partition number; resolves at once for a partition that does not exist. */
  waitPast(topic: string, partition: number, offset: number, signal?: AbortSignal | WaitCancel): Promise<void> {
    const p = this.topics.find(topic)?.partitions[partition]
    if (p === undefined) return Promise.resolve()
    return waitPast(this.ctx, p, offset, signal)
  }

  /**
   * Async iterator over one partition from `from` ('earliest' default). With `live: true` it waits at the log
   * end for new appends (woken by the append itself, no polling) until `signal` aborts (ABORTED), the topic is
   * deleted or the engine closes (the iteration then ends). `break` releases everything it held.
   */
  stream(topic: string, partition: number, options: StreamOptions): AsyncGenerator<SeglogRecord, void, undefined> {
    this.ctx.assertOpen()
    const t = this.topics.topic(topic)
    const p = this.topics.partition(t, partition)
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const { from = 'earliest', live = false, signal, maxRecords = 500 } = options
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal')
    checkBoolean('live', live)
    checkInteger('maxRecords', maxRecords, 1)
    if (typeof from === 'number') {
      if (!Number.isSafeInteger(from)) throw new TypeError(`from must be an integer offset, got ${describeValue(from)}`)
    } else if (
      from !== 'earliest' &&
      from !== 'latest' &&
      (from === null || typeof from !== 'object' || !Number.isFinite(from.timestamp))
    ) {
      throw new TypeError("from must be an offset, 'earliest', 'latest' or { timestamp } with a finite timestamp")
    }
    return this.streamGenerator(t, p, from, live, signal, maxRecords)
  }

  private async *streamGenerator(
    t: TopicState,
    p: PartitionState,
    from: StreamFrom,
    live: boolean,
    signal: AbortSignal | undefined,
    maxRecords: number,
  ): AsyncGenerator<SeglogRecord, void, undefined> {
    const aborted = () =>
      new SeglogError('ABORTED', `stream of ${t.record.name}-${p.index} was aborted`, { cause: signal?.reason })
    if (signal?.aborted) throw aborted()
    let next: number
    if (from === 'earliest') next = p.log.logStartOffset
    else if (from === 'latest') next = p.log.logEndOffset
    else if (typeof from === 'number') next = from
    else next = p.log.offsetForTimestamp(from.timestamp) ?? p.log.logEndOffset
    for (;;) {
      if (signal?.aborted) throw aborted()
      if (!this.ctx.isOpen() || this.topics.find(t.record.name) !== t) return
      let batch: DecodedRecord[]
      try {
        batch = p.log.read(next, { maxRecords })
      } catch (err) {
        batch = await this.retryRead(p, next, { maxRecords }, err)
      }
      if (batch.length > 0) {
        for (const r of batch) {
          yield this.toRecord(t, p.index, r)
          if (signal?.aborted) throw aborted()
        }
        next = batch[batch.length - 1].offset + 1
        continue
      }
      if (!live) return
      // The iteration is awaiting this wait: it keeps the process alive until an append, the signal or close.
      const release = holdProcess()
      try {
        await waitPast(this.ctx, p, next, signal)
      } finally {
        release()
      }
    }
  }
}
