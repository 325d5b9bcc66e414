/**
 * Process-level limits, in child processes (`test/support/engine-child.ts`):
 * - 2,000 partitions (about 6,000 segment and index files) under `ulimit -n 1024` with the default `maxOpenFiles`;
 *   and proof that the bound is what makes that work: under `ulimit -n 64` the same work with `maxOpenFiles: 512`
 *   dies with EMFILE, while `maxOpenFiles: 32` gets through.
 * - Live streams leave nothing behind: after `break`, abort and close, the process exits by itself.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type EngineChild,
  killChildren,
  MANY_PARTITIONS,
  MANY_TOPICS,
  startEngineChild,
} from '../support/engine-child.js'

let dir: string
const children: EngineChild[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
})

afterEach(async () => {
  await killChildren(children)
  fs.rmSync(dir, { recursive: true, force: true })
})

function child(args: string[], opts: { ulimit?: number } = {}): EngineChild {
  const c = startEngineChild(args, opts)
  children.push(c)
  return c
}

/** Resolves with the child's exit, or with null when it is still running after `ms` (it is then killed). */
async function exitWithin(c: EngineChild, ms: number) {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms)
  })
  const exit = await Promise.race([c.exited, timeout])
  clearTimeout(timer)
  return exit
}

describe('Seglog file descriptor limits', () => {
  it('serves 2,000 partitions under ulimit -n 1024 with the default maxOpenFiles, across close and reopen', async () => {
    expect(MANY_TOPICS * MANY_PARTITIONS).toBe(2000)
    const c = child(['many', dir], { ulimit: 1024 })
    const exit = await exitWithin(c, 55_000)
    console.log(`2,000 partitions under ulimit -n 1024: ${exit ? `${exit.ms.toFixed(0)} ms` : 'timed out'}`)
    expect(c.stderr()).toBe('')
    expect(exit).toMatchObject({ code: 0, signal: null })
    expect(c.lines).toEqual(['ok'])
    const partitionDirs = fs.readdirSync(dir).filter((n) => /^many\d+-\d+$/.test(n))
    expect(partitionDirs.length).toBe(2000)
  }, 60_000)

  it('fails with EMFILE under ulimit -n 64 when maxOpenFiles (512) exceeds it, and works with 32', async () => {
    // Two topics are enough: 200 partitions need ~600 files, far more than 64 descriptors.
    const tooMany = child(['many', dir, '512', '2'], { ulimit: 64 })
    const failed = await exitWithin(tooMany, 30_000)
    expect(failed).toMatchObject({ code: 1, signal: null })
    expect(tooMany.lines).not.toContain('ok')
    // The engine reports it as IO_ERROR with errno EMFILE (or the raw EMFILE where nothing wrapped it).
    expect(tooMany.stderr()).toMatch(/^error (IO_ERROR EMFILE|EMFILE -)/)

    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir)
    const bounded = child(['many', dir, '32', '2'], { ulimit: 64 })
    const ok = await exitWithin(bounded, 30_000)
    expect(bounded.stderr()).toBe('')
    expect(ok).toMatchObject({ code: 0, signal: null })
    expect(bounded.lines).toEqual(['ok'])
  })
})

describe('Seglog live stream hygiene', () => {
  it('lets the process exit by itself after a stream is broken, another aborted and the engine closed', async () => {
    const c = child(['stream', dir])
    // Start-up (tsx) is not what is measured: the clock starts once the child says the engine is closed.
    await c.waitForLine((l) => l === 'closed', 20_000)
    const closedAt = performance.now()
    const exit = await exitWithin(c, 5_000)
    console.log(`stream child exited ${(performance.now() - closedAt).toFixed(0)} ms after closing the engine`)
    expect(c.stderr()).toBe('')
    expect(c.lines.filter((l) => l !== '')).toEqual([
      'broke after later',
      'aborting after later',
      'aborted ABORTED',
      'ended by close after 1',
      'closed',
    ])
    expect(exit).not.toBeNull()
    expect(exit).toMatchObject({ code: 0, signal: null })
  })
})
