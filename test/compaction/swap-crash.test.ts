/**
 * Crash safety of a compaction pass: a child process (`swap-child.ts`) runs a pass and is SIGKILLed while the
 * worker writes `.cleaned` files, or between the steps of the `.cleaned → .swap → final` swap. Reopening the
 * directory (open sweeps `.cleaned`/`.swap`/`.deleted`, see recovery.ts) must give exactly the records from
 * before the pass or exactly those after it (computed by running the same pass, uncrashed, on a copy), never
 * anything else, and leave no temporary file behind.
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCleanerCheckpoint } from '../../src/compaction/checkpoint.js'
import { Cleaner } from '../../src/compaction/cleaner.js'
import { compactPartition } from '../../src/compaction/compactor.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import { mulberry32 } from '../support/random.js'
import {
  appendWorkload,
  expectedAfterPass,
  type Rec,
  readAll,
  SMALL_LOG,
  TS_BASE,
  tempDir,
  tempFiles,
} from './support.js'
import { CHILD_COMPACTION_CONFIG, CRASH_POINTS } from './swap-child.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CHILD = 'test/compaction/swap-child.ts'
const SEED = 0x5a9c
const NOW = TS_BASE + 50_000_000

let root: string
let template: string
let pre: Rec[]
let post: Rec[]
let postEnd: number

function copyOf(name: string): string {
  const d = path.join(root, name)
  fs.cpSync(template, d, { recursive: true })
  return d
}

function runChild(
  dir: string,
  point: string,
): Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, point, String(NOW)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000)
    child.on('error', reject)
    child.on('exit', (_code, signal) => {
      clearTimeout(timer)
      resolve({ signal, stdout, stderr })
    })
  })
}

const same = (a: Rec[], b: Rec[]): boolean => JSON.stringify(a) === JSON.stringify(b)

beforeAll(async () => {
  root = tempDir('seglog-swap-crash-')
  template = path.join(root, 'template')
  const rng = mulberry32(SEED)
  const log = await PartitionLog.open(template, { config: SMALL_LOG })
  appendWorkload(log, rng, 3000, { keys: 40, tombstones: 0.05, unkeyed: 0.05 })
  pre = readAll(log)
  await log.close()

  // The same pass, uncrashed, on a copy.
  const postDir = copyOf('post')
  const cleaner = new Cleaner()
  try {
    const postLog = await PartitionLog.open(postDir, { config: SMALL_LOG })
    const res = await compactPartition(postLog, CHILD_COMPACTION_CONFIG, { now: NOW, cleaner })
    expect(res.cleaned, res.reason).toBe(true)
    post = readAll(postLog)
    postEnd = postLog.logEndOffset
    await postLog.close()
  } finally {
    await cleaner.close()
  }
  expect(post.length).toBeLessThan(pre.length)
})

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true })
})

/** What each crash must recover to: before the last `.cleaned → .swap` rename the pass is abandoned. */
const EXPECTED: Record<(typeof CRASH_POINTS)[number], 'pre' | 'post'> = {
  'worker:writing': 'pre',
  'swap:after-cleaned-to-swap': 'post',
  'swap:after-old-deleted': 'post',
  'swap:after-swap-to-final': 'post',
}

/** The temporary files each crash point leaves (before the reopen sweeps them). */
const LEFT_BEHIND: Record<(typeof CRASH_POINTS)[number], RegExp> = {
  'worker:writing': /\.cleaned$/,
  'swap:after-cleaned-to-swap': /\.swap$/,
  'swap:after-old-deleted': /\.deleted$/,
  'swap:after-swap-to-final': /\.deleted$/,
}

describe(`a compaction killed mid-way (seed ${SEED})`, () => {
  for (const point of CRASH_POINTS) {
    it(`recovers exactly the pre- or the post-compaction records when killed at ${point}`, async () => {
      const dir = copyOf(point.replace(/[^a-z-]/g, '_'))
      const run = await runChild(dir, point)
      expect(run.stdout, run.stderr).not.toContain('finished')
      expect(run.signal, run.stderr).toBe('SIGKILL')
      const leftovers = fs.readdirSync(dir).filter((n) => LEFT_BEHIND[point].test(n))
      expect(leftovers.length, `files after the crash: ${fs.readdirSync(dir).join(' ')}`).toBeGreaterThan(0)

      const log = await PartitionLog.open(dir, { config: SMALL_LOG })
      const got = readAll(log)
      const verdict = same(got, pre) ? 'pre' : same(got, post) ? 'post' : 'neither'
      expect(verdict).toBe(EXPECTED[point])
      expect(log.logEndOffset).toBe(postEnd)
      expect(tempFiles(dir)).toEqual([])
      expect(fs.readdirSync(dir).filter((n) => n.endsWith('.deleted'))).toEqual([])

      // The pass never checkpointed; the partition goes on: appends land after the old end, and a new pass
      // (from the log start again) leaves what the model says.
      expect(readCleanerCheckpoint(dir)).toBe(null)
      const rng = mulberry32(SEED + 1)
      const more = appendWorkload(log, rng, 200, { keys: 40 })
      expect(more[0].offset).toBe(postEnd)
      log.roll()
      const cleaner = new Cleaner()
      try {
        const res = await compactPartition(log, CHILD_COMPACTION_CONFIG, { now: NOW, cleaner, force: true })
        expect(res.cleaned).toBe(true)
        expect(readAll(log)).toEqual(expectedAfterPass([...got, ...more], 0, res.firstDirtyOffset))
      } finally {
        await cleaner.close()
      }
      await log.close()
    })
  }
})
