import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type EngineEvent, Seglog } from '../../src/main.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('Seglog retention', () => {
  it('deletes old segments by time and by size on runRetention, keeping the log end offset', async () => {
    let now = 1_000_000
    const events: EngineEvent[] = []
    const log = await Seglog.open(dir, {
      clock: () => now,
      onEvent: (e) => events.push(e),
      retentionCheckIntervalMs: 0,
    })
    await log.createTopic('t', {
      config: { segmentBytes: 1024, retentionMs: 10_000, format: 'binary', fileDeleteDelayMs: 0 },
    })
    for (let i = 0; i < 50; i++)
      await log.append('t', [{ value: Buffer.alloc(100, i), timestamp: 1_000_000 + i * 1000 }])
    const before = log.describeTopic('t').partitions[0]
    expect(before.segments).toBeGreaterThan(4)
    now = 1_000_000 + 30_000
    const report = await log.runRetention()
    expect(report.length).toBe(1)
    expect(report[0].reasons.time).toBeGreaterThan(0)
    const after = log.offsets('t', 0)
    expect(after.logEndOffset).toBe(50)
    expect(after.logStartOffset).toBeGreaterThan(0)
    // Every surviving segment holds a record newer than now - retentionMs, so nothing more goes.
    expect(await log.runRetention()).toEqual([])
    const first = (await log.read('t', 0, after.logStartOffset, { maxRecords: 1 }))[0]
    expect(first.timestamp).toBeGreaterThanOrEqual(1_000_000 + 30_000 - 10_000 - 5_000)
    expect(events.some((e) => e.type === 'retention')).toBe(true)
    await log.alterTopicConfig('t', { retentionMs: -1, retentionBytes: 2048 })
    await log.runRetention()
    expect(log.describeTopic('t').partitions[0].bytes).toBeGreaterThanOrEqual(2048)
    expect(log.describeTopic('t').partitions[0].bytes).toBeLessThan(2048 + 1024)
    const [m] = await log.append('t', [{ value: Buffer.alloc(1) }])
    expect(m.offset).toBe(50)
    await log.close()
  })

  it('advances the log start with deleteRecords and rejects an offset above the log end', async () => {
    const log = await Seglog.open(dir, { retentionCheckIntervalMs: 0 })
    await log.createTopic('t', { config: { segmentBytes: 1024 } })
    for (let i = 0; i < 30; i++) await log.append('t', [{ value: 'x'.repeat(60) }])
    expect(await log.deleteRecords('t', 0, 12)).toBe(12)
    expect(log.offsets('t', 0).logStartOffset).toBe(12)
    await expect(log.read('t', 0, 11)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' })
    await expect(log.deleteRecords('t', 0, 31)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' })
    await log.close()
    const again = await Seglog.open(dir, { retentionCheckIntervalMs: 0 })
    expect(again.offsets('t', 0).logStartOffset).toBe(12)
    await again.close()
  })

  it('resets a consumer whose position retention deleted, instead of crashing or hanging', async () => {
    let now = 10_000_000
    const log = await Seglog.open(dir, { clock: () => now, retentionCheckIntervalMs: 0 })
    await log.createTopic('t', { config: { segmentBytes: 1024, retentionMs: 1000, fileDeleteDelayMs: 0 } })
    for (let i = 0; i < 40; i++) await log.append('t', [{ value: 'y'.repeat(60), timestamp: now - 5000 }])
    const c = log.consumer({ groupId: 'slow', autoOffsetReset: 'earliest', maxRecordsPerFetch: 1 })
    const resets: { from: number | null; to: number }[] = []
    c.on(c.events.OFFSET_RESET, (e) => resets.push(e))
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const seen: number[] = []
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    await c.run({
      eachMessage: async ({ message }) => {
        seen.push(message.offset)
        if (message.offset === 2) await gate
      },
    })
    await until(() => seen.includes(2))
    // While the consumer sits on offset 2, retention deletes everything below the active segment.
    now += 10_000
    await log.runRetention()
    const start = log.offsets('t', 0).logStartOffset
    expect(start).toBeGreaterThan(3)
    release()
    await until(() => resets.length >= 1)
    const [m] = await log.append('t', [{ value: 'after', timestamp: now }])
    await until(() => seen.includes(m.offset))
    expect(resets[0].to).toBe(start)
    expect(seen.filter((o) => o > 2 && o < start)).toEqual([])
    expect(seen.filter((o) => o >= start)).toEqual(Array.from({ length: m.offset + 1 - start }, (_, i) => start + i))
    await c.stop()
    await log.close()
  })
})
