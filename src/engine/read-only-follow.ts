/**
 * Following an owner's appends from a read-only open, without polling the disk in a busy loop.
 *
 * A partition is followed while someone waits on it (a live stream at the log end, a consumer's wait): the first
 * waiter starts an `fs.watch` on the partition directory, which reports every write to its files (the active
 * segment's appends) and every rename (rolls, retention, compaction swaps, `partition.state` rewrites). Events are
 * coalesced per partition into one refresh on the next turn of the event loop; a refresh that changed what a
 * reader sees wakes the partition's waiters, who re-read for themselves. A slow poll runs beside the watch (every
 * `POLL_MS`), since file watches can miss events (network file systems, a directory replaced under the watch), and
 * replaces it where watching fails (`FALLBACK_POLL_MS`). A partition nobody waited on for `IDLE_MS` is no longer
 * followed. Watches and timers never keep the process alive: the waiting caller does (see keep-alive.ts).
 *
 * A partition whose directory has gone (its topic deleted) makes the topic view refresh, which retires the topic
 * and wakes its waiters.
 *
 * Invariants: at most one watch and one timer per followed partition; after `close()` none.
 */
import * as nodeFs from 'node:fs'
import type { ReadOnlyPartition } from './read-only-topics.js'
import { wake } from './reads.js'

/** The poll beside a working watch: a safety net, so slow. */
const POLL_MS = 1000
/** The poll where no watch could be set up. */
const FALLBACK_POLL_MS = 250
/** A partition without waiters for this long stops being followed. */
const IDLE_MS = 5000

interface Followed {
  watcher: nodeFs.FSWatcher | null
  timer: NodeJS.Timeout
  pending: boolean
  /** When the partition last had a waiter. */
  lastWaited: number
}

export class Follower {
  private readonly followed = new Map<ReadOnlyPartition, Followed>()
  private closed = false

  constructor(
    private readonly hooks: {
      /** Brings the partition's log up to date; true when what a reader sees changed. */
      refresh(p: ReadOnlyPartition): boolean
      /** The partition's directory has gone. */
      gone(p: ReadOnlyPartition): void
    },
  ) {}

  /** Starts following `p` (idempotent); a refresh runs at once, so nothing between the caller's read and the watch is missed. */
  follow(p: ReadOnlyPartition): void {
    if (this.closed) return
    const f = this.followed.get(p)
    if (f !== undefined) {
      f.lastWaited = Date.now()
      return
    }
    let watcher: nodeFs.FSWatcher | null = null
    try {
      watcher = nodeFs.watch(p.dir, { persistent: false }, () => this.schedule(p))
      watcher.on('error', () => this.dropWatch(p))
    } catch {
      watcher = null
    }
    const timer = setInterval(() => this.tick(p), watcher === null ? FALLBACK_POLL_MS : POLL_MS)
    timer.unref()
    this.followed.set(p, { watcher, timer, pending: false, lastWaited: Date.now() })
    this.schedule(p)
  }

  /** Stops following `p`. */
  unfollow(p: ReadOnlyPartition): void {
    const f = this.followed.get(p)
    if (f === undefined) return
    this.followed.delete(p)
    clearInterval(f.timer)
    f.watcher?.close()
  }

  close(): void {
    this.closed = true
    for (const p of [...this.followed.keys()]) this.unfollow(p)
  }

  /** A watch that failed: the poll goes on alone, faster. */
  private dropWatch(p: ReadOnlyPartition): void {
    const f = this.followed.get(p)
    if (f === undefined || f.watcher === null) return
    f.watcher.close()
    f.watcher = null
    clearInterval(f.timer)
    f.timer = setInterval(() => this.tick(p), FALLBACK_POLL_MS)
    f.timer.unref()
  }

  private tick(p: ReadOnlyPartition): void {
    const f = this.followed.get(p)
    if (f === undefined) return
    if (p.waiters.size > 0) f.lastWaited = Date.now()
    else if (Date.now() - f.lastWaited > IDLE_MS) {
      this.unfollow(p)
      return
    }
    this.schedule(p)
  }

  /** One refresh on the next turn of the event loop, however many events arrive before it. */
  private schedule(p: ReadOnlyPartition): void {
    const f = this.followed.get(p)
    if (f === undefined || f.pending) return
    f.pending = true
    setImmediate(() => {
      f.pending = false
      if (this.followed.get(p) !== f) return
      let changed: boolean
      try {
        changed = this.hooks.refresh(p)
      } catch {
        // A refresh that fails (an I/O error) is retried by the next event or poll; waiters re-read and see it.
        changed = true
      }
      if (p.opened?.gone === true) this.hooks.gone(p)
      else if (changed) wake(p)
    })
  }
}
