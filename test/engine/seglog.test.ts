/**
 * The engine facade's lifecycle: close() is single-flight and reports `closing` while its clients stop.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'

let dir: string
const engines: Seglog[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-facade-'))
})

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('Seglog.close', () => {
  it('is closing while a consumer finishes its handler, and a second close waits for the first', async () => {
    const e = await Seglog.open(dir)
    engines.push(e)
    await e.createTopic('t')
    await e.append('t', [{ value: 1 }])
    let release!: () => void
    const blocked = new Promise<void>((r) => {
      release = r
    })
    let started = false
    const c = e.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    await c.run({
      eachMessage: async () => {
        started = true
        await blocked
      },
    })
    while (!started) await tick(5)
    const settled: string[] = []
    const first = e.close().then(() => settled.push('first'))
    expect(e.status).toBe('closing')
    const second = e.close().then(() => settled.push('second'))
    await tick(50)
    // The handler is still running: neither close has finished, and new calls are still accepted meanwhile.
    expect(settled).toEqual([])
    expect(e.status).toBe('closing')
    release()
    await Promise.all([first, second])
    expect(settled.sort()).toEqual(['first', 'second'])
    expect(e.status).toBe('closed')
    // The handler's offset was committed during the close.
    const again = await Seglog.open(dir)
    engines.push(again)
    expect((await again.fetchOffsets('g')).map((o) => o.offset)).toEqual([1])
  })

  it('resolves at once when called after the engine is closed', async () => {
    const e = await Seglog.open(dir)
    await e.close()
    await e.close()
    expect(e.status).toBe('closed')
  })
})
