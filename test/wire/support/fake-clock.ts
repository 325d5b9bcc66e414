/**
 * A manual clock for the wire coordinator's tests: time moves only in `advance`, which runs due timers in
 * deadline order (timers scheduled by a running timer run in the same advance when due).
 */
import type { CoordinatorClock } from '../../../src/wire/coordinator.js'

interface Timer {
  at: number
  seq: number
  fn: () => void
}

export class FakeClock implements CoordinatorClock {
  private t = 1_000_000
  private seq = 0
  private readonly timers = new Set<Timer>()

  now(): number {
    return this.t
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.t + ms, seq: this.seq++, fn }
    this.timers.add(timer)
    return timer
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as Timer)
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size
  }

  advance(ms: number): void {
    const until = this.t + ms
    for (;;) {
      let next: Timer | undefined
      for (const timer of this.timers) {
        if (
          timer.at <= until &&
          (next === undefined || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))
        )
          next = timer
      }
      if (next === undefined) break
      this.timers.delete(next)
      this.t = Math.max(this.t, next.at)
      next.fn()
    }
    this.t = until
  }
}
