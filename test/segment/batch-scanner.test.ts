/**
 * BatchScanner and the batch-header checks it shares with LogSegment's read walks (`batchHeaderProblem`,
 * `batchOffsetProblem`), over in-memory segment bytes built with `encodeBatch`.
 */
import { describe, expect, it } from 'vitest'
import { BatchScanner, batchHeaderProblem } from '../../src/segment/batch-scanner.js'
import { encodeBatch, MAGIC_OFFSET, setBatchBaseOffset } from '../../src/segment/record-batch.js'

const BASE = 500

/** Dense batches of the given record counts from BASE, back to back, and where each starts. */
function segmentBytes(counts: number[]): { bytes: Buffer; positions: number[] } {
  const parts: Buffer[] = []
  const positions: number[] = []
  let next = BASE
  let pos = 0
  for (const n of counts) {
    const batch = encodeBatch(
      Array.from({ length: n }, (_, i) => ({ timestamp: 1000 + i, key: `k${next + i}`, value: Buffer.from('v') })),
    )
    setBatchBaseOffset(batch, 0, next)
    positions.push(pos)
    parts.push(batch)
    pos += batch.length
    next += n
  }
  return { bytes: Buffer.concat(parts), positions }
}

function scan(bytes: Buffer, end = bytes.length, maxBatchBytes?: number) {
  const scanner = new BatchScanner((p, l) => Buffer.from(bytes.subarray(p, p + l)), {
    baseOffset: BASE,
    end,
    offsetLimit: Number.POSITIVE_INFINITY,
    dense: true,
    maxBatchBytes,
    chunkBytes: 64,
  })
  const seen: { position: number; lastOffset: number }[] = []
  for (let b = scanner.next(); b !== null; b = scanner.next())
    seen.push({ position: b.position, lastOffset: b.lastOffset })
  return { seen, problem: scanner.problem, position: scanner.position }
}

describe('BatchScanner', () => {
  it('hands out every batch in file order with its position and last offset', () => {
    const { bytes, positions } = segmentBytes([3, 1, 4])
    const r = scan(bytes)
    expect(r.problem).toBeNull()
    expect(r.seen).toEqual([
      { position: positions[0], lastOffset: BASE + 2 },
      { position: positions[1], lastOffset: BASE + 3 },
      { position: positions[2], lastOffset: BASE + 7 },
    ])
    expect(r.position).toBe(bytes.length)
  })

  it('stops at a batch whose magic is not 2 and says so', () => {
    const { bytes, positions } = segmentBytes([2, 2, 2])
    bytes[positions[1] + MAGIC_OFFSET] = 1
    const r = scan(bytes)
    expect(r.seen.map((b) => b.position)).toEqual([positions[0]])
    expect(r.problem).toBe(`batch at position ${positions[1]} has magic 1 (expected 2)`)
    expect(r.position).toBe(positions[1])
  })

  it('stops at a batch larger than the maximum or running past the bytes to scan', () => {
    const { bytes, positions } = segmentBytes([2, 2])
    const second = bytes.length - positions[1]
    expect(scan(bytes, bytes.length, second - 1).problem).toMatch(/has an invalid size/)
    expect(scan(bytes, bytes.length - 1).problem).toBe(
      `batch at position ${positions[1]} needs ${second} bytes, only ${second - 1} remain in the file`,
    )
  })

  it('stops at a batch whose base offset leaves a gap in a segment never compacted', () => {
    const { bytes, positions } = segmentBytes([2, 2])
    setBatchBaseOffset(bytes, positions[1], BASE + 3)
    const r = scan(bytes)
    expect(r.seen).toHaveLength(1)
    expect(r.problem).toMatch(/leaves a gap after offset 501/)
  })
})

describe('batchHeaderProblem', () => {
  it('accepts a whole v2 batch and names what is wrong with a broken one', () => {
    const { bytes } = segmentBytes([2])
    expect(batchHeaderProblem(bytes, 0, 0, bytes.length)).toBeNull()
    const shortLength = Buffer.from(bytes)
    shortLength.writeInt32BE(10, 8)
    expect(batchHeaderProblem(shortLength, 0, 0, bytes.length)).toBe('batch at position 0 has an invalid size 22')
    const badMagic = Buffer.from(bytes)
    badMagic[MAGIC_OFFSET] = 3
    expect(batchHeaderProblem(badMagic, 0, 0, bytes.length)).toBe('batch at position 0 has magic 3 (expected 2)')
  })
})
