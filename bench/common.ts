/**
 * Shared helpers for the benchmarks in this folder: record data, statistics, a seeded PRNG and formatting.
 * Nothing here touches the log; see `partition-log.ts` and `reopen-scaling.ts`.
 */
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import type { BatchRecordInput } from '../src/segment/record-batch.js'

export const KEY_BYTES = 16
export const VALUE_BYTES = 100
/** Payload counted for MB/s: key + value bytes of one record (framing and batch headers excluded). */
export const PAYLOAD_BYTES = KEY_BYTES + VALUE_BYTES
/** Fixed base for record timestamps: record i has timestamp BASE_TIMESTAMP + i. */
export const BASE_TIMESTAMP = 1_700_000_000_000
/** Distinct keys/values generated up front; record i uses slot i % DATA_SLOTS. */
export const DATA_SLOTS = 1000

export interface RecordData {
  keys: Buffer[]
  values: Buffer[]
}

/** Random keys and values, generated once and reused by every workload. */
export function makeRecordData(slots = DATA_SLOTS): RecordData {
  const pool = randomBytes(slots * PAYLOAD_BYTES)
  const keys: Buffer[] = []
  const values: Buffer[] = []
  for (let j = 0; j < slots; j++) {
    const at = j * PAYLOAD_BYTES
    keys.push(pool.subarray(at, at + KEY_BYTES))
    values.push(pool.subarray(at + KEY_BYTES, at + PAYLOAD_BYTES))
  }
  return { keys, values }
}

/**
 * A reusable array of `size` record objects. `fill(first)` stamps records first..first+size-1 into it (timestamps
 * BASE_TIMESTAMP + i, key/value of slot i % slots). Safe to reuse because `append` encodes synchronously.
 */
export class RecordBuffer {
  readonly records: BatchRecordInput[]
  constructor(
    private readonly data: RecordData,
    readonly size: number,
  ) {
    this.records = []
    for (let j = 0; j < size; j++) this.records.push({ timestamp: 0, key: null, value: null })
  }

  fill(first: number): BatchRecordInput[] {
    const n = this.data.keys.length
    for (let j = 0; j < this.size; j++) {
      const i = first + j
      const r = this.records[j]
      r.timestamp = BASE_TIMESTAMP + i
      r.key = this.data.keys[i % n]
      r.value = this.data.values[i % n]
    }
    return this.records
  }
}

/** mulberry32: small, fast, fixed-seed PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Nearest-rank percentile (p in [0, 100]) of an unsorted sample; the sample is not modified. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN
  const sorted = [...sample].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

export function median(sample: readonly number[]): number {
  if (sample.length === 0) return Number.NaN
  const sorted = [...sample].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function rssMB(): number {
  return process.memoryUsage.rss() / 1e6
}

/** Peak resident set size of this process so far, in MB (maxRSS is reported in KB). */
export function peakRssMB(): number {
  return (process.resourceUsage().maxRSS * 1024) / 1e6
}

export function gc(): void {
  ;(globalThis as { gc?: () => void }).gc?.()
}

/** Rounds to `digits` significant digits for display/JSON. */
export function sig(n: number, digits = 4): number {
  if (!Number.isFinite(n) || n === 0) return n
  return Number(n.toPrecision(digits))
}

export function fmtNum(n: number, digits = 4): string {
  if (!Number.isFinite(n)) return String(n)
  const v = sig(n, digits)
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(v)
}

/** Prints rows as an aligned text table (first column left-aligned, the rest right-aligned). */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log(line(r))
}

/** Bytes one raw-fs baseline write buffers before a `writeSync` (the raw W1 of every benchmark). */
export const RAW_CHUNK_BYTES = 1 << 20

/**
 * The raw-fs bulk append: frames 0..n-1 of `frameBytes` each (`writeFrame` fills one in at a buffer offset)
 * written through a 1 MiB buffer from file position `position`, then one fsync. Returns each frame's position
 * (what the raw point reads use) and the file position after the last frame.
 */
export function writeRawFrames(
  fd: number,
  n: number,
  frameBytes: number,
  writeFrame: (buf: Buffer, at: number, i: number) => void,
  position = 0,
): { positions: Float64Array<ArrayBuffer>; end: number } {
  const positions = new Float64Array(n)
  const buf = Buffer.allocUnsafe(RAW_CHUNK_BYTES)
  let used = 0
  let filePos = position
  for (let i = 0; i < n; i++) {
    if (used + frameBytes > buf.length) {
      fs.writeSync(fd, buf, 0, used, filePos)
      filePos += used
      used = 0
    }
    positions[i] = filePos + used
    writeFrame(buf, used, i)
    used += frameBytes
  }
  if (used > 0) fs.writeSync(fd, buf, 0, used, filePos)
  fs.fsyncSync(fd)
  return { positions, end: filePos + used }
}
