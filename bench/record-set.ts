/**
 * Record-set benchmark: what a Produce costs the partition log, and what a Fetch costs it, in one process run.
 *
 *   npx tsc -p tsconfig.scripts.json && node --expose-gc build/bench/record-set.js
 *
 * 1 M records of a 100-byte value (no key, no headers), timestamp = fixed base + i, encoded up front as client
 * batches of about 1 MiB (what librdkafka sends with batch.size 1 MiB). Appends go to the page cache (no fsync:
 * the durability cost is the same for every path). Paths, each on a fresh partition:
 * - appendBatch:      the existing one-batch path (CRC and header checks, no record walk);
 * - recordSet x1:     appendRecordSet with one batch per call (CRC, header, record walk);
 * - recordSet x4:     appendRecordSet with four batches per call (one write each);
 * - checks only:      checkRecordSet alone over every batch (the validation share), and the CRC alone;
 * - encode+append:    the native path, log.append of ~9,300 records per call (encoding included).
 * Reads of the written partition: readRaw in 1 MiB fetches vs read() decoding every record.
 * Environment: SEGLOG_BENCH_RECORDS (default 1000000), SEGLOG_BENCH_RUNS (default 5). Prints medians.
 */
import * as fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PartitionLog } from '../src/log/partition-log.js'
import { crc32c } from '../src/segment/crc32c.js'
import { ATTRIBUTES_OFFSET, type BatchRecordInput, encodeBatch, TimestampType } from '../src/segment/record-batch.js'
import { checkRecordSet } from '../src/segment/record-set.js'

const N = Number(process.env.SEGLOG_BENCH_RECORDS ?? 1_000_000)
const RUNS = Number(process.env.SEGLOG_BENCH_RUNS ?? 5)
const VALUE_BYTES = 100
const BATCH_TARGET = 1024 * 1024 - 4096
const T0 = 1_700_000_000_000

function gc(): void {
  ;(globalThis as { gc?: () => void }).gc?.()
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]
}

const value = Buffer.alloc(VALUE_BYTES, 0x61)
const records: BatchRecordInput[] = []
for (let i = 0; i < N; i++) records.push({ timestamp: T0 + i, key: null, value, headers: null })
// Records per batch so a batch is just under 1 MiB (a record of a 100-byte value is ~108 bytes here).
const perRecord = encodeBatch(records.slice(0, 1000)).length / 1000
const PER_BATCH = Math.floor(BATCH_TARGET / perRecord)
const groups: BatchRecordInput[][] = []
for (let i = 0; i < N; i += PER_BATCH) groups.push(records.slice(i, i + PER_BATCH))
const encoded = groups.map((g) => encodeBatch(g))
const totalBytes = encoded.reduce((n, b) => n + b.length, 0)

function fresh(): Buffer[] {
  return encoded.map((b) => Buffer.from(b))
}

async function withLog<T>(fn: (log: PartitionLog) => T): Promise<T> {
  const dir = fs.mkdtempSync(join(tmpdir(), 'seglog-bench-rs-'))
  const log = await PartitionLog.open(dir, { config: { maxMessageBytes: 2 * 1024 * 1024 } })
  try {
    return fn(log)
  } finally {
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

type Result = { name: string; ms: number[] }
const results: Result[] = []
function record(name: string, ms: number): void {
  let r = results.find((x) => x.name === name)
  if (r === undefined) {
    r = { name, ms: [] }
    results.push(r)
  }
  r.ms.push(ms)
}

const rules = {
  maxBatchBytes: 2 * 1024 * 1024,
  timestampType: TimestampType.CreateTime,
  requireKeys: false,
  checkValue: null,
  decompress: undefined,
}

for (let run = 0; run < RUNS; run++) {
  {
    const batches = fresh()
    gc()
    await withLog((log) => {
      const t = performance.now()
      for (const b of batches) log.appendBatch(b)
      record('appendBatch (1 batch per call)', performance.now() - t)
    })
  }
  {
    const batches = fresh()
    gc()
    await withLog((log) => {
      const t = performance.now()
      for (const b of batches) log.appendRecordSet(b)
      record('appendRecordSet (1 batch per call)', performance.now() - t)
    })
  }
  {
    const batches = fresh()
    const sets: Buffer[] = []
    for (let i = 0; i < batches.length; i += 4) sets.push(Buffer.concat(batches.slice(i, i + 4)))
    gc()
    await withLog((log) => {
      const t = performance.now()
      for (const s of sets) log.appendRecordSet(s)
      record('appendRecordSet (4 batches per call)', performance.now() - t)
    })
  }
  {
    gc()
    let t = performance.now()
    for (const b of encoded) checkRecordSet(b, rules)
    record('checkRecordSet alone (CRC + header + record walk)', performance.now() - t)
    t = performance.now()
    for (const b of encoded) crc32c(b, ATTRIBUTES_OFFSET, b.length)
    record('CRC-32C alone', performance.now() - t)
  }
  {
    gc()
    await withLog((log) => {
      const t = performance.now()
      for (const g of groups) log.append(g)
      record('append(records): encode + append', performance.now() - t)
      // Reads of what was written.
      let t2 = performance.now()
      let offset = 0
      while (offset < log.logEndOffset) {
        const r = log.readRaw(offset, 1024 * 1024)
        let at = 0
        let lastBase = 0
        let lastDelta = 0
        for (const c of r.chunks) {
          for (at = 0; at < c.length; at += c.readInt32BE(at + 8) + 12) {
            lastBase = Number(c.readBigInt64BE(at))
            lastDelta = c.readInt32BE(at + 23)
          }
        }
        offset = lastBase + lastDelta + 1
      }
      record('readRaw, 1 MiB fetches', performance.now() - t2)
      t2 = performance.now()
      offset = 0
      while (offset < log.logEndOffset) {
        const got = log.read(offset, { maxRecords: 10_000, maxBytes: 1024 * 1024 })
        offset = got[got.length - 1].offset + 1
      }
      record('read(): decode every record', performance.now() - t2)
    })
  }
}

console.log(
  `${N} records of ${VALUE_BYTES} bytes in ${encoded.length} client batches of ${PER_BATCH} records (${(totalBytes / encoded.length / 1024).toFixed(0)} KiB), ${RUNS} runs, medians:`,
)
for (const r of results) {
  const ms = median(r.ms)
  const rate = N / (ms / 1000)
  console.log(
    `${r.name.padEnd(52)} ${ms.toFixed(1).padStart(8)} ms  ${(rate / 1e6).toFixed(2).padStart(6)} M records/s  ${(totalBytes / 1e6 / (ms / 1000)).toFixed(0).padStart(6)} MB/s`,
  )
}
