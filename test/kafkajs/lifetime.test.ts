/**
 * Process lifetime with seglog/kafkajs, as users meet it: a plain Node script (test/kafkajs/scripts/, no test runner
 * holding the event loop) that produces and consumes exits by itself once its clients disconnected, and a running
 * consumer keeps it alive until it is disconnected — what KafkaJS does (its issues #767 and #967 are scripts that
 * did not exit, or hung on stop).
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from './support.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SCRIPT = 'test/kafkajs/scripts/produce-consume.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

function run(dir: string, mode?: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, dir, ...(mode ? [mode] : [])], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c
  })
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    err += c
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  )
  return { child, exited, out: () => out, err: () => err }
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

describe('seglog/kafkajs process lifetime', () => {
  it('a script that produces, consumes and disconnects exits by itself with code 0', async () => {
    const dir = tempDir('lifetime')
    dirs.push(dir)
    const p = run(dir)
    const exit = await within(p.exited, 30_000, 'the script exits').catch((e) => {
      p.child.kill('SIGKILL')
      throw new Error(`${(e as Error).message}\nstdout: ${p.out()}\nstderr: ${p.err()}`)
    })
    expect(exit, p.err()).toEqual({ code: 0, signal: null })
    expect(p.out()).toBe('consumed 3\n')
  }, 40_000)

  it('a running consumer keeps the script alive until it is disconnected', async () => {
    const dir = tempDir('lifetime-hold')
    dirs.push(dir)
    const p = run(dir, 'hold')
    await within(
      new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          if (p.out().includes('consumed 3')) {
            clearInterval(tick)
            resolve()
          }
        }, 20)
      }),
      30_000,
      'the script consumes',
    )
    const stillRunning = await Promise.race([
      p.exited.then(() => false),
      new Promise((r) => setTimeout(() => r(true), 1500)),
    ])
    expect(stillRunning).toBe(true)
    p.child.kill('SIGTERM')
    const exit = await within(p.exited, 20_000, 'the script exits after SIGTERM')
    expect(exit, p.err()).toEqual({ code: 0, signal: null })
    expect(p.out()).toBe('consumed 3\nstopping\n')
  }, 40_000)
})
