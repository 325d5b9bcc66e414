/**
 * PartitionLog benchmark: workloads W1–W5 against a raw-fs baseline, measured in the same process run.
 *
 *   npm run bench            (compiles with tsc into build/, then node --expose-gc build/bench/partition-log.js)
 *
 * Records: 16-byte key, 100-byte value (random, generated once and reused), timestamp = fixed base + i.
 * MB = 10^6 bytes of payload (key + value) — framing and batch headers are not counted.
 * Output: an aligned table, every run of the repeated workloads, and one final JSON line with all figures.
 * Environment (for quick trials only): SEGLOG_BENCH_RECORDS (default 1000000), SEGLOG_BENCH_RUNS (default 3).
 * See bench/README.md for what each workload does.
 */
import * as fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PartitionLog } from '../src/log/partition-log.js'
import {
  fmtNum,
  gc,
  KEY_BYTES,
  makeRecordData,
  median,
  mulberry32,
  PAYLOAD_BYTES,
  peakRssMB,
  percentile,
  printTable,
  RAW_CHUNK_BYTES,
  RecordBuffer,
  type RecordData,
  rssMB,
  sig,
  writeRawFrames,
} from './common.js'

const N = Number(process.env.SEGLOG_BENCH_RECORDS ?? 1_000_000)
const RUNS = Number(process.env.SEGLOG_BENCH_RUNS ?? 3)
const W1_BATCH = 1000
const W2_ITERATIONS = 2000
const W2_WARMUP = 20
/** W2 alternates seglog and raw in blocks of this many iterations, so both see the same machine noise. */
const W2_BLOCK = 100
const W3_MAX_RECORDS = 5000
const W3_MAX_BYTES = 1 << 20
const W4_READS = 10_000
const W4_SEED = 0x5eed2024
const W4_BLOCK = 1000
const W5_REPS = 20
/** Raw frame: 4-byte big-endian length (= key + value bytes), key, value. */
const FRAME_BYTES = 4 + PAYLOAD_BYTES

const data: RecordData = makeRecordData()
const root = fs.mkdtempSync(join(tmpdir(), 'seglog-bench-'))
const rssAfter: Record<string, number> = {}

function noteRss(label: string): void {
  gc()
  rssAfter[label] = sig(rssMB())
}

/** Writes frame `i` (key/value of slot i) into `buf` at `at`. */
function writeFrame(buf: Buffer, at: number, i: number): void {
  const n = data.keys.length
  buf.writeUInt32BE(PAYLOAD_BYTES, at)
  data.keys[i % n].copy(buf, at + 4)
  data.values[i % n].copy(buf, at + 4 + KEY_BYTES)
}

// ---------------------------------------------------------------- W1: bulk append

interface ThroughputRun {
  seconds: number
  recordsPerSec: number
  mbPerSec: number
}

function throughput(records: number, seconds: number): ThroughputRun {
  return {
    seconds: sig(seconds),
    recordsPerSec: sig(records / seconds),
    mbPerSec: sig((records * PAYLOAD_BYTES) / 1e6 / seconds),
  }
}

async function w1Seglog(dir: string): Promise<{ run: ThroughputRun; log: PartitionLog }> {
  const log = await PartitionLog.open(dir)
  const buf = new RecordBuffer(data, W1_BATCH)
  const t0 = performance.now()
  for (let i = 0; i < N; i += W1_BATCH) log.append(buf.fill(i))
  await log.flush()
  const seconds = (performance.now() - t0) / 1000
  if (log.logEndOffset !== N) throw new Error(`W1: log end ${log.logEndOffset}, expected ${N}`)
  return { run: throughput(N, seconds), log }
}

function w1Raw(path: string): { run: ThroughputRun; positions: Float64Array } {
  const fd = fs.openSync(path, 'w')
  const t0 = performance.now()
  const { positions } = writeRawFrames(fd, N, FRAME_BYTES, writeFrame)
  const seconds = (performance.now() - t0) / 1000
  fs.closeSync(fd)
  return { run: throughput(N, seconds), positions }
}

// ---------------------------------------------------------------- W2: durable append latency

interface LatencyStats {
  iterations: number
  p50: number
  p99: number
}

function latencyStats(sample: number[]): LatencyStats {
  return { iterations: sample.length, p50: sig(percentile(sample, 50)), p99: sig(percentile(sample, 99)) }
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())))
}

/**
 * seglog (append + await flush) vs raw (writeSync + fsyncSync), plus a diagnostic raw variant that fsyncs with
 * async `fs.fsync` on the libuv pool as seglog's flush does, to show what the thread-pool hop alone costs.
 */
async function w2(batch: number): Promise<{ seglog: LatencyStats; raw: LatencyStats; rawAsyncFsync: LatencyStats }> {
  const dir = join(root, `w2-seglog-${batch}`)
  const log = await PartitionLog.open(dir)
  const rawPath = join(root, `w2-raw-${batch}.dat`)
  const fd = fs.openSync(rawPath, 'w')
  const asyncPath = join(root, `w2-raw-async-${batch}.dat`)
  const asyncFd = fs.openSync(asyncPath, 'w')
  const frames = Buffer.allocUnsafe(batch * FRAME_BYTES)
  const buf = new RecordBuffer(data, batch)
  const seglogMs: number[] = []
  const rawMs: number[] = []
  const rawAsyncMs: number[] = []
  let next = 0
  let rawNext = 0
  let rawPos = 0
  let asyncPos = 0
  const total = W2_WARMUP + W2_ITERATIONS
  let done = 0
  while (done < total) {
    const block = Math.min(W2_BLOCK, total - done)
    for (let k = 0; k < block; k++) {
      const records = buf.fill(next)
      const t0 = performance.now()
      log.append(records)
      await log.flush()
      const t = performance.now() - t0
      if (done + k >= W2_WARMUP) seglogMs.push(t)
      next += batch
    }
    for (let k = 0; k < block; k++) {
      const t0 = performance.now()
      for (let j = 0; j < batch; j++) writeFrame(frames, j * FRAME_BYTES, rawNext + j)
      fs.writeSync(fd, frames, 0, frames.length, rawPos)
      fs.fsyncSync(fd)
      const t = performance.now() - t0
      if (done + k >= W2_WARMUP) rawMs.push(t)
      rawNext += batch
      rawPos += frames.length
    }
    for (let k = 0; k < block; k++) {
      const t0 = performance.now()
      for (let j = 0; j < batch; j++) writeFrame(frames, j * FRAME_BYTES, rawNext + j)
      fs.writeSync(asyncFd, frames, 0, frames.length, asyncPos)
      await fsyncAsync(asyncFd)
      const t = performance.now() - t0
      if (done + k >= W2_WARMUP) rawAsyncMs.push(t)
      rawNext += batch
      asyncPos += frames.length
    }
    done += block
  }
  await log.close()
  fs.closeSync(fd)
  fs.closeSync(asyncFd)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(rawPath, { force: true })
  fs.rmSync(asyncPath, { force: true })
  return { seglog: latencyStats(seglogMs), raw: latencyStats(rawMs), rawAsyncFsync: latencyStats(rawAsyncMs) }
}

// ---------------------------------------------------------------- W3: sequential read

function w3Seglog(log: PartitionLog): ThroughputRun {
  const end = log.logEndOffset
  let next = log.logStartOffset
  let count = 0
  let valueBytes = 0
  let check = 0
  const t0 = performance.now()
  while (next < end) {
    const records = log.read(next, { maxRecords: W3_MAX_RECORDS, maxBytes: W3_MAX_BYTES })
    if (records.length === 0) throw new Error(`W3: empty read at ${next}`)
    for (const r of records) {
      valueBytes += r.value!.length
      check ^= r.value![0]
    }
    count += records.length
    next = records[records.length - 1].offset + 1
  }
  const seconds = (performance.now() - t0) / 1000
  if (count !== N || valueBytes !== N * (PAYLOAD_BYTES - KEY_BYTES)) {
    throw new Error(`W3: read ${count} records / ${valueBytes} value bytes (check ${check})`)
  }
  return throughput(count, seconds)
}

interface RawRecord {
  offset: number
  key: Buffer
  value: Buffer
}

/**
 * Reads the raw file in 1 MiB chunks and walks the frames. With `objects` (a diagnostic variant), it also does
 * what seglog's read API must: a fresh buffer per chunk, and one object with key/value Buffer views per record,
 * returned in an array and then consumed.
 */
function w3Raw(path: string, objects: boolean): ThroughputRun {
  const fd = fs.openSync(path, 'r')
  let chunk = Buffer.allocUnsafe(RAW_CHUNK_BYTES)
  let filePos = 0
  let carry = 0
  let count = 0
  let valueBytes = 0
  let check = 0
  const t0 = performance.now()
  for (;;) {
    const n = fs.readSync(fd, chunk, carry, chunk.length - carry, filePos)
    if (n === 0) break
    filePos += n
    const avail = carry + n
    let p = 0
    if (objects) {
      const out: RawRecord[] = []
      while (p + 4 <= avail) {
        const len = chunk.readUInt32BE(p)
        if (p + 4 + len > avail) break
        const k = p + 4
        out.push({
          offset: count + out.length,
          key: chunk.subarray(k, k + KEY_BYTES),
          value: chunk.subarray(k + KEY_BYTES, k + len),
        })
        p += 4 + len
      }
      for (const r of out) {
        valueBytes += r.value.length
        check ^= r.value[0]
      }
      count += out.length
    } else {
      while (p + 4 <= avail) {
        const len = chunk.readUInt32BE(p)
        if (p + 4 + len > avail) break
        valueBytes += len - KEY_BYTES
        check ^= chunk[p + 4 + KEY_BYTES]
        count++
        p += 4 + len
      }
    }
    carry = avail - p
    if (objects) {
      const fresh = Buffer.allocUnsafe(RAW_CHUNK_BYTES)
      if (carry > 0) chunk.copy(fresh, 0, p, avail)
      chunk = fresh
    } else if (carry > 0) {
      chunk.copy(chunk, 0, p, avail)
    }
  }
  const seconds = (performance.now() - t0) / 1000
  fs.closeSync(fd)
  if (count !== N || carry !== 0 || valueBytes !== N * (PAYLOAD_BYTES - KEY_BYTES)) {
    throw new Error(
      `W3 raw: read ${count} frames / ${valueBytes} value bytes, ${carry} trailing bytes (check ${check})`,
    )
  }
  return throughput(count, seconds)
}

// ---------------------------------------------------------------- W4: random point reads

function w4Offsets(): number[] {
  const rand = mulberry32(W4_SEED)
  const offsets: number[] = []
  for (let k = 0; k < W4_READS; k++) offsets.push(Math.floor(rand() * N))
  return offsets
}

/** Latencies in µs; alternates seglog and raw in blocks. `maxBytes` undefined = the read default. */
function w4(
  log: PartitionLog,
  rawPath: string,
  positions: Float64Array,
  offsets: readonly number[],
  maxBytes: number | undefined,
): { seglog: LatencyStats; raw: LatencyStats } {
  const fd = fs.openSync(rawPath, 'r')
  const frame = Buffer.allocUnsafe(FRAME_BYTES)
  const seglogUs: number[] = []
  const rawUs: number[] = []
  const options = maxBytes === undefined ? { maxRecords: 1 } : { maxRecords: 1, maxBytes }
  for (let start = 0; start < offsets.length; start += W4_BLOCK) {
    const stop = Math.min(offsets.length, start + W4_BLOCK)
    for (let k = start; k < stop; k++) {
      const o = offsets[k]
      const t0 = performance.now()
      const records = log.read(o, options)
      const t = performance.now() - t0
      if (records.length !== 1 || records[0].offset !== o)
        throw new Error(`W4: read(${o}) returned offset ${records[0]?.offset}`)
      seglogUs.push(t * 1000)
    }
    for (let k = start; k < stop; k++) {
      const o = offsets[k]
      const t0 = performance.now()
      const n = fs.readSync(fd, frame, 0, FRAME_BYTES, positions[o])
      const len = frame.readUInt32BE(0)
      const t = performance.now() - t0
      if (n !== FRAME_BYTES || len !== PAYLOAD_BYTES) throw new Error(`W4 raw: bad frame for offset ${o}`)
      rawUs.push(t * 1000)
    }
  }
  fs.closeSync(fd)
  return { seglog: latencyStats(seglogUs), raw: latencyStats(rawUs) }
}

// ---------------------------------------------------------------- W5: reopen + read last record

async function w5Seglog(dir: string): Promise<{ medianMs: number; runsMs: number[] }> {
  const runs: number[] = []
  for (let k = 0; k < W5_REPS; k++) {
    const t0 = performance.now()
    const log = await PartitionLog.open(dir)
    const end = log.logEndOffset
    const records = log.read(end - 1, { maxRecords: 1 })
    const t = performance.now() - t0
    if (records.length !== 1 || records[0].offset !== end - 1)
      throw new Error(`W5: last record not found at ${end - 1}`)
    runs.push(t)
    await log.close()
  }
  return { medianMs: sig(median(runs)), runsMs: runs.map((t) => sig(t)) }
}

function w5Raw(path: string, lastPosition: number): { medianMs: number; runsMs: number[] } {
  const runs: number[] = []
  const frame = Buffer.allocUnsafe(FRAME_BYTES)
  for (let k = 0; k < W5_REPS; k++) {
    const t0 = performance.now()
    const fd = fs.openSync(path, 'r')
    const n = fs.readSync(fd, frame, 0, FRAME_BYTES, lastPosition)
    const len = frame.readUInt32BE(0)
    const t = performance.now() - t0
    fs.closeSync(fd)
    if (n !== FRAME_BYTES || len !== PAYLOAD_BYTES) throw new Error('W5 raw: bad last frame')
    runs.push(t)
  }
  return { medianMs: sig(median(runs)), runsMs: runs.map((t) => sig(t)) }
}

// ---------------------------------------------------------------- main

function medianRun(runs: readonly ThroughputRun[]): ThroughputRun {
  return {
    seconds: sig(median(runs.map((r) => r.seconds))),
    recordsPerSec: sig(median(runs.map((r) => r.recordsPerSec))),
    mbPerSec: sig(median(runs.map((r) => r.mbPerSec))),
  }
}

async function main(): Promise<void> {
  const started = performance.now()
  console.log(
    `seglog PartitionLog bench — node ${process.version}, ${N.toLocaleString('en-US')} records ` +
      `(key ${KEY_BYTES} B + value ${PAYLOAD_BYTES - KEY_BYTES} B), ${RUNS} runs per throughput workload, data in ${root}`,
  )
  console.log('MB = 10^6 bytes of payload (key + value); framing/batch headers are not counted.')
  noteRss('start')

  // W1, RUNS times, alternating seglog and raw; a fresh directory each time. The last run's log and file stay
  // for W3/W4/W5.
  const w1SeglogRuns: ThroughputRun[] = []
  const w1RawRuns: ThroughputRun[] = []
  let log: PartitionLog | null = null
  let logDir = ''
  let rawPath = ''
  let positions: Float64Array = new Float64Array(0)
  for (let r = 0; r < RUNS; r++) {
    if (log !== null) {
      await log.close()
      fs.rmSync(logDir, { recursive: true, force: true })
      fs.rmSync(rawPath, { force: true })
    }
    logDir = join(root, `w1-seglog-${r}`)
    rawPath = join(root, `w1-raw-${r}.dat`)
    gc()
    const s = await w1Seglog(logDir)
    log = s.log
    w1SeglogRuns.push(s.run)
    gc()
    const raw = w1Raw(rawPath)
    positions = raw.positions
    w1RawRuns.push(raw.run)
    console.log(`  W1 run ${r + 1}: seglog ${s.run.seconds} s, raw ${raw.run.seconds} s`)
  }
  if (log === null) throw new Error('no W1 run')
  noteRss('W1')

  // W2
  const w2b1 = await w2(1)
  const w2b100 = await w2(100)
  console.log(`  W2 done: batch 1 p50 ${w2b1.seglog.p50} ms vs raw ${w2b1.raw.p50} ms`)
  noteRss('W2')

  // W3, RUNS times over the last W1 log/file.
  const w3SeglogRuns: ThroughputRun[] = []
  const w3RawRuns: ThroughputRun[] = []
  const w3RawObjectRuns: ThroughputRun[] = []
  for (let r = 0; r < RUNS; r++) {
    gc()
    w3SeglogRuns.push(w3Seglog(log))
    gc()
    w3RawRuns.push(w3Raw(rawPath, false))
    gc()
    w3RawObjectRuns.push(w3Raw(rawPath, true))
    console.log(`  W3 run ${r + 1}: seglog ${w3SeglogRuns[r].seconds} s, raw ${w3RawRuns[r].seconds} s`)
  }
  noteRss('W3')

  // W4: the specified read (maxRecords: 1, default maxBytes), then a diagnostic variant with maxBytes: 1.
  const offsets = w4Offsets()
  gc()
  const w4Main = w4(log, rawPath, positions, offsets, undefined)
  gc()
  const w4Small = w4(log, rawPath, positions, offsets, 1)
  console.log(`  W4 done: p50 ${w4Main.seglog.p50} µs vs raw ${w4Main.raw.p50} µs`)
  noteRss('W4')

  // W5: clean close, then open + read the last record, W5_REPS times.
  await log.close()
  gc()
  const w5s = await w5Seglog(logDir)
  const w5r = w5Raw(rawPath, positions[N - 1])
  noteRss('W5')

  const w1s = medianRun(w1SeglogRuns)
  const w1r = medianRun(w1RawRuns)
  const w3s = medianRun(w3SeglogRuns)
  const w3r = medianRun(w3RawRuns)
  const w3o = medianRun(w3RawObjectRuns)
  const pct = (a: number, b: number): number => sig((100 * a) / b, 3)
  const times = (a: number, b: number): number => sig(a / b, 3)

  const ratios = {
    w1PercentOfRaw: pct(w1s.recordsPerSec, w1r.recordsPerSec),
    w2Batch1P50X: times(w2b1.seglog.p50, w2b1.raw.p50),
    w2Batch1P99X: times(w2b1.seglog.p99, w2b1.raw.p99),
    w2Batch100P50X: times(w2b100.seglog.p50, w2b100.raw.p50),
    w2Batch100P99X: times(w2b100.seglog.p99, w2b100.raw.p99),
    w2Batch1P50XVsAsyncFsync: times(w2b1.seglog.p50, w2b1.rawAsyncFsync.p50),
    w2Batch100P50XVsAsyncFsync: times(w2b100.seglog.p50, w2b100.rawAsyncFsync.p50),
    w3PercentOfRaw: pct(w3s.recordsPerSec, w3r.recordsPerSec),
    w3PercentOfRawWithObjects: pct(w3s.recordsPerSec, w3o.recordsPerSec),
    w4P50X: times(w4Main.seglog.p50, w4Main.raw.p50),
    w4P99X: times(w4Main.seglog.p99, w4Main.raw.p99),
    w4MaxBytes1P50X: times(w4Small.seglog.p50, w4Small.raw.p50),
    w5X: times(w5s.medianMs, w5r.medianMs),
  }
  const n = N >= 1e6 && N % 1e6 === 0 ? `${N / 1e6}M` : N.toLocaleString('en-US')
  const rows: string[][] = []
  const met = (ok: boolean): string => (ok ? 'yes' : 'NO')
  /** Three rows (records/s, MB/s, seconds); the ratio is seglog as % of the baseline. */
  const throughputRows = (label: string, s: ThroughputRun, raw: ThroughputRun, targetPct: number | null): void => {
    const ratio = pct(s.recordsPerSec, raw.recordsPerSec)
    const target = targetPct === null ? '' : `>= ${targetPct}%`
    const ok = targetPct === null ? '' : met(ratio >= targetPct)
    rows.push([label, 'records/s', fmtNum(s.recordsPerSec), fmtNum(raw.recordsPerSec), `${ratio}% of raw`, target, ok])
    rows.push(['', 'MB/s payload', fmtNum(s.mbPerSec), fmtNum(raw.mbPerSec), '', '', ''])
    rows.push(['', 'total s', fmtNum(s.seconds), fmtNum(raw.seconds), '', '', ''])
  }
  /** Two rows (p50, p99); the ratio is seglog / baseline. The target applies to p50. */
  const latencyRows = (
    label: string,
    unit: string,
    s: LatencyStats,
    raw: LatencyStats,
    targetX: number | null,
  ): void => {
    const r50 = times(s.p50, raw.p50)
    const target = targetX === null ? '' : `<= ${targetX}x`
    const ok = targetX === null ? '' : met(r50 <= targetX)
    rows.push([label, `p50 ${unit}`, fmtNum(s.p50), fmtNum(raw.p50), `${r50}x`, target, ok])
    rows.push(['', `p99 ${unit}`, fmtNum(s.p99), fmtNum(raw.p99), `${times(s.p99, raw.p99)}x`, '', ''])
  }
  throughputRows(`W1 append ${n} (batches of ${W1_BATCH}) + flush`, w1s, w1r, 60)
  latencyRows('W2 append 1 + flush', 'ms', w2b1.seglog, w2b1.raw, 1.2)
  latencyRows('  diag: raw with async fs.fsync', 'ms', w2b1.seglog, w2b1.rawAsyncFsync, null)
  latencyRows('W2 append 100 + flush', 'ms', w2b100.seglog, w2b100.raw, 1.2)
  latencyRows('  diag: raw with async fs.fsync', 'ms', w2b100.seglog, w2b100.rawAsyncFsync, null)
  // W3's baseline is a raw reader that hands out records ({offset, key, value} views), the work any reader API
  // must do; the bare frame walk (no record objects) is kept as a diagnostic row. The issue's stated raw-fs W3
  // range (2.1–3.1 M rec/s on this machine) matches the record-producing reader.
  throughputRows(`W3 sequential read ${n}`, w3s, w3o, 60)
  throughputRows('  diag: raw frame walk, no record objects', w3s, w3r, null)
  latencyRows(`W4 ${W4_READS.toLocaleString('en-US')} point reads (maxRecords 1)`, 'µs', w4Main.seglog, w4Main.raw, 1.5)
  latencyRows('  diag: same with maxBytes 1', 'µs', w4Small.seglog, w4Small.raw, null)
  rows.push([
    `W5 clean reopen + read last (median of ${W5_REPS})`,
    'ms',
    fmtNum(w5s.medianMs),
    fmtNum(w5r.medianMs),
    `${ratios.w5X}x`,
    '<= 15 ms',
    met(w5s.medianMs <= 15),
  ])
  console.log('')
  printTable(['workload', 'metric', 'seglog', 'raw fs', 'seglog vs raw', 'target', 'met'], rows)
  console.log('("diag" rows compare the same seglog figures with a diagnostic variant of the raw baseline.)')

  console.log('\nAll runs (seconds):')
  printTable(
    ['workload', ...w1SeglogRuns.map((_, r) => `run ${r + 1}`), 'median'],
    [
      ['W1 seglog', ...w1SeglogRuns.map((r) => fmtNum(r.seconds)), fmtNum(w1s.seconds)],
      ['W1 raw', ...w1RawRuns.map((r) => fmtNum(r.seconds)), fmtNum(w1r.seconds)],
      ['W3 seglog', ...w3SeglogRuns.map((r) => fmtNum(r.seconds)), fmtNum(w3s.seconds)],
      ['W3 raw (records)', ...w3RawObjectRuns.map((r) => fmtNum(r.seconds)), fmtNum(w3o.seconds)],
      ['W3 raw frame walk (diag)', ...w3RawRuns.map((r) => fmtNum(r.seconds)), fmtNum(w3r.seconds)],
    ],
  )
  console.log(
    `W2: ${W2_ITERATIONS} iterations per batch size after ${W2_WARMUP} warm-up; W4 seed 0x${W4_SEED.toString(16)}`,
  )
  console.log(`W5 seglog runs (ms): ${w5s.runsMs.join(' ')}`)
  const peak = sig(peakRssMB())
  console.log(
    `RSS after each workload (MB): ${Object.entries(rssAfter)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; peak RSS ${peak} MB`,
  )
  const elapsed = sig((performance.now() - started) / 1000, 3)
  console.log(`Elapsed ${elapsed} s\n`)

  const result = {
    bench: 'seglog-partition-log',
    node: process.version,
    records: N,
    keyBytes: KEY_BYTES,
    valueBytes: PAYLOAD_BYTES - KEY_BYTES,
    mbIs: '1e6 bytes of key+value payload',
    runs: RUNS,
    w1: { seglog: w1s, raw: w1r, seglogRuns: w1SeglogRuns, rawRuns: w1RawRuns, batch: W1_BATCH },
    w2: { batch1: w2b1, batch100: w2b100, unit: 'ms', warmup: W2_WARMUP },
    w3: {
      seglog: w3s,
      raw: w3r,
      seglogRuns: w3SeglogRuns,
      rawRuns: w3RawRuns,
      rawWithObjects: w3o,
      rawWithObjectsRuns: w3RawObjectRuns,
      maxRecords: W3_MAX_RECORDS,
      maxBytes: W3_MAX_BYTES,
    },
    w4: { default: w4Main, maxBytes1: w4Small, unit: 'us', reads: W4_READS, seed: W4_SEED },
    w5: { seglog: w5s, raw: w5r, unit: 'ms', reps: W5_REPS },
    ratios,
    rssAfterMB: rssAfter,
    peakRssMB: peak,
    elapsedSeconds: elapsed,
  }
  console.log(JSON.stringify(result))
}

try {
  await main()
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
