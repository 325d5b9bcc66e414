/**
 * Process-crash test: a real child process (`test/support/kill-child.ts`) appends and flushes continuously and
 * acknowledges each batch on stdout only after its flush resolved; the test SIGKILLs it at a random moment, then
 * reopens the directory in-process and checks that every acknowledged record survived, in order, exactly once and
 * intact, and that nothing unreadable follows. The same directory is reused round after round, so the log grows
 * across many segments and each child resumes from the previous log end.
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type LogEvent, PartitionLog } from '../../src/log/partition-log.js'
import { KILL_TEST_CONFIG, recordProblem, recordsFor } from '../support/kill-child.js'
import { mulberry32 } from '../support/random.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CHILD = 'test/support/kill-child.ts'
const ROUNDS = 24
const SEED = 0x5e610c
/** How long a child may take to print `ready` (tsx start-up plus open). */
const READY_TIMEOUT_MS = 20_000

let dir: string

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

interface ChildRun {
  /** Log end offset the child saw after opening. */
  readyEnd: number
  acks: number
  /** Largest acknowledged offset, -1 when nothing was acknowledged. */
  maxAcked: number
  signal: NodeJS.Signals | null
  code: number | null
  stderr: string
}

/** Starts a writer on `logDir`, SIGKILLs it `killAfterMs` after it reports ready, and collects its acks. */
function runAndKill(logDir: string, seed: number, killAfterMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, logDir, String(seed)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let readyEnd = -1
    let acks = 0
    let maxAcked = -1
    let stdout = ''
    let stderr = ''
    let killTimer: NodeJS.Timeout | undefined
    const readyTimer = setTimeout(() => child.kill('SIGKILL'), READY_TIMEOUT_MS)
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk
    })
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk
      const lines = stdout.split('\n')
      stdout = lines.pop() ?? ''
      for (const line of lines) {
        const [word, n] = line.split(' ')
        if (word === 'ack') {
          acks++
          maxAcked = Math.max(maxAcked, Number(n))
        } else if (word === 'ready' && readyEnd === -1) {
          readyEnd = Number(n)
          clearTimeout(readyTimer)
          killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
        }
      }
    })
    child.on('error', reject)
    // 'close' comes after both pipes are drained: every ack written before the kill has been counted.
    child.on('close', (code, signal) => {
      clearTimeout(readyTimer)
      clearTimeout(killTimer)
      resolve({ readyEnd, acks, maxAcked, signal, code, stderr })
    })
  })
}

/** Reads [0, logEndOffset) in chunks; returns how many records were read and the first problem found. */
function scanAll(log: PartitionLog): { count: number; problem: string | null } {
  const end = log.logEndOffset
  let next = log.logStartOffset
  let count = 0
  while (next < end) {
    const records = log.read(next, { maxRecords: 20_000, maxBytes: 4 * 1024 * 1024 })
    if (records.length === 0) return { count, problem: `read(${next}) returned nothing below the log end ${end}` }
    for (const r of records) {
      if (r.offset !== next) return { count, problem: `expected offset ${next}, read ${r.offset}` }
      const problem = recordProblem(r)
      if (problem !== null) return { count, problem }
      next++
      count++
    }
  }
  return { count, problem: null }
}

describe('PartitionLog under SIGKILL of a writer process', () => {
  it(`keeps every acknowledged record, in order, once and intact, across ${ROUNDS} kills of a writer`, async () => {
    console.log(`kill test seed ${SEED}`)
    const rng = mulberry32(SEED)
    const started = performance.now()
    let expectedEnd = 0
    let totalAcks = 0
    let segments = 0
    const summary: string[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const killAfterMs = 50 + Math.floor(rng() * 351)
      const childSeed = Math.floor(rng() * 0x7fffffff)
      const run = await runAndKill(dir, childSeed, killAfterMs)
      const context = `round ${round} (child seed ${childSeed}, kill after ${killAfterMs} ms): ${run.stderr}`
      expect(run.signal, context).toBe('SIGKILL')
      expect(run.readyEnd, context).toBe(expectedEnd)
      expect(run.maxAcked, context).toBeGreaterThanOrEqual(run.acks > 0 ? expectedEnd : -1)
      totalAcks += run.acks

      // Reopen after the kill: recovery must keep everything acknowledged and leave nothing unreadable.
      const events: LogEvent[] = []
      const log = await PartitionLog.open(dir, { config: KILL_TEST_CONFIG, onEvent: (e) => events.push(e) })
      const recovered = events.find((e) => e.type === 'recovered')
      // A writer killed before its first append left the directory as cleanly closed: nothing to recover then.
      if (run.acks > 0) expect(recovered, context).toBeDefined()
      const end = log.logEndOffset
      expect(log.logStartOffset).toBe(0)
      expect(end, context).toBeGreaterThanOrEqual(run.maxAcked + 1)
      expect(end, context).toBeGreaterThanOrEqual(expectedEnd)
      const scan = scanAll(log)
      expect(scan.problem, context).toBeNull()
      expect(scan.count, context).toBe(end)
      expect(log.read(end)).toEqual([])

      const extra = 1 + (round % 3)
      const info = log.append(recordsFor(end, extra))
      expect(info.baseOffset, context).toBe(end)
      expect(info.lastOffset).toBe(end + extra - 1)
      await log.close()

      // A clean close must reopen without recovery, at the same end, with the last batch readable.
      const cleanEvents: LogEvent[] = []
      const again = await PartitionLog.open(dir, { config: KILL_TEST_CONFIG, onEvent: (e) => cleanEvents.push(e) })
      expect(cleanEvents.map((e) => e.type)).toEqual(['opened'])
      expect(again.logEndOffset).toBe(end + extra)
      const tail = again.read(end)
      expect(tail.map((r) => r.offset)).toEqual(Array.from({ length: extra }, (_, i) => end + i))
      expect(tail.map(recordProblem)).toEqual(tail.map(() => null))
      segments = again.segmentInfos().length
      await again.close()
      expectedEnd = end + extra

      const truncated = recovered?.type === 'recovered' ? recovered.truncatedBytes : 0
      summary.push(
        `round ${round}: kill after ${killAfterMs} ms, ${run.acks} acks, max acked ${run.maxAcked}, ` +
          `log end ${end}, ${segments} segments, recovery cut ${truncated} bytes`,
      )
    }
    console.log(summary.join('\n'))
    // The rounds must have exercised something: many acknowledged flushes and many segments.
    expect(totalAcks).toBeGreaterThan(ROUNDS * 10)
    expect(segments).toBeGreaterThan(ROUNDS)
    console.log(
      `kill test: ${ROUNDS} rounds, ${totalAcks} acks, ${expectedEnd} records, ${Math.round(performance.now() - started)} ms`,
    )
  }, 120_000)
})
