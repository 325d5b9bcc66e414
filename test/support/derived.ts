/**
 * Test helper shared by the engine crash and ownership tests: asserts that one partition holds exactly the
 * derived records `keyFor`/`valueFor` describe, densely from offset 0, and returns its log end offset.
 */
import { expect } from 'vitest'
import type { Seglog } from '../../src/main.js'
import { keyFor, valueFor } from './engine-child.js'

export async function expectDerivedPartition(e: Seglog, topic: string, partition: number): Promise<number> {
  const { logStartOffset, logEndOffset } = e.offsets(topic, partition)
  expect(logStartOffset).toBe(0)
  let next = 0
  while (next < logEndOffset) {
    const recs = await e.read(topic, partition, next, { maxRecords: 1000 })
    expect(recs.length).toBeGreaterThan(0)
    for (const r of recs) {
      expect(r.offset).toBe(next)
      expect(r.key?.toString()).toBe(keyFor(partition, r.offset))
      expect((r.value as Buffer).equals(valueFor(topic, partition, r.offset))).toBe(true)
      next++
    }
  }
  return logEndOffset
}
