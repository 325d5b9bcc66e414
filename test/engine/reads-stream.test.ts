/**
 * `stream()` options are checked when the stream is made: a stream that could never yield (maxRecords NaN or 0)
 * or asks for something unclear (`live: 'yes'`, a timestamp that is not a finite number) is a TypeError, not an
 * iteration that waits forever.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog, type StreamOptions } from '../../src/main.js'

let dir: string
let log: Seglog
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-stream-'))
  log = await Seglog.open(dir)
  await log.createTopic('t')
})
afterEach(async () => {
  await log.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('stream options', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['maxRecords NaN', { live: true, maxRecords: Number.NaN }],
    ['maxRecords 0', { maxRecords: 0 }],
    ['maxRecords -1', { maxRecords: -1 }],
    ['maxRecords 1.5', { maxRecords: 1.5 }],
    ["maxRecords '10'", { maxRecords: '10' }],
    ["live 'yes'", { live: 'yes' }],
    ['live 1', { live: 1 }],
    ['from NaN', { from: Number.NaN }],
    ['from 1.5', { from: 1.5 }],
    ['from null', { from: null }],
    ['from { timestamp: NaN }', { from: { timestamp: Number.NaN } }],
    ["from { timestamp: '5' }", { from: { timestamp: '5' } }],
    ["from 'beginning'", { from: 'beginning' }],
  ]
  for (const [label, options] of bad) {
    it(`rejects ${label} with a TypeError naming the option when the stream is made`, () => {
      let err: unknown = null
      try {
        log.stream('t', 0, options as StreamOptions)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(TypeError)
      expect((err as TypeError).message).toContain(label.split(' ')[0])
    })
  }

  it('a live stream with maxRecords 1 yields each append as it arrives', async () => {
    await log.append('t', [{ value: 'a' }, { value: 'b' }])
    const ac = new AbortController()
    const seen: unknown[] = []
    const tail = (async () => {
      try {
        for await (const r of log.stream('t', 0, { live: true, maxRecords: 1, signal: ac.signal })) {
          seen.push(r.value)
          if (seen.length === 3) ac.abort()
        }
      } catch (err) {
        if ((err as { code?: string }).code !== 'ABORTED') throw err
      }
    })()
    await new Promise((r) => setTimeout(r, 10))
    await log.append('t', [{ value: 'c' }])
    await tail
    expect(seen).toEqual(['a', 'b', 'c'])
  })
})
