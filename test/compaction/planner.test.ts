import { describe, expect, it } from 'vitest'
import {
  type CompactionPlanConfig,
  groupSegments,
  type PlanInput,
  planCompaction,
  type SegmentSummary,
} from '../../src/compaction/planner.js'
import { mulberry32 } from '../support/random.js'

const NOW = 1_700_000_000_000
const BASE_CONFIG: CompactionPlanConfig = {
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
}

/** Segments of 100 offsets each; sizes and timestamps given per segment (the last is active). */
function segs(sizes: number[], largest: number[] = [], firstBatch: number[] = []): SegmentSummary[] {
  return sizes.map((size, i) => ({
    baseOffset: i * 100,
    endOffset: (i + 1) * 100,
    size,
    largestTimestamp: largest[i] ?? NOW - 1_000_000,
    firstBatchTimestamp: firstBatch[i] ?? NOW - 2_000_000,
  }))
}

function plan(segments: SegmentSummary[], over: Partial<PlanInput> = {}, config: Partial<CompactionPlanConfig> = {}) {
  return planCompaction({
    segments,
    checkpointFirstDirtyOffset: null,
    logStartOffset: segments[0].baseOffset,
    logEndOffset: segments[segments.length - 1].endOffset,
    now: NOW,
    ...over,
    config: { ...BASE_CONFIG, ...config },
  })
}

describe('planCompaction', () => {
  it('starts at the log start without a checkpoint and stops at the active segment', () => {
    const p = plan(segs([1000, 1000, 1000, 500]))
    expect(p.firstDirtyOffset).toBe(0)
    expect(p.firstUncleanableOffset).toBe(300)
    expect(p.cleanBytes).toBe(0)
    expect(p.cleanableBytes).toBe(3000)
    expect(p.dirtyRatio).toBe(1)
    expect(p.cleanable).toBe(true)
  })

  it('computes the dirty ratio from the checkpoint: clean bytes before it, cleanable bytes after it', () => {
    const p = plan(segs([100, 300, 600, 1000, 50]), { checkpointFirstDirtyOffset: 200 })
    expect(p.cleanBytes).toBe(400)
    expect(p.cleanableBytes).toBe(1600)
    expect(p.dirtyRatio).toBeCloseTo(0.8, 12)
    expect(p.cleanable).toBe(true)
  })

  it('counts the segment holding a mid-segment checkpoint as dirty', () => {
    const p = plan(segs([100, 300, 600, 50]), { checkpointFirstDirtyOffset: 150 })
    expect(p.firstDirtyOffset).toBe(150)
    expect(p.cleanBytes).toBe(100)
    expect(p.cleanableBytes).toBe(900)
  })

  it('is not cleanable when the ratio equals the minimum (strictly greater is required)', () => {
    const p = plan(segs([500, 500, 10]), { checkpointFirstDirtyOffset: 100 })
    expect(p.dirtyRatio).toBe(0.5)
    expect(p.cleanable).toBe(false)
    expect(p.reason).toMatch(/<= minCleanableDirtyRatio/)
  })

  it('never includes the active segment, even when only it holds dirty data', () => {
    const p = plan(segs([1000, 1000, 5000]), { checkpointFirstDirtyOffset: 200 })
    expect(p.firstUncleanableOffset).toBe(200)
    expect(p.cleanableBytes).toBe(0)
    expect(p.cleanable).toBe(false)
  })

  it('with a single (active) segment there is nothing to clean', () => {
    const p = plan(segs([5000]))
    expect(p.firstUncleanableOffset).toBe(0)
    expect(p.cleanableBytes).toBe(0)
    expect(p.dirtyRatio).toBe(0)
    expect(p.cleanable).toBe(false)
  })

  it('resets a checkpoint below the log start or above the log end to the log start', () => {
    const below = plan(segs([100, 100, 100, 10]), { checkpointFirstDirtyOffset: 50, logStartOffset: 120 })
    expect(below.firstDirtyOffset).toBe(120)
    expect(below.checkpointReset).toBe(true)
    const above = plan(segs([100, 100, 100, 10]), { checkpointFirstDirtyOffset: 999 })
    expect(above.firstDirtyOffset).toBe(0)
    expect(above.checkpointReset).toBe(true)
    const fine = plan(segs([100, 100, 100, 10]), { checkpointFirstDirtyOffset: 100 })
    expect(fine.checkpointReset).toBe(false)
  })

  it('minCompactionLagMs keeps segments with recent records dirty', () => {
    const lag = 60_000
    const largest = [NOW - 10 * lag, NOW - 5 * lag, NOW - lag / 2, NOW - 10 * lag, NOW]
    const p = plan(segs([1000, 1000, 1000, 1000, 10], largest), {}, { minCompactionLagMs: lag })
    // Segment 2 is too recent: the map stops there even though segment 3 is old.
    expect(p.firstUncleanableOffset).toBe(200)
    expect(p.cleanableBytes).toBe(2000)
    const none = plan(segs([1000, 1000, 10], [NOW, NOW - 10 * lag, NOW]), {}, { minCompactionLagMs: lag })
    expect(none.firstUncleanableOffset).toBe(0)
    expect(none.cleanable).toBe(false)
    expect(none.reason).toMatch(/minCompactionLagMs/)
  })

  it('maxCompactionLagMs forces a pass below the dirty ratio when the oldest dirty segment is overdue', () => {
    const lag = 3_600_000
    const sizes = [10_000, 10_000, 10_000, 100, 10]
    const firstBatch = [NOW - 10 * lag, NOW - 10 * lag, NOW - 10 * lag, NOW - 2 * lag, NOW]
    const p = plan(segs(sizes, [], firstBatch), { checkpointFirstDirtyOffset: 300 }, { maxCompactionLagMs: lag })
    expect(p.dirtyRatio).toBeLessThan(0.5)
    expect(p.maxCompactionDelayMs).toBe(lag)
    expect(p.cleanable).toBe(true)
    expect(p.reason).toMatch(/max compaction lag/)
    const young = plan(
      segs(sizes, [], [...firstBatch.slice(0, 3), NOW - lag / 2, NOW]),
      { checkpointFirstDirtyOffset: 300 },
      { maxCompactionLagMs: lag },
    )
    expect(young.cleanable).toBe(false)
  })

  it('maxCompactionLagMs ignores segments without a first batch timestamp', () => {
    const p = plan(
      segs([10_000, 100, 10], [], [NOW, -1, NOW]),
      { checkpointFirstDirtyOffset: 100 },
      { maxCompactionLagMs: 1 },
    )
    expect(p.maxCompactionDelayMs).toBe(0)
    expect(p.cleanable).toBe(false)
  })

  it('property: the plan never reaches the active segment and its numbers are consistent (seed 0xc1ea)', () => {
    const SEED = 0xc1ea
    const rng = mulberry32(SEED)
    for (let round = 0; round < 2000; round++) {
      const n = 1 + Math.floor(rng() * 8)
      const segments: SegmentSummary[] = []
      let base = Math.floor(rng() * 50)
      for (let i = 0; i < n; i++) {
        const span = 1 + Math.floor(rng() * 100)
        segments.push({
          baseOffset: base,
          endOffset: base + span,
          size: Math.floor(rng() * 5000),
          largestTimestamp: NOW - Math.floor(rng() * 200_000),
          firstBatchTimestamp: rng() < 0.1 ? -1 : NOW - Math.floor(rng() * 400_000),
        })
        base += span + (rng() < 0.2 ? Math.floor(rng() * 10) : 0)
      }
      // Offset gaps belong to the segment before them: endOffset is the next segment's base.
      for (let i = 0; i + 1 < n; i++) segments[i].endOffset = segments[i + 1].baseOffset
      const logEnd = segments[n - 1].endOffset
      const logStart = segments[0].baseOffset + Math.floor(rng() * 3)
      const checkpoint = rng() < 0.3 ? null : Math.floor(rng() * (logEnd + 20))
      const config: CompactionPlanConfig = {
        minCleanableDirtyRatio: rng(),
        minCompactionLagMs: rng() < 0.5 ? 0 : Math.floor(rng() * 200_000),
        maxCompactionLagMs: rng() < 0.5 ? Number.MAX_SAFE_INTEGER : 1 + Math.floor(rng() * 400_000),
      }
      const input: PlanInput = {
        segments,
        checkpointFirstDirtyOffset: checkpoint,
        logStartOffset: logStart,
        logEndOffset: logEnd,
        config,
        now: NOW,
      }
      const p = planCompaction(input)
      const ctx = `seed ${SEED} round ${round}: ${JSON.stringify(input)}`
      const active = segments[n - 1]
      expect(p.firstDirtyOffset, ctx).toBeGreaterThanOrEqual(logStart)
      expect(p.firstDirtyOffset, ctx).toBeLessThanOrEqual(logEnd)
      expect(p.firstUncleanableOffset, ctx).toBeLessThanOrEqual(active.baseOffset)
      expect(
        segments.some((s) => s.baseOffset === p.firstUncleanableOffset),
        ctx,
      ).toBe(true)
      // Bytes: clean + cleanable never include the active segment.
      const inactiveBytes = segments.slice(0, -1).reduce((a, s) => a + s.size, 0)
      expect(p.cleanBytes + p.cleanableBytes, ctx).toBeLessThanOrEqual(inactiveBytes)
      const cleanable = segments
        .filter((s) => s.endOffset > p.firstDirtyOffset && s.baseOffset < p.firstUncleanableOffset)
        .reduce((a, s) => a + s.size, 0)
      expect(p.cleanableBytes, ctx).toBe(cleanable)
      const total = p.cleanBytes + p.cleanableBytes
      expect(p.dirtyRatio, ctx).toBe(total === 0 ? 0 : p.cleanableBytes / total)
      if (p.cleanable) expect(p.cleanableBytes, ctx).toBeGreaterThan(0)
      // Lag: every segment the map may cover is old enough.
      if (config.minCompactionLagMs > 0) {
        for (const s of segments) {
          if (s.endOffset > p.firstDirtyOffset && s.baseOffset < p.firstUncleanableOffset) {
            expect(s.largestTimestamp, ctx).toBeLessThanOrEqual(NOW - config.minCompactionLagMs)
          }
        }
      }
      // More lag never cleans more.
      const stricter = planCompaction({
        ...input,
        config: { ...config, minCompactionLagMs: config.minCompactionLagMs + 50_000 },
      })
      expect(stricter.firstUncleanableOffset, ctx).toBeLessThanOrEqual(p.firstUncleanableOffset)
    }
  })
})

describe('groupSegments', () => {
  const seg = (baseOffset: number, endOffset: number, size: number) => ({ baseOffset, endOffset, size })

  it('merges consecutive segments while their summed size fits segmentBytes', () => {
    const groups = groupSegments(
      [seg(0, 10, 400), seg(10, 20, 500), seg(20, 30, 200), seg(30, 40, 900), seg(40, 50, 50)],
      1000,
      1 << 20,
    )
    expect(groups.map((g) => g.map((s) => s.baseOffset))).toEqual([[0, 10], [20], [30, 40]])
  })

  it('keeps an oversized segment as a group of its own', () => {
    const groups = groupSegments([seg(0, 10, 5000), seg(10, 20, 10)], 1000, 1 << 20)
    expect(groups.map((g) => g.length)).toEqual([1, 1])
  })

  it('splits when the offset span would not fit an int32, except for empty segments', () => {
    const big = 0x7fffffff
    const groups = groupSegments([seg(0, 10, 1), seg(10, big + 5, 1), seg(big + 5, big + 9, 0)], 1 << 30, 1 << 20)
    expect(groups.map((g) => g.map((s) => s.baseOffset))).toEqual([[0], [10, big + 5]])
  })

  it('splits when the summed index sizes would exceed maxIndexBytes', () => {
    const groups = groupSegments(
      [
        { ...seg(0, 10, 10), offsetIndexBytes: 64, timeIndexBytes: 12 },
        { ...seg(10, 20, 10), offsetIndexBytes: 64, timeIndexBytes: 12 },
        { ...seg(20, 30, 10), offsetIndexBytes: 8, timeIndexBytes: 120 },
      ],
      1 << 20,
      128,
    )
    expect(groups.map((g) => g.map((s) => s.baseOffset))).toEqual([[0, 10], [20]])
  })

  it('property: groups partition the input in order and respect the size limit (seed 0x9a01)', () => {
    const SEED = 0x9a01
    const rng = mulberry32(SEED)
    for (let round = 0; round < 500; round++) {
      const list = []
      let base = 0
      const n = Math.floor(rng() * 20)
      for (let i = 0; i < n; i++) {
        const span = 1 + Math.floor(rng() * 1000)
        list.push(seg(base, base + span, Math.floor(rng() * 3000)))
        base += span
      }
      const limit = 500 + Math.floor(rng() * 4000)
      const groups = groupSegments(list, limit, 1 << 20)
      expect(groups.flat(), `seed ${SEED} round ${round}`).toEqual(list)
      for (const g of groups) {
        expect(g.length).toBeGreaterThan(0)
        if (g.length > 1) expect(g.reduce((a, s) => a + s.size, 0)).toBeLessThanOrEqual(limit)
      }
    }
  })
})
