/**
 * The batch cache's budget accounting: entries belong to their segment and are released when the segment's data
 * goes away (retention, truncation, close), so the budget in use is always what the live segments hold.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PartitionLog } from '../../src/log/partition-log.js'
import { BatchCache } from '../../src/segment/batch-cache.js'

let dir: string

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-batch-cache-'))
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const PER_BATCH = 40
const BATCHES = 60

/** A log of BATCHES batches of PER_BATCH records (big enough to get record tables), in segments of ~4 batches. */
async function build(cache: BatchCache): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, {
    config: { segmentBytes: 8 * 1024, indexIntervalBytes: 512, fileDeleteDelayMs: 0 },
    batchCache: cache,
  })
  for (let b = 0; b < BATCHES; b++) {
    const records = Array.from({ length: PER_BATCH }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`value-${b}-${i}-`.padEnd(40, 'x')),
      timestamp: 1_700_000_000_000 + b,
    }))
    log.append(records)
  }
  expect(log.segmentInfos().length).toBeGreaterThan(6)
  return log
}

/** Point reads inside every batch of [from, to): each caches its batch's record table. */
function pointReads(log: PartitionLog, from: number, to: number): void {
  for (let o = from; o < to; o += PER_BATCH) {
    const [r] = log.read(o + PER_BATCH - 1, { maxRecords: 1 })
    expect(r.offset).toBe(o + PER_BATCH - 1)
  }
}

describe('BatchCache', () => {
  it('releases the entries of segments that retention deletes: the budget in use is what the live segments hold', async () => {
    const cache = new BatchCache(1 << 22)
    const log = await build(cache)
    const infos = log.segmentInfos()
    const survivorsFrom = infos[3].baseOffset
    pointReads(log, survivorsFrom, infos.at(-1)!.baseOffset)
    const live = cache.size
    expect(live).toBeGreaterThan(0)
    pointReads(log, 0, survivorsFrom)
    expect(cache.size).toBeGreaterThan(live)
    expect(log.deleteOldestSegments(3, 'test retention')).toBe(3)
    expect(log.segmentInfos()[0].baseOffset).toBe(survivorsFrom)
    expect(cache.size).toBe(live)
    await log.close()
    expect(cache.size).toBe(0)
  })

  it('releases the entries of segments that truncation cuts or deletes', async () => {
    const cache = new BatchCache(1 << 22)
    const log = await build(cache)
    const infos = log.segmentInfos()
    const cut = infos[2].baseOffset
    pointReads(log, 0, cut)
    const live = cache.size
    expect(live).toBeGreaterThan(0)
    pointReads(log, cut, log.logEndOffset)
    expect(cache.size).toBeGreaterThan(live)
    log.truncateTo(cut)
    expect(log.logEndOffset).toBe(cut)
    expect(cache.size).toBe(live)
    // Reads after the cut cache again from the data now there, and the budget grows only by them.
    pointReads(log, 0, cut)
    expect(cache.size).toBe(live)
    await log.close()
    expect(cache.size).toBe(0)
  })
})
