/**
 * Child process for the multi-process engine tests (`test/engine/ownership.test.ts`, `test/engine/topics-crash.test.ts`,
 * `test/engine/limits.test.ts`), and the record content both sides agree on. Run from the repo root as
 * `node --import tsx test/support/engine-child.ts <mode> <args...>`:
 *
 * - `hold <dir>`: opens the engine, prints `ready <pid>`, then waits until killed.
 * - `try-open <path>...`: tries `Seglog.open` on each path in turn and prints one JSON line per path:
 *   `{ path, code, message, ms }` (`code` null when the open succeeded; the engine is then closed again).
 * - `append <dir> <seed>`: opens the engine, creates `ACKED_TOPIC` if missing, prints `ready`, then appends
 *   forever from `APPENDERS` concurrent loops with `acks: -1`. Each loop appends a batch of 1..20 records to one
 *   partition (both chosen by a PRNG seeded with `<seed>`) and, once the append resolved, prints
 *   `ack <partition> <firstOffset> <lastOffset>`. Record content is a pure function of (topic, partition, offset).
 * - `crash <dir> <point>`: opens the engine (already holding `keep` and `victim`, see `test/engine/topics-crash.test.ts`)
 *   with a `crashPoint` hook that prints `crash <point>` and SIGKILLs the process at `<point>`; appends to `keep`
 *   (partition 0 with acks -1, partition 1 with acks 1) printing `ack keep <p> <first> <last>`, then performs the
 *   operation the point belongs to. If it survives it prints `survived` and exits 3.
 * - `many <dir> [maxOpenFiles|default] [topics]`: creates `topics` (default `MANY_TOPICS`) topics of
 *   `MANY_PARTITIONS` partitions (one `append` per topic with `acks: -1`, one batch per partition), so one record in
 *   every partition, reads each back, closes, reopens, reads all again, prints `ok`. On failure prints
 *   `error <code> <errno>` to stderr and exits 1.
 * - `churn <dir>`: opens the engine, creates `CHURN_TOPIC` (one partition, `compact,delete`, 4 KiB segments, 40 KiB
 *   retention, files deleted at once), prints `ready`, then forever appends 40 records with `acks: -1` whose keys
 *   repeat (`churnKey`), compacts and runs retention, and prints `churned <logStart> <logEnd>` each round.
 * - `stream <dir>`: opens the engine, starts three live streams, appends a record, `break`s out of the first,
 *   aborts the second (expecting ABORTED), leaves the third waiting, closes the engine (which must end the third)
 *   and returns from main without `process.exit`, printing one line per step.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import * as nodePath from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { SeglogError } from '../../src/errors.js'
import { TEST_HOOKS } from '../../src/internal.js'
import { type Seglog as Engine, Seglog } from '../../src/main.js'
import { mulberry32 } from './random.js'

export const ACKED_TOPIC = 'acked'
export const ACKED_PARTITIONS = 3
export const APPENDERS = 4
export const MANY_TOPICS = 20
export const MANY_PARTITIONS = 100

/** `<topic>/<partition>/<offset>:` followed by 0..99 pattern bytes, all derived from the three. */
export function valueFor(topic: string, partition: number, offset: number): Buffer {
  const prefix = `${topic}/${partition}/${offset}:`
  const pad = (Math.imul(offset + partition * 7919, 0x9e3779b1) >>> 0) % 100
  const value = Buffer.alloc(prefix.length + pad)
  value.write(prefix, 'latin1')
  for (let i = prefix.length; i < value.length; i++) value[i] = (offset * 31 + partition * 17 + i * 7 + 13) & 0xff
  return value
}

export const CHURN_TOPIC = 'churned'

/**
 * The key of a churned record: even offsets have keys of their own (compaction keeps them, so retention has
 * something to delete), odd ones share 8 keys (compaction removes all but the newest of each: gaps).
 */
export function churnKey(offset: number): string {
  return offset % 2 === 0 ? `u${offset}` : `c${offset % 16}`
}

export function keyFor(partition: number, offset: number): string {
  return `k${partition}.${offset}`
}

/** Appends `count` derived records to one partition of a `binary` topic; returns [first, last] offsets. */
export async function appendDerived(
  log: Engine,
  topic: string,
  partition: number,
  count: number,
  acks: -1 | 0 | 1 = -1,
): Promise<[number, number]> {
  // Appends write synchronously inside `append`, so the log end read here is the batch's base offset.
  const base = log.offsets(topic, partition).logEndOffset
  const messages = Array.from({ length: count }, (_, i) => ({
    partition,
    key: keyFor(partition, base + i),
    value: valueFor(topic, partition, base + i),
  }))
  const meta = await log.append(topic, messages, { acks })
  for (let i = 0; i < count; i++) {
    if (meta[i].partition !== partition || meta[i].offset !== base + i) {
      throw new Error(`append got ${JSON.stringify(meta[i])}, expected partition ${partition} offset ${base + i}`)
    }
  }
  return [base, base + count - 1]
}

// ---- parent side ----

export const REPO_ROOT = nodePath.resolve(nodePath.dirname(fileURLToPath(import.meta.url)), '../..')
/** Relative to `REPO_ROOT`, the child's working directory. */
export const CHILD_SCRIPT = 'test/support/engine-child.ts'

export interface ChildExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** From spawn to exit, in ms. */
  ms: number
}

export interface EngineChild {
  proc: ChildProcess
  /** Complete stdout lines received so far. */
  readonly lines: string[]
  stderr(): string
  /** Settles once the child exited and its stdout and stderr are drained. */
  exited: Promise<ChildExit>
  /** Resolves with the first line (received so far or later) matching `pred`; rejects after `timeoutMs`. */
  waitForLine(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>
}

/** SIGKILLs the children still running and waits for every one to exit; empties the list. */
export async function killChildren(children: EngineChild[]): Promise<void> {
  for (const c of children.splice(0)) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
    await c.exited.catch(() => {})
  }
}

/**
 * Starts `engine-child.ts <args>` with `process.execPath --import tsx`, cwd = repo root; under `bash -c 'ulimit -n
 * <ulimit> && exec ...'` when `ulimit` is given.
 */
export function startEngineChild(args: readonly string[], opts: { ulimit?: number } = {}): EngineChild {
  const started = performance.now()
  const nodeArgs = ['--import', 'tsx', CHILD_SCRIPT, ...args]
  const proc =
    opts.ulimit === undefined
      ? spawn(process.execPath, nodeArgs, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('bash', ['-c', `ulimit -n ${opts.ulimit} && exec "$@"`, 'bash', process.execPath, ...nodeArgs], {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
  const lines: string[] = []
  const watchers = new Set<() => void>()
  let partial = ''
  let stderr = ''
  proc.stdout?.setEncoding('utf8')
  proc.stderr?.setEncoding('utf8')
  proc.stdout?.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
    for (const w of [...watchers]) w()
  })
  proc.stderr?.on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<ChildExit>((resolve, reject) => {
    proc.on('error', reject)
    proc.on('close', (code, signal) => {
      if (partial !== '') lines.push(partial)
      partial = ''
      for (const w of [...watchers]) w()
      resolve({ code, signal, ms: performance.now() - started })
    })
  })
  let done = false
  exited.then(
    () => (done = true),
    () => (done = true),
  )
  const waitForLine = (pred: (line: string) => boolean, timeoutMs = 20_000): Promise<string> =>
    new Promise((resolve, reject) => {
      let seen = 0
      const check = (): void => {
        for (; seen < lines.length; seen++) {
          if (pred(lines[seen])) {
            finish()
            resolve(lines[seen])
            return
          }
        }
        if (done) {
          finish()
          reject(new Error(`child exited without the expected line; stdout: ${lines.join(' | ')}; stderr: ${stderr}`))
        }
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`no expected line within ${timeoutMs} ms; stdout: ${lines.join(' | ')}; stderr: ${stderr}`))
      }, timeoutMs)
      const finish = (): void => {
        clearTimeout(timer)
        watchers.delete(check)
      }
      watchers.add(check)
      check()
      // `done` flips in a microtask after 'close': re-check once it has.
      exited.then(check, check)
    })
  return { proc, lines, stderr: () => stderr, exited, waitForLine }
}

// ---- child side ----

const out = (line: string): void => {
  // Pipes are written synchronously on Linux: once this returns the parent can read the line.
  process.stdout.write(`${line}\n`)
}

async function hold(dir: string): Promise<void> {
  await Seglog.open(dir)
  out(`ready ${process.pid}`)
  setInterval(() => {}, 60_000)
}

async function tryOpen(paths: string[]): Promise<void> {
  for (const p of paths) {
    const started = performance.now()
    let code: string | null = null
    let message = ''
    try {
      const log = await Seglog.open(p)
      await log.close()
    } catch (err) {
      if (!(err instanceof SeglogError)) throw err
      code = err.code
      message = err.message
    }
    out(JSON.stringify({ path: p, code, message, ms: performance.now() - started }))
  }
}

async function appendForever(dir: string, seed: number): Promise<void> {
  const rng = mulberry32(seed)
  const log = await Seglog.open(dir)
  if (!log.listTopics().includes(ACKED_TOPIC)) {
    await log.createTopic(ACKED_TOPIC, {
      partitions: ACKED_PARTITIONS,
      config: { format: 'binary', segmentBytes: 32 * 1024, indexIntervalBytes: 1024 },
    })
  }
  out('ready')
  const appender = async (): Promise<never> => {
    for (;;) {
      const partition = Math.floor(rng() * ACKED_PARTITIONS)
      const count = 1 + Math.floor(rng() * 20)
      const [first, last] = await appendDerived(log, ACKED_TOPIC, partition, count, -1)
      out(`ack ${partition} ${first} ${last}`)
    }
  }
  await Promise.all(Array.from({ length: APPENDERS }, appender))
}

async function churn(dir: string): Promise<void> {
  const log = await Seglog.open(dir, { retentionCheckIntervalMs: 0, cleanerBackoffMs: 0 })
  await log.createTopic(CHURN_TOPIC, {
    config: {
      format: 'binary',
      cleanupPolicy: 'compact,delete',
      segmentBytes: 4096,
      indexIntervalBytes: 256,
      retentionBytes: 40 * 1024,
      fileDeleteDelayMs: 0,
      minCleanableDirtyRatio: 0.01,
      minCompactionLagMs: 0,
    },
  })
  out('ready')
  for (;;) {
    const base = log.offsets(CHURN_TOPIC, 0).logEndOffset
    const messages = Array.from({ length: 40 }, (_, i) => ({
      key: churnKey(base + i),
      value: valueFor(CHURN_TOPIC, 0, base + i),
    }))
    await log.append(CHURN_TOPIC, messages, { acks: -1 })
    await log.compact(CHURN_TOPIC)
    await log.runRetention()
    const { logStartOffset, logEndOffset } = log.offsets(CHURN_TOPIC, 0)
    out(`churned ${logStartOffset} ${logEndOffset}`)
  }
}

async function crashAt(dir: string, point: string): Promise<void> {
  const log = await Seglog.open(dir, {
    [TEST_HOOKS]: {
      crashPoint: (p) => {
        if (p === point) {
          out(`crash ${p}`)
          process.kill(process.pid, 'SIGKILL')
        }
      },
    },
  })
  for (const [partition, acks] of [
    [0, -1],
    [1, 1],
  ] as const) {
    const [first, last] = await appendDerived(log, 'keep', partition, 5, acks)
    out(`ack keep ${partition} ${first} ${last}`)
  }
  const op = point.slice(0, point.indexOf(':'))
  switch (op) {
    case 'createTopic':
      await log.createTopic('fresh', { partitions: 4, config: { format: 'binary' } })
      break
    case 'deleteTopic':
      await log.deleteTopic('victim')
      break
    case 'alterTopicConfig':
      await log.alterTopicConfig('victim', { retentionMs: 7_200_000, segmentBytes: 8192 })
      break
    case 'createPartitions':
      await log.createPartitions('victim', 6)
      break
    default:
      throw new Error(`unknown crash point ${point}`)
  }
  out('survived')
  process.exitCode = 3
}

async function many(dir: string, maxOpenFiles: number | undefined, topics: number): Promise<void> {
  const options = maxOpenFiles === undefined ? {} : { maxOpenFiles }
  const topicName = (t: number) => `many${t}`
  const expectOne = async (log: Engine, t: number, p: number): Promise<void> => {
    const recs = await log.read(topicName(t), p, 0)
    const want = valueFor(topicName(t), p, 0)
    if (recs.length !== 1 || !Buffer.isBuffer(recs[0].value) || !want.equals(recs[0].value)) {
      throw new Error(`${topicName(t)}-${p}: read back ${recs.length} records, not the one appended`)
    }
  }
  let log = await Seglog.open(dir, options)
  for (let t = 0; t < topics; t++) {
    await log.createTopic(topicName(t), { partitions: MANY_PARTITIONS, config: { format: 'binary' } })
    // One call per topic: one batch per partition, all fsynced together.
    await log.append(
      topicName(t),
      Array.from({ length: MANY_PARTITIONS }, (_, p) => ({ partition: p, value: valueFor(topicName(t), p, 0) })),
      { acks: -1 },
    )
  }
  for (let t = 0; t < topics; t++) for (let p = 0; p < MANY_PARTITIONS; p++) await expectOne(log, t, p)
  await log.close()
  log = await Seglog.open(dir, options)
  if (log.listTopics().length !== topics) throw new Error(`reopened with ${log.listTopics().length} topics`)
  for (let t = 0; t < topics; t++) for (let p = 0; p < MANY_PARTITIONS; p++) await expectOne(log, t, p)
  await log.close()
  out('ok')
}

async function streams(dir: string): Promise<void> {
  const log = await Seglog.open(dir)
  await log.createTopic('t', { config: { format: 'string' } })
  const never = new AbortController()
  const ac = new AbortController()
  let firstWaiting = () => {}
  const allReceived = new Promise<void>((resolve) => {
    let n = 0
    firstWaiting = () => {
      if (++n === 3) resolve()
    }
  })
  const broken = (async () => {
    for await (const r of log.stream('t', 0, { live: true, signal: never.signal })) {
      firstWaiting()
      out(`broke after ${r.value as string}`)
      break
    }
  })()
  const aborted = (async () => {
    try {
      for await (const r of log.stream('t', 0, { live: true, signal: ac.signal })) {
        firstWaiting()
        out(`aborting after ${r.value as string}`)
      }
      out('abort stream ended without error')
    } catch (err) {
      out(`aborted ${err instanceof SeglogError ? err.code : String(err)}`)
    }
  })()
  const closedByEngine = (async () => {
    let n = 0
    for await (const _ of log.stream('t', 0, { live: true })) {
      if (++n === 1) firstWaiting()
    }
    out(`ended by close after ${n}`)
  })()
  await new Promise((resolve) => setTimeout(resolve, 20))
  await log.append('t', [{ value: 'later' }])
  await allReceived
  await broken
  // Let the aborting stream go back to waiting at the log end before aborting it.
  await new Promise((resolve) => setTimeout(resolve, 10))
  ac.abort()
  await aborted
  await log.close()
  await closedByEngine
  out('closed')
}

async function main(argv: string[]): Promise<void> {
  const [mode, ...args] = argv
  switch (mode) {
    case 'hold':
      return hold(args[0])
    case 'try-open':
      return tryOpen(args)
    case 'append':
      return appendForever(args[0], Number(args[1]))
    case 'crash':
      return crashAt(args[0], args[1])
    case 'many':
      return many(
        args[0],
        args[1] === undefined || args[1] === 'default' ? undefined : Number(args[1]),
        args[2] === undefined ? MANY_TOPICS : Number(args[2]),
      )
    case 'stream':
      return streams(args[0])
    case 'churn':
      return churn(args[0])
    default:
      throw new Error(`unknown mode ${String(mode)}`)
  }
}

const invokedAs = process.argv[1]
if (invokedAs !== undefined && import.meta.url === pathToFileURL(nodePath.resolve(invokedAs)).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const e = err as { code?: unknown; errno?: unknown } | null
    const code = typeof e?.code === 'string' ? e.code : 'UNKNOWN'
    const errno = typeof e?.errno === 'string' ? e.errno : '-'
    process.stderr.write(`error ${code} ${errno}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  })
}
