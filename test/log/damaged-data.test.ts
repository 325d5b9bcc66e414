/**
 * Damage to a closed partition's `.log` files and `partition.state` below the recovery point: a flipped bit in a
 * batch's base offset (bytes 0–7, outside the CRC), a damaged header, a truncated middle segment, a checkpoint
 * field out of range. Fsynced data that fails its checks is never served, stepped over or dropped silently: reads
 * that meet it throw CORRUPT_LOG naming the file; anything else reads back exactly as written; what the open had
 * to repair is reported. Record content and timestamps are a function of the offset (`recordFor`), so every
 * record returned is checked.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { type LogConfig, type LogEvent, PartitionLog } from '../../src/log/partition-log.js'
import { STATE_FILE } from '../../src/segment/file-names.js'
import { crc32c, encodeBatch } from '../../src/segment/record-batch.js'
import { batchesOf, flipBaseOffsetBit, flipBit, logFile, segmentBases } from '../support/damage.js'
import { recordProblem, recordsFor, TIMESTAMP_BASE } from '../support/kill-child.js'
import { mulberry32 } from '../support/random.js'

const SMALL: Partial<LogConfig> = { segmentBytes: 4096, indexIntervalBytes: 256 }

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-damage-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

/** A cleanly closed log of at least `minSegments` segments of batches of 1..8 records. */
async function buildClosedLog(seed: number, minSegments = 6): Promise<{ end: number; bases: number[] }> {
  console.log(`seed ${seed}`)
  const rng = mulberry32(seed)
  const log = await PartitionLog.open(dir, { config: SMALL })
  while (log.segmentInfos().length < minSegments) log.append(recordsFor(log.logEndOffset, 1 + Math.floor(rng() * 8)))
  const end = log.logEndOffset
  await log.close()
  return { end, bases: segmentBases(dir) }
}

async function reopen(): Promise<{ log: PartitionLog; events: LogEvent[] }> {
  const events: LogEvent[] = []
  const log = await PartitionLog.open(dir, { config: SMALL, onEvent: (e) => events.push(e) })
  return { log, events }
}

function corruptErrorOf(fn: () => unknown): SeglogError | null {
  try {
    fn()
    return null
  } catch (err) {
    expect(err).toBeInstanceOf(SeglogError)
    expect((err as SeglogError).code).toBe('CORRUPT_LOG')
    return err as SeglogError
  }
}

/**
 * Every offset of the log read alone, and looked up by its timestamp: each answer is the record written at that
 * offset (no compaction here, so nothing may be skipped) or CORRUPT_LOG. Returns the offsets that threw.
 */
function expectRightOrCorrupt(log: PartitionLog): number[] {
  const failed: number[] = []
  for (let o = log.logStartOffset; o < log.logEndOffset; o++) {
    let records: ReturnType<PartitionLog['read']> = []
    const err = corruptErrorOf(() => {
      records = log.read(o, { maxRecords: 1 })
    })
    if (err !== null) {
      failed.push(o)
      continue
    }
    expect(records[0]?.offset, `read(${o})`).toBe(o)
    expect(recordProblem(records[0])).toBeNull()
  }
  for (let o = log.logStartOffset; o < log.logEndOffset; o++) {
    let found: number | null = -1
    const err = corruptErrorOf(() => {
      found = log.offsetForTimestamp(TIMESTAMP_BASE + o)
    })
    if (err === null) expect(found, `offsetForTimestamp of ${o}`).toBe(o)
  }
  return failed
}

/** Reads [from, to) in one go and checks it is exactly those records. */
function expectRange(log: PartitionLog, from: number, to: number): void {
  const got = log.read(from, { maxRecords: to - from, maxBytes: 1 << 24 })
  expect(got.map((r) => r.offset)).toEqual(Array.from({ length: to - from }, (_, i) => from + i))
  for (const r of got) expect(recordProblem(r)).toBeNull()
}

describe('a flipped bit in a batch base offset of a closed segment (bytes 0-7 are outside the CRC)', () => {
  const cases: [string, number][] = []
  for (const where of ['first', 'middle', 'last']) for (const bit of [0, 4, 33, 55, 63]) cases.push([where, bit])
  it.each(cases.map(([where, bit], i) => [bit, where, 900 + i] as const))(
    'is never served as data: reads of that batch throw CORRUPT_LOG naming the file, the rest reads back (bit %i of the %s batch)',
    async (bit, where, seed) => {
      const { end, bases } = await buildClosedLog(seed)
      const file = logFile(dir, bases[2])
      const batches = batchesOf(file)
      const victim =
        where === 'first' ? batches[0] : where === 'last' ? batches[batches.length - 1] : batches[batches.length >> 1]
      flipBaseOffsetBit(file, victim.position, bit)

      const { log, events } = await reopen()
      expect(events.some((e) => e.type === 'recovered')).toBe(false)
      expect(log.logStartOffset).toBe(0)
      expect(log.logEndOffset).toBe(end)
      const err = corruptErrorOf(() => log.read(victim.baseOffset, { maxRecords: 1 }))
      expect(err?.path).toBe(file)
      expect(err?.message).toContain(file)
      const failed = expectRightOrCorrupt(log)
      // Only offsets of the damaged segment can fail; everything before and after it reads back.
      expect(failed.every((o) => o >= bases[2] && o < bases[3])).toBe(true)
      expect(failed).toContain(victim.baseOffset)
      expectRange(log, 0, bases[2])
      expectRange(log, bases[3], end)
      expect(log.append(recordsFor(end, 2)).baseOffset).toBe(end)
      await log.close()
    },
  )

  it('in the last batch of the active segment after a clean close: the batch throws CORRUPT_LOG, nothing is cut, the next append takes the next new offset', async () => {
    const { end, bases } = await buildClosedLog(930)
    const file = logFile(dir, bases[bases.length - 1])
    const batches = batchesOf(file)
    const victim = batches[batches.length - 1]
    expect(victim.lastOffset).toBe(end - 1)
    flipBaseOffsetBit(file, victim.position, 40)
    const size = fs.statSync(file).size

    const { log, events } = await reopen()
    expect(events.filter((e) => e.type === 'corruption-detected')).toHaveLength(1)
    expect(events.find((e) => e.type === 'recovered')).toMatchObject({ truncatedBytes: 0 })
    expect(log.logEndOffset).toBe(end)
    expect(fs.statSync(file).size).toBe(size)
    expect(corruptErrorOf(() => log.read(victim.baseOffset))?.path).toBe(file)
    expectRange(log, 0, victim.baseOffset)
    expect(log.append(recordsFor(end, 3)).baseOffset).toBe(end)
    expectRange(log, end, end + 3)
    await log.close()
  })

  it('in the last batch of the active segment after a crash: recovery cuts that batch and reports it, the log never ends past what was written', async () => {
    const { end, bases } = await buildClosedLog(931)
    fs.rmSync(path.join(dir, STATE_FILE))
    const file = logFile(dir, bases[bases.length - 1])
    const victim = batchesOf(file).at(-1)!
    flipBaseOffsetBit(file, victim.position, 40)

    const { log, events } = await reopen()
    expect(events.find((e) => e.type === 'recovered')).toMatchObject({ truncatedAtOffset: victim.baseOffset })
    expect(log.logEndOffset).toBe(victim.baseOffset)
    expect(log.logEndOffset).toBeLessThan(end)
    expectRange(log, 0, victim.baseOffset)
    await log.close()
  })

  it('beyond 2^53 in a batch recovery scans makes open report a cut, never throw a TypeError', async () => {
    const { bases } = await buildClosedLog(932)
    fs.rmSync(path.join(dir, STATE_FILE))
    const file = logFile(dir, bases[1])
    const victim = batchesOf(file).at(-1)!
    flipBaseOffsetBit(file, victim.position, 55)

    const { log, events } = await reopen()
    const recovered = events.find((e) => e.type === 'recovered')
    expect(recovered).toMatchObject({ truncatedAtOffset: victim.baseOffset })
    expect(log.logEndOffset).toBe(victim.baseOffset)
    expectRange(log, 0, victim.baseOffset)
    await log.close()
  })
})

describe('a damaged batch header in the middle of a closed segment', () => {
  const damages: [string, (file: string, position: number, baseOffset: number) => void][] = [
    [
      'its base offset lowered below the previous batch',
      (file, position, baseOffset) => flipBaseOffsetBit(file, position, Math.floor(Math.log2(baseOffset))),
    ],
    ['its length changed', (file, position) => flipBit(file, position + 10, 2)],
    ['its magic byte changed', (file, position) => flipBit(file, position + 16, 0)],
    ['its lastOffsetDelta changed', (file, position) => flipBit(file, position + 26, 1)],
  ]
  it.each(damages.map(([name, damage], i) => [name, damage, 940 + i] as const))(
    'makes reads throw CORRUPT_LOG instead of stepping over it (%s)',
    async (_name, damage, seed) => {
      const { end, bases } = await buildClosedLog(seed)
      const file = logFile(dir, bases[2])
      const batches = batchesOf(file)
      const victim = batches[batches.length >> 1]
      damage(file, victim.position, victim.baseOffset)

      const { log } = await reopen()
      expect(log.logEndOffset).toBe(end)
      expect(corruptErrorOf(() => log.read(victim.baseOffset, { maxRecords: 1 }))?.path).toBe(file)
      // A read that starts before the damage stops there with the error too: it never jumps past it.
      expect(corruptErrorOf(() => log.read(bases[2], { maxRecords: end }))?.path).toBe(file)
      expect(corruptErrorOf(() => log.offsetForTimestamp(TIMESTAMP_BASE + victim.baseOffset))?.path).toBe(file)
      const failed = expectRightOrCorrupt(log)
      expect(failed).toContain(victim.baseOffset)
      expect(failed.every((o) => o >= bases[2] && o < bases[3])).toBe(true)
      expectRange(log, bases[3], end)
      await log.close()
    },
  )
})

describe('a middle segment that lost data', () => {
  const cuts: [string, (file: string) => void][] = [
    ['truncated to 36 bytes', (file) => fs.truncateSync(file, 36)],
    ['truncated to 0 bytes', (file) => fs.truncateSync(file, 0)],
    ['cut in the middle of a batch', (file) => fs.truncateSync(file, batchesOf(file)[2].position + 20)],
    ['cut after its second batch, at a batch boundary', (file) => fs.truncateSync(file, batchesOf(file)[2].position)],
  ]
  it.each(cuts.map(([name, cut], i) => [name, cut, 950 + i] as const))(
    'makes reads of the missing offsets throw CORRUPT_LOG instead of skipping to the next segment (%s)',
    async (_name, cut, seed) => {
      const { end, bases } = await buildClosedLog(seed)
      const file = logFile(dir, bases[2])
      const lastOffset = batchesOf(file).at(-1)!.lastOffset
      cut(file)

      const { log, events } = await reopen()
      expect(log.logEndOffset).toBe(end)
      expect(corruptErrorOf(() => log.read(lastOffset, { maxRecords: 1 }))).not.toBeNull()
      expect(corruptErrorOf(() => log.read(bases[2], { maxRecords: end }))).not.toBeNull()
      expect(corruptErrorOf(() => log.offsetForTimestamp(TIMESTAMP_BASE + lastOffset))).not.toBeNull()
      expect(events.some((e) => e.type === 'recovered')).toBe(false)
      expect(events.some((e) => e.type === 'corruption-detected' && e.baseOffset === bases[2])).toBe(true)
      const failed = expectRightOrCorrupt(log)
      expect(failed).toContain(lastOffset)
      expect(failed.every((o) => o >= bases[2] && o < bases[3])).toBe(true)
      expectRange(log, 0, bases[2])
      expectRange(log, bases[3], end)
      await log.close()
    },
  )
})

describe('partition.state fields that do not fit the segments on disk', () => {
  /** Edits the file as a hand edit would: without its checksum, so every field is checked on its own. */
  function editState(edit: (state: Record<string, unknown>) => void): void {
    const file = path.join(dir, STATE_FILE)
    const state = JSON.parse(fs.readFileSync(file, 'utf8'))
    delete state.crc
    edit(state)
    fs.writeFileSync(file, JSON.stringify(state))
  }

  it('a flipped bit in a digit (valid JSON, a number in range) fails the checksum: the log opens with every record from offset 0 and reports it', async () => {
    const { end } = await buildClosedLog(965)
    const file = path.join(dir, STATE_FILE)
    const text = fs.readFileSync(file, 'utf8')
    const at = text.indexOf('"logStartOffset":0') + '"logStartOffset":'.length
    flipBit(file, at, 2) // '0' → '4': records 0..3 would vanish
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).logStartOffset).toBe(4)
    const { log, events } = await reopen()
    expect(log.logStartOffset).toBe(0)
    expect(log.logEndOffset).toBe(end)
    expectRange(log, 0, end)
    const repaired = events.find((e) => e.type === 'state-repaired')
    expect(repaired?.type === 'state-repaired' && repaired.reason).toContain('checksum')
    await log.close()
  })

  it('a raised clean.logEndOffset: the log ends after its last record, the next append leaves no hole, and the repair is reported', async () => {
    const { end } = await buildClosedLog(960)
    editState((s) => {
      ;(s.clean as { logEndOffset: number }).logEndOffset += 1
    })
    const { log, events } = await reopen()
    expect(log.logEndOffset).toBe(end)
    expect(log.append(recordsFor(end, 2)).baseOffset).toBe(end)
    expectRange(log, 0, end + 2)
    const recovered = events.find((e) => e.type === 'recovered')
    expect(recovered?.type === 'recovered' && recovered.reason).toContain('clean-shutdown state')
    await log.close()
  })

  it.each([
    ['lowered clean.logEndOffset', (s: Record<string, { logEndOffset: number }>) => void (s.clean.logEndOffset -= 3)],
    [
      'lowered clean.maxTimestamp',
      (s: Record<string, { maxTimestamp: number }>) => void (s.clean.maxTimestamp -= 86_400_000),
    ],
    [
      'changed clean.firstBatchTimestamp',
      (s: Record<string, { firstBatchTimestamp: number }>) => void (s.clean.firstBatchTimestamp += 1),
    ],
    [
      'clean.offsetOfMaxTimestamp as a string',
      (s: Record<string, Record<string, unknown>>) => void (s.clean.offsetOfMaxTimestamp = '3'),
    ],
  ] as const)('%s: the log keeps its real end and timestamps, and the repair is reported', async (_name, edit) => {
    const { end } = await buildClosedLog(961)
    const before = await reopen()
    const truth = before.log.segmentSummaries().at(-1)!.largestTimestamp
    await before.log.close()
    editState(edit as (s: Record<string, unknown>) => void)
    const { log, events } = await reopen()
    expect(log.logEndOffset).toBe(end)
    expect(log.segmentSummaries().at(-1)!.largestTimestamp).toBe(truth)
    expectRange(log, 0, end)
    expect(events.some((e) => e.type === 'recovered' || e.type === 'state-repaired')).toBe(true)
    await log.close()
  })

  it.each([
    ['2^53', 2 ** 53],
    ['2^53 - 1', 2 ** 53 - 1],
    ['one past the log end', 'end+1'],
    ['1e300', 1e300],
    ['-1', -1],
    ['1.5', 1.5],
    ['a string', '7'],
    ['null', null],
  ] as const)(
    'a logStartOffset of %s opens at once with every record readable and reports the repair, never deleting data',
    async (_name, value) => {
      const { end, bases } = await buildClosedLog(970)
      editState((s) => {
        s.logStartOffset = value === 'end+1' ? end + 1 : value
      })
      const started = performance.now()
      const { log, events } = await reopen()
      expect(log.logStartOffset).toBe(0)
      expect(log.logEndOffset).toBe(end)
      expectRange(log, 0, end)
      expect(log.append(recordsFor(end, 1)).baseOffset).toBe(end)
      expect(log.read(end)[0]?.offset).toBe(end)
      expect(performance.now() - started).toBeLessThan(5000)
      expect(segmentBases(dir)).toEqual(bases)
      expect(events.some((e) => e.type === 'state-repaired')).toBe(true)
      await log.close()
    },
  )

  it.each([
    ['recoveryPoint', 'x'],
    ['recoveryPoint', 2 ** 60],
    ['version', 2],
    ['compactedEnd', -4],
  ] as const)('%s = %s is ignored and reported; the log opens with every record', async (field, value) => {
    const { end } = await buildClosedLog(975)
    editState((s) => {
      s[field] = value
    })
    const { log, events } = await reopen()
    expect(log.logEndOffset).toBe(end)
    expectRange(log, 0, end)
    expect(events.some((e) => e.type === 'state-repaired')).toBe(true)
    await log.close()
  })
})

describe('pre-encoded batches', () => {
  it('are rejected with INVALID_RECORD when their record count does not match their offset span (the log assigns offsets densely)', async () => {
    const log = await PartitionLog.open(dir, { config: SMALL })
    const batch = encodeBatch(recordsFor(0, 3))
    // lastOffsetDelta 2 → 5, then a valid CRC again: a batch claiming 6 offsets for 3 records.
    batch.writeInt32BE(5, 23)
    batch.writeUInt32BE(crc32c(batch, 21, batch.length), 17)
    expect(() => log.appendBatch(batch)).toThrow(expect.objectContaining({ code: 'INVALID_RECORD' }))
    expect(log.logEndOffset).toBe(0)
    await log.close()
  })
})
