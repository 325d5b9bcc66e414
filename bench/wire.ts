/**
 * Wire benchmark: what serving the Kafka protocol costs, against the limits of the method, in one run.
 *
 *   npm run build:scripts && node build/bench/wire.js          (or npm run bench:wire)
 *   node build/bench/wire.js --server <dir>                     (internal: the serving process)
 *   node build/bench/wire.js --echo                             (internal: the echo process)
 *
 * X0  loopback TCP echo baseline: a separate node process that splits its input into size-prefixed frames and
 *     writes each back (what any request/response server does, minus the work); this process sends one 120-byte
 *     frame and awaits it, 20,000 times after 1,000 warm-ups; p50/p99 µs. The physical limit of the method.
 * X1  in-process binary append: `Seglog.append` of 1 M 100-byte values (no key) in calls of 1,000, acks 1, one
 *     `flush()` at the end; and sequential `read` of them (5,000 records / 1 MiB per call). The ceiling for the wire.
 * W1  wire produce: librdkafka (confluent-kafka, Python) produces the same 1 M 100-byte values to one partition,
 *     linger.ms 5, batch.size 1 MiB, acks=1, then acks=all (fresh topics), timed from the first produce() to the
 *     end of flush(). The server is its own process (`--server`: `Seglog.open` + `listen({ port: 0 })`).
 * W2  wire fetch: a librdkafka consumer reads W1's acks=1 topic from the beginning until it has every record.
 * W3  acks=1 produce round trip of one record: librdkafka (produce + flush, 2,000 times) and a raw Produce v3 frame
 *     sent by this process over one socket exactly as X0 sends its frames (20,000 times): p50/p99 µs. The raw
 *     one is the like-for-like comparison with X0 (same client code, same framing; the difference is the server).
 *
 * CPU: the server process reports `process.cpuUsage()` before and after each wire workload (server µs per
 * message and its share of one core over the workload's wall time); the client reports its own CPU time (every
 * thread: the Python loop and librdkafka's), so a client-bound run shows as client CPU near or above 100 %.
 * MB = 10^6 bytes of value payload. Environment: SEGLOG_BENCH_RECORDS (default 1000000) for a quick trial.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Seglog } from '../src/main.js'
import { encodeBatch } from '../src/segment/record-batch.js'
import { fmtNum, percentile, printTable, sig } from './common.js'

const N = Number(process.env.SEGLOG_BENCH_RECORDS ?? 1_000_000)
const VALUE_BYTES = 100
const APPEND_CALL = 1000
const ECHO_FRAME = 120
const ECHO_WARMUP = 1000
const ECHO_SAMPLES = 20_000
const RTT_SAMPLES = 20_000
const PY_RTT_SAMPLES = 2000
const PYTHON = '/usr/bin/python3'
const CLIENT_SCRIPT = fileURLToPath(new URL('../../bench/wire/confluent_bench.py', import.meta.url))
const SELF = fileURLToPath(import.meta.url)

const value = Buffer.alloc(VALUE_BYTES, 0x61)

// ---------------------------------------------------------------- child modes

/** `--server <dir>`: open, listen on any port, print the address; stdin `cpu` → `cpu <user µs> <system µs>`. */
async function serverMode(dir: string): Promise<void> {
  const log = await Seglog.open(dir)
  const { host, port } = await log.listen({ port: 0 })
  process.stdout.write(`listening on ${host}:${port}\n`)
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'cpu') {
      const u = process.cpuUsage()
      process.stdout.write(`cpu ${u.user} ${u.system}\n`)
    } else if (line === 'threads') {
      process.stdout.write(`threads ${JSON.stringify(threadCpu())}\n`)
    } else if (line.startsWith('create ')) {
      await log.createTopic(line.slice(7), { partitions: 1, config: { format: 'binary' } })
      process.stdout.write('created\n')
    } else if (line === 'quit') break
  }
  await log.close()
  // stdin stays open (the parent holds the pipe) and would keep the process alive.
  process.exit(0)
}

const TICKS_PER_SECOND = 100

/** CPU seconds per thread name of this process (/proc/self/task/<tid>/stat utime + stime; Linux only, else {}). */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {}
  let tids: string[] = []
  try {
    tids = fs.readdirSync('/proc/self/task')
  } catch {
    return out
  }
  for (const tid of tids) {
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'latin1')
    } catch {
      continue
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    out[name] = (out[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  }
  return out
}

/**
 * Per-thread CPU seconds spent between two `threadCpu()` snapshots, busiest first, small ones dropped, each with
 * its share of `wallSeconds` (a thread near 100 % is the bottleneck).
 */
function threadDelta(after: Record<string, number>, before: Record<string, number>, wallSeconds: number): string {
  return Object.entries(after)
    .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
    .filter(([, v]) => v >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${sig(v, 2)} s (${Math.round((v / wallSeconds) * 100)} %)`)
    .join(', ')
}

/** `--echo`: a frame-splitting echo server. */
function echoMode(): void {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    let buffered: Buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      while (buffered.length >= 4) {
        const size = buffered.readInt32BE(0)
        if (buffered.length < 4 + size) break
        socket.write(buffered.subarray(0, 4 + size))
        buffered = buffered.subarray(4 + size)
      }
    })
    socket.on('error', () => {})
  })
  server.listen(0, '127.0.0.1', () => {
    const a = server.address() as net.AddressInfo
    process.stdout.write(`listening on ${a.address}:${a.port}\n`)
  })
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'cpu') {
      const u = process.cpuUsage()
      process.stdout.write(`cpu ${u.user} ${u.system}\n`)
    } else if (line === 'quit') process.exit(0)
  })
}

// ---------------------------------------------------------------- parent helpers

interface Child {
  proc: ChildProcess
  host: string
  port: number
  /** The next stdout line. */
  next(): Promise<string>
  send(line: string): void
  /** Server CPU µs (user + system) so far. */
  cpu(): Promise<number>
  /** CPU seconds per thread name so far. */
  threads(): Promise<Record<string, number>>
}

async function startChild(args: string[]): Promise<Child> {
  const proc = spawn(process.execPath, [SELF, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  const waiters: ((l: string) => void)[] = []
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    const w = waiters.shift()
    if (w !== undefined) w(l)
    else lines.push(l)
  })
  const next = (): Promise<string> =>
    lines.length > 0 ? Promise.resolve(lines.shift() as string) : new Promise((resolve) => waiters.push(resolve))
  const first = await next()
  const m = /^listening on (.+):(\d+)$/.exec(first)
  if (m === null) throw new Error(`child said ${first}`)
  const send = (line: string): void => {
    proc.stdin?.write(`${line}\n`)
  }
  return {
    proc,
    host: m[1],
    port: Number(m[2]),
    next,
    send,
    cpu: async () => {
      send('cpu')
      const [, user, system] = (await next()).split(' ')
      return Number(user) + Number(system)
    },
    threads: async () => {
      send('threads')
      return JSON.parse((await next()).slice('threads '.length)) as Record<string, number>
    },
  }
}

async function stopChild(c: Child): Promise<void> {
  const exited = new Promise((resolve) => c.proc.on('exit', resolve))
  c.send('quit')
  await exited
}

interface PyResult {
  mode: string
  n: number
  seconds: number
  cpu_seconds: number
  errors?: number
  undelivered?: number
  samples_us?: number[]
  /** CPU seconds per client thread over the workload. */
  threads?: Record<string, number>
  first_record_seconds?: number
}

function python(args: string[]): Promise<PyResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, [CLIENT_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.setEncoding('utf8')
    p.stdout.on('data', (c: string) => {
      out += c
    })
    p.on('error', reject)
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`${args[0]} exited ${code}: ${out}`))
      else resolve(JSON.parse(out.trim().split('\n').at(-1) as string) as PyResult)
    })
  })
}

/** Sends `frame` and awaits one size-prefixed reply, `samples` times after `warmup`; returns µs per round trip. */
async function roundTrips(
  host: string,
  port: number,
  frame: Buffer,
  warmup: number,
  samples: number,
  stamp?: (frame: Buffer, k: number) => void,
): Promise<number[]> {
  const socket = net.connect({ host, port })
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  let buffered: Buffer = Buffer.alloc(0)
  let wake: (() => void) | null = null
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
    if (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      buffered = buffered.subarray(4 + buffered.readInt32BE(0))
      const w = wake
      wake = null
      w?.()
    }
  })
  const out: number[] = []
  for (let k = 0; k < warmup + samples; k++) {
    stamp?.(frame, k)
    const t0 = process.hrtime.bigint()
    const replied = new Promise<void>((resolve) => {
      wake = resolve
    })
    socket.write(frame)
    await replied
    if (k >= warmup) out.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  socket.destroy()
  return out
}

/** A Produce v3 request (acks 1, timeout 5 s) of one batch holding one 100-byte record, for topic/partition 0. */
function produceFrame(topic: string): Buffer {
  const batch = encodeBatch([{ timestamp: Date.now(), key: null, value }])
  const client = Buffer.from('bench')
  const name = Buffer.from(topic)
  const size = 4 + 2 + 2 + 4 + 2 + client.length + 2 + 2 + 4 + 4 + 2 + name.length + 4 + 4 + 4 + batch.length
  const b = Buffer.alloc(size)
  let at = 0
  at = b.writeInt32BE(size - 4, at)
  at = b.writeInt16BE(0, at) // api key Produce
  at = b.writeInt16BE(3, at)
  at = b.writeInt32BE(0, at) // correlation id, stamped per request
  at = b.writeInt16BE(client.length, at)
  at += client.copy(b, at)
  at = b.writeInt16BE(-1, at) // transactional id null
  at = b.writeInt16BE(1, at) // acks
  at = b.writeInt32BE(5000, at)
  at = b.writeInt32BE(1, at)
  at = b.writeInt16BE(name.length, at)
  at += name.copy(b, at)
  at = b.writeInt32BE(1, at)
  at = b.writeInt32BE(0, at) // partition
  at = b.writeInt32BE(batch.length, at)
  batch.copy(b, at)
  return b
}

// ---------------------------------------------------------------- workloads

interface Row {
  name: string
  msgsPerSec?: number
  mbPerSec?: number
  p50us?: number
  p99us?: number
  serverUsPerMsg?: number
  serverCpuPct?: number
  clientUsPerMsg?: number
  clientCpuPct?: number
  note?: string
  /** Where each side's CPU went, per thread. */
  serverThreads?: string
  clientThreads?: string
}

async function inProcess(root: string): Promise<{ append: Row; read: Row }> {
  const dir = join(root, 'inproc')
  const log = await Seglog.open(dir)
  await log.createTopic('b', { partitions: 1, config: { format: 'binary' } })
  const messages = Array.from({ length: APPEND_CALL }, () => ({ partition: 0, value }))
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < N; i += APPEND_CALL) await log.append('b', messages, { acks: 1 })
  await log.flush()
  const appendS = (performance.now() - t0) / 1000
  const c1 = process.cpuUsage(c0)
  const r0 = performance.now()
  let got = 0
  let bytes = 0
  while (got < N) {
    const recs = await log.read('b', 0, got, { maxRecords: 5000, maxBytes: 1 << 20 })
    for (const r of recs) bytes += (r.value as Buffer).length
    got += recs.length
  }
  const readS = (performance.now() - r0) / 1000
  await log.close()
  return {
    append: {
      name: 'X1 in-process append (binary, 1,000/call)',
      msgsPerSec: N / appendS,
      mbPerSec: (N * VALUE_BYTES) / 1e6 / appendS,
      serverUsPerMsg: (c1.user + c1.system) / N,
      serverCpuPct: ((c1.user + c1.system) / 1e6 / appendS) * 100,
    },
    read: { name: 'X1 in-process read', msgsPerSec: N / readS, mbPerSec: bytes / 1e6 / readS },
  }
}

async function wireRun(server: Child, label: string, args: string[], n: number): Promise<Row> {
  progress(label)
  const t0 = await server.threads()
  const s0 = await server.cpu()
  const r = await python(args)
  const s1 = await server.cpu()
  const t1 = await server.threads()
  if ((r.errors ?? 0) > 0 || (r.undelivered ?? 0) > 0 || r.n !== n) {
    throw new Error(`${label}: ${JSON.stringify({ ...r, samples_us: undefined })}`)
  }
  return {
    name: label,
    msgsPerSec: n / r.seconds,
    mbPerSec: (n * VALUE_BYTES) / 1e6 / r.seconds,
    serverUsPerMsg: (s1 - s0) / n,
    serverCpuPct: ((s1 - s0) / 1e6 / r.seconds) * 100,
    clientUsPerMsg: (r.cpu_seconds * 1e6) / n,
    clientCpuPct: (r.cpu_seconds / r.seconds) * 100,
    ...(r.first_record_seconds === undefined
      ? {}
      : { note: `first record at ${sig(r.first_record_seconds * 1000, 3)} ms` }),
    serverThreads: threadDelta(t1, t0, r.seconds),
    clientThreads: threadDelta(r.threads ?? {}, {}, r.seconds),
  }
}

/** Progress on stderr, so a long run shows where it is. */
function progress(what: string): void {
  process.stderr.write(`[wire bench] ${what}\n`)
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(join(tmpdir(), 'seglog-bench-wire-'))
  const rows: Row[] = []
  try {
    progress('X0 echo baseline')
    const echo = await startChild(['--echo'])
    const frame = Buffer.alloc(ECHO_FRAME, 0x62)
    frame.writeInt32BE(ECHO_FRAME - 4, 0)
    const echoUs = await roundTrips(echo.host, echo.port, frame, ECHO_WARMUP, ECHO_SAMPLES)
    await stopChild(echo)
    const echoRow: Row = {
      name: `X0 loopback echo, ${ECHO_FRAME}-byte frame`,
      p50us: percentile(echoUs, 50),
      p99us: percentile(echoUs, 99),
    }
    rows.push(echoRow)

    progress('X1 in-process append and read')
    const { append, read } = await inProcess(root)
    rows.push(append, read)

    const server = await startChild(['--server', join(root, 'served')])
    for (const t of ['warm', 'p1', 'pall', 'rtt', 'rawrtt']) {
      server.send(`create ${t}`)
      await server.next()
    }
    const broker = `${server.host}:${server.port}`
    progress(`W1-W3 through ${broker}`)
    // Warm-up (JIT of the server's produce and fetch paths, librdkafka's first connection): not measured.
    await python(['produce', broker, 'warm', String(Math.min(N, 200_000)), '1'])
    await python(['consume', broker, 'warm', String(Math.min(N, 200_000))])
    rows.push(
      await wireRun(server, 'W1 wire produce, librdkafka, acks=1', ['produce', broker, 'p1', String(N), '1'], N),
    )
    rows.push(
      await wireRun(server, 'W1 wire produce, librdkafka, acks=all', ['produce', broker, 'pall', String(N), 'all'], N),
    )
    rows.push(await wireRun(server, 'W2 wire fetch, librdkafka consumer', ['consume', broker, 'p1', String(N)], N))

    const s0 = await server.cpu()
    const py = await python(['rtt', broker, 'rtt', String(PY_RTT_SAMPLES)])
    const s1 = await server.cpu()
    const pyUs = py.samples_us ?? []
    rows.push({
      name: 'W3 acks=1 round trip, librdkafka produce+flush',
      p50us: percentile(pyUs, 50),
      p99us: percentile(pyUs, 99),
      serverUsPerMsg: (s1 - s0) / (PY_RTT_SAMPLES + 200),
      clientUsPerMsg: (py.cpu_seconds * 1e6) / (PY_RTT_SAMPLES + 200),
    })
    const produce = produceFrame('rawrtt')
    const r0 = await server.cpu()
    const rawUs = await roundTrips(server.host, server.port, produce, ECHO_WARMUP, RTT_SAMPLES, (f, k) =>
      f.writeInt32BE(k, 8),
    )
    const r1 = await server.cpu()
    const rawP50 = percentile(rawUs, 50)
    rows.push({
      name: 'W3 acks=1 round trip, raw Produce v3 frame',
      p50us: rawP50,
      p99us: percentile(rawUs, 99),
      serverUsPerMsg: (r1 - r0) / (ECHO_WARMUP + RTT_SAMPLES),
      note: `${sig(rawP50 / (echoRow.p50us as number), 3)}x echo p50`,
    })
    await stopChild(server)
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }

  const cell = (n: number | undefined, digits = 3): string => (n === undefined ? '' : fmtNum(n, digits))
  console.log(`records: ${N.toLocaleString('en-US')} x ${VALUE_BYTES}-byte values; one partition`)
  printTable(
    [
      'workload',
      'msgs/s',
      'MB/s',
      'p50 µs',
      'p99 µs',
      'server µs/msg',
      'server CPU %',
      'client µs/msg',
      'client CPU %',
      '',
    ],
    rows.map((r) => [
      r.name,
      cell(r.msgsPerSec),
      cell(r.mbPerSec),
      cell(r.p50us),
      cell(r.p99us),
      cell(r.serverUsPerMsg),
      cell(r.serverCpuPct),
      cell(r.clientUsPerMsg),
      cell(r.clientCpuPct),
      r.note ?? '',
    ]),
  )
  console.log('CPU per thread over each wire workload (share of its wall time):')
  for (const r of rows) {
    if (r.serverThreads === undefined) continue
    console.log(`  ${r.name}\n    server: ${r.serverThreads}\n    client: ${r.clientThreads}`)
  }
  const byName = (prefix: string): Row => rows.find((r) => r.name.startsWith(prefix)) as Row
  const inProc = byName('X1 in-process append').msgsPerSec as number
  const wireP = byName('W1 wire produce, librdkafka, acks=1').msgsPerSec as number
  console.log(
    `wire produce (acks=1) = ${sig((wireP / inProc) * 100, 3)} % of in-process append; target >= min(1 M msgs/s, 50 %)`,
  )
  console.log(
    JSON.stringify({
      records: N,
      rows: rows.map((r) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? sig(v) : v])),
      ),
    }),
  )
}

const mode = process.argv[2]
if (mode === '--server') await serverMode(process.argv[3])
else if (mode === '--echo') echoMode()
else await main()
