/**
 * Process lifetime, tested the way users meet it: plain Node scripts (test/support/lifetime-scripts/*.ts, run
 * as `node --import tsx <script> <dir>` with no test runner holding the event loop open). What a script awaits
 * keeps it alive — queued and in-flight sends, a running consumer until stop(), a live stream or a consumer
 * loop being iterated — and after close() nothing does: the script exits 0 by itself.
 *
 * A script that must stay alive is checked to be still running after ALIVE_MS, then told to stop with a signal
 * (a signal listener does not keep a Node process alive) and must exit 0.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SCRIPTS = 'test/support/lifetime-scripts'
/** How long a script that must wait is watched before it is told to stop. */
const ALIVE_MS = 2000
/** Generous for a loaded machine: starting node with tsx and opening the engine takes about a second. */
const EXIT_MS = 20_000

interface Script {
  proc: ChildProcess
  lines: string[]
  stderr(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves once a stdout line equal to `line` was printed (or rejects when the script exits first). */
  line(line: string): Promise<void>
}

let dir: string
const running: Script[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-lifetime-'))
})
afterEach(() => {
  for (const s of running.splice(0)) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL')
  fs.rmSync(dir, { recursive: true, force: true })
})

function start(name: string): Script {
  const proc = spawn(process.execPath, ['--import', 'tsx', `${SCRIPTS}/${name}.ts`, dir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const watchers = new Set<() => void>()
  let partial = ''
  let stderr = ''
  let done = false
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
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    proc.on('error', reject)
    proc.on('close', (code, signal) => {
      if (partial !== '') lines.push(partial)
      done = true
      for (const w of [...watchers]) w()
      resolve({ code, signal })
    })
  })
  const line = (want: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        watchers.delete(check)
        reject(new Error(`no line '${want}' within ${EXIT_MS} ms; stdout: ${lines.join(' | ')}; stderr: ${stderr}`))
      }, EXIT_MS)
      const check = (): void => {
        if (lines.includes(want)) {
          clearTimeout(timer)
          watchers.delete(check)
          resolve()
        } else if (done) {
          clearTimeout(timer)
          watchers.delete(check)
          reject(new Error(`exited without printing '${want}'; stdout: ${lines.join(' | ')}; stderr: ${stderr}`))
        }
      }
      watchers.add(check)
      check()
    })
  const script: Script = { proc, lines, stderr: () => stderr, exited, line }
  running.push(script)
  return script
}

/** The script's exit, or 'still running' if it has not exited within `ms`. */
async function exitWithin(
  s: Script,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'> {
  let timer: NodeJS.Timeout | undefined
  const result = await Promise.race([
    s.exited,
    new Promise<'still running'>((r) => {
      timer = setTimeout(() => r('still running'), ms)
    }),
  ])
  clearTimeout(timer)
  return result
}

/** Checks that `s` exits 0 by itself, printing nothing on stderr. */
async function expectCleanExit(s: Script): Promise<void> {
  const exit = await exitWithin(s, EXIT_MS)
  expect(exit, `stdout: ${s.lines.join(' | ')}; stderr: ${s.stderr()}`).toEqual({ code: 0, signal: null })
  expect(s.stderr()).toBe('')
}

describe('what a script awaits keeps it alive', () => {
  it('a script awaiting a send with lingerMs: 5 gets its metadata, closes and exits 0', async () => {
    const s = start('send-linger')
    await expectCleanExit(s)
    expect(s.lines).toEqual(['sent 0', 'closed'])
  })

  it('sends a script started without awaiting keep it alive until every one settled', async () => {
    const s = start('unawaited-sends')
    await expectCleanExit(s)
    expect(s.lines[0]).toBe('queued')
    expect(s.lines.filter((l) => l.startsWith('settled ')).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `settled ${i}`).sort(),
    )
    expect(s.lines.at(-1)).toBe('closed')
  })

  it('a script whose only work is a running consumer keeps consuming until stop(), then exits 0', async () => {
    const s = start('consumer-run')
    await s.line('running')
    await s.line('got 0 0')
    await s.line('got 1 0')
    expect(await exitWithin(s, ALIVE_MS), 'still alive after 2 s').toBe('still running')
    s.proc.kill('SIGUSR2')
    await s.line('got 1 1')
    s.proc.kill('SIGTERM')
    await expectCleanExit(s)
    expect(s.lines.at(-1)).toBe('stopped')
  })

  it('a script tailing a live stream waits at the log end, and the loop ends when the engine closes', async () => {
    const s = start('live-stream')
    await s.line('rec 0')
    expect(await exitWithin(s, ALIVE_MS), 'still alive after 2 s').toBe('still running')
    s.proc.kill('SIGUSR2')
    await s.line('rec 1')
    s.proc.kill('SIGTERM')
    await expectCleanExit(s)
    expect(s.lines).toEqual(['rec 0', 'rec 1', 'stream ended', 'closed'])
  })

  it('a script iterating a consumer with for await waits for records, and the loop ends when stop() is called', async () => {
    const s = start('consumer-iterator')
    await s.line('got 0')
    expect(await exitWithin(s, ALIVE_MS), 'still alive after 2 s').toBe('still running')
    s.proc.kill('SIGUSR2')
    await s.line('got 1')
    s.proc.kill('SIGTERM')
    await expectCleanExit(s)
    expect(s.lines).toEqual(['got 0', 'got 1', 'stopped', 'loop ended'])
  })
})

describe('after close() nothing keeps a script alive', () => {
  it('a script that appends, sends, consumes, iterates, tails, stops and closes exits 0 by itself', async () => {
    const s = start('whole-script')
    await expectCleanExit(s)
    expect(s.lines.slice(0, 3)).toEqual(['appended', 'sent', 'consumed 6'])
    expect(s.lines.at(-1)).toBe('done')
  })

  it('close() stops a running consumer, a for-await consumer and a lingering producer and ends a live stream; the script then exits 0', async () => {
    const s = start('close-with-clients')
    await expectCleanExit(s)
    expect([...s.lines].sort()).toEqual(['closed, send 1', 'loop ended', 'stream ended'])
  })
})

describe('failures in a consumer’s background loop', () => {
  it('a consumer whose fetches fail reports consumer.crash, stops after its retries, and the script exits 0', async () => {
    const s = start('fetch-fails')
    await expectCleanExit(s)
    expect(s.lines).toEqual(['crash IO_ERROR 5', 'crash IO_ERROR 10', 'crash IO_ERROR null', 'stop event', 'closed'])
  })
})
