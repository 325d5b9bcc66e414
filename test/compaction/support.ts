/**
 * Shared helpers of the compaction tests: a seeded PRNG, a workload of keyed updates whose content is a pure
 * function of its offset, and a model of what a compaction pass must leave.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { CleanJob } from '../../src/compaction/rewrite.js'
import type { LogConfig, PartitionLog } from '../../src/log/partition-log.js'
import type { BatchRecordInput, DecodedRecord } from '../../src/segment/record-batch.js'

export function tempDir(prefix = 'seglog-compaction-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** Small segments and a dense index so a few thousand records span many segments. */
export const SMALL_LOG: Partial<LogConfig> = { segmentBytes: 4096, indexIntervalBytes: 256, fileDeleteDelayMs: 0 }

export const TS_BASE = 1_700_000_000_000

/** A record as written, in a form that compares with `toExpected(decoded)`. */
export interface Rec {
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: [string, string | null][]
}

export function fromDecoded(r: DecodedRecord): Rec {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : r.key.toString('latin1'),
    value: r.value === null ? null : r.value.toString('latin1'),
    headers: r.headers.map((h) => [h.key, h.value === null ? null : Buffer.from(h.value).toString('latin1')]),
  }
}

export function toInput(r: Rec): BatchRecordInput {
  return {
    timestamp: r.timestamp,
    key: r.key === null ? null : Buffer.from(r.key, 'latin1'),
    value: r.value === null ? null : Buffer.from(r.value, 'latin1'),
    headers: r.headers.map(([k, v]) => ({ key: k, value: v === null ? null : Buffer.from(v, 'latin1') })),
  }
}

export interface WorkloadOptions {
  keys: number
  /** Fraction of records that are tombstones (value null). */
  tombstones?: number
  /** Fraction of records without a key. */
  unkeyed?: number
  /** Largest batch (records per append). */
  maxBatch?: number
  /** Record timestamp = tsBase + offset * tsStep. */
  tsBase?: number
  tsStep?: number
}

/**
 * Appends `count` records in batches of 1..maxBatch through `log.append`; returns what was written, by offset.
 * Content depends only on the PRNG and the offset, so a copy of the workload can be checked anywhere.
 */
export function appendWorkload(log: PartitionLog, rng: () => number, count: number, o: WorkloadOptions): Rec[] {
  const written: Rec[] = []
  const maxBatch = o.maxBatch ?? 5
  while (written.length < count) {
    const n = Math.min(count - written.length, 1 + Math.floor(rng() * maxBatch))
    const base = log.logEndOffset
    const batch: Rec[] = []
    for (let i = 0; i < n; i++) {
      const offset = base + i
      const unkeyed = rng() < (o.unkeyed ?? 0)
      const tomb = !unkeyed && rng() < (o.tombstones ?? 0)
      const key = unkeyed ? null : `key-${Math.floor(rng() * o.keys)}`
      const pad = 'x'.repeat(Math.floor(rng() * 40))
      batch.push({
        offset,
        timestamp: (o.tsBase ?? TS_BASE) + offset * (o.tsStep ?? 1),
        key,
        value: tomb ? null : `value-${offset}-${pad}`,
        headers: offset % 4 === 0 ? [['h', `h${offset}`]] : [],
      })
    }
    const info = log.append(batch.map(toInput))
    if (info.baseOffset !== base) throw new Error(`append landed at ${info.baseOffset}, expected ${base}`)
    written.push(...batch)
  }
  return written
}

/** Every readable record, in order. */
export function readAll(log: PartitionLog, from = log.logStartOffset): Rec[] {
  const out: Rec[] = []
  let next = from
  for (;;) {
    if (next >= log.logEndOffset) return out
    const part = log.read(next, { maxRecords: 1000, maxBytes: 256 * 1024 })
    if (part.length === 0) return out
    for (const r of part) out.push(fromDecoded(r))
    next = part[part.length - 1].offset + 1
  }
}

/**
 * What one pass must leave of `records` when its offset map covered [mapStart, endOffset) and everything below
 * mapStart was already compacted: records at/after endOffset stay; below it a record stays iff no later record in
 * [mapStart, endOffset) has its key, it has a key, and it is not a tombstone whose horizon passed.
 */
export function expectedAfterPass(
  records: readonly Rec[],
  mapStart: number,
  endOffset: number,
  dropTombstone: (r: Rec) => boolean = () => false,
): Rec[] {
  const latest = new Map<string, number>()
  for (const r of records) {
    if (r.offset >= mapStart && r.offset < endOffset && r.key !== null) latest.set(r.key, r.offset)
  }
  return records.filter((r) => {
    if (r.offset >= endOffset) return true
    if (r.key === null) return false
    if (r.offset < (latest.get(r.key) ?? -1)) return false
    if (r.value === null && dropTombstone(r)) return false
    return true
  })
}

/** Files in `dir` with a temporary suffix. */
export function tempFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.cleaned') || n.endsWith('.swap'))
}

/** A job over every inactive segment of `log`, the map covering all of them, at time `now`. */
export function jobFor(log: PartitionLog, now: number, over: Partial<CleanJob> = {}): CleanJob {
  const infos = log.segmentInfos()
  const segments = infos.slice(0, -1).map((s, i) => ({ ...s, endOffset: infos[i + 1].baseOffset }))
  return {
    dir: log.dir,
    segments,
    mapRange: [0, infos.at(-1)!.baseOffset],
    now,
    deleteRetentionMs: 1000,
    segmentBytes: log.effectiveConfig.segmentBytes,
    segmentIndexBytes: log.effectiveConfig.segmentIndexBytes,
    indexIntervalBytes: log.effectiveConfig.indexIntervalBytes,
    mapBytes: 1 << 20,
    ...over,
  }
}
