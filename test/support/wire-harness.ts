/**
 * Harness for the real-client wire tests (test/wire/clients/**, test/wire/fuzz.test.ts): every party is its own
 * process. `startServe` runs `seglog serve <dir> --port 0` (the CLI through tsx, from the repo root) and reads the
 * broker address from its first stdout line; `spawnLines` runs a client (kcat, /usr/bin/python3 on a script in
 * test/support/clients/, or node on a kafkajs script) and collects its stdout line by line so a test can await a
 * line instead of sleeping; `runToEnd` runs one to completion with a deadline.
 *
 * Invariants: every process started here is registered and `killAll()` (call it in `afterEach`) SIGKILLs the
 * ones still running, so a failed test leaves no broker or consumer behind. Nothing here sleeps: waits are on
 * lines or exits, each with a timeout that names what was awaited and shows the output so far.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import { tmpdir } from 'node:os'
import * as nodePath from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = nodePath.resolve(nodePath.dirname(fileURLToPath(import.meta.url)), '../..')
/** Debian's python, which has `kafka` (kafka-python) and `confluent_kafka`; another python3 may come first on PATH. */
export const PYTHON = '/usr/bin/python3'
export const CLIENTS_DIR = nodePath.join(REPO_ROOT, 'test/support/clients')
/** The CLI entry, run through tsx so the tests need no build. */
export const CLI_ENTRY = 'src/cli/main.ts'

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  /** From spawn to exit, in ms. */
  ms: number
}

export interface LineProc {
  readonly name: string
  readonly proc: ChildProcess
  /** Complete stdout lines received so far. */
  readonly lines: string[]
  stderr(): string
  /** Settles once the process exited and its output is drained. */
  readonly exited: Promise<Exit>
  /** True once the process has exited. */
  done(): boolean
  /**
   * Resolves with the first line at index >= `from` (received so far or later) matching `pred`; rejects on
   * timeout or when the process exits first.
   */
  waitForLine(pred: (line: string) => boolean, timeoutMs?: number, from?: number): Promise<string>
  /** Resolves with the exit; SIGKILLs the process and rejects after `timeoutMs`. */
  waitExit(timeoutMs?: number): Promise<Exit>
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>
  /** Calls `cb` after every new stdout line (and once at exit); returns the unsubscribe function. */
  onChange(cb: () => void): () => void
  /** stdout and stderr, for assertion messages. */
  describe(): string
}

const running = new Set<LineProc>()

/** SIGKILLs every process this harness started that is still running, and waits for them. */
export async function killAll(): Promise<void> {
  const left = [...running]
  running.clear()
  for (const p of left) if (!p.done()) p.proc.kill('SIGKILL')
  await Promise.allSettled(left.map((p) => p.exited))
}

export interface SpawnOptions {
  cwd?: string
  env?: Record<string, string>
  /** Written to stdin, which is then closed; without it stdin is closed at once. */
  input?: string | Buffer
  /** Keep stdin open (a pipe) for the caller. */
  keepStdin?: boolean
}

export function spawnLines(name: string, command: string, args: readonly string[], opts: SpawnOptions = {}): LineProc {
  const started = performance.now()
  const proc = spawn(command, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const watchers = new Set<() => void>()
  let partial = ''
  let stderr = ''
  let finished = false
  proc.stdout?.setEncoding('utf8')
  proc.stderr?.setEncoding('utf8')
  proc.stdout?.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    for (const p of parts) lines.push(p)
    for (const w of [...watchers]) w()
  })
  proc.stderr?.on('data', (chunk: string) => {
    stderr += chunk
    // Bound what a chatty client keeps; the tail is what explains a failure.
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000)
  })
  proc.stdin?.on('error', () => {})
  if (opts.input !== undefined) proc.stdin?.end(opts.input)
  else if (!opts.keepStdin) proc.stdin?.end()
  const exited = new Promise<Exit>((resolve) => {
    const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (finished) return
      if (partial !== '') lines.push(partial)
      partial = ''
      finished = true
      for (const w of [...watchers]) w()
      resolve({ code, signal, ms: performance.now() - started })
    }
    proc.on('error', (err) => {
      stderr += `\nspawn error: ${err.message}`
      settle(null, null)
    })
    proc.on('close', settle)
  })
  const tail = (): string =>
    `${name} stdout (last 30 of ${lines.length}): ${lines.slice(-30).join(' | ')}\n${name} stderr: ${stderr.slice(-4000)}`
  const waitForLine = (pred: (line: string) => boolean, timeoutMs = 20_000, from = 0): Promise<string> =>
    new Promise((resolve, reject) => {
      let seen = from
      const check = (): void => {
        for (; seen < lines.length; seen++) {
          if (pred(lines[seen])) {
            finish()
            resolve(lines[seen])
            return
          }
        }
        if (finished) {
          finish()
          reject(new Error(`${name} exited without the awaited line\n${tail()}`))
        }
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`${name}: no awaited line within ${timeoutMs} ms\n${tail()}`))
      }, timeoutMs)
      const finish = (): void => {
        clearTimeout(timer)
        watchers.delete(check)
      }
      watchers.add(check)
      check()
    })
  const waitExit = (timeoutMs = 20_000): Promise<Exit> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL')
        reject(new Error(`${name} did not exit within ${timeoutMs} ms (killed)\n${tail()}`))
      }, timeoutMs)
      exited.then((e) => {
        clearTimeout(timer)
        resolve(e)
      })
    })
  const lp: LineProc = {
    name,
    proc,
    lines,
    stderr: () => stderr,
    exited,
    done: () => finished,
    waitForLine,
    waitExit,
    stop: (signal = 'SIGTERM', timeoutMs = 20_000) => {
      if (!finished) proc.kill(signal)
      return waitExit(timeoutMs)
    },
    onChange: (cb) => {
      watchers.add(cb)
      return () => watchers.delete(cb)
    },
    describe: tail,
  }
  running.add(lp)
  exited.then(() => running.delete(lp))
  return lp
}

/**
 * Resolves once `cond()` holds, re-checked after every stdout line of any of `procs`; rejects after `timeoutMs`
 * with `what` and the processes' output.
 */
export function waitFor(
  procs: readonly LineProc[],
  cond: () => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const offs: (() => void)[] = []
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      for (const off of offs) off()
      if (err === undefined) resolve()
      else reject(err)
    }
    const check = (): void => {
      let ok = false
      try {
        ok = cond()
      } catch (err) {
        finish(err as Error)
        return
      }
      if (ok) finish()
    }
    const timer = setTimeout(
      () => finish(new Error(`not within ${timeoutMs} ms: ${what}\n${procs.map((p) => p.describe()).join('\n')}`)),
      timeoutMs,
    )
    for (const p of procs) offs.push(p.onChange(check))
    check()
  })
}

export interface RunResult extends Exit {
  stdout: string
  lines: string[]
  stderr: string
}

/** Runs a process to its exit (SIGKILL and reject after `timeoutMs`). */
export async function runToEnd(
  name: string,
  command: string,
  args: readonly string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const p = spawnLines(name, command, args, opts)
  const exit = await p.waitExit(opts.timeoutMs ?? 30_000)
  return { ...exit, lines: p.lines, stdout: p.lines.join('\n'), stderr: p.stderr() }
}

/** Fails with the process's output unless it exited with code 0. */
export function expectOk(r: RunResult | (Exit & { describe?: () => string }), what: string): void {
  if (r.code !== 0) {
    const out = 'stdout' in r ? `stdout: ${r.stdout.slice(-4000)}\nstderr: ${r.stderr.slice(-4000)}` : ''
    throw new Error(`${what} exited with code ${r.code} signal ${r.signal}\n${out}`)
  }
}

// ---- the server ----

export interface Served {
  proc: LineProc
  host: string
  port: number
  /** `host:port`, what every client takes as its bootstrap server. */
  broker: string
  /** SIGTERM, then the exit (the serve command exits 0 after closing the directory). */
  stop(timeoutMs?: number): Promise<Exit>
  /** SIGKILL, then the exit. */
  kill(): Promise<Exit>
}

export const LISTENING = /^listening on (.+):(\d+)$/

/** `seglog serve <dir> --port 0 [...extra]`; resolves once it printed its address. */
export function startServe(dir: string, extra: readonly string[] = [], timeoutMs = 30_000): Promise<Served> {
  return startServing('seglog serve', [...TSX, CLI_ENTRY, 'serve', dir, '--port', '0', ...extra], timeoutMs)
}

/** The library's listener in a process of its own: `Seglog.open(dir, { listen: { port: 0 } })` (wire-listen-child.ts). */
/** `wire-listen-child.ts` on `dir`; with `consumer`, an in-process member of that group and topic joins first. */
export function startListen(
  dir: string,
  timeoutMs = 30_000,
  consumer?: { group: string; topic: string },
): Promise<Served> {
  const extra = consumer === undefined ? [] : [consumer.group, consumer.topic]
  return startServing('listen child', [...TSX, 'test/support/wire-listen-child.ts', dir, ...extra], timeoutMs)
}

const TSX = ['--import', 'tsx']

async function startServing(name: string, nodeArgs: string[], timeoutMs: number): Promise<Served> {
  const proc = spawnLines(name, process.execPath, nodeArgs)
  let first: string
  try {
    first = await proc.waitForLine(() => true, timeoutMs)
  } catch (err) {
    proc.proc.kill('SIGKILL')
    throw err
  }
  const m = LISTENING.exec(first)
  if (m === null) {
    proc.proc.kill('SIGKILL')
    throw new Error(`${name}'s first stdout line is not 'listening on HOST:PORT': ${JSON.stringify(first)}`)
  }
  const host = m[1]
  const port = Number(m[2])
  return {
    proc,
    host,
    port,
    broker: `${host}:${port}`,
    stop: (t = 20_000) => proc.stop('SIGTERM', t),
    kill: () => proc.stop('SIGKILL'),
  }
}

// ---- clients ----

/** `/usr/bin/python3 test/support/clients/<script> <args>`, unbuffered. */
export function python(
  name: string,
  script: string,
  args: readonly (string | number)[],
  opts: SpawnOptions = {},
): LineProc {
  return spawnLines(name, PYTHON, ['-u', nodePath.join(CLIENTS_DIR, script), ...args.map(String)], opts)
}

/** `node --import tsx test/support/clients/<script> <args>` (kafkajs scripts). */
export function nodeClient(
  name: string,
  script: string,
  args: readonly (string | number)[],
  opts: SpawnOptions = {},
): LineProc {
  return spawnLines(
    name,
    process.execPath,
    ['--import', 'tsx', nodePath.join(CLIENTS_DIR, script), ...args.map(String)],
    opts,
  )
}

export function kcat(name: string, args: readonly string[], opts: SpawnOptions = {}): LineProc {
  return spawnLines(name, 'kcat', args, opts)
}

// ---- temp dirs, seeds ----

const tempDirs: string[] = []

export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(nodePath.join(tmpdir(), `seglog-wire-${prefix}-`))
  tempDirs.push(d)
  return d
}

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
}

/** A seed from SEGLOG_TEST_SEED, else `fallback`; printed so a failing run can be repeated. */
export function seedFor(what: string, fallback: number): number {
  const env = process.env.SEGLOG_TEST_SEED
  const seed = env !== undefined && env !== '' ? Number(env) : fallback
  console.log(`${what}: seed ${seed} (set SEGLOG_TEST_SEED to repeat another)`)
  return seed
}

// ---- stored batches ----

export interface StoredBatch {
  baseOffset: number
  lastOffset: number
  /** attributes bits 0-2: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  codec: number
  /** attributes bit 3: 1 = LogAppendTime. */
  timestampType: number
  recordsCount: number
  /** The whole batch as stored. */
  bytes: Buffer
}

/**
 * Every batch header in a partition directory's `.log` files, in file order, read straight from the files (the
 * RecordBatch v2 header: baseOffset int64 @0, batchLength int32 @8, magic @16, attributes int16 @21,
 * lastOffsetDelta int32 @23, recordsCount int32 @57). For a closed directory only.
 */
export function storedBatches(dir: string, topic: string, partition: number): StoredBatch[] {
  const pdir = nodePath.join(dir, `${topic}-${partition}`)
  const out: StoredBatch[] = []
  for (const name of fs
    .readdirSync(pdir)
    .filter((n) => n.endsWith('.log'))
    .sort()) {
    const buf = fs.readFileSync(nodePath.join(pdir, name))
    let pos = 0
    while (pos + 61 <= buf.length) {
      const length = buf.readInt32BE(pos + 8)
      const end = pos + 12 + length
      if (length < 49 || end > buf.length) break
      const baseOffset = Number(buf.readBigInt64BE(pos))
      const attributes = buf.readInt16BE(pos + 21)
      out.push({
        baseOffset,
        lastOffset: baseOffset + buf.readInt32BE(pos + 23),
        codec: attributes & 7,
        timestampType: (attributes >> 3) & 1,
        recordsCount: buf.readInt32BE(pos + 57),
        bytes: buf.subarray(pos, end),
      })
      pos = end
    }
  }
  return out
}
