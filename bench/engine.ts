/**
 * Engine benchmark: the public `Seglog` API (value formats, group commit, live tail), with the PartitionLog layer
 * as the baseline for the append path, measured in the same process run.
 *
 *   npm run bench:engine     (compiles with tsc into build/, then node --expose-gc build/bench/engine.js)
 *   node --expose-gc build/bench/engine.js e2       (one workload only: e1, e2 and/or e3; e.g. under --cpu-prof)
 *
 * E1  append throughput, 1 partition, calls of 1,000 messages with acks 1, one `flush()` at the end: a msgpack
 *     topic (a ~100-byte event object per message) vs a binary topic (a 100-byte Buffer) vs `PartitionLog.append`
 *     of 1,000 pre-built records per call (partition-log.ts W1). Keys: 16-byte strings (PartitionLog: 16-byte
 *     Buffers). Fresh directory and engine per run; runs alternate; medians reported. Diagnostic variants: msgpack
 *     with a newly built event object per message, binary with 16-byte Buffer keys.
 * E2  group commit: C concurrent async loops, each `await append(topic, [one message], { acks: -1 })`, for a fixed
 *     duration; total records/s and per-append latency p50/p99; C = 1, 16, 256; topics of 1 and 8 partitions.
 *     Diagnostic: 256 loops with acks 1 (no fsync wait), the CPU-bound ceiling for any group commit.
 * E3  live tail: a `stream(topic, 0, { from: 'latest', live: true })` consumer; a producer appends one message at
 *     a time (acks 1) and sleeps 1 ms (setTimeout) between appends; latency = hrtime before `append` → hrtime when
 *     the consumer's loop body receives the record. Diagnostic: the same with setImmediate between appends.
 * MB = 10^6 bytes of payload (key + encoded value); framing and batch headers are not counted.
 * Environment (quick trials only): SEGLOG_BENCH_RECORDS (default 1000000), SEGLOG_BENCH_RUNS (default 5),
 * SEGLOG_BENCH_GROUP_SECONDS (default 1.5).
 */
import * as fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeValue } from '../src/format.js'
import { fsyncGate } from '../src/log/fsync-gate.js'
import { PartitionLog } from '../src/log/partition-log.js'
import { type Acks, type Message, Seglog } from '../src/main.js'
import {
  BASE_TIMESTAMP,
  DATA_SLOTS,
  fmtNum,
  gc,
  KEY_BYTES,
  makeRecordData,
  median,
  peakRssMB,
  percentile,
  printTable,
  RecordBuffer,
  type RecordData,
  rssMB,
  sig,
  VALUE_BYTES,
} from './common.js'

const N = Number(process.env.SEGLOG_BENCH_RECORDS ?? 1_000_000)
const RUNS = Number(process.env.SEGLOG_BENCH_RUNS ?? 5)
const E1_BATCH = 1000
const E2_SECONDS = Number(process.env.SEGLOG_BENCH_GROUP_SECONDS ?? 1.5)
const E2_REPS = 3
const E2_WARMUP_SECONDS = 0.3
const E2_CONCURRENCY = [1, 16, 256] as const
const E2_PARTITIONS = [1, 8] as const
const E3_SAMPLES = 2000
const E3_REPS = 3
const E3_PAUSE_MS = 1
const E3_TIMEOUT_MS = 30_000

const WORKLOADS = ['e1', 'e2', 'e3']
const selected = process.argv.slice(2).map((a) => a.toLowerCase())
for (const w of selected) {
  if (!WORKLOADS.includes(w)) {
    console.error(`usage: engine.js [${WORKLOADS.join('|')}]...`)
    process.exit(2)
  }
}
const runs = (w: string): boolean => selected.length === 0 || selected.includes(w)

const data: RecordData = makeRecordData()
const root = fs.mkdtempSync(join(tmpdir(), 'seglog-bench-engine-'))
const rssAfter: Record<string, number> = {}

function noteRss(label: string): void {
  gc()
  rssAfter[label] = sig(rssMB())
}

// ---------------------------------------------------------------- message data

/** A realistic event; msgpack-encoded (plain maps, float64 for `ts` and `amount`) it is ~100 bytes. */
interface ClickEvent {
  id: number
  user: string
  kind: string
  ts: number
  tags: string[]
  amount: number
  page: string
}

const KINDS = ['click', 'view', 'scroll', 'buy']
const TAGS = ['mobile', 'web']
const USERS: string[] = []
const PAGES: string[] = []
/** 16-byte (16 ASCII characters) string keys, one per slot. */
const KEYS: string[] = []
for (let j = 0; j < DATA_SLOTS; j++) {
  USERS.push(`user-${1000 + ((j * 7919) % 9000)}`)
  PAGES.push(`/products/${1000 + ((j * 104729) % 9000)}`)
  KEYS.push(`key-${String(j).padStart(12, '0')}`)
}

function makeEvent(i: number): ClickEvent {
  const s = i % DATA_SLOTS
  return {
    id: 1_000_000 + i,
    user: USERS[s],
    kind: KINDS[i & 3],
    ts: BASE_TIMESTAMP + i,
    tags: TAGS,
    amount: (i % 100) + 0.5,
    page: PAGES[s],
  }
}

/** Pre-built values, one per slot (as `data.values` is for the binary topic). */
const EVENTS: ClickEvent[] = []
for (let j = 0; j < DATA_SLOTS; j++) EVENTS.push(makeEvent(j))
const MSGPACK_VALUE_BYTES = EVENTS.reduce((a, e) => a + encodeValue('msgpack', e, 0)!.length, 0) / DATA_SLOTS
if (Buffer.byteLength(KEYS[0]) !== KEY_BYTES) throw new Error('key size')

type E1Kind = 'msgpack' | 'msgpack-fresh' | 'binary' | 'binary-buffer-keys'

/**
 * A reusable array of `size` messages. `fill(first)` stamps messages first..first+size-1 (key/value of slot
 * i % DATA_SLOTS, timestamp BASE_TIMESTAMP + i). Safe to reuse: `append` encodes synchronously. With
 * 'msgpack-fresh', every message gets a newly built event object (what an application creating events does);
 * 'binary-buffer-keys' uses the 16-byte Buffer keys of `data` (as the PartitionLog baseline does) instead of strings.
 */
class MessageBuffer {
  readonly messages: Message[] = []
  constructor(
    private readonly kind: E1Kind,
    readonly size: number,
  ) {
    for (let j = 0; j < size; j++) this.messages.push({ key: null, value: null, timestamp: 0 })
  }

  fill(first: number): Message[] {
    for (let j = 0; j < this.size; j++) {
      const i = first + j
      const s = i % DATA_SLOTS
      const m = this.messages[j]
      const kind = this.kind
      m.key = kind === 'binary-buffer-keys' ? data.keys[s] : KEYS[s]
      m.timestamp = BASE_TIMESTAMP + i
      m.value = kind === 'msgpack' ? EVENTS[s] : kind === 'msgpack-fresh' ? makeEvent(i) : data.values[s] /* binary */
    }
    return this.messages
  }
}

// ---------------------------------------------------------------- E1: append throughput

interface ThroughputRun {
  seconds: number
  recordsPerSec: number
  mbPerSec: number
}

function throughput(records: number, seconds: number, payloadBytes: number): ThroughputRun {
  return {
    seconds: sig(seconds),
    recordsPerSec: sig(records / seconds),
    mbPerSec: sig((records * payloadBytes) / 1e6 / seconds),
  }
}

function medianRun(all: readonly ThroughputRun[]): ThroughputRun {
  return {
    seconds: sig(median(all.map((r) => r.seconds))),
    recordsPerSec: sig(median(all.map((r) => r.recordsPerSec))),
    mbPerSec: sig(median(all.map((r) => r.mbPerSec))),
  }
}

/** Public API: open, create the topic, then time N appends of E1_BATCH messages (acks 1) + one flush. */
async function e1Engine(kind: E1Kind, dir: string): Promise<ThroughputRun> {
  const log = await Seglog.open(dir)
  try {
    const binary = kind === 'binary' || kind === 'binary-buffer-keys'
    await log.createTopic('e1', { partitions: 1, config: { format: binary ? 'binary' : 'msgpack' } })
    const buf = new MessageBuffer(kind, E1_BATCH)
    gc()
    const t0 = performance.now()
    for (let i = 0; i < N; i += E1_BATCH) await log.append('e1', buf.fill(i), { acks: 1 })
    await log.flush()
    const seconds = (performance.now() - t0) / 1000
    const end = log.offsets('e1', 0).logEndOffset
    if (end !== N) throw new Error(`E1 ${kind}: log end ${end}, expected ${N}`)
    return throughput(N, seconds, KEY_BYTES + (binary ? VALUE_BYTES : MSGPACK_VALUE_BYTES))
  } finally {
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The partition-log layer doing the same (partition-log.ts W1). */
async function e1PartitionLog(dir: string): Promise<ThroughputRun> {
  const log = await PartitionLog.open(dir)
  try {
    const buf = new RecordBuffer(data, E1_BATCH)
    gc()
    const t0 = performance.now()
    for (let i = 0; i < N; i += E1_BATCH) log.append(buf.fill(i))
    await log.flush()
    const seconds = (performance.now() - t0) / 1000
    if (log.logEndOffset !== N) throw new Error(`E1 partition-log: log end ${log.logEndOffset}, expected ${N}`)
    return throughput(N, seconds, KEY_BYTES + VALUE_BYTES)
  } finally {
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

type E1Variant = 'partition-log' | E1Kind

/** Run order within each repetition (alternating, so all variants see the same machine noise). */
const E1_VARIANTS: readonly E1Variant[] = ['partition-log', 'binary', 'msgpack', 'binary-buffer-keys', 'msgpack-fresh']

interface E1Result {
  median: Record<E1Variant, ThroughputRun>
  runs: Record<E1Variant, ThroughputRun[]>
}

async function e1(): Promise<E1Result> {
  const all = Object.fromEntries(E1_VARIANTS.map((v) => [v, [] as ThroughputRun[]])) as E1Result['runs']
  for (let r = 0; r < RUNS; r++) {
    for (const v of E1_VARIANTS) {
      const dir = join(root, `e1-${v}-${r}`)
      all[v].push(v === 'partition-log' ? await e1PartitionLog(dir) : await e1Engine(v, dir))
    }
    console.log(`  E1 run ${r + 1} (s): ${E1_VARIANTS.map((v) => `${v} ${all[v][r].seconds}`).join(', ')}`)
  }
  const med = Object.fromEntries(E1_VARIANTS.map((v) => [v, medianRun(all[v])])) as E1Result['median']
  return { median: med, runs: all }
}

// ---------------------------------------------------------------- E2: group commit

interface GroupRun {
  appends: number
  /**
   * Appends per fsync round: the rounds the thread's fsync gate started meanwhile (on the thread or the pool), one
   * per partition log that had appends waiting, so N partitions split a turn's appends into N rounds.
   */
  appendsPerFsync: number
  recordsPerSec: number
  p50Ms: number
  p99Ms: number
}

/** `concurrency` loops of `await append(topic, [one message], { acks })` until `seconds` have passed. */
async function groupRun(
  log: Seglog,
  topic: string,
  concurrency: number,
  acks: Acks,
  seconds: number,
): Promise<GroupRun> {
  const latencies: number[] = []
  let counter = 0
  const t0 = performance.now()
  const deadline = t0 + seconds * 1000
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const i = counter++
      const s = i % DATA_SLOTS
      const messages: Message[] = [{ key: KEYS[s], value: EVENTS[s] }]
      const start = performance.now()
      await log.append(topic, messages, { acks })
      latencies.push(performance.now() - start)
    }
  }
  const rounds = (): number => fsyncGate.stats.onThread + fsyncGate.stats.onPool
  const roundsBefore = rounds()
  const loops: Promise<void>[] = []
  for (let c = 0; c < concurrency; c++) loops.push(loop())
  await Promise.all(loops)
  const elapsed = (performance.now() - t0) / 1000
  return {
    appends: latencies.length,
    appendsPerFsync: sig(latencies.length / Math.max(1, rounds() - roundsBefore), 3),
    recordsPerSec: sig(latencies.length / elapsed),
    p50Ms: sig(percentile(latencies, 50)),
    p99Ms: sig(percentile(latencies, 99)),
  }
}

interface GroupCell {
  partitions: number
  concurrency: number
  /** -1 for the group-commit cells; 1 for the diagnostic CPU-ceiling cell (no fsync wait). */
  acks: Acks
  median: GroupRun
  runs: GroupRun[]
}

async function e2(): Promise<GroupCell[]> {
  const cells: GroupCell[] = []
  for (const partitions of E2_PARTITIONS) {
    for (const concurrency of E2_CONCURRENCY) cells.push({ partitions, concurrency, acks: -1, median: null!, runs: [] })
  }
  // Diagnostic: the same single-message appends with acks 1 measure the CPU cost alone, i.e. the records/s any
  // amount of group commit could reach on this machine.
  cells.push({ partitions: 1, concurrency: 256, acks: 1, median: null!, runs: [] })
  for (let rep = 0; rep < E2_REPS; rep++) {
    const dir = join(root, `e2-${rep}`)
    const log = await Seglog.open(dir)
    try {
      for (const partitions of E2_PARTITIONS) await log.createTopic(`e2-p${partitions}`, { partitions })
      if (rep === 0) {
        for (const partitions of E2_PARTITIONS) await groupRun(log, `e2-p${partitions}`, 16, -1, E2_WARMUP_SECONDS)
      }
      for (const cell of cells) {
        gc()
        const run = await groupRun(log, `e2-p${cell.partitions}`, cell.concurrency, cell.acks, E2_SECONDS)
        cell.runs.push(run)
      }
    } finally {
      await log.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
    console.log(
      `  E2 rep ${rep + 1}: ${cells.map((c) => `p${c.partitions}/c${c.concurrency}${c.acks === 1 ? '/acks1' : ''} ${fmtNum(c.runs[rep].recordsPerSec, 3)}/s`).join(', ')}`,
    )
  }
  for (const cell of cells) {
    cell.median = {
      appends: sig(median(cell.runs.map((r) => r.appends))),
      appendsPerFsync: sig(median(cell.runs.map((r) => r.appendsPerFsync)), 3),
      recordsPerSec: sig(median(cell.runs.map((r) => r.recordsPerSec))),
      p50Ms: sig(median(cell.runs.map((r) => r.p50Ms))),
      p99Ms: sig(median(cell.runs.map((r) => r.p99Ms))),
    }
  }
  return cells
}

// ---------------------------------------------------------------- E3: live tail

interface TailRun {
  samples: number
  p50Us: number
  p99Us: number
}

type Pause = 'timeout' | 'immediate'

function pause(kind: Pause): Promise<void> {
  return new Promise((resolve) => (kind === 'timeout' ? setTimeout(resolve, E3_PAUSE_MS) : setImmediate(resolve)))
}

/** One producer (append one message, acks 1, pause) and one live consumer from 'latest'; returns latencies in µs. */
async function tailRun(log: Seglog, topic: string, pauseKind: Pause): Promise<number[]> {
  const start = log.offsets(topic, 0).logEndOffset
  const sent = new BigInt64Array(E3_SAMPLES)
  const latencies: number[] = []
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(new Error('E3 timed out')), E3_TIMEOUT_MS)
  const consumer = (async () => {
    let expected = start
    for await (const r of log.stream(topic, 0, { from: 'latest', live: true, signal: abort.signal })) {
      const now = process.hrtime.bigint()
      if (r.offset !== expected) throw new Error(`E3: got offset ${r.offset}, expected ${expected}`)
      latencies.push(Number(now - sent[r.offset - start]) / 1000)
      expected++
      if (latencies.length === E3_SAMPLES) break
    }
  })()
  // Let the consumer start (resolving 'latest') and park at the log end before the first append.
  await new Promise((resolve) => setImmediate(resolve))
  try {
    for (let k = 0; k < E3_SAMPLES; k++) {
      const s = k % DATA_SLOTS
      sent[k] = process.hrtime.bigint()
      await log.append(topic, [{ key: KEYS[s], value: EVENTS[s] }], { acks: 1 })
      await pause(pauseKind)
    }
    await consumer
  } finally {
    clearTimeout(timer)
    abort.abort()
    await consumer.catch(() => {})
  }
  return latencies
}

interface TailResult {
  pause: Pause
  median: TailRun
  pooled: TailRun
  runs: TailRun[]
}

function tailStats(latencies: number[]): TailRun {
  return { samples: latencies.length, p50Us: sig(percentile(latencies, 50)), p99Us: sig(percentile(latencies, 99)) }
}

async function e3(): Promise<TailResult[]> {
  const results: TailResult[] = []
  const dir = join(root, 'e3')
  const log = await Seglog.open(dir)
  try {
    await log.createTopic('e3', { partitions: 1 })
    for (const pauseKind of ['timeout', 'immediate'] as const) {
      const pooled: number[] = []
      const all: TailRun[] = []
      for (let rep = 0; rep < E3_REPS; rep++) {
        gc()
        const lat = await tailRun(log, 'e3', pauseKind)
        for (const x of lat) pooled.push(x)
        all.push(tailStats(lat))
      }
      results.push({
        pause: pauseKind,
        median: {
          samples: pooled.length,
          p50Us: sig(median(all.map((r) => r.p50Us))),
          p99Us: sig(median(all.map((r) => r.p99Us))),
        },
        pooled: tailStats(pooled),
        runs: all,
      })
      console.log(`  E3 (${pauseKind}): p50 ${all.map((r) => r.p50Us).join(' / ')} µs`)
    }
  } finally {
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return results
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now()
  console.log(
    `seglog engine bench — node ${process.version}, E1 ${N.toLocaleString('en-US')} messages x ${RUNS} runs, ` +
      `E2 ${E2_SECONDS} s per cell x ${E2_REPS}, E3 ${E3_SAMPLES} samples x ${E3_REPS}; data in ${root}`,
  )
  console.log(
    `Key ${KEY_BYTES} B string; values: msgpack event object (mean ${sig(MSGPACK_VALUE_BYTES, 4)} B encoded), ` +
      `binary ${VALUE_BYTES} B Buffer. MB = 10^6 bytes of key + encoded value.`,
  )
  noteRss('start')
  const pct = (a: number, b: number): number => sig((100 * a) / b, 3)
  const times = (a: number, b: number): number => sig(a / b, 3)
  const met = (ok: boolean): string => (ok ? 'yes' : 'NO')
  const rows: string[][] = []
  const result: Record<string, unknown> = {
    bench: 'seglog-engine',
    node: process.version,
    keyBytes: KEY_BYTES,
    msgpackValueBytes: sig(MSGPACK_VALUE_BYTES),
    binaryValueBytes: VALUE_BYTES,
    mbIs: '1e6 bytes of key + encoded value',
  }
  const ratios: Record<string, number> = {}
  const detail: (() => void)[] = []

  if (runs('e1')) {
    const r = await e1()
    const m = r.median
    noteRss('E1')
    ratios.e1MsgpackPercentOfBinary = pct(m.msgpack.recordsPerSec, m.binary.recordsPerSec)
    ratios.e1BinaryPercentOfPartitionLog = pct(m.binary.recordsPerSec, m['partition-log'].recordsPerSec)
    ratios.e1BinaryBufferKeysPercentOfPartitionLog = pct(
      m['binary-buffer-keys'].recordsPerSec,
      m['partition-log'].recordsPerSec,
    )
    ratios.e1MsgpackFreshPercentOfBinary = pct(m['msgpack-fresh'].recordsPerSec, m.binary.recordsPerSec)
    const n = N >= 1e6 && N % 1e6 === 0 ? `${N / 1e6}M` : N.toLocaleString('en-US')
    const tput = (label: string, s: ThroughputRun, base: ThroughputRun, vs: string, targetPct: number | null): void => {
      const ratio = pct(s.recordsPerSec, base.recordsPerSec)
      rows.push([
        label,
        'records/s',
        fmtNum(s.recordsPerSec),
        fmtNum(base.recordsPerSec),
        `${ratio}% of ${vs}`,
        targetPct === null ? '' : `>= ${targetPct}%`,
        targetPct === null ? '' : met(ratio >= targetPct),
      ])
      rows.push(['', 'MB/s', fmtNum(s.mbPerSec), fmtNum(base.mbPerSec), '', '', ''])
    }
    tput(`E1 append ${n} msgpack (vs binary topic)`, m.msgpack, m.binary, 'binary', 50)
    tput('  diag: msgpack, new event object per message', m['msgpack-fresh'], m.binary, 'binary', null)
    tput(`E1 append ${n} binary (vs PartitionLog.append)`, m.binary, m['partition-log'], 'partition-log', 85)
    tput('  diag: binary, 16-byte Buffer keys', m['binary-buffer-keys'], m['partition-log'], 'partition-log', null)
    result.e1 = { ...r, batch: E1_BATCH, records: N, acks: 1, runsPerVariant: RUNS }
    detail.push(() => {
      console.log('\nE1 all runs (seconds):')
      printTable(
        ['variant', ...r.runs.binary.map((_, k) => `run ${k + 1}`), 'median', 'records/s'],
        E1_VARIANTS.map((v) => [
          v === 'partition-log' ? 'PartitionLog.append' : `engine ${v}`,
          ...r.runs[v].map((x) => fmtNum(x.seconds)),
          fmtNum(m[v].seconds),
          fmtNum(m[v].recordsPerSec),
        ]),
      )
    })
  }

  if (runs('e2')) {
    const cells = await e2()
    noteRss('E2')
    const cell = (p: number, c: number, acks: Acks = -1): GroupCell =>
      cells.find((x) => x.partitions === p && x.concurrency === c && x.acks === acks)!
    for (const p of E2_PARTITIONS) {
      const one = cell(p, 1).median
      const many = cell(p, 256).median
      const speedup = times(many.recordsPerSec, one.recordsPerSec)
      ratios[`e2P${p}SpeedupC256VsC1`] = speedup
      const label = `E2 acks -1, ${p} partition${p > 1 ? 's' : ''}, 256 vs 1 appender`
      rows.push([
        label,
        'records/s',
        fmtNum(many.recordsPerSec),
        fmtNum(one.recordsPerSec),
        `${speedup}x`,
        p === 1 ? '>= 50x' : '',
        p === 1 ? met(speedup >= 50) : '',
      ])
      rows.push(['', 'p50 ms', fmtNum(many.p50Ms), fmtNum(one.p50Ms), '', '', ''])
      rows.push(['', 'p99 ms', fmtNum(many.p99Ms), fmtNum(one.p99Ms), '', '', ''])
    }
    const ceiling = cell(1, 256, 1).median
    const ceilingX = times(ceiling.recordsPerSec, cell(1, 1).median.recordsPerSec)
    ratios.e2P1CeilingAcks1VsC1 = ceilingX
    rows.push([
      '  diag: CPU ceiling, 256 appenders acks 1',
      'records/s',
      fmtNum(ceiling.recordsPerSec),
      fmtNum(cell(1, 1).median.recordsPerSec),
      `${ceilingX}x`,
      '',
      '',
    ])
    result.e2 = { seconds: E2_SECONDS, reps: E2_REPS, cells }
    detail.push(() => {
      console.log(`\nE2 group commit (median of ${E2_REPS} x ${E2_SECONDS} s; latency per append):`)
      printTable(
        [
          'partitions',
          'appenders',
          'acks',
          'records/s',
          'p50 ms',
          'p99 ms',
          'appends/fsync',
          'vs 1 appender',
          'records/s per rep',
        ],
        cells.map((c) => [
          String(c.partitions),
          String(c.concurrency),
          String(c.acks),
          fmtNum(c.median.recordsPerSec),
          fmtNum(c.median.p50Ms),
          fmtNum(c.median.p99Ms),
          fmtNum(c.median.appendsPerFsync, 3),
          `${times(c.median.recordsPerSec, cell(c.partitions, 1).median.recordsPerSec)}x`,
          c.runs.map((x) => fmtNum(x.recordsPerSec, 3)).join(' / '),
        ]),
      )
    })
  }

  if (runs('e3')) {
    const tails = await e3()
    noteRss('E3')
    for (const t of tails) {
      const isMain = t.pause === 'timeout'
      const label = isMain
        ? `E3 live tail, append every ${E3_PAUSE_MS} ms`
        : '  diag: append after setImmediate (no timer)'
      rows.push([
        label,
        'p50 µs',
        fmtNum(t.median.p50Us),
        '',
        '',
        isMain ? '<= 200 µs' : '',
        isMain ? met(t.median.p50Us <= 200) : '',
      ])
      rows.push(['', 'p99 µs', fmtNum(t.median.p99Us), '', '', '', ''])
      ratios[isMain ? 'e3P50Us' : 'e3ImmediateP50Us'] = t.median.p50Us
    }
    result.e3 = { samplesPerRep: E3_SAMPLES, reps: E3_REPS, pauseMs: E3_PAUSE_MS, variants: tails }
    detail.push(() => {
      console.log(`\nE3 live tail per rep (${E3_SAMPLES} samples each; µs):`)
      printTable(
        ['pause', ...tails[0].runs.map((_, k) => `rep ${k + 1} p50/p99`), 'median p50/p99', 'pooled p50/p99'],
        tails.map((t) => [
          t.pause,
          ...t.runs.map((x) => `${fmtNum(x.p50Us)} / ${fmtNum(x.p99Us)}`),
          `${fmtNum(t.median.p50Us)} / ${fmtNum(t.median.p99Us)}`,
          `${fmtNum(t.pooled.p50Us)} / ${fmtNum(t.pooled.p99Us)}`,
        ]),
      )
    })
  }

  console.log('')
  printTable(['workload', 'metric', 'seglog', 'baseline', 'ratio', 'target', 'met'], rows)
  console.log(
    '(baseline: E1 msgpack → the binary topic, E1 binary → PartitionLog.append, E2 → 1 appender with acks -1; ' +
      'medians of runs.)',
  )
  for (const print of detail) print()
  const peak = sig(peakRssMB())
  console.log(
    `\nRSS after each workload (MB): ${Object.entries(rssAfter)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; peak RSS ${peak} MB`,
  )
  const elapsed = sig((performance.now() - started) / 1000, 3)
  console.log(`Elapsed ${elapsed} s\n`)
  Object.assign(result, { ratios, rssAfterMB: rssAfter, peakRssMB: peak, elapsedSeconds: elapsed })
  console.log(JSON.stringify(result))
}

try {
  await main()
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
