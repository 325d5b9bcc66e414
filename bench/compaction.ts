/**
 * Compaction benchmark: cleaner throughput and memory, and append latency while a pass runs.
 *
 *   npm run bench:compaction   (compiles into build/, then node --expose-gc build/bench/compaction.js)
 *
 * Log: 10 M records = 1 M distinct 16-byte keys × 10 updates, 100-byte values, appended in batches of 1,000 to a
 * PartitionLog with segmentBytes = 64 MiB (~1.27 GB, 20 segments), one flush at the end, then `roll()` + one more
 * record so every data record is in a non-active (cleanable) segment. Records are written in 10 rounds; round r
 * holds every key once, in the order `(j * A + r * B) mod keys`, so the 10 updates of a key are ~1 M records
 * (~127 MB) apart and the last round is what survives.
 *
 * Scenarios (each in its own node process, started by this script, so RSS figures start from scratch):
 * - C1: `compactPartition(log, { cleanupPolicy: 'compact', minCleanableDirtyRatio: 0.5 }, { force, mapBytes })`
 *   with a 32 MiB map (fits every key: one pass).
 * - C2: the default 16 MiB map (943,715 keys): each pass maps only a prefix of the dirty range, so passes repeat
 *   until `mapFull` is false (or a pass cleans nothing). One Cleaner (one worker thread) for all passes.
 * - C2w: C2 with a fresh Cleaner per pass (diagnostic: worker memory not carried from pass to pass).
 * - C3: the 16 MiB map on a 100 k-key log (1 M records): memory vs key count.
 * - L: on a fresh 10 M-record log, durable appends (`append` of 1 record + `await flush()`) and an acks 1-style
 *   variant (`await setImmediate` + `append`, no flush: event-loop stalls only) alternate in blocks of 100: 3 s
 *   idle, then during one 32 MiB-map pass (until it finishes), then 3 s idle again (noise check). p50/p99;
 *   target: durable p99 during ≤ 2× idle before. Per phase (idle, map, rewrite) it also records what the main
 *   thread went through: event-loop delay (`monitorEventLoopDelay`), utilization, GC pauses, and the CPU used
 *   by the main thread, the busiest other thread (the cleaner's worker) and the rest (Linux `/proc`).
 * Memory: the cleaner worker is a thread of the process, so process RSS is sampled every 50 ms during the passes
 * (max − the RSS just before, after a GC), next to the peak RSS (`resourceUsage().maxRSS`) before and after.
 * `log.replaceSegments` is wrapped (on the bench's instance) to time the swap on the main thread.
 *
 * Needs ~3 GB of disk under os.tmpdir() (one log at a time, plus the replaced segments, which stay as `.deleted`
 * until close): skipped when less than 5 GB is free. Everything is removed at the end. ~2–2.5 min.
 * Environment (for quick trials only): SEGLOG_BENCH_KEYS (default 1000000; records = 10 × keys),
 * SEGLOG_BENCH_SMALL_KEYS (default 100000; 0 skips C3), SEGLOG_BENCH_IDLE_MS (default 3000),
 * SEGLOG_BENCH_CPU_PROFILE=<file> (L only: a CPU profile of the main thread during the pass, for cpuprofile-top.ts).
 * One scenario alone: node --expose-gc build/bench/compaction.js --scenario c1|c2|c2w|c3|lat <existing dir>
 * (prints its figures as a `RESULT {json}` line).
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type EventLoopUtilization, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Cleaner } from '../src/compaction/cleaner.js'
import { type CompactionConfigInput, type CompactionResult, compactPartition } from '../src/compaction/compactor.js'
import { DEFAULT_OFFSET_MAP_BYTES } from '../src/compaction/offset-map.js'
import { type LogConfig, PartitionLog } from '../src/log/partition-log.js'
import type { BatchRecordInput } from '../src/segment/record-batch.js'
import {
  BASE_TIMESTAMP,
  fmtNum,
  gc,
  KEY_BYTES,
  makeRecordData,
  peakRssMB,
  percentile,
  printTable,
  sig,
  VALUE_BYTES,
} from './common.js'

const KEYS = Number(process.env.SEGLOG_BENCH_KEYS ?? 1_000_000)
const SMALL_KEYS = Number(process.env.SEGLOG_BENCH_SMALL_KEYS ?? 100_000)
const IDLE_MS = Number(process.env.SEGLOG_BENCH_IDLE_MS ?? 3000)
const UPDATES = 10
const BATCH = 1000
const MIB = 1024 * 1024
const SEGMENT_BYTES = 64 * MIB
const LARGE_MAP_BYTES = 32 * MIB
const MAX_PASSES = 40
const SAMPLE_MS = 50
const LATENCY_BLOCK = 100
const LATENCY_WARMUP = 200
const MIN_FREE_BYTES = 5e9
const logConfig: Partial<LogConfig> = { segmentBytes: SEGMENT_BYTES }
const compactionConfig: CompactionConfigInput = { cleanupPolicy: 'compact', minCleanableDirtyRatio: 0.5 }

const values = makeRecordData().values

// ---------------------------------------------------------------- keys and the log

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

/** A multiplier coprime with `keys`, so `j -> j * A mod keys` permutes the key ids of one round. */
function multiplierFor(keys: number): number {
  for (const a of [387_017, 7919, 104_729, 3]) if (gcd(a, keys) === 1) return a % keys || 1
  return 1
}

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The 16 key bytes of key id `id`: the id itself (so keys are distinct), then three hashes of it. */
function writeKey(buf: Buffer, id: number): void {
  buf.writeUInt32BE(id >>> 0, 0)
  buf.writeUInt32BE(fmix32(id ^ 0x9e3779b9), 4)
  buf.writeUInt32BE(fmix32(id + 0x7f4a7c15), 8)
  buf.writeUInt32BE(fmix32(Math.imul(id, 31) ^ 0x2545f491), 12)
}

/** Reusable batch of record objects with their own key buffers (append encodes synchronously). */
class KeyedBatch {
  readonly records: BatchRecordInput[] = []
  private readonly keyBufs: Buffer[] = []
  private readonly a: number

  constructor(
    private readonly keys: number,
    size: number,
  ) {
    this.a = multiplierFor(keys)
    for (let j = 0; j < size; j++) {
      const key = Buffer.alloc(KEY_BYTES)
      this.keyBufs.push(key)
      this.records.push({ timestamp: 0, key, value: null })
    }
  }

  /** Record n of the log: round r = n / keys, key id (j * A + r * B) mod keys. */
  fill(first: number, count: number): BatchRecordInput[] {
    const keys = this.keys
    for (let j = 0; j < count; j++) {
      const n = first + j
      const round = Math.floor(n / keys)
      const id = ((n - round * keys) * this.a + round * 7_777) % keys
      writeKey(this.keyBufs[j], id)
      const r = this.records[j]
      r.timestamp = BASE_TIMESTAMP + n
      r.value = values[n % values.length]
    }
    return count === this.records.length ? this.records : this.records.slice(0, count)
  }
}

interface Built {
  log: PartitionLog
  keys: number
  records: number
  seconds: number
  bytes: number
  segments: number
}

/** keys × UPDATES records in batches, one flush, then roll + one more record (everything cleanable). */
async function buildLog(dir: string, keys: number): Promise<Built> {
  const records = keys * UPDATES
  const log = await PartitionLog.open(dir, { config: logConfig })
  const batch = new KeyedBatch(keys, BATCH)
  const t0 = performance.now()
  for (let i = 0; i < records; i += BATCH) log.append(batch.fill(i, Math.min(BATCH, records - i)))
  await log.flush()
  const seconds = (performance.now() - t0) / 1000
  log.roll()
  const extraKey = Buffer.alloc(KEY_BYTES)
  writeKey(extraKey, keys) // a key outside the data set
  log.append([{ timestamp: BASE_TIMESTAMP + records, key: extraKey, value: values[0] }])
  await log.flush()
  if (log.logEndOffset !== records + 1) throw new Error(`log end ${log.logEndOffset}, expected ${records + 1}`)
  return { log, keys, records, seconds, bytes: log.sizeInBytes, segments: log.segmentInfos().length }
}

// ---------------------------------------------------------------- memory sampling

interface MemorySample {
  rss: number
  arrayBuffers: number
}

class MemorySampler {
  readonly samples: MemorySample[] = []
  private timer: NodeJS.Timeout | null = null

  start(): void {
    this.sample()
    this.timer = setInterval(() => this.sample(), SAMPLE_MS)
  }

  sample(): void {
    const m = process.memoryUsage()
    this.samples.push({ rss: m.rss, arrayBuffers: m.arrayBuffers })
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.sample()
  }

  /** Largest value of `field` in the samples from index `from` on. */
  max(field: keyof MemorySample, from = 0): number {
    let m = 0
    for (let i = from; i < this.samples.length; i++) if (this.samples[i][field] > m) m = this.samples[i][field]
    return m
  }
}

// ---------------------------------------------------------------- compaction throughput

interface PassFigures {
  pass: number
  seconds: number
  /** Seconds from the pass start to the worker's 'map-built' progress message (worker start + map build). */
  mapSeconds: number
  keysMapped: number
  mapFull: boolean
  bytesBefore: number
  bytesAfter: number
  recordsRemoved: number
  segmentsBefore: number
  segmentsAfter: number
  firstDirtyOffset: number
  mbPerSec: number
  /** Main-thread time of `log.replaceSegments` (the swap: renames, directory fsyncs, loading the new segments). */
  swapMs: number
  /** Largest process RSS sampled during this pass (MB); 0 when not sampled. */
  rssMaxMB: number
}

interface CompactionRun {
  label: string
  keys: number
  records: number
  mapMiB: number
  logBytesBefore: number
  logBytesAfter: number
  passes: PassFigures[]
  totalSeconds: number
  recordsRemoved: number
  /** Sum of per-pass bytesBefore (the clean prefix is rewritten by every pass) / total seconds. */
  rewrittenMBPerSec: number
  /** Log bytes before the first pass / total seconds. */
  logMBPerSec: number
  stoppedBecause: string
  memory: {
    rssBeforeMB: number
    rssMaxDuringMB: number
    rssDeltaMB: number
    arrayBuffersBeforeMB: number
    arrayBuffersMaxMB: number
    peakRssBeforeMB: number
    peakRssAfterMB: number
    rssAfterCloseMB: number
    samples: number
  }
}

const mb = (bytes: number): number => sig(bytes / 1e6)

/** Wraps `log.replaceSegments` (on this instance only) to time the swap; returns a reader of the last duration. */
function timeSwaps(log: PartitionLog): () => number {
  let last = Number.NaN
  const original = log.replaceSegments.bind(log)
  log.replaceSegments = (...args: Parameters<PartitionLog['replaceSegments']>): void => {
    const t0 = performance.now()
    try {
      original(...args)
    } finally {
      last = performance.now() - t0
    }
  }
  return () => last
}

function passFigures(
  pass: number,
  r: CompactionResult,
  mapSeconds: number,
  keysMapped: number,
  swapMs: number,
  rssMaxMB = 0,
): PassFigures {
  const seconds = r.durationMs / 1000
  return {
    pass,
    seconds: sig(seconds),
    mapSeconds: sig(mapSeconds),
    keysMapped,
    mapFull: r.mapFull,
    bytesBefore: r.bytesBefore,
    bytesAfter: r.bytesAfter,
    recordsRemoved: r.recordsRemoved,
    segmentsBefore: r.segmentsBefore,
    segmentsAfter: r.segmentsAfter,
    firstDirtyOffset: r.firstDirtyOffset,
    mbPerSec: sig(r.bytesBefore / 1e6 / seconds),
    swapMs: sig(swapMs),
    rssMaxMB,
  }
}

/**
 * Passes until the map no longer fills (or a pass changes nothing); memory sampled throughout. One Cleaner (one
 * worker thread) for all passes, as the engine's background cleaner; `freshWorkerPerPass` (a diagnostic) uses a
 * new Cleaner for each pass and closes it after.
 */
async function compactUntilClean(
  label: string,
  built: Built,
  mapBytes: number,
  freshWorkerPerPass = false,
): Promise<CompactionRun> {
  const { log } = built
  const lastSwapMs = timeSwaps(log)
  let cleaner = new Cleaner()
  const logBytesBefore = log.sizeInBytes
  const passes: PassFigures[] = []
  let stoppedBecause = `${MAX_PASSES} passes`
  gc()
  const before = process.memoryUsage()
  const peakBefore = peakRssMB()
  const sampler = new MemorySampler()
  sampler.start()
  const t0 = performance.now()
  for (let p = 1; p <= MAX_PASSES; p++) {
    if (freshWorkerPerPass && p > 1) {
      await cleaner.close()
      cleaner = new Cleaner()
    }
    const firstSample = sampler.samples.length
    sampler.sample()
    const started = performance.now()
    let mapSeconds = Number.NaN
    let keysMapped = 0
    const r = await compactPartition(log, compactionConfig, {
      force: true,
      mapBytes,
      cleaner,
      onProgress: (progress) => {
        if (progress.stage === 'map-built') {
          mapSeconds = (performance.now() - started) / 1000
          keysMapped = progress.keys
        }
      },
    })
    if (!r.cleaned) {
      stoppedBecause = `pass ${p} did nothing (${r.reason})`
      break
    }
    sampler.sample()
    const f = passFigures(p, r, mapSeconds, keysMapped, lastSwapMs(), mb(sampler.max('rss', firstSample)))
    passes.push(f)
    console.log(
      `  ${label} pass ${p}: ${f.seconds} s (map ${f.mapSeconds} s, ${keysMapped} keys${r.mapFull ? ', full' : ''}),` +
        ` ${mb(r.bytesBefore)} → ${mb(r.bytesAfter)} MB, ${r.recordsRemoved} removed, next dirty ` +
        `${r.firstDirtyOffset}, swap ${f.swapMs} ms, max RSS ${f.rssMaxMB} MB`,
    )
    if (!r.mapFull) {
      stoppedBecause = 'map not full: log clean'
      break
    }
  }
  const totalSeconds = (performance.now() - t0) / 1000
  sampler.stop()
  const peakAfter = peakRssMB()
  await cleaner.close()
  gc()
  const rssAfterClose = process.memoryUsage().rss
  const rewritten = passes.reduce((s, p) => s + p.bytesBefore, 0)
  return {
    label,
    keys: built.keys,
    records: built.records,
    mapMiB: mapBytes / MIB,
    logBytesBefore,
    logBytesAfter: log.sizeInBytes,
    passes,
    totalSeconds: sig(totalSeconds),
    recordsRemoved: passes.reduce((s, p) => s + p.recordsRemoved, 0),
    rewrittenMBPerSec: sig(rewritten / 1e6 / totalSeconds),
    logMBPerSec: sig(logBytesBefore / 1e6 / totalSeconds),
    stoppedBecause,
    memory: {
      rssBeforeMB: mb(before.rss),
      rssMaxDuringMB: mb(sampler.max('rss')),
      rssDeltaMB: mb(sampler.max('rss') - before.rss),
      arrayBuffersBeforeMB: mb(before.arrayBuffers),
      arrayBuffersMaxMB: mb(sampler.max('arrayBuffers')),
      peakRssBeforeMB: sig(peakBefore),
      peakRssAfterMB: sig(peakAfter),
      rssAfterCloseMB: mb(rssAfterClose),
      samples: sampler.samples.length,
    },
  }
}

// ---------------------------------------------------------------- append latency during compaction

interface LatencyStats {
  samples: number
  p50: number
  p99: number
  max: number
  /** % of samples above 1 ms. */
  over1msPct: number
}

function stats(sample: number[]): LatencyStats {
  let max = Number.NaN
  let over = 0
  for (const t of sample) {
    if (!(t <= max)) max = t
    if (t > 1) over++
  }
  return {
    samples: sample.length,
    p50: sig(percentile(sample, 50)),
    p99: sig(percentile(sample, 99)),
    max: sig(max),
    over1msPct: sig((100 * over) / sample.length, 3),
  }
}

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

class Appender {
  private readonly key = Buffer.alloc(KEY_BYTES)
  private readonly record: BatchRecordInput = { timestamp: 0, key: this.key, value: values[0] }
  private readonly records = [this.record]
  private n = 0

  constructor(
    private readonly log: PartitionLog,
    private readonly keys: number,
  ) {}

  private next(): BatchRecordInput[] {
    const n = this.n++
    writeKey(this.key, fmix32(n) % this.keys)
    this.record.timestamp = Date.now()
    this.record.value = values[n % values.length]
    return this.records
  }

  /** acks -1 style: append one record and wait for its fsync. ms. */
  async durable(): Promise<number> {
    const records = this.next()
    const t0 = performance.now()
    this.log.append(records)
    await this.log.flush()
    return performance.now() - t0
  }

  /** acks 1 style: yield to the event loop (setImmediate), then append without flushing. ms, both included. */
  async acks1(): Promise<number> {
    const records = this.next()
    const t0 = performance.now()
    await nextTick()
    this.log.append(records)
    return performance.now() - t0
  }
}

interface LatencyWindow {
  seconds: number
  durable: number[]
  acks1: number[]
  /** performance.now() when each sample ended. */
  durableEnd: number[]
  acks1End: number[]
}

/** Alternates blocks of durable and acks 1 appends until `done()` (checked between blocks). */
async function latencyLoop(appender: Appender, done: () => boolean): Promise<LatencyWindow> {
  const out: LatencyWindow = { seconds: 0, durable: [], acks1: [], durableEnd: [], acks1End: [] }
  const t0 = performance.now()
  while (!done()) {
    for (let k = 0; k < LATENCY_BLOCK; k++) {
      out.durable.push(await appender.durable())
      out.durableEnd.push(performance.now())
    }
    for (let k = 0; k < LATENCY_BLOCK; k++) {
      out.acks1.push(await appender.acks1())
      out.acks1End.push(performance.now())
    }
  }
  out.seconds = (performance.now() - t0) / 1000
  return out
}

interface VariantStats {
  durable: LatencyStats
  acks1: LatencyStats
}

/** Stats of the samples that ended in [from, to). */
function windowStats(w: LatencyWindow, from = Number.NEGATIVE_INFINITY, to = Number.POSITIVE_INFINITY): VariantStats {
  const pick = (sample: number[], ends: number[]): number[] => sample.filter((_, i) => ends[i] >= from && ends[i] < to)
  return { durable: stats(pick(w.durable, w.durableEnd)), acks1: stats(pick(w.acks1, w.acks1End)) }
}

/** When the slowest sample ended, relative to `at` (ms). */
function maxEndVs(sample: number[], ends: number[], at: number): number {
  let best = 0
  for (let i = 1; i < sample.length; i++) if (sample[i] > sample[best]) best = i
  return sig(ends[best] - at)
}

interface LatencyResult {
  keys: number
  records: number
  logMB: number
  idleSeconds: number
  duringSeconds: number
  pass: PassFigures
  /** Before the pass (the reference), and after it (a noise check: the machine is shared). */
  idle: VariantStats
  idleAfter: VariantStats
  during: VariantStats
  /** During the pass, split at the worker's 'map-built' message: map (reads only), rewrite (writes + fsyncs, swap). */
  duringMapPhase: VariantStats
  duringRewritePhase: VariantStats
  ratios: { durableP50: number; durableP99: number; acks1P50: number; acks1P99: number }
  /** Durable p99 during the pass / p99 of the idle-before and idle-after samples pooled (a steadier reference). */
  durableP99VsPooledIdle: number
  pooledIdleDurableP99: number
  /** When the slowest sample during the pass ended, relative to the pass's promise settling (ms; < 0 = before). */
  duringMaxEndVsPassEndMs: { durable: number; acks1: number }
  /** The main thread during the pass, per phase: event-loop delay (ms) and utilization (busy fraction). */
  mainThread: { idle: LoopFigures; map: LoopFigures; rewrite: LoopFigures }
}

interface LoopFigures {
  /** Event-loop delay p50/p99/max in ms (`monitorEventLoopDelay`, 1 ms resolution). */
  delayP50: number
  delayP99: number
  delayMax: number
  /** Share of the phase the main thread was busy (`performance.eventLoopUtilization`), 0..1. */
  utilization: number
  /** Main-thread GC pauses in the phase: total and longest, ms. */
  gcMs: number
  gcMaxMs: number
  cpu: CpuShares
}

/** CPU seconds used so far by each thread of this process, by OS thread id (Linux `/proc`; empty elsewhere). */
function threadCpuSeconds(): Map<number, number> {
  const out = new Map<number, number>()
  let tids: string[]
  try {
    tids = fs.readdirSync('/proc/self/task')
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in ticks.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(Number(tid), (Number(rest[11]) + Number(rest[12])) / 100)
    } catch {
      // the thread ended meanwhile
    }
  }
  return out
}

/**
 * Where the CPU went over one phase, as shares of its wall time (1 = one core): the main thread, the busiest
 * other thread (during a pass: the cleaner's worker), and every other thread together (the libuv thread pool,
 * V8's GC helpers). NaN where `/proc` is not available.
 */
interface CpuShares {
  main: number
  busiestOther: number
  rest: number
}

function cpuShares(from: Map<number, number>, to: Map<number, number>, wallMs: number): CpuShares {
  if (to.size === 0) return { main: Number.NaN, busiestOther: Number.NaN, rest: Number.NaN }
  let main = 0
  let busiest = 0
  let all = 0
  for (const [tid, t] of to) {
    const used = t - (from.get(tid) ?? 0)
    all += used
    if (tid === process.pid) main = used
    else if (used > busiest) busiest = used
  }
  const share = (x: number): number => sig(x / (wallMs / 1000), 3)
  return { main: share(main), busiestOther: share(busiest), rest: share(all - main - busiest) }
}

/** Event-loop delay and utilization of the main thread over one phase. */
class LoopProbe {
  private readonly histogram = monitorEventLoopDelay({ resolution: 1 })
  private elu: EventLoopUtilization | null = null
  private cpuAtStart = new Map<number, number>()
  private startedAt = 0
  private figures: LoopFigures | null = null
  private gcMs = 0
  private gcMaxMs = 0
  private readonly gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      this.gcMs += e.duration
      if (e.duration > this.gcMaxMs) this.gcMaxMs = e.duration
    }
  })

  start(): void {
    this.histogram.enable()
    this.gcObserver.observe({ entryTypes: ['gc'] })
    this.cpuAtStart = threadCpuSeconds()
    this.startedAt = performance.now()
    this.elu = performance.eventLoopUtilization()
  }

  stop(): void {
    if (this.elu === null || this.figures !== null) return
    const utilization = performance.eventLoopUtilization(this.elu).utilization
    const cpu = cpuShares(this.cpuAtStart, threadCpuSeconds(), performance.now() - this.startedAt)
    this.histogram.disable()
    this.gcObserver.disconnect()
    const h = this.histogram
    this.figures = {
      delayP50: sig(h.percentile(50) / 1e6),
      delayP99: sig(h.percentile(99) / 1e6),
      delayMax: sig(h.max / 1e6),
      utilization: sig(utilization, 3),
      gcMs: sig(this.gcMs),
      gcMaxMs: sig(this.gcMaxMs),
      cpu,
    }
  }

  result(): LoopFigures {
    this.stop()
    const none = Number.NaN
    const cpu = { main: none, busiestOther: none, rest: none }
    return (
      this.figures ?? {
        delayP50: none,
        delayP99: none,
        delayMax: none,
        utilization: none,
        gcMs: none,
        gcMaxMs: none,
        cpu,
      }
    )
  }
}

/**
 * With SEGLOG_BENCH_CPU_PROFILE=<file> set, starts a CPU profile of the main thread (the worker is not in it) and
 * returns the function that stops it and writes it to that file (read it with `cpuprofile-top.ts`).
 */
async function startProfile(): Promise<(() => Promise<void>) | null> {
  const file = process.env.SEGLOG_BENCH_CPU_PROFILE
  if (file === undefined || file === '') return null
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    fs.writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}

async function measureLatency(built: Built): Promise<LatencyResult> {
  const { log } = built
  const lastSwapMs = timeSwaps(log)
  const appender = new Appender(log, built.keys)
  const cleaner = new Cleaner()
  for (let k = 0; k < LATENCY_WARMUP; k++) {
    await appender.durable()
    await appender.acks1()
  }
  gc()
  const idleProbe = new LoopProbe()
  idleProbe.start()
  const idleEnd = performance.now() + IDLE_MS
  const idle = await latencyLoop(appender, () => performance.now() >= idleEnd)
  idleProbe.stop()
  gc()
  const mapProbe = new LoopProbe()
  const rewriteProbe = new LoopProbe()
  let finished = false
  let passEnd = 0
  let mapBuiltAt = Number.NaN
  let keysMapped = 0
  const profile = await startProfile()
  const started = performance.now()
  mapProbe.start()
  const pass = compactPartition(log, compactionConfig, {
    force: true,
    mapBytes: LARGE_MAP_BYTES,
    cleaner,
    onProgress: (progress) => {
      if (progress.stage === 'map-built') {
        mapBuiltAt = performance.now()
        keysMapped = progress.keys
        mapProbe.stop()
        rewriteProbe.start()
      }
    },
  })
  const settled = pass.finally(() => {
    finished = true
    passEnd = performance.now()
    mapProbe.stop()
    rewriteProbe.stop()
  })
  settled.catch(() => {})
  const during = await latencyLoop(appender, () => finished)
  await profile?.()
  const result = await pass
  await cleaner.close()
  if (!result.cleaned) throw new Error(`latency run: the pass did not clean (${result.reason})`)
  gc()
  const afterEnd = performance.now() + IDLE_MS
  const after = await latencyLoop(appender, () => performance.now() >= afterEnd)
  const r = (a: number, b: number): number => sig(a / b, 3)
  const idleStats = windowStats(idle)
  const duringStats = windowStats(during)
  const pooledIdleP99 = sig(percentile([...idle.durable, ...after.durable], 99))
  return {
    keys: built.keys,
    records: built.records,
    logMB: mb(built.bytes),
    idleSeconds: sig(idle.seconds),
    duringSeconds: sig(during.seconds),
    pass: passFigures(1, result, (mapBuiltAt - started) / 1000, keysMapped, lastSwapMs()),
    idle: idleStats,
    idleAfter: windowStats(after),
    during: duringStats,
    duringMapPhase: windowStats(during, started, mapBuiltAt),
    duringRewritePhase: windowStats(during, mapBuiltAt),
    ratios: {
      durableP50: r(duringStats.durable.p50, idleStats.durable.p50),
      durableP99: r(duringStats.durable.p99, idleStats.durable.p99),
      acks1P50: r(duringStats.acks1.p50, idleStats.acks1.p50),
      acks1P99: r(duringStats.acks1.p99, idleStats.acks1.p99),
    },
    durableP99VsPooledIdle: r(duringStats.durable.p99, pooledIdleP99),
    pooledIdleDurableP99: pooledIdleP99,
    duringMaxEndVsPassEndMs: {
      durable: maxEndVs(during.durable, during.durableEnd, passEnd),
      acks1: maxEndVs(during.acks1, during.acks1End, passEnd),
    },
    mainThread: { idle: idleProbe.result(), map: mapProbe.result(), rewrite: rewriteProbe.result() },
  }
}

// ---------------------------------------------------------------- main

function countLabel(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}k`
  return String(n)
}

type Scenario = 'c1' | 'c2' | 'c2w' | 'c3' | 'lat'
const SCENARIOS: readonly Scenario[] = ['c3', 'c2', 'c2w', 'c1', 'lat']
const SCENARIO_FLAG = '--scenario'
const RESULT_PREFIX = 'RESULT '

interface BuildFigures {
  label: string
  keys: number
  records: number
  seconds: number
  mb: number
  segments: number
}

interface ScenarioResult {
  build: BuildFigures
  run?: CompactionRun
  latency?: LatencyResult
  peakRssMB: number
  /**
   * `log.close()` after the scenario: it unlinks the replaced segments still waiting as `.deleted` (what the
   * delayed-delete timer does fileDeleteDelayMs = 60 s after a swap, synchronously on the main thread).
   */
  close: { ms: number; deletedLogFiles: number; deletedMB: number }
}

/** One scenario, in this (child) process: build its log, run it, close and remove the log. */
async function runScenario(name: Scenario, root: string): Promise<ScenarioResult> {
  const keys = name === 'c3' ? SMALL_KEYS : KEYS
  const label = {
    c1: `C1-${countLabel(keys)}keys-${LARGE_MAP_BYTES / MIB}MiB`,
    c2: `C2-${countLabel(keys)}keys-${DEFAULT_OFFSET_MAP_BYTES / MIB}MiB`,
    c2w: `C2w-${countLabel(keys)}keys-${DEFAULT_OFFSET_MAP_BYTES / MIB}MiB-fresh-worker`,
    c3: `C3-${countLabel(keys)}keys-${DEFAULT_OFFSET_MAP_BYTES / MIB}MiB`,
    lat: `L-${countLabel(keys)}keys`,
  }[name]
  const b = await buildLog(join(root, label), keys)
  const build = { label, keys, records: b.records, seconds: sig(b.seconds), mb: mb(b.bytes), segments: b.segments }
  console.log(
    `  built ${label}: ${countLabel(b.records)} records, ${mb(b.bytes)} MB in ${b.segments} segments, ` +
      `${sig(b.seconds, 3)} s (${fmtNum(b.records / b.seconds)} records/s incl. the final fsync)`,
  )
  const result: ScenarioResult = { build, peakRssMB: 0, close: { ms: 0, deletedLogFiles: 0, deletedMB: 0 } }
  if (name === 'lat') {
    const lat = await measureLatency(b)
    console.log(
      `  L: idle ${lat.idleSeconds} s, during ${lat.duringSeconds} s (pass ${lat.pass.seconds} s, ` +
        `${mb(lat.pass.bytesBefore)} → ${mb(lat.pass.bytesAfter)} MB)`,
    )
    result.latency = lat
  } else {
    const mapBytes = name === 'c1' ? LARGE_MAP_BYTES : DEFAULT_OFFSET_MAP_BYTES
    const run = await compactUntilClean(label, b, mapBytes, name === 'c2w')
    const expected = b.records - keys
    if (run.recordsRemoved !== expected) {
      console.log(`  WARNING ${label}: removed ${run.recordsRemoved} records, expected ${expected}`)
    }
    result.run = run
  }
  let deletedLogFiles = 0
  let deletedBytes = 0
  for (const f of fs.readdirSync(b.log.dir)) {
    if (!f.endsWith('.log.deleted')) continue
    deletedLogFiles++
    deletedBytes += fs.statSync(join(b.log.dir, f)).size
  }
  const t0 = performance.now()
  await b.log.close()
  result.close = { ms: sig(performance.now() - t0), deletedLogFiles, deletedMB: mb(deletedBytes) }
  console.log(
    `  ${label}: close() took ${result.close.ms} ms, unlinking ${deletedLogFiles} pending .log.deleted files ` +
      `(${result.close.deletedMB} MB)`,
  )
  fs.rmSync(b.log.dir, { recursive: true, force: true })
  result.peakRssMB = sig(peakRssMB())
  return result
}

/** Runs a scenario in a fresh node process (so its RSS figures start from scratch); echoes its output. */
function spawnScenario(name: Scenario, root: string): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const self = fileURLToPath(import.meta.url)
    const child = spawn(process.execPath, [...process.execArgv, self, SCENARIO_FLAG, name, root], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let result: ScenarioResult | null = null
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length)) as ScenarioResult
      else console.log(line)
    })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0 && result !== null) resolve(result)
      else reject(new Error(`scenario ${name} exited with code ${code}${result === null ? ', no result' : ''}`))
    })
  })
}

async function main(root: string): Promise<void> {
  const started = performance.now()
  console.log(
    `seglog compaction — node ${process.version}, ${countLabel(KEYS)} keys × ${UPDATES} updates, ` +
      `${KEY_BYTES} B keys, ${VALUE_BYTES} B values, batches of ${BATCH}, segmentBytes ${SEGMENT_BYTES / MIB} MiB, ` +
      `data in ${root}; each scenario runs in its own node process`,
  )
  const results: ScenarioResult[] = []
  for (const name of SCENARIOS) {
    if (name === 'c3' && SMALL_KEYS <= 0) continue
    results.push(await spawnScenario(name, root))
  }
  const builds = results.map((r) => r.build)
  const runs = results.flatMap((r) => (r.run === undefined ? [] : [r.run]))
  const lat = results.find((r) => r.latency !== undefined)?.latency
  if (lat === undefined) throw new Error('no latency result')

  // ---- tables
  const ordered = [...runs].sort((a, b) => a.label.localeCompare(b.label))
  console.log('\nCompaction throughput and memory (force: true; MB = 1e6 bytes of log files)')
  printTable(
    [
      'run',
      'keys',
      'map MiB',
      'passes',
      'log MB before',
      'after',
      'records removed',
      'total s',
      'log MB/s',
      'rewritten MB/s',
      'RSS before',
      'max RSS during',
      'Δ RSS',
      'peak RSS before→after',
      'max arrayBuffers',
    ],
    ordered.map((r) => [
      r.label,
      countLabel(r.keys),
      String(r.mapMiB),
      String(r.passes.length),
      fmtNum(r.logBytesBefore / 1e6),
      fmtNum(r.logBytesAfter / 1e6),
      r.recordsRemoved.toLocaleString('en-US'),
      fmtNum(r.totalSeconds),
      fmtNum(r.logMBPerSec),
      fmtNum(r.rewrittenMBPerSec),
      fmtNum(r.memory.rssBeforeMB),
      fmtNum(r.memory.rssMaxDuringMB),
      fmtNum(r.memory.rssDeltaMB),
      `${fmtNum(r.memory.peakRssBeforeMB)}→${fmtNum(r.memory.peakRssAfterMB)}`,
      fmtNum(r.memory.arrayBuffersMaxMB),
    ]),
  )
  console.log(
    "(log MB/s = log bytes before the first pass / total seconds; rewritten MB/s = sum of the passes' bytes before" +
      ' / total seconds; RSS in MB, sampled every 50 ms; Δ RSS = max during − before, after a GC)',
  )

  console.log('\nPer pass')
  const passRows: string[][] = []
  for (const r of ordered) {
    for (const p of r.passes) {
      passRows.push([
        p.pass === 1 ? r.label : '',
        String(p.pass),
        p.keysMapped.toLocaleString('en-US'),
        p.mapFull ? 'yes' : 'no',
        fmtNum(p.bytesBefore / 1e6),
        fmtNum(p.bytesAfter / 1e6),
        p.recordsRemoved.toLocaleString('en-US'),
        `${p.segmentsBefore}→${p.segmentsAfter}`,
        p.firstDirtyOffset.toLocaleString('en-US'),
        fmtNum(p.mapSeconds),
        fmtNum(p.seconds),
        fmtNum(p.mbPerSec),
        fmtNum(p.swapMs),
        fmtNum(p.rssMaxMB),
      ])
    }
  }
  passRows.push([
    `L-${countLabel(KEYS)}keys (appends running)`,
    '1',
    lat.pass.keysMapped.toLocaleString('en-US'),
    lat.pass.mapFull ? 'yes' : 'no',
    fmtNum(lat.pass.bytesBefore / 1e6),
    fmtNum(lat.pass.bytesAfter / 1e6),
    lat.pass.recordsRemoved.toLocaleString('en-US'),
    `${lat.pass.segmentsBefore}→${lat.pass.segmentsAfter}`,
    lat.pass.firstDirtyOffset.toLocaleString('en-US'),
    fmtNum(lat.pass.mapSeconds),
    fmtNum(lat.pass.seconds),
    fmtNum(lat.pass.mbPerSec),
    fmtNum(lat.pass.swapMs),
    '',
  ])
  printTable(
    [
      'run',
      'pass',
      'keys mapped',
      'map full',
      'MB before',
      'MB after',
      'removed',
      'segments',
      'next dirty offset',
      'map s',
      'pass s',
      'MB/s',
      'swap ms',
      'max RSS MB',
    ],
    passRows,
  )
  console.log(
    '(map s = pass start → the worker\'s "map-built" message, worker start included in pass 1 or in every pass of' +
      ' "fresh-worker"; swap ms = main-thread time of log.replaceSegments; max RSS = process RSS sampled in the pass)',
  )

  console.log(
    `\nAppend latency, ${countLabel(lat.records)}-record log (${fmtNum(lat.logMB)} MB); idle ${lat.idleSeconds} s, ` +
      `during a ${LARGE_MAP_BYTES / MIB} MiB-map pass ${lat.duringSeconds} s; the two variants alternate in blocks ` +
      `of ${LATENCY_BLOCK}`,
  )
  const met = (ok: boolean): string => (ok ? 'yes' : 'NO')
  const latRows: string[][] = []
  for (const v of ['durable', 'acks1'] as const) {
    const label = v === 'durable' ? 'append 1 + await flush (ms)' : 'setImmediate + append 1 (ms)'
    const windows = [lat.idle, lat.during, lat.duringMapPhase, lat.duringRewritePhase, lat.idleAfter].map((w) => w[v])
    const metrics: [string, (x: LatencyStats) => string, string, string, string][] = [
      ['p50', (x) => fmtNum(x.p50), `${v === 'durable' ? lat.ratios.durableP50 : lat.ratios.acks1P50}x`, '', ''],
      [
        'p99',
        (x) => fmtNum(x.p99),
        `${v === 'durable' ? lat.ratios.durableP99 : lat.ratios.acks1P99}x`,
        v === 'durable' ? '<= 2x' : '',
        v === 'durable' ? met(lat.ratios.durableP99 <= 2) : '',
      ],
      ['max', (x) => fmtNum(x.max), '', '', ''],
      ['% > 1 ms', (x) => fmtNum(x.over1msPct), '', '', ''],
      ['samples', (x) => String(x.samples), '', '', ''],
    ]
    metrics.forEach(([name, f, ratio, target, ok], i) => {
      latRows.push([i === 0 ? label : '', name, ...windows.map(f), ratio, target, ok])
    })
  }
  printTable(
    [
      'variant',
      'metric',
      'idle before',
      'during pass',
      'map phase',
      'rewrite phase',
      'idle after',
      'during / idle before',
      'target',
      'met',
    ],
    latRows,
  )
  console.log(
    `(map phase: pass start → "map-built" (${lat.pass.mapSeconds} s: reads and the offset map); rewrite phase: the rest ` +
      `(filtering, writes + fsyncs of the cleaned segments, then the swap: ${lat.pass.swapMs} ms on the main thread); "idle ` +
      `after" is a ${IDLE_MS / 1000} s noise check after the pass. The slowest samples during the pass ended ` +
      `${lat.duringMaxEndVsPassEndMs.durable} ms (durable) and ${lat.duringMaxEndVsPassEndMs.acks1} ms (acks 1) ` +
      'from its end.)',
  )
  console.log(
    `durable p99 during the pass / p99 of idle before + after pooled (${lat.pooledIdleDurableP99} ms): ` +
      `${lat.durableP99VsPooledIdle}x`,
  )
  const loop = (name: string, f: LoopFigures): string =>
    `${name} delay p50 ${f.delayP50} / p99 ${f.delayP99} / max ${f.delayMax} ms, busy ${sig(100 * f.utilization, 3)}%` +
    `, GC ${f.gcMs} ms (longest ${f.gcMaxMs}); CPU (cores): main ${f.cpu.main}, busiest other thread ` +
    `${f.cpu.busiestOther}, the rest ${f.cpu.rest}`
  const mt = lat.mainThread
  console.log(
    `main thread (event-loop delay, utilization): ${loop('idle', mt.idle)}; ${loop('map phase', mt.map)}; ` +
      `${loop('rewrite phase', mt.rewrite)}`,
  )
  const peaks = Object.fromEntries(results.map((r) => [r.build.label, r.peakRssMB]))
  const elapsed = sig((performance.now() - started) / 1000, 3)
  console.log(
    `builds: ${builds.map((b) => `${b.label} ${b.seconds} s`).join(', ')}\n` +
      `close() = unlink of the pending .deleted segments (main thread): ${results
        .map((r) => `${r.build.label} ${r.close.ms} ms for ${r.close.deletedLogFiles} .log (${r.close.deletedMB} MB)`)
        .join(', ')}\n` +
      `peak RSS per scenario process (MB): ${Object.entries(peaks)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; elapsed ${elapsed} s\n`,
  )

  console.log(
    JSON.stringify({
      bench: 'seglog-compaction',
      node: process.version,
      keys: KEYS,
      updatesPerKey: UPDATES,
      keyBytes: KEY_BYTES,
      valueBytes: VALUE_BYTES,
      batch: BATCH,
      segmentBytes: SEGMENT_BYTES,
      builds,
      compaction: ordered,
      latency: lat,
      peakRssMB: peaks,
      elapsedSeconds: elapsed,
    }),
  )
}

const scenarioAt = process.argv.indexOf(SCENARIO_FLAG)
if (scenarioAt >= 0) {
  const name = process.argv[scenarioAt + 1] as Scenario
  const root = process.argv[scenarioAt + 2]
  if (!SCENARIOS.includes(name) || root === undefined) throw new Error(`usage: ${SCENARIO_FLAG} <scenario> <dir>`)
  const result = await runScenario(name, root)
  console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`)
} else {
  const base = tmpdir()
  const stat = fs.statfsSync(base)
  const free = stat.bavail * stat.bsize
  if (free < MIN_FREE_BYTES) {
    console.log(`compaction: skipped, only ${(free / 1e9).toFixed(1)} GB free under ${base} (needs 5 GB)`)
  } else {
    const root = fs.mkdtempSync(join(base, 'seglog-compaction-'))
    try {
      await main(root)
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  }
}
