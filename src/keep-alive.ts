/**
 * Keeps the process alive while a caller awaits seglog work that has no I/O of its own pending: a send waiting
 * for its linger time, a running consumer waiting for records, a live stream waiting at the log end. Background
 * work (retention, cleaner, flush timers) never takes a hold.
 *
 * Invariants: one interval timer per thread, created on the first hold and never cleared; it is ref'd exactly
 * while at least one hold is unreleased, so with no holds it keeps nothing alive. A release function releases
 * its own hold once; calling it again does nothing.
 */

/** The longest delay a Node timer accepts; the timer exists for its ref, not to fire. */
const FOREVER_MS = 2 ** 31 - 1

let holds = 0
let timer: NodeJS.Timeout | null = null

const noop = (): void => {}

/** Takes a hold on the process; returns the function that releases it. */
export function holdProcess(): () => void {
  if (holds++ === 0) {
    // ref()/unref() on one long-lived timer are cheap, unlike creating and clearing a timer per hold.
    if (timer === null) timer = setInterval(noop, FOREVER_MS)
    else timer.ref()
  }
  let released = false
  return () => {
    if (released) return
    released = true
    if (--holds === 0) timer?.unref()
  }
}
