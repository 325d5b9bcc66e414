/**
 * Clients benchmark: producer → engine → consumer group, end to end, in one process.
 *
 *   npm run bench:clients    (compiles with tsc into build/, then node --expose-gc build/bench/clients.js)
 *   node --expose-gc build/bench/clients.js t1 binary eachbatch    (a subset: workloads t1 d1 l1, and filters
 *                                                                   binary msgpack eachbatch eachmessage)
 *
 * Every workload: a fresh directory and engine, a topic of 6 partitions, a group of 3 consumers in the same
 * process (`subscribe({ fromBeginning: true })`, default auto-commit: one commit after each fetched batch), formed
 * before the first send, and a `log.producer({ lingerMs: 1, acks: 1 })`. Messages carry a rotating 16-character
 * string key (1,000 distinct; the default partitioner spreads them) and a value stamped with `performance.now()`
 * at the `send` call: a fresh 100-byte Buffer (topic format 'binary'; the stamp is its first 8 bytes) or a
 * ~100-byte msgpack object (format 'msgpack'; field `ts`). Latency = handler's clock − stamp, per message
 * (eachBatch: one clock read per batch). Handlers check that each partition's offsets arrive in order, each
 * exactly once; after the run every partition's committed offset must be its log end.
 *
 * T1  throughput: 1,000,000 messages in `send` calls of 500 (at most 8 in flight; the producer yields to the event
 *     loop after each call, as a producer on a real network would), binary and msgpack × eachBatch and eachMessage.
 *     Messages/s from the first send to the last message handled; target ≥ 500,000/s for binary + eachBatch (the
 *     median of SEGLOG_BENCH_RUNS runs, other variants 1 run). Latency is reported, but under saturation it
 *     measures the backlog. Sends of 500 messages exceed the producer's batchBytes, so lingerMs never delays them.
 *     Diagnostic: binary + eachBatch with `autoCommitInterval: 1000` (no commit per batch).
 * D1  diagnostic, each side alone (binary): the T1 producer loop with no consumer; the T1 group consuming 1,000,000
 *     messages appended before it could run (appends of 1,000 issued synchronously, then the clock starts).
 * L1  latency at an offered load of 50,000 messages/s for 5 s: every 10 ms (setTimeout) the producer sends what is
 *     due (500 per 10 ms; a late tick sends the arrears); p50/p99/max; target p99 ≤ 10 ms for binary + eachBatch.
 *     Also eachMessage, and the diagnostic with `autoCommitInterval: 1000`.
 *
 * Each workload also reports the process's CPU time (user + system, all threads) per message in its window: on a
 * loaded machine throughput follows the CPU share the process gets, the CPU cost per message much less so.
 * The machine is small and shared: compare figures from the same run. Environment (quick trials only):
 * SEGLOG_BENCH_RECORDS (T1/D1 messages, default 1000000), SEGLOG_BENCH_SECONDS (L1, default 5), SEGLOG_BENCH_RUNS
 * (T1 headline runs, default 3), SEGLOG_BENCH_CPUPROF=<prefix> (profile each measured window, and only it, into
 * `<prefix>-<workload>.cpuprofile`; read with `node build/bench/cpuprofile-top.js <file>`),
 * SEGLOG_BENCH_TOPIC_CONFIG (JSON merged into the topic config, e.g. '{"flushMs":600000}').
 */
import * as fs from 'node:fs'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Consumer, EachBatchPayload, EachMessagePayload } from '../src/clients/consumer.js'
import type { Producer } from '../src/clients/producer.js'
import { type Message, Seglog, type SeglogRecord } from '../src/main.js'
import {
  DATA_SLOTS,
  fmtNum,
  gc,
  makeRecordData,
  median,
  peakRssMB,
  printTable,
  type RecordData,
  rssMB,
  sig,
  VALUE_BYTES,
} from './common.js'

const N = Number(process.env.SEGLOG_BENCH_RECORDS ?? 1_000_000)
const L1_SECONDS = Number(process.env.SEGLOG_BENCH_SECONDS ?? 5)
const RUNS = Number(process.env.SEGLOG_BENCH_RUNS ?? 3)
const PROFILE_PREFIX = process.env.SEGLOG_BENCH_CPUPROF
/** Extra topic config for experiments, e.g. '{"flushMs": 600000}'. */
const TOPIC_CONFIG = JSON.parse(process.env.SEGLOG_BENCH_TOPIC_CONFIG ?? '{}') as Record<string, unknown>
const PARTITIONS = 6
const CONSUMERS = 3
const SEND_BATCH = 500
const MAX_INFLIGHT_SENDS = 8
const LINGER_MS = 1
const INTERVAL_COMMIT_MS = 1000
const L1_RATE = 50_000
const L1_TICK_MS = 10
const T1_TARGET = 500_000
const L1_P99_TARGET_MS = 10
const DRAIN_TIMEOUT_MS = 60_000

type Format = 'binary' | 'msgpack'
type Mode = 'eachBatch' | 'eachMessage'
/** 'batch': the default auto-commit (after every fetched batch); 'interval': autoCommitInterval 1000 ms. */
type Commit = 'batch' | 'interval'

const WORKLOADS = ['t1', 'd1', 'l1']
const FILTERS = ['binary', 'msgpack', 'eachbatch', 'eachmessage']
const args = process.argv.slice(2).map((a) => a.toLowerCase())
for (const a of args) {
  if (!WORKLOADS.includes(a) && !FILTERS.includes(a)) {
    console.error(`usage: clients.js [${WORKLOADS.join('|')}]... [${FILTERS.join('|')}]...`)
    process.exit(2)
  }
}
const selected = args.filter((a) => WORKLOADS.includes(a))
const filters = args.filter((a) => FILTERS.includes(a))
const runs = (w: string): boolean => selected.length === 0 || selected.includes(w)
/** Whether a variant passes the format/handler filters given on the command line. */
function wanted(format: Format, mode: Mode): boolean {
  const f = filters.filter((x) => x === 'binary' || x === 'msgpack')
  const m = filters.filter((x) => x === 'eachbatch' || x === 'eachmessage')
  return (f.length === 0 || f.includes(format)) && (m.length === 0 || (m as string[]).includes(mode.toLowerCase()))
}

const data: RecordData = makeRecordData()
const root = fs.mkdtempSync(join(tmpdir(), 'seglog-bench-clients-'))
const rssAfter: Record<string, number> = {}

function noteRss(label: string): void {
  gc()
  rssAfter[label] = sig(rssMB())
}

// ---------------------------------------------------------------- messages

/** 16-character string keys, one per slot. */
const KEYS: string[] = []
const USERS: string[] = []
const PAGES: string[] = []
for (let j = 0; j < DATA_SLOTS; j++) {
  KEYS.push(`key-${String(j).padStart(12, '0')}`)
  USERS.push(`user-${1000 + ((j * 7919) % 9000)}`)
  PAGES.push(`/products/${1000 + ((j * 104729) % 9000)}`)
}
const KINDS = ['click', 'view', 'scroll', 'buy']

/** A small event; msgpack-encoded it is ~100 bytes. */
interface Event {
  id: number
  ts: number
  user: string
  kind: string
  page: string
  amount: number
}

/** Messages first..first+count-1, all stamped `stamp`. Values are fresh: the producer may hold them a while. */
function makeMessages(format: Format, first: number, count: number, stamp: number): Message[] {
  const out: Message[] = new Array(count)
  for (let j = 0; j < count; j++) {
    const i = first + j
    const s = i % DATA_SLOTS
    let value: Buffer | Event
    if (format === 'binary') {
      const b = Buffer.allocUnsafe(VALUE_BYTES)
      data.values[s].copy(b, 8, 8)
      b.writeDoubleLE(stamp, 0)
      value = b
    } else {
      value = { id: i, ts: stamp, user: USERS[s], kind: KINDS[i & 3], page: PAGES[s], amount: (i % 100) + 0.5 }
    }
    out[j] = { key: KEYS[s], value }
  }
  return out
}

function stampOf(format: Format, r: SeglogRecord): number {
  return format === 'binary' ? (r.value as Buffer).readDoubleLE(0) : (r.value as Event).ts
}

// ---------------------------------------------------------------- harness

interface Sink {
  /** Latency (ms) of each handled message, in handling order. */
  latencies: Float64Array
  handled: number
  /** performance.now() when the `expected`-th message was handled. */
  lastAt: number
  whenAll: Promise<void>
  commits: number
  errors: string[]
}

interface Harness {
  log: Seglog
  consumers: Consumer[]
  sink: Sink
  dir: string
}

/** A fresh engine with the topic and a formed group of CONSUMERS members, all feeding one sink of `expected`. */
async function setUp(name: string, format: Format, mode: Mode, commit: Commit, expected: number): Promise<Harness> {
  const dir = join(root, name)
  const log = await Seglog.open(dir)
  await log.createTopic('bench', { partitions: PARTITIONS, config: { ...TOPIC_CONFIG, format } })
  let resolveAll: () => void = () => {}
  const sink: Sink = {
    latencies: new Float64Array(expected),
    handled: 0,
    lastAt: 0,
    whenAll: new Promise<void>((resolve) => {
      resolveAll = resolve
    }),
    commits: 0,
    errors: [],
  }
  const next = new Array<number>(PARTITIONS).fill(0)
  const take = (r: SeglogRecord, now: number): void => {
    if (r.offset !== next[r.partition] && sink.errors.length < 10) {
      sink.errors.push(`partition ${r.partition}: got offset ${r.offset}, expected ${next[r.partition]}`)
    }
    next[r.partition] = r.offset + 1
    if (sink.handled < expected) sink.latencies[sink.handled] = now - stampOf(format, r)
    if (++sink.handled === expected) {
      sink.lastAt = now
      resolveAll()
    }
  }
  const commitOptions = commit === 'interval' ? { autoCommitInterval: INTERVAL_COMMIT_MS } : {}
  const consumers: Consumer[] = []
  for (let k = 0; k < CONSUMERS; k++) {
    const c = log.consumer({ groupId: 'bench', clientId: `c${k}` })
    c.on(c.events.CRASH, (e) => sink.errors.push(`crash: ${e.error.message}`))
    c.on(c.events.COMMIT_OFFSETS, () => void sink.commits++)
    await c.subscribe({ topics: ['bench'], fromBeginning: true })
    if (mode === 'eachBatch') {
      await c.run({
        ...commitOptions,
        eachBatch: async ({ batch }: EachBatchPayload) => {
          const now = performance.now()
          for (const m of batch.messages) take(m, now)
        },
      })
    } else {
      await c.run({
        ...commitOptions,
        eachMessage: async ({ message }: EachMessagePayload) => take(message, performance.now()),
      })
    }
    consumers.push(c)
  }
  const assigned = consumers.map((c) => c.assignment().length)
  if (assigned.join() !== '2,2,2') throw new Error(`${name}: assignment ${assigned.join('/')}, expected 2/2/2`)
  sink.commits = 0
  return { log, consumers, sink, dir }
}

/** Stops the group (it commits), checks handled = committed = log end, closes and deletes the engine. */
async function tearDown(h: Harness, name: string): Promise<void> {
  for (const c of h.consumers) await c.stop()
  let end = 0
  for (let p = 0; p < PARTITIONS; p++) end += h.log.offsets('bench', p).logEndOffset
  const committed = (await h.log.fetchOffsets('bench')).reduce((a, o) => a + o.offset, 0)
  await h.log.close()
  fs.rmSync(h.dir, { recursive: true, force: true })
  if (h.sink.errors.length > 0) throw new Error(`${name}: ${h.sink.errors.join('; ')}`)
  if (h.sink.handled !== end || committed !== end) {
    throw new Error(`${name}: log end ${end}, handled ${h.sink.handled}, committed ${committed}`)
  }
}

async function waitAll(sink: Sink, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${name}: only ${sink.handled} messages handled after ${DRAIN_TIMEOUT_MS} ms`)),
      DRAIN_TIMEOUT_MS,
    )
  })
  try {
    await Promise.race([sink.whenAll, timeout])
  } finally {
    clearTimeout(timer)
  }
}

let session: Session | null = null

async function startProfile(): Promise<void> {
  if (PROFILE_PREFIX === undefined) return
  session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 100 })
  await session.post('Profiler.start')
}

async function stopProfile(name: string): Promise<void> {
  if (session === null) return
  const { profile } = await session.post('Profiler.stop')
  session.disconnect()
  session = null
  const file = `${PROFILE_PREFIX}-${name}.cpuprofile`
  fs.writeFileSync(file, JSON.stringify(profile))
  console.log(`  (profile of ${name}: ${file})`)
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Latency {
  p50Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
}

function latencyOf(sample: Float64Array): Latency {
  const sorted = Float64Array.from(sample).sort()
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
  return { p50Ms: sig(at(0.5)), p99Ms: sig(at(0.99)), p999Ms: sig(at(0.999)), maxMs: sig(sorted[sorted.length - 1]) }
}

interface Result extends Latency {
  workload: 'T1' | 'L1'
  format: Format
  mode: Mode
  commit: Commit
  messages: number
  seconds: number
  /** First send → last message handled. */
  messagesPerSec: number
  /** Offset commits during the measured window (all consumers). */
  commits: number
  /** CPU time of the process (user + system, all threads) in the window, per message: stable on a loaded machine. */
  cpuUsPerMsg: number
  /** Event-loop delay during the measured window (perf_hooks.monitorEventLoopDelay, 1 ms resolution). */
  loopDelayP99Ms: number
  loopDelayMaxMs: number
}

/** Starts an event-loop delay histogram; the returned function stops it and reports p99/max in ms. */
function loopDelay(): () => { loopDelayP99Ms: number; loopDelayMaxMs: number } {
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  return () => {
    h.disable()
    return { loopDelayP99Ms: sig(h.percentile(99) / 1e6), loopDelayMaxMs: sig(h.max / 1e6) }
  }
}

// ---------------------------------------------------------------- T1: throughput

/** Sends N messages in calls of SEND_BATCH, at most MAX_INFLIGHT_SENDS in flight, yielding after each call. */
async function produceAll(producer: Producer, format: Format): Promise<void> {
  const inflight = new Set<Promise<unknown>>()
  for (let i = 0; i < N; i += SEND_BATCH) {
    const count = Math.min(SEND_BATCH, N - i)
    const p = producer.send({ topic: 'bench', messages: makeMessages(format, i, count, performance.now()) })
    inflight.add(p)
    void p.then(() => inflight.delete(p))
    if (inflight.size >= MAX_INFLIGHT_SENDS) await Promise.race(inflight)
    await yieldToLoop()
  }
  await Promise.all(inflight)
}

async function t1(format: Format, mode: Mode, commit: Commit, run: number): Promise<Result> {
  const name = `t1-${format}-${mode}-${commit}-${run}`
  const h = await setUp(name, format, mode, commit, N)
  const producer = h.log.producer({ lingerMs: LINGER_MS, acks: 1 })
  gc()
  await startProfile()
  const stopLoopDelay = loopDelay()
  const cpu = cpuMeter()
  const t0 = performance.now()
  await produceAll(producer, format)
  await waitAll(h.sink, name)
  const seconds = (h.sink.lastAt - t0) / 1000
  const cpuUsPerMsg = cpu(N)
  const commits = h.sink.commits
  const delay = stopLoopDelay()
  await stopProfile(name)
  await producer.disconnect()
  const lat = latencyOf(h.sink.latencies)
  await tearDown(h, name)
  return {
    workload: 'T1',
    format,
    mode,
    commit,
    messages: N,
    seconds: sig(seconds),
    messagesPerSec: sig(N / seconds),
    commits,
    cpuUsPerMsg,
    ...lat,
    ...delay,
  }
}

// ---------------------------------------------------------------- D1: each side alone (diagnostic)

interface SideResult {
  side: 'produce only' | 'consume only'
  messages: number
  seconds: number
  messagesPerSec: number
  cpuUsPerMsg: number
}

/** Starts a CPU-time meter; the returned function gives the process's CPU µs (user + system) per message since. */
function cpuMeter(): (messages: number) => number {
  const start = process.cpuUsage()
  return (messages) => {
    const used = process.cpuUsage(start)
    return sig((used.user + used.system) / messages, 3)
  }
}

/** The T1 producer loop with no consumer: first send → last send resolved. */
async function d1Produce(format: Format): Promise<SideResult> {
  const name = `d1-produce-${format}`
  const dir = join(root, name)
  const log = await Seglog.open(dir)
  await log.createTopic('bench', { partitions: PARTITIONS, config: { ...TOPIC_CONFIG, format } })
  const producer = log.producer({ lingerMs: LINGER_MS, acks: 1 })
  gc()
  await startProfile()
  const cpu = cpuMeter()
  const t0 = performance.now()
  await produceAll(producer, format)
  const seconds = (performance.now() - t0) / 1000
  const cpuUsPerMsg = cpu(N)
  await stopProfile(name)
  await producer.disconnect()
  await log.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return { side: 'produce only', messages: N, seconds: sig(seconds), messagesPerSec: sig(N / seconds), cpuUsPerMsg }
}

/** The T1 group consuming N messages that were all appended (acks 1, calls of 1,000) before it could run. */
async function d1Consume(format: Format, mode: Mode): Promise<SideResult> {
  const name = `d1-consume-${format}-${mode}`
  const h = await setUp(name, format, mode, 'batch', N)
  gc()
  // Issued synchronously (each append writes before it returns): no consumer runs before the clock starts.
  const appends: Promise<unknown>[] = []
  for (let i = 0; i < N; i += 1000) {
    appends.push(h.log.append('bench', makeMessages(format, i, Math.min(1000, N - i), 0), { acks: 1 }))
  }
  await startProfile()
  const cpu = cpuMeter()
  const t0 = performance.now()
  await Promise.all(appends)
  await waitAll(h.sink, name)
  const seconds = (h.sink.lastAt - t0) / 1000
  const cpuUsPerMsg = cpu(N)
  await stopProfile(name)
  await tearDown(h, name)
  return { side: 'consume only', messages: N, seconds: sig(seconds), messagesPerSec: sig(N / seconds), cpuUsPerMsg }
}

// ---------------------------------------------------------------- L1: paced latency

async function l1(format: Format, mode: Mode, commit: Commit): Promise<Result> {
  const name = `l1-${format}-${mode}-${commit}`
  const total = Math.round(L1_RATE * L1_SECONDS)
  const perTick = (L1_RATE * L1_TICK_MS) / 1000
  const h = await setUp(name, format, mode, commit, total)
  const producer = h.log.producer({ lingerMs: LINGER_MS, acks: 1 })
  gc()
  await startProfile()
  const stopLoopDelay = loopDelay()
  const cpu = cpuMeter()
  const sends: Promise<unknown>[] = []
  const t0 = performance.now()
  let sent = 0
  while (sent < total) {
    // What is due by now, counting the tick that starts now.
    const due = Math.min(total, Math.floor(((performance.now() - t0) * L1_RATE) / 1000) + perTick)
    while (sent < due) {
      const count = Math.min(SEND_BATCH, due - sent)
      sends.push(producer.send({ topic: 'bench', messages: makeMessages(format, sent, count, performance.now()) }))
      sent += count
    }
    if (sent < total) await sleep(L1_TICK_MS)
  }
  await Promise.all(sends)
  await waitAll(h.sink, name)
  const seconds = (h.sink.lastAt - t0) / 1000
  const cpuUsPerMsg = cpu(total)
  const commits = h.sink.commits
  const delay = stopLoopDelay()
  await stopProfile(name)
  await producer.disconnect()
  const lat = latencyOf(h.sink.latencies)
  await tearDown(h, name)
  return {
    workload: 'L1',
    format,
    mode,
    commit,
    messages: total,
    seconds: sig(seconds),
    messagesPerSec: sig(total / seconds),
    commits,
    cpuUsPerMsg,
    ...lat,
    ...delay,
  }
}

// ---------------------------------------------------------------- main

const met = (ok: boolean): string => (ok ? 'yes' : 'NO')

function row(label: string, r: Result, target: string, ok: boolean | null): string[] {
  return [
    label,
    r.format,
    r.mode,
    r.commit === 'batch' ? 'per batch' : `${INTERVAL_COMMIT_MS} ms`,
    fmtNum(r.messagesPerSec),
    String(r.seconds),
    String(r.cpuUsPerMsg),
    fmtNum(r.p50Ms),
    fmtNum(r.p99Ms),
    fmtNum(r.maxMs),
    `${fmtNum(r.loopDelayP99Ms)} / ${fmtNum(r.loopDelayMaxMs)}`,
    fmtNum(r.commits),
    target,
    ok === null ? '' : met(ok),
  ]
}

async function main(): Promise<void> {
  const started = performance.now()
  console.log(
    `seglog clients bench — node ${process.version}, topic of ${PARTITIONS} partitions, group of ${CONSUMERS} ` +
      `consumers, producer lingerMs ${LINGER_MS} acks 1, data in ${root}`,
  )
  const result: Record<string, unknown> = {
    node: process.version,
    partitions: PARTITIONS,
    consumers: CONSUMERS,
    lingerMs: LINGER_MS,
    acks: 1,
  }
  const rows: string[][] = []
  noteRss('start')

  if (runs('t1')) {
    const label = `T1 ${fmtNum(N)} msgs, sends of ${SEND_BATCH}`
    const out: { variant: string; runs: Result[]; median: Result }[] = []
    const variants: [Format, Mode, Commit][] = [
      ['binary', 'eachBatch', 'batch'],
      ['binary', 'eachMessage', 'batch'],
      ['msgpack', 'eachBatch', 'batch'],
      ['msgpack', 'eachMessage', 'batch'],
      ['binary', 'eachBatch', 'interval'],
    ]
    for (const [format, mode, commit] of variants.filter(([f, m]) => wanted(f, m))) {
      const headline = format === 'binary' && mode === 'eachBatch' && commit === 'batch'
      const all: Result[] = []
      for (let r = 0; r < (headline ? RUNS : 1); r++) all.push(await t1(format, mode, commit, r))
      const mid = median(all.map((x) => x.messagesPerSec))
      const med = all.find((x) => x.messagesPerSec === mid) ?? all[all.length >> 1]
      const variant = `${format} ${mode} commit ${commit}`
      out.push({ variant, runs: all, median: med })
      noteRss(`T1 ${variant}`)
      if (headline && all.length > 1) {
        console.log(
          `  T1 ${variant}, ${all.length} runs (msgs/s): ${all.map((x) => fmtNum(x.messagesPerSec)).join(' / ')}; ` +
            `CPU µs/msg: ${all.map((x) => x.cpuUsPerMsg).join(' / ')}`,
        )
      }
      rows.push(
        row(
          commit === 'interval' ? '  diag: T1, interval commits' : label,
          med,
          headline ? `≥ ${fmtNum(T1_TARGET)}/s` : '',
          headline ? med.messagesPerSec >= T1_TARGET : null,
        ),
      )
    }
    result.t1 = { messages: N, sendBatch: SEND_BATCH, maxInflightSends: MAX_INFLIGHT_SENDS, variants: out }
  }

  if (runs('d1') && wanted('binary', 'eachBatch')) {
    const out = [await d1Produce('binary'), await d1Consume('binary', 'eachBatch')]
    noteRss('D1')
    for (const r of out) {
      const handler = r.side === 'produce only' ? '' : 'eachBatch'
      const commit = r.side === 'produce only' ? '' : 'per batch'
      rows.push([
        `  diag: ${r.side}`,
        'binary',
        handler,
        commit,
        fmtNum(r.messagesPerSec),
        String(r.seconds),
        String(r.cpuUsPerMsg),
      ])
    }
    result.d1 = { messages: N, sides: out }
  }

  if (runs('l1')) {
    const label = `L1 ${fmtNum(L1_RATE)} msgs/s offered, ${L1_SECONDS} s`
    const out: Result[] = []
    const variants: [Format, Mode, Commit][] = [
      ['binary', 'eachBatch', 'batch'],
      ['binary', 'eachMessage', 'batch'],
      ['binary', 'eachBatch', 'interval'],
    ]
    for (const [format, mode, commit] of variants.filter(([f, m]) => wanted(f, m))) {
      const r = await l1(format, mode, commit)
      out.push(r)
      noteRss(`L1 ${format} ${mode} commit ${commit}`)
      rows.push(
        row(
          commit === 'interval' ? '  diag: L1, interval commits' : label,
          r,
          commit === 'batch' ? `p99 ≤ ${L1_P99_TARGET_MS} ms` : '',
          commit === 'batch' ? r.p99Ms <= L1_P99_TARGET_MS : null,
        ),
      )
    }
    result.l1 = { offeredPerSec: L1_RATE, tickMs: L1_TICK_MS, seconds: L1_SECONDS, runs: out }
  }

  console.log('')
  printTable(
    [
      'workload',
      'format',
      'handler',
      'commit',
      'msgs/s',
      'seconds',
      'CPU µs/msg',
      'p50 ms',
      'p99 ms',
      'max ms',
      'loop delay p99/max ms',
      'commits',
      'target',
      'met',
    ],
    rows,
  )
  console.log(
    '(msgs/s: first send → last message handled; CPU µs/msg: process CPU time (user + system, all threads) in ' +
      'that window per message; latency: send call → handler, per message; loop delay: ' +
      'event-loop delay in the window; commits: offset commits in the window, each a LevelDB batch written with sync.)',
  )
  const peak = sig(peakRssMB())
  console.log(
    `\nRSS after each workload (MB): ${Object.entries(rssAfter)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; peak RSS ${peak} MB`,
  )
  const elapsed = sig((performance.now() - started) / 1000, 3)
  console.log(`Elapsed ${elapsed} s\n`)
  Object.assign(result, { rssAfterMB: rssAfter, peakRssMB: peak, elapsedSeconds: elapsed })
  console.log(JSON.stringify(result))
}

try {
  await main()
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
