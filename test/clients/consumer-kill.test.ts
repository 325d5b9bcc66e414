/**
 * Consumer crash test: a real child process (`test/support/consumer-child.ts`) consumes a 3-partition topic in
 * group 'g' with auto-commit and prints a line per handled message; the test SIGKILLs it at a random moment
 * (seeded; the seed is printed, `SEGLOG_KILL_SEED` replays one), round after round on the same directory, then
 * lets a last child run until it has handled everything. Between rounds the parent opens the engine (the child is
 * dead, so the directory is free), reads the group's committed offsets and closes it again.
 *
 * Checked after every kill: committed offsets never go backwards and never pass the log end; every record below a
 * committed offset was handled at least once (the newly committed ones by the child just killed); each child
 * starts every partition exactly at the committed offset and handles it in order, without gaps or repeats. At the
 * end: every record was handled at least once, and a record was handled again only if it was at or after the
 * committed offset when the child that had handled it was killed (i.e. only work done after the last commit is
 * repeated).
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'
import { type ChildVariant, KILL_GROUP, KILL_PARTITIONS, KILL_TOPIC, valueFor } from '../support/consumer-child.js'
import { mulberry32 } from '../support/random.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CHILD = 'test/support/consumer-child.ts'
/** Records per partition; N = 3 × this. */
const PER_PARTITION = 2000
const N = PER_PARTITION * KILL_PARTITIONS
const KILL_ROUNDS = 10
const SEED = process.env.SEGLOG_KILL_SEED === undefined ? 0xc0ffee : Number(process.env.SEGLOG_KILL_SEED)
/** How long a child may take to print `ready` (tsx start-up, open, join). */
const READY_TIMEOUT_MS = 20_000
/** How long the last child may take to handle everything that is left. */
const FINAL_TIMEOUT_MS = 30_000

let dir: string

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-ckill-'))
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

interface ChildRun {
  /** `[partition, offset]` of every handled message, in the order printed. */
  handled: [number, number][]
  bad: string[]
  ready: boolean
  done: boolean
  killed: boolean
  signal: NodeJS.Signals | null
  code: number | null
  stderr: string
}

/**
 * Runs a consumer child on `dir`. With `kill`, SIGKILLs it `kill.delayMs` after it printed its `kill.afterLines`-th
 * handled line (0: after `ready`); without, waits for it to finish on its own.
 */
function runChild(variant: ChildVariant, kill: { afterLines: number; delayMs: number } | null): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, variant], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const run: ChildRun = {
      handled: [],
      bad: [],
      ready: false,
      done: false,
      killed: false,
      signal: null,
      code: null,
      stderr: '',
    }
    let pending = ''
    let killScheduled = false
    // Until `ready`: READY_TIMEOUT_MS; then, for the last child, FINAL_TIMEOUT_MS to finish everything.
    let guard = setTimeout(() => child.kill('SIGKILL'), READY_TIMEOUT_MS)
    const scheduleKill = (): void => {
      if (kill === null || killScheduled) return
      killScheduled = true
      setTimeout(() => {
        run.killed = child.kill('SIGKILL')
      }, kill.delayMs)
    }
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      run.stderr += chunk
    })
    child.stdout.on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const [word, a, b] = line.split(' ')
        if (word === 'h') {
          run.handled.push([Number(a), Number(b)])
          if (kill !== null && run.ready && run.handled.length >= kill.afterLines) scheduleKill()
        } else if (word === 'bad') {
          run.bad.push(line)
        } else if (word === 'ready') {
          run.ready = true
          clearTimeout(guard)
          if (kill === null) guard = setTimeout(() => child.kill('SIGKILL'), FINAL_TIMEOUT_MS)
          else if (run.handled.length >= kill.afterLines) scheduleKill()
        } else if (word === 'done') {
          run.done = true
        }
      }
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      run.code = code
      run.signal = signal
      resolve(run)
    })
  })
}

/** Opens the engine, reads the group's committed offsets (0 where none), closes it again. */
async function committedOffsets(): Promise<number[]> {
  const log = await Seglog.open(dir)
  try {
    const out = new Array<number>(KILL_PARTITIONS).fill(0)
    for (const c of await log.fetchOffsets(KILL_GROUP)) {
      expect(c.topic).toBe(KILL_TOPIC)
      out[c.partition] = c.offset
    }
    return out
  } finally {
    await log.close()
  }
}

async function createTopic(): Promise<void> {
  const log = await Seglog.open(dir)
  try {
    await log.createTopic(KILL_TOPIC, { partitions: KILL_PARTITIONS, config: { format: 'string' } })
    for (let p = 0; p < KILL_PARTITIONS; p++) {
      for (let first = 0; first < PER_PARTITION; first += 500) {
        const count = Math.min(500, PER_PARTITION - first)
        await log.append(
          KILL_TOPIC,
          Array.from({ length: count }, (_, i) => ({ partition: p, value: valueFor(p, first + i) })),
        )
      }
    }
  } finally {
    await log.close()
  }
}

async function killRounds(variant: ChildVariant, seed: number): Promise<void> {
  const rng = mulberry32(seed)
  console.log(`consumer-kill ${variant}: seed ${seed} (SEGLOG_KILL_SEED=${seed} replays it)`)
  await createTopic()
  /** Times each record (`partition:offset`) was handled, over all rounds. */
  const times = new Map<string, number>()
  let committed = await committedOffsets()
  expect(committed).toEqual([0, 0, 0])
  const summary: string[] = []
  let duplicates = 0
  for (let round = 0; round <= KILL_ROUNDS; round++) {
    const last = round === KILL_ROUNDS
    // A kill after 0..~2N/(rounds+1) handled lines (0: right after `ready`), plus 0–3 ms: on average the kill
    // rounds handle most of the topic, the last child the rest.
    const kill = last
      ? null
      : { afterLines: Math.floor(rng() * ((2 * N) / (KILL_ROUNDS + 1))), delayMs: Math.floor(rng() * 4) }
    const startedAt = committed
    const run = await runChild(variant, kill)
    const what = `${variant} round ${round} (seed ${seed}, kill ${JSON.stringify(kill)})`
    expect(run.stderr, what).not.toMatch(/consumer-child failed|Error/)
    expect(run.ready, `${what}: child never got ready`).toBe(true)
    expect(run.bad, `${what}: records with wrong content`).toEqual([])
    if (last) {
      expect(run.done, `${what}: last child did not finish`).toBe(true)
      expect(run.code, what).toBe(0)
    } else {
      // Killed, or it finished everything before the kill landed.
      expect(run.signal === 'SIGKILL' || (run.done && run.code === 0), `${what}: ${run.signal} ${run.code}`).toBe(true)
    }

    // Each partition starts at the committed offset and goes on in order, without gaps or repeats.
    const byPartition: number[][] = Array.from({ length: KILL_PARTITIONS }, () => [])
    for (const [p, o] of run.handled) byPartition[p].push(o)
    for (let p = 0; p < KILL_PARTITIONS; p++) {
      const offsets = byPartition[p]
      const expected = Array.from({ length: offsets.length }, (_, i) => startedAt[p] + i)
      expect(offsets, `${what}: partition ${p} started at committed ${startedAt[p]}`).toEqual(expected)
      for (const o of offsets) {
        const key = `${p}:${o}`
        const before = times.get(key) ?? 0
        if (before > 0) {
          // Handled again: only records at or after the committed offset of the kill before this round.
          expect(o, `${what}: ${key} handled again though below the committed ${startedAt[p]}`).toBeGreaterThanOrEqual(
            startedAt[p],
          )
          duplicates++
        }
        times.set(key, before + 1)
      }
    }

    const now = await committedOffsets()
    for (let p = 0; p < KILL_PARTITIONS; p++) {
      expect(now[p], `${what}: committed offset of partition ${p} went backwards`).toBeGreaterThanOrEqual(committed[p])
      expect(now[p], `${what}: committed offset of partition ${p} past the log end`).toBeLessThanOrEqual(PER_PARTITION)
      // Newly committed records were handled by this very child; all committed ones by some child.
      for (let o = committed[p]; o < now[p]; o++) {
        expect(byPartition[p].includes(o), `${what}: ${p}:${o} committed but not handled by this child`).toBe(true)
      }
      for (let o = 0; o < now[p]; o++) {
        if (!times.has(`${p}:${o}`))
          expect.fail(`${what}: ${p}:${o} is below committed ${now[p]} but was never handled`)
      }
    }
    summary.push(
      `${round}: ${run.handled.length} handled${run.signal ? ' then killed' : ', finished'}, committed ${now.join('/')}`,
    )
    committed = now
  }

  expect(committed).toEqual(Array(KILL_PARTITIONS).fill(PER_PARTITION))
  for (let p = 0; p < KILL_PARTITIONS; p++) {
    for (let o = 0; o < PER_PARTITION; o++) {
      if (!times.has(`${p}:${o}`)) expect.fail(`${variant}: ${p}:${o} was never handled`)
    }
  }
  console.log(`consumer-kill ${variant}: ${duplicates} records handled again after a kill\n  ${summary.join('\n  ')}`)
}

describe('consumer killed at random moments (child process, auto-commit)', () => {
  it('never loses a committed record and repeats only work after the last commit (default auto-commit)', async () => {
    await killRounds('default', SEED)
  })

  it('same with autoCommitThreshold: 50', async () => {
    await killRounds('threshold50', SEED + 1)
  })

  it('same with partitionsConsumedConcurrently: 3 (commits cover partitions still mid-batch)', async () => {
    await killRounds('concurrent', SEED + 2)
  })
})
