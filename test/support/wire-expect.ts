/** Assertions shared by the wire client tests (vitest only: the client scripts import wire-records.ts, not this). */
import { expect } from 'vitest'
import { type Acked, type Consumed, tp } from './wire-records.js'

/** `consumed` is exactly the acknowledged records, each once: same (partition, offset) set, keys matching. */
export function expectExactly(consumed: readonly Consumed[], acked: readonly Acked[]): void {
  const seen = new Map<string, string>()
  const dup: string[] = []
  for (const m of consumed) {
    const k = tp(m.partition, m.offset)
    if (seen.has(k)) dup.push(k)
    seen.set(k, m.key)
  }
  expect(dup, 'records delivered twice').toEqual([])
  const want = new Map(acked.map((x) => [tp(x.partition, x.offset), `k${x.i}`]))
  const missing = [...want.keys()].filter((k) => !seen.has(k))
  const extra = [...seen.keys()].filter((k) => !want.has(k))
  expect(missing, 'acknowledged records never consumed').toEqual([])
  expect(extra, 'records consumed that this phase did not produce').toEqual([])
  for (const [k, key] of seen) expect(key, k).toBe(want.get(k))
}
