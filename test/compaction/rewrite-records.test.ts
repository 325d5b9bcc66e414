/**
 * What a compaction pass keeps of each surviving record: its headers exactly (every entry, in order, repeated keys
 * and null values included) and its timestamp exactly, also when the batch is rebuilt around a tombstone's delete
 * horizon and the record timestamps are far from it.
 */
import * as fs from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCleanJob } from '../../src/compaction/rewrite.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import { readBatchHeader } from '../../src/segment/record-batch.js'
import { jobFor, type Rec, readAll, SMALL_LOG, TS_BASE, tempDir, toInput } from './support.js'

const NOW = TS_BASE + 10_000_000
const MAX = Number.MAX_SAFE_INTEGER
let dir: string

beforeEach(() => {
  dir = tempDir()
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const HEADERS: Rec['headers'] = [
  ['h', null],
  ['h', '1'],
  ['g', ''],
  ['h', '2'],
  ['__proto__', 'p'],
]

/**
 * Offsets 0..4 in two batches of an inactive segment, then one record in the active segment. Offset 0 is
 * superseded by offset 3 and offset 1 is a tombstone, so the first batch is rebuilt; the second is copied as is.
 */
async function writeLog(timestamps: number[]): Promise<{ log: PartitionLog; written: Rec[] }> {
  const log = await PartitionLog.open(dir, { config: SMALL_LOG })
  const ts = (i: number) => timestamps[i % timestamps.length]
  const written: Rec[] = [
    { offset: 0, timestamp: ts(0), key: 'a', value: 'a0', headers: HEADERS },
    { offset: 1, timestamp: ts(1), key: 'b', value: null, headers: [['t', null]] },
    { offset: 2, timestamp: ts(2), key: 'c', value: 'c2', headers: HEADERS },
    { offset: 3, timestamp: ts(3), key: 'a', value: 'a3', headers: [['x', 'y']] },
    { offset: 4, timestamp: ts(4), key: 'd', value: 'd4', headers: HEADERS },
    { offset: 5, timestamp: ts(5), key: 'e', value: 'e5', headers: [] },
  ]
  log.append(written.slice(0, 3).map(toInput))
  log.append(written.slice(3, 5).map(toInput))
  log.roll()
  log.append(written.slice(5).map(toInput))
  return { log, written }
}

describe('compaction of record contents', () => {
  it('keeps every header entry, in order, with repeated keys and null values, in rebuilt and copied batches', async () => {
    const { log, written } = await writeLog([TS_BASE, TS_BASE + 1, TS_BASE + 2])
    const result = await runCleanJob(jobFor(log, NOW))
    log.replaceSegments(result.newSegments, result.replacedBaseOffsets)
    expect(result.recordsRemoved).toBe(1)
    expect(readAll(log)).toEqual(written.slice(1))
    await log.close()
  })

  it('keeps timestamps exact when a tombstone delete horizon is stamped far from them', async () => {
    const { log, written } = await writeLog([MAX, 0, 8.64e15, NOW, 0, NOW])
    // Tombstones kept "forever": the horizon is clamped to the largest exact timestamp, not now + 2^53 − 1.
    const result = await runCleanJob(jobFor(log, NOW, { deleteRetentionMs: MAX }))
    log.replaceSegments(result.newSegments, result.replacedBaseOffsets)
    const first = readBatchHeader(fs.readFileSync(`${dir}/${'0'.repeat(20)}.log`), 0)
    expect(first.attributes & 0x40).toBe(0x40)
    expect(first.baseTimestamp).toBe(MAX)
    expect(readAll(log)).toEqual(written.slice(1))
    await log.close()
  })
})
