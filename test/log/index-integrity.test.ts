/**
 * Index files are derived data: whatever happened to a partition's `.index` and `.timeindex` files after a clean
 * close (deleted, truncated, garbage, swapped between segments, copied from another segment), the next open and
 * every lookup right after it answer from the `.log`: every `read` returns the record written at that offset and
 * every `offsetForTimestamp` the first offset at or after the timestamp. Record content and timestamps are a
 * function of the offset (`recordFor`: timestamp = TIMESTAMP_BASE + offset), so every answer is checked exactly.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type LogConfig, type LogEvent, PartitionLog } from '../../src/log/partition-log.js'
import { indexFile, patchFile, segmentBases, swapFiles, timeIndexFile } from '../support/damage.js'
import { recordProblem, recordsFor, TIMESTAMP_BASE } from '../support/kill-child.js'
import { mulberry32 } from '../support/random.js'

/** About 40 KB of records: ~5 segments, an index entry every few batches. */
const CONFIG: Partial<LogConfig> = { segmentBytes: 8192, indexIntervalBytes: 256 }
const RECORDS = 300

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-index-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Appends RECORDS records in batches of 1..maxBatch and closes cleanly. Returns the log end offset. */
async function buildClosedLog(seed: number, maxBatch = 3): Promise<number> {
  console.log(`seed ${seed}`)
  const rng = mulberry32(seed)
  const log = await PartitionLog.open(dir, { config: CONFIG })
  while (log.logEndOffset < RECORDS) {
    const n = Math.min(RECORDS - log.logEndOffset, 1 + Math.floor(rng() * maxBatch))
    log.append(recordsFor(log.logEndOffset, n))
  }
  const end = log.logEndOffset
  await log.close()
  return end
}

async function reopen(): Promise<{ log: PartitionLog; events: LogEvent[] }> {
  const events: LogEvent[] = []
  const log = await PartitionLog.open(dir, { config: CONFIG, onEvent: (e) => events.push(e) })
  return { log, events }
}

/** Every offset, in a seeded random order, read alone; then one read of everything; then every timestamp. */
function expectEveryLookupRight(log: PartitionLog, end: number, seed: number): void {
  expect(log.logStartOffset).toBe(0)
  expect(log.logEndOffset).toBe(end)
  const rng = mulberry32(seed)
  const order = Array.from({ length: end }, (_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  for (const o of order) {
    const [r] = log.read(o, { maxRecords: 1 })
    expect(r?.offset, `read(${o})`).toBe(o)
    expect(recordProblem(r)).toBeNull()
  }
  const all = log.read(0, { maxRecords: end + 10, maxBytes: 1 << 24 })
  expect(all.map((r) => r.offset)).toEqual(order.slice().sort((a, b) => a - b))
  for (const o of order) expect(log.offsetForTimestamp(TIMESTAMP_BASE + o), `offsetForTimestamp of ${o}`).toBe(o)
  expect(log.offsetForTimestamp(TIMESTAMP_BASE - 1000)).toBe(0)
  expect(log.offsetForTimestamp(TIMESTAMP_BASE + end)).toBeNull()
}

const rebuiltSegments = (events: LogEvent[]): number[] =>
  events.flatMap((e) => (e.type === 'indexes-rebuilt' ? [e.baseOffset] : [])).sort((a, b) => a - b)

type Damage = (bases: number[], rng: () => number) => number[]

/** Each damage returns the segments whose indexes it made wrong in a way the open must notice. */
const DAMAGES: [string, Damage][] = [
  [
    'both index files of every segment deleted',
    (bases) => {
      for (const b of bases) {
        fs.rmSync(indexFile(dir, b), { force: true })
        fs.rmSync(timeIndexFile(dir, b), { force: true })
      }
      return bases
    },
  ],
  [
    'the time index of every segment deleted',
    (bases) => {
      for (const b of bases) fs.rmSync(timeIndexFile(dir, b))
      return bases
    },
  ],
  [
    'index files truncated to a length that is not a multiple of the entry size',
    (bases) => {
      for (const b of bases) {
        for (const f of [indexFile(dir, b), timeIndexFile(dir, b)]) {
          if (fs.existsSync(f)) fs.truncateSync(f, Math.max(1, fs.statSync(f).size - 3))
        }
      }
      return bases
    },
  ],
  [
    'time index files truncated by whole entries (their last entries gone)',
    (bases) => {
      for (const b of bases)
        fs.truncateSync(timeIndexFile(dir, b), Math.max(0, fs.statSync(timeIndexFile(dir, b)).size - 24))
      return bases
    },
  ],
  [
    'index files overwritten with zeros',
    (bases) => {
      for (const b of bases) {
        for (const f of [indexFile(dir, b), timeIndexFile(dir, b)]) {
          if (fs.existsSync(f)) fs.writeFileSync(f, Buffer.alloc(fs.statSync(f).size))
        }
      }
      return bases
    },
  ],
  [
    'index files overwritten with random bytes of the same length',
    (bases, rng) => {
      for (const b of bases) {
        for (const f of [indexFile(dir, b), timeIndexFile(dir, b)]) {
          if (!fs.existsSync(f)) continue
          const garbage = Buffer.alloc(fs.statSync(f).size)
          for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(rng() * 256)
          fs.writeFileSync(f, garbage)
        }
      }
      return bases
    },
  ],
  [
    'time index files given a plausible entry past the log (larger timestamp, later offset)',
    (bases) => {
      for (const b of bases) {
        const f = timeIndexFile(dir, b)
        const data = fs.readFileSync(f)
        const last = data.subarray(data.length - 12)
        const extra = Buffer.alloc(12)
        extra.writeBigInt64BE(last.readBigInt64BE(0) + 5000n, 0)
        extra.writeInt32BE(last.readInt32BE(8) + 1000, 8)
        fs.appendFileSync(f, extra)
      }
      return bases
    },
  ],
  [
    'the time index files of neighbouring segments swapped',
    (bases) => {
      for (let i = 0; i + 1 < bases.length; i += 2)
        swapFiles(timeIndexFile(dir, bases[i]), timeIndexFile(dir, bases[i + 1]))
      return bases.slice(0, bases.length - (bases.length % 2))
    },
  ],
  [
    'the offset index files of neighbouring segments swapped',
    (bases) => {
      for (let i = 0; i + 1 < bases.length; i += 2) swapFiles(indexFile(dir, bases[i]), indexFile(dir, bases[i + 1]))
      return bases.slice(0, bases.length - (bases.length % 2))
    },
  ],
  [
    "every segment given the first segment's index files",
    (bases) => {
      for (const b of bases.slice(1)) {
        fs.copyFileSync(indexFile(dir, bases[0]), indexFile(dir, b))
        fs.copyFileSync(timeIndexFile(dir, bases[0]), timeIndexFile(dir, b))
      }
      return bases.slice(1)
    },
  ],
]

describe('index files damaged after a clean close', () => {
  it.each(DAMAGES.map(([name, damage], i) => [name, damage, 800 + i] as const))(
    'are rebuilt from the log on open, so every read and offsetForTimestamp right afterwards is right: %s',
    async (_name, damage, seed) => {
      const end = await buildClosedLog(seed)
      const bases = segmentBases(dir)
      expect(bases.length).toBeGreaterThanOrEqual(4)
      const damaged = damage(bases, mulberry32(seed))

      const { log, events } = await reopen()
      // Every damaged segment's indexes are rebuilt (the active one's by recovering it), and only those.
      const active = bases[bases.length - 1]
      const expected = damaged.filter((b) => b !== active)
      expect(rebuiltSegments(events)).toEqual(expected)
      const recovered = events.filter((e) => e.type === 'recovered')
      if (damaged.includes(active)) {
        expect(recovered).toHaveLength(1)
        expect(recovered[0]).toMatchObject({ truncatedBytes: 0, segmentsScanned: 1 })
      } else {
        expect(events.at(-1)?.type).toBe('opened')
      }
      expectEveryLookupRight(log, end, seed)
      await log.close()

      // The rebuilt files are right on disk: the next open has nothing to rebuild.
      const again = await reopen()
      expect(again.events.map((e) => e.type)).toEqual(['opened'])
      expectEveryLookupRight(again.log, end, seed + 1)
      await again.log.close()
    },
  )

  it('answer every lookup right when nothing was damaged, and the open rebuilds nothing', async () => {
    const end = await buildClosedLog(830)
    const { log, events } = await reopen()
    expect(events.map((e) => e.type)).toEqual(['opened'])
    expectEveryLookupRight(log, end, 830)
    await log.close()
  })
})

describe('index entries damaged in the middle of a file', () => {
  // Single-record batches: every entry names a batch of its own, so a wrong entry gives a wrong answer.
  it('an offset index entry pointing inside a batch is noticed by the lookup that uses it, and the index rebuilt', async () => {
    const end = await buildClosedLog(840, 1)
    const bases = segmentBases(dir)
    const victim = bases[1]
    const data = fs.readFileSync(indexFile(dir, victim))
    const entries = data.length / 8
    expect(entries).toBeGreaterThanOrEqual(4)
    // Entry k moves 7 bytes into its batch: still between its neighbours, so the file stays ordered.
    const k = Math.floor(entries / 2)
    const pos = data.readInt32BE(k * 8 + 4)
    const moved = Buffer.alloc(4)
    moved.writeInt32BE(pos + 7)
    patchFile(indexFile(dir, victim), k * 8 + 4, moved)

    const { log, events } = await reopen()
    expect(events.map((e) => e.type)).toEqual(['opened'])
    expectEveryLookupRight(log, end, 840)
    expect(rebuiltSegments(events)).toEqual([victim])
    await log.close()
  })

  it('a time index entry with a slightly smaller timestamp is noticed by the lookup that uses it, and the index rebuilt', async () => {
    const end = await buildClosedLog(841, 1)
    const bases = segmentBases(dir)
    const victim = bases[1]
    const f = timeIndexFile(dir, victim)
    const data = fs.readFileSync(f)
    const entries = data.length / 12
    expect(entries).toBeGreaterThanOrEqual(4)
    const k = Math.floor(entries / 2)
    const ts = data.readBigInt64BE(k * 12)
    const before = data.readBigInt64BE((k - 1) * 12)
    expect(ts - before).toBeGreaterThan(1n)
    const lowered = Buffer.alloc(8)
    lowered.writeBigInt64BE(ts - 1n)
    patchFile(f, k * 12, lowered)

    const { log, events } = await reopen()
    expect(events.map((e) => e.type)).toEqual(['opened'])
    // The lookup that lands on the lowered entry: the record with that timestamp sits in the batch before.
    const target = Number(ts - 1n) - TIMESTAMP_BASE
    expect(log.offsetForTimestamp(Number(ts - 1n))).toBe(target)
    expect(rebuiltSegments(events)).toEqual([victim])
    expectEveryLookupRight(log, end, 841)
    await log.close()
  })
})
