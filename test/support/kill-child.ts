/**
 * Writer process for `test/log/kill.test.ts`, and the record content both sides agree on.
 *
 * Run as `node --import tsx test/support/kill-child.ts <dir> <seed>`: opens the PartitionLog in `<dir>` with
 * `KILL_TEST_CONFIG`, prints `ready <logEndOffset>`, then appends forever from `APPENDERS` concurrent loops. Each
 * loop appends one batch of 1..50 records (sizes from a PRNG seeded with `<seed>`), awaits `flush()`, and only then
 * prints `ack <lastOffset>`; concurrent flushes share fsyncs (group commit). The parent SIGKILLs it at a random
 * moment and checks that every acknowledged offset survived.
 *
 * Every record's content is a pure function of its offset (`recordFor`), so a reader can verify any record it
 * finds without knowing how it was batched.
 */
import * as nodePath from 'node:path'
import { pathToFileURL } from 'node:url'
import { type LogConfig, PartitionLog } from '../../src/log/partition-log.js'
import type { BatchRecordInput, DecodedRecord, RecordHeader } from '../../src/segment/record-batch.js'
import { mulberry32 } from './random.js'

/** Small segments and a dense index, so a short run rolls often. */
export const KILL_TEST_CONFIG: Partial<LogConfig> = { segmentBytes: 64 * 1024, indexIntervalBytes: 1024 }

export const APPENDERS = 4
export const MAX_BATCH_RECORDS = 50

/** Record timestamps are TIMESTAMP_BASE + offset. */
export const TIMESTAMP_BASE = 1_700_000_000_000

/** `v:<offset>:` followed by 0..199 pattern bytes, both derived from the offset. */
export function valueFor(offset: number): Buffer {
  const prefix = `v:${offset}:`
  const pad = (Math.imul(offset, 0x9e3779b1) >>> 0) % 200
  const value = Buffer.alloc(prefix.length + pad)
  value.write(prefix, 'latin1')
  for (let i = prefix.length; i < value.length; i++) value[i] = (offset * 31 + i * 7 + 13) & 0xff
  return value
}

/** `k<offset>`, or null for every 7th offset. */
export function keyFor(offset: number): Buffer | null {
  return offset % 7 === 0 ? null : Buffer.from(`k${offset}`)
}

/** A header on every 5th offset; every 15th also carries a null-valued one. */
export function headersFor(offset: number): RecordHeader[] {
  if (offset % 5 !== 0) return []
  const headers: RecordHeader[] = [{ key: 'h', value: Buffer.from(`h${offset}`) }]
  if (offset % 3 === 0) headers.push({ key: 'nil', value: null })
  return headers
}

export function recordFor(offset: number): BatchRecordInput {
  return {
    timestamp: TIMESTAMP_BASE + offset,
    key: keyFor(offset),
    value: valueFor(offset),
    headers: headersFor(offset),
  }
}

/** The records of a batch that will get base offset `base`. */
export function recordsFor(base: number, count: number): BatchRecordInput[] {
  const out: BatchRecordInput[] = []
  for (let i = 0; i < count; i++) out.push(recordFor(base + i))
  return out
}

const sameBytes = (a: Uint8Array | null, b: Uint8Array | null): boolean =>
  a === null || b === null ? a === b : Buffer.compare(a, b) === 0

/** Null when `r` is exactly what `recordFor(r.offset)` wrote; else a sentence saying what differs. */
export function recordProblem(r: DecodedRecord): string | null {
  const want = recordFor(r.offset)
  if (r.timestamp !== want.timestamp) return `offset ${r.offset}: timestamp ${r.timestamp}, expected ${want.timestamp}`
  if (!sameBytes(r.key, typeof want.key === 'string' ? Buffer.from(want.key) : want.key))
    return `offset ${r.offset}: key ${r.key?.toString('latin1')} differs`
  if (!sameBytes(r.value, want.value)) return `offset ${r.offset}: value ${r.value?.toString('latin1', 0, 16)}… differs`
  const wantHeaders = want.headers ?? []
  if (r.headers.length !== wantHeaders.length)
    return `offset ${r.offset}: ${r.headers.length} headers, expected ${wantHeaders.length}`
  for (let i = 0; i < wantHeaders.length; i++) {
    if (r.headers[i].key !== wantHeaders[i].key || !sameBytes(r.headers[i].value, wantHeaders[i].value)) {
      return `offset ${r.offset}: header ${i} differs`
    }
  }
  return null
}

async function main(dir: string, seed: number): Promise<void> {
  const rng = mulberry32(seed)
  const log = await PartitionLog.open(dir, { config: KILL_TEST_CONFIG })
  process.stdout.write(`ready ${log.logEndOffset}\n`)
  const appender = async (): Promise<never> => {
    for (;;) {
      const count = 1 + Math.floor(rng() * MAX_BATCH_RECORDS)
      const base = log.logEndOffset
      const info = log.append(recordsFor(base, count))
      if (info.baseOffset !== base || info.lastOffset !== base + count - 1) {
        throw new Error(`append got [${info.baseOffset}, ${info.lastOffset}], expected [${base}, ${base + count - 1}]`)
      }
      await log.flush()
      // Pipes are written synchronously on Linux: once this returns the parent can read the ack.
      process.stdout.write(`ack ${info.lastOffset}\n`)
    }
  }
  await Promise.all(Array.from({ length: APPENDERS }, appender))
}

const invokedAs = process.argv[1]
if (invokedAs !== undefined && import.meta.url === pathToFileURL(nodePath.resolve(invokedAs)).href) {
  const [dir, seed] = process.argv.slice(2)
  main(dir, Number(seed)).catch((err: unknown) => {
    process.stderr.write(`kill-child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  })
}
