import { describe, expect, it } from 'vitest'
import { planRetention, type RetentionPolicy, type RetentionSegment } from '../../src/retention/planner.js'
import { mulberry32 } from '../support/random.js'

const NOW = 1_700_000_000_000

/**
 * Segments of 10 offsets each from base 0, sizes and largest timestamps as given; the last one's end is the log
 * end offset (an empty last segment: size 0 and end = base).
 */
function segs(spec: readonly (readonly [size: number, largestTimestamp: number])[]): RetentionSegment[] {
  return spec.map(([size, largestTimestamp], i) => {
    const baseOffset = i * 10
    const isLast = i === spec.length - 1
    const endOffset = isLast && size === 0 ? baseOffset : baseOffset + 10
    return { baseOffset, endOffset, size, largestTimestamp }
  })
}

function leoOf(segments: readonly RetentionSegment[]): number {
  return segments[segments.length - 1].endOffset
}

const timeOnly = (retentionMs: number): RetentionPolicy => ({ retentionMs, retentionBytes: -1, deleteEnabled: true })
const sizeOnly = (retentionBytes: number): RetentionPolicy => ({ retentionMs: -1, retentionBytes, deleteEnabled: true })
const KEEP_ALL: RetentionPolicy = { retentionMs: -1, retentionBytes: -1, deleteEnabled: true }

function plan(segments: RetentionSegment[], policy: RetentionPolicy, logStartOffset = 0, now = NOW) {
  return planRetention(segments, logStartOffset, leoOf(segments), policy, now)
}

describe('planRetention: time', () => {
  const list = segs([
    [100, NOW - 5000],
    [100, NOW - 4000],
    [100, NOW - 3000],
    [100, NOW - 2000],
    [100, NOW - 1000],
  ])

  it('deletes the prefix whose largest timestamp is older than retentionMs (strictly)', () => {
    expect(plan(list, timeOnly(2500))).toEqual({
      deleteCount: 3,
      reasons: { logStartOffset: 0, size: 0, time: 3 },
      bytes: 300,
    })
    // now - largestTimestamp == retentionMs keeps the segment.
    expect(plan(list, timeOnly(3000)).deleteCount).toBe(2)
    expect(plan(list, timeOnly(5000)).deleteCount).toBe(0)
    expect(plan(list, timeOnly(-1)).deleteCount).toBe(0)
  })

  it('deletes a non-empty active segment too (the log rolls first)', () => {
    expect(plan(list, timeOnly(0))).toEqual({
      deleteCount: 5,
      reasons: { logStartOffset: 0, size: 0, time: 5 },
      bytes: 500,
    })
  })

  it('stops at the first fresh segment: one fresh record keeps every later segment', () => {
    const mixed = segs([
      [100, NOW - 9000],
      [100, NOW - 100],
      [100, NOW - 9000],
      [100, NOW - 9000],
    ])
    expect(plan(mixed, timeOnly(1000)).deleteCount).toBe(1)
  })

  it('never deletes a segment without timestamps by time (Kafka would use the file mtime)', () => {
    const noTs = segs([
      [100, NOW - 9000],
      [100, -1],
      [100, NOW - 9000],
    ])
    expect(plan(noTs, timeOnly(1000)).reasons).toEqual({ logStartOffset: 0, size: 0, time: 1 })
    expect(plan(noTs, timeOnly(0)).deleteCount).toBe(1)
  })

  it('is off without the delete policy', () => {
    expect(plan(list, { ...timeOnly(0), deleteEnabled: false }).deleteCount).toBe(0)
  })
})

describe('planRetention: size', () => {
  const list = segs([
    [100, NOW],
    [200, NOW],
    [300, NOW],
    [400, NOW],
  ]) // total 1000

  it('deletes oldest segments while the excess covers them; the log may exceed the limit by < one segment', () => {
    // excess 600: 100 (500 left), 200 (300 left), 300 (0 left), 400 > 0 stops.
    expect(plan(list, sizeOnly(400))).toEqual({
      deleteCount: 3,
      reasons: { logStartOffset: 0, size: 3, time: 0 },
      bytes: 600,
    })
    // excess 550: 100, 200 (250 left), 300 > 250 stops: 700 remain for a limit of 450.
    expect(plan(list, sizeOnly(450))).toEqual({
      deleteCount: 2,
      reasons: { logStartOffset: 0, size: 2, time: 0 },
      bytes: 300,
    })
    // excess 99 < the first segment: nothing.
    expect(plan(list, sizeOnly(901)).deleteCount).toBe(0)
  })

  it('does nothing below the limit and when unlimited; at exactly the limit the excess is 0', () => {
    expect(plan(list, sizeOnly(1001)).deleteCount).toBe(0)
    expect(plan(list, sizeOnly(1000)).deleteCount).toBe(0)
    expect(plan(list, sizeOnly(-1)).deleteCount).toBe(0)
    // A zero-size non-last segment is covered by an excess of 0.
    const withEmpty = segs([
      [0, -1],
      [100, NOW],
      [100, NOW],
    ])
    expect(plan(withEmpty, sizeOnly(200)).deleteCount).toBe(1)
  })

  it('counts the active segment and may delete every segment (retentionBytes 0)', () => {
    expect(plan(list, sizeOnly(0))).toEqual({
      deleteCount: 4,
      reasons: { logStartOffset: 0, size: 4, time: 0 },
      bytes: 1000,
    })
  })

  it('is off without the delete policy', () => {
    expect(plan(list, { ...sizeOnly(0), deleteEnabled: false }).deleteCount).toBe(0)
  })
})

describe('planRetention: size and time together', () => {
  it('applies size first, then time on what is left', () => {
    const list = segs([
      [100, NOW - 9000],
      [100, NOW - 8000],
      [100, NOW - 7000],
      [100, NOW - 1000],
      [100, NOW],
    ])
    // size: excess 150 → one segment (50 left); time (retention 5000): segments 2 and 3 of the list.
    expect(plan(list, { retentionMs: 5000, retentionBytes: 350, deleteEnabled: true })).toEqual({
      deleteCount: 3,
      reasons: { logStartOffset: 0, size: 1, time: 2 },
      bytes: 300,
    })
    // size claims what time would have: time gets the rest.
    expect(plan(list, { retentionMs: 5000, retentionBytes: 200, deleteEnabled: true }).reasons).toEqual({
      logStartOffset: 0,
      size: 3,
      time: 0,
    })
    // size is computed before time deletes: time deleting more does not make size delete again.
    expect(plan(list, { retentionMs: 7500, retentionBytes: 450, deleteEnabled: true }).reasons).toEqual({
      logStartOffset: 0,
      size: 0,
      time: 2,
    })
  })
})

describe('planRetention: log start offset', () => {
  const list = segs([
    [100, NOW],
    [100, NOW],
    [100, NOW],
    [100, NOW],
  ]) // bases 0 10 20 30, LEO 40

  it('deletes segments wholly below the log start offset, whatever the policy', () => {
    const compactOnly: RetentionPolicy = { retentionMs: 0, retentionBytes: 0, deleteEnabled: false }
    expect(plan(list, compactOnly, 25)).toEqual({
      deleteCount: 2,
      reasons: { logStartOffset: 2, size: 0, time: 0 },
      bytes: 200,
    })
    // end offset == log start: every offset of the segment is below it.
    expect(plan(list, KEEP_ALL, 20).deleteCount).toBe(2)
    expect(plan(list, KEEP_ALL, 19).deleteCount).toBe(1)
    expect(plan(list, KEEP_ALL, 0).deleteCount).toBe(0)
  })

  it('never claims the last segment (it has no next segment), as Kafka', () => {
    expect(plan(list, KEEP_ALL, 40)).toEqual({
      deleteCount: 3,
      reasons: { logStartOffset: 3, size: 0, time: 0 },
      bytes: 300,
    })
  })

  it('runs before size, and size only sees what is left', () => {
    // After the breach (2 segments), 200 bytes remain: a 150 limit gives an excess of 50 < 100.
    expect(plan(list, sizeOnly(150), 20).reasons).toEqual({ logStartOffset: 2, size: 0, time: 0 })
    expect(plan(list, sizeOnly(100), 20).reasons).toEqual({ logStartOffset: 2, size: 1, time: 0 })
    // Time then claims the non-empty active segment (1 ms old).
    expect(plan(list, { retentionMs: 0, retentionBytes: 100, deleteEnabled: true }, 20, NOW + 1)).toEqual({
      deleteCount: 4,
      reasons: { logStartOffset: 2, size: 1, time: 1 },
      bytes: 400,
    })
  })
})

describe('planRetention: the empty active segment', () => {
  const list = segs([
    [100, NOW - 9000],
    [100, NOW - 9000],
    [0, -1],
  ]) // bases 0 10 20, LEO 20

  it('is never deleted, by any rule', () => {
    expect(plan(list, timeOnly(0)).deleteCount).toBe(2)
    expect(plan(list, sizeOnly(0)).deleteCount).toBe(2)
    expect(plan(list, KEEP_ALL, 20).deleteCount).toBe(2)
    expect(plan(list, { retentionMs: 0, retentionBytes: 0, deleteEnabled: true }, 20)).toEqual({
      deleteCount: 2,
      reasons: { logStartOffset: 2, size: 0, time: 0 },
      bytes: 200,
    })
    const alone = segs([[0, -1]])
    expect(plan(alone, { retentionMs: 0, retentionBytes: 0, deleteEnabled: true }, 0).deleteCount).toBe(0)
  })

  it('plans nothing for no segments', () => {
    expect(planRetention([], 0, 0, { retentionMs: 0, retentionBytes: 0, deleteEnabled: true }, NOW)).toEqual({
      deleteCount: 0,
      reasons: { logStartOffset: 0, size: 0, time: 0 },
      bytes: 0,
    })
  })

  it('keeps segments at or above the high watermark (end offset > log end)', () => {
    // Inconsistent input (an end past the log end) is never deleted: the log start could pass the HW.
    expect(planRetention(list, 0, 15, timeOnly(0), NOW).deleteCount).toBe(1)
  })
})

// ---- property test ----

interface Case {
  segments: RetentionSegment[]
  logStartOffset: number
  logEndOffset: number
  policy: RetentionPolicy
  now: number
}

function randomCase(rng: () => number): Case {
  const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1))
  const n = int(1, 8)
  const segments: RetentionSegment[] = []
  let base = int(0, 1000)
  for (let i = 0; i < n; i++) {
    const isLast = i === n - 1
    const emptyLast = isLast && rng() < 0.3
    // A non-last segment always spans >= 1 offset (bases strictly increase); it may be empty (compaction).
    const span = emptyLast ? 0 : int(1, 20)
    const size = emptyLast ? 0 : !isLast && rng() < 0.1 ? 0 : int(1, 500)
    const largestTimestamp = size === 0 || rng() < 0.1 ? -1 : NOW - int(0, 10_000)
    segments.push({ baseOffset: base, endOffset: base + span, size, largestTimestamp })
    base += span
  }
  const logEndOffset = base
  const logStartOffset = int(segments[0].baseOffset, logEndOffset)
  const total = segments.reduce((s, x) => s + x.size, 0)
  // Limits sometimes sit exactly on a boundary (a segment's age, a prefix of sizes) to exercise > vs >=.
  const some = segments[int(0, n - 1)]
  const pickBytes = rng()
  const retentionBytes =
    pickBytes < 0.25
      ? -1
      : pickBytes < 0.35
        ? 0
        : pickBytes < 0.6
          ? total - segments.slice(0, int(0, n)).reduce((s, x) => s + x.size, 0)
          : int(0, total + 100)
  const pickMs = rng()
  const retentionMs =
    pickMs < 0.25 ? -1 : pickMs < 0.5 && some.largestTimestamp >= 0 ? NOW - some.largestTimestamp : int(0, 11_000)
  return {
    segments,
    logStartOffset,
    logEndOffset,
    policy: { retentionMs, retentionBytes, deleteEnabled: rng() < 0.8 },
    now: NOW,
  }
}

/**
 * Straightforward model: Kafka's deleteOldSegments run literally on a mutable segment list. Each rule walks from
 * the oldest segment, using the next segment's base (not endOffset) as the upper bound; deleting everything rolls
 * an empty segment at the log end; the log start rises to the first remaining base after each deletion.
 */
function model(c: Case) {
  interface Seg {
    baseOffset: number
    size: number
    largestTimestamp: number
  }
  let list: Seg[] = c.segments.map((s) => ({
    baseOffset: s.baseOffset,
    size: s.size,
    largestTimestamp: s.largestTimestamp,
  }))
  let logStart = c.logStartOffset
  const leo = c.logEndOffset
  const deleted: Seg[] = []
  const deleteOld = (predicate: (seg: Seg, next: Seg | undefined) => boolean): number => {
    const deletable: Seg[] = []
    for (let i = 0; i < list.length; i++) {
      const seg = list[i]
      const next = list[i + 1] as Seg | undefined
      const upper = next === undefined ? leo : next.baseOffset
      const lastAndEmpty = next === undefined && seg.size === 0
      if (leo >= upper && predicate(seg, next) && !lastAndEmpty) deletable.push(seg)
      else break
    }
    if (deletable.length === 0) return 0
    if (deletable.length === list.length) list.push({ baseOffset: leo, size: 0, largestTimestamp: -1 })
    list = list.slice(deletable.length)
    deleted.push(...deletable)
    logStart = Math.max(logStart, list[0].baseOffset)
    return deletable.length
  }
  const reasons = { logStartOffset: 0, size: 0, time: 0 }
  const start = logStart
  reasons.logStartOffset = deleteOld((_seg, next) => next !== undefined && next.baseOffset <= start)
  if (c.policy.deleteEnabled) {
    const limit = c.policy.retentionBytes
    const size = list.reduce((s, x) => s + x.size, 0)
    if (limit >= 0 && size >= limit) {
      let diff = size - limit
      reasons.size = deleteOld((seg) => {
        const ok = diff - seg.size >= 0
        if (ok) diff -= seg.size
        return ok
      })
    }
    if (c.policy.retentionMs >= 0) {
      reasons.time = deleteOld(
        (seg) => seg.largestTimestamp !== -1 && c.now - seg.largestTimestamp > c.policy.retentionMs,
      )
    }
  }
  return {
    plan: { deleteCount: deleted.length, reasons, bytes: deleted.reduce((s, x) => s + x.size, 0) },
    logStart,
  }
}

/** What the log looks like after applying `deleteCount` (rolling an empty segment when everything goes). */
function afterDeletion(c: Case, deleteCount: number): Case {
  let segments = c.segments.slice(deleteCount)
  if (segments.length === 0) {
    segments = [{ baseOffset: c.logEndOffset, endOffset: c.logEndOffset, size: 0, largestTimestamp: -1 }]
  }
  return { ...c, segments, logStartOffset: Math.max(c.logStartOffset, segments[0].baseOffset) }
}

const SEEDS = [1, 2, 3, 42, 1234, 99_991, 314_159, 271_828, 0xdeadbeef, 0x5eed]
const CASES_PER_SEED = 500

describe('planRetention: property test against a model of Kafka rules', () => {
  it.each(SEEDS)('seed %i', (seed) => {
    const rng = mulberry32(seed)
    // Every rule must fire in some cases (and everything be deleted in some), or the generator is too tame.
    const seen = { logStartOffset: 0, size: 0, time: 0, everything: 0, stoppedByEmptyLast: 0 }
    for (let k = 0; k < CASES_PER_SEED; k++) {
      const c = randomCase(rng)
      const where = `seed ${seed} case ${k}: ${JSON.stringify(c)}`
      const p = planRetention(c.segments, c.logStartOffset, c.logEndOffset, c.policy, c.now)
      const m = model(c)
      expect(p, where).toEqual(m.plan)

      // A prefix: counts add up, bytes are those of the first deleteCount segments.
      expect(p.deleteCount, where).toBeGreaterThanOrEqual(0)
      expect(p.deleteCount, where).toBeLessThanOrEqual(c.segments.length)
      expect(p.reasons.logStartOffset + p.reasons.size + p.reasons.time, where).toBe(p.deleteCount)
      expect(p.bytes, where).toBe(c.segments.slice(0, p.deleteCount).reduce((s, x) => s + x.size, 0))

      // Never an empty last segment.
      if (c.segments[c.segments.length - 1].size === 0) expect(p.deleteCount, where).toBeLessThan(c.segments.length)

      // Idempotent: the surviving log plans nothing more at the same clock.
      const rest = afterDeletion(c, p.deleteCount)
      expect(rest.logStartOffset, where).toBe(m.logStart)
      const again = planRetention(rest.segments, rest.logStartOffset, rest.logEndOffset, rest.policy, rest.now)
      expect(again.deleteCount, where).toBe(0)

      for (const r of ['logStartOffset', 'size', 'time'] as const) if (p.reasons[r] > 0) seen[r]++
      if (p.deleteCount === c.segments.length) seen.everything++
      if (p.deleteCount === c.segments.length - 1 && c.segments[p.deleteCount].size === 0) seen.stoppedByEmptyLast++
    }
    for (const [what, count] of Object.entries(seen)) expect(count, `seed ${seed}: ${what}`).toBeGreaterThan(0)
  })
})
