/**
 * Ownership across real processes: another process opening the directory, by any path,
 * gets ENGINE_LOCKED at once, naming the owner; ownership ends within a second of the owner's death (SIGKILL
 * included), and everything the dead owner acknowledged under acks -1 is there, intact. The child is
 * `test/support/engine-child.ts`.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { Seglog } from '../../src/main.js'
import { expectDerivedPartition } from '../support/derived.js'
import {
  ACKED_PARTITIONS,
  ACKED_TOPIC,
  type EngineChild,
  killChildren,
  REPO_ROOT,
  startEngineChild,
} from '../support/engine-child.js'
import { codeOf } from '../support/errors.js'
import { mulberry32 } from '../support/random.js'

/** Fixed seed for the kill timing and the child's appends; printed so a failure can be replayed. */
const SEED = 0x0e11ed
/** "At once": an open refused by a live owner must not wait for anything. */
const LOCKED_FAST_MS = 500

let dir: string
let scratch: string
const engines: Seglog[] = []
const children: EngineChild[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
})

afterEach(async () => {
  await killChildren(children)
  for (const e of engines.splice(0)) await e.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(scratch, { recursive: true, force: true })
})

function child(args: string[]): EngineChild {
  const c = startEngineChild(args)
  children.push(c)
  return c
}

interface OpenAttempt {
  path: string
  code: string | null
  message: string
  ms: number
}

/** Runs `try-open` on `paths` in a child process and returns its verdict for each. */
async function tryOpenElsewhere(...paths: string[]): Promise<OpenAttempt[]> {
  const c = child(['try-open', ...paths])
  const exit = await c.exited
  expect(c.stderr()).toBe('')
  expect(exit.code).toBe(0)
  return c.lines.filter((l) => l !== '').map((l) => JSON.parse(l) as OpenAttempt)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('Seglog ownership across processes', () => {
  it('gives ENGINE_LOCKED at once to another process opening the directory, naming the owner pid', async () => {
    const owner = await Seglog.open(dir)
    engines.push(owner)
    const [attempt] = await tryOpenElsewhere(dir)
    expect(attempt.code).toBe('ENGINE_LOCKED')
    expect(attempt.message).toContain(`process ${process.pid}`)
    expect(attempt.ms).toBeLessThan(LOCKED_FAST_MS)
    // The refused attempt took nothing away from the owner.
    await owner.createTopic('t', { config: { format: 'string' } })
    await owner.append('t', [{ value: 'still mine' }], { acks: -1 })
    expect((await owner.read('t', 0, 0)).map((r) => r.value)).toEqual(['still mine'])
  })

  it('gives ENGINE_LOCKED at once to this process while a child owns the directory, naming the child pid', async () => {
    const c = child(['hold', dir])
    const ready = await c.waitForLine((l) => l.startsWith('ready '))
    const pid = Number(ready.split(' ')[1])
    expect(pid).toBe(c.proc.pid)
    const started = performance.now()
    let err: unknown
    try {
      engines.push(await Seglog.open(dir))
    } catch (e) {
      err = e
    }
    const ms = performance.now() - started
    expect(err).toBeInstanceOf(SeglogError)
    expect((err as SeglogError).code).toBe('ENGINE_LOCKED')
    expect((err as SeglogError).message).toContain(`process ${pid}`)
    expect(ms).toBeLessThan(LOCKED_FAST_MS)
  })

  it('gives ENGINE_LOCKED to another process that comes through a relative path or a symlink', async () => {
    const owner = await Seglog.open(dir)
    engines.push(owner)
    const relative = path.relative(REPO_ROOT, dir)
    expect(path.isAbsolute(relative)).toBe(false)
    const link = path.join(scratch, 'link-to-engine')
    fs.symlinkSync(dir, link)
    const linkToLink = path.join(scratch, 'link-to-link')
    fs.symlinkSync(link, linkToLink)
    const dotted = `${dir}${path.sep}.${path.sep}`
    const attempts = await tryOpenElsewhere(relative, link, linkToLink, dotted)
    expect(attempts.map((a) => a.path)).toEqual([relative, link, linkToLink, dotted])
    for (const a of attempts) {
      expect(a.code, a.path).toBe('ENGINE_LOCKED')
      expect(a.message, a.path).toContain(`process ${process.pid}`)
    }
    await owner.createTopic('t')
    await owner.append('t', [{ value: 1 }], { acks: -1 })
    expect(owner.offsets('t', 0).logEndOffset).toBe(1)
  })

  it('lets another owner in within a second of a SIGKILL of the owner, with every acks -1 record intact', async () => {
    console.log(`seglog-ownership kill test seed: ${SEED}`)
    const rng = mulberry32(SEED)
    const acked = new Array<number>(ACKED_PARTITIONS).fill(-1)
    for (let round = 0; round < 2; round++) {
      const c = child(['append', dir, String(Math.floor(rng() * 0x7fffffff))])
      await c.waitForLine((l) => l === 'ready')
      // Let a random number of batches be acknowledged first (at least 30, so there is something to check).
      const wantAcks = 30 + Math.floor(rng() * 150)
      let seen = 0
      await c.waitForLine((l) => l.startsWith('ack ') && ++seen >= wantAcks)
      await sleep(Math.floor(rng() * 50))
      const killedAt = performance.now()
      c.proc.kill('SIGKILL')
      // Poll until this process can open the directory.
      let engine: Seglog | undefined
      let attempts = 0
      while (engine === undefined) {
        attempts++
        try {
          engine = await Seglog.open(dir)
        } catch (err) {
          if (!(err instanceof SeglogError) || err.code !== 'ENGINE_LOCKED') throw err
          expect(performance.now() - killedAt).toBeLessThan(1000)
          await sleep(5)
        }
      }
      engines.push(engine)
      const tookMs = performance.now() - killedAt
      const exit = await c.exited
      console.log(
        `round ${round}: opened ${tookMs.toFixed(1)} ms after SIGKILL (${attempts} attempts), child ran ${exit.ms.toFixed(0)} ms`,
      )
      expect(exit.signal).toBe('SIGKILL')
      expect(tookMs).toBeLessThan(1000)
      let batches = 0
      for (const line of c.lines) {
        const [word, p, first, last] = line.split(' ')
        if (word !== 'ack') continue
        batches++
        expect(Number(first)).toBeLessThanOrEqual(Number(last))
        acked[Number(p)] = Math.max(acked[Number(p)], Number(last))
      }
      expect(batches).toBeGreaterThanOrEqual(wantAcks)
      // Every record present is exactly what was appended at its offset, densely from 0, and the log reaches
      // past every acknowledged offset.
      for (let p = 0; p < ACKED_PARTITIONS; p++) {
        const logEndOffset = await expectDerivedPartition(engine, ACKED_TOPIC, p)
        expect(logEndOffset).toBeGreaterThan(acked[p])
        // What survived beyond the acks is kept and counts as written: the next round continues after it.
        acked[p] = Math.max(acked[p], logEndOffset - 1)
      }
      await engine.close()
      engines.splice(engines.indexOf(engine), 1)
    }
    expect(await codeOf(() => Seglog.open(dir).then((e) => e.close()))).toBeUndefined()
  })
})
