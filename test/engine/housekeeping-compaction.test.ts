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

describe('Seglog compaction', () => {
  it('keeps each key latest value at its original offset and drops tombstoned keys after deleteRetentionMs', async () => {
    let now = 1_000_000
    const events: EngineEvent[] = []
    const log = await Seglog.open(dir, { clock: () => now, cleanerBackoffMs: 0, onEvent: (e) => events.push(e) })
    await log.createTopic('kv', {
      config: { cleanupPolicy: 'compact', segmentBytes: 2048, format: 'json', deleteRetentionMs: 10_000 },
    })
    const latest = new Map<string, { offset: number; value: unknown }>()
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 10; k++) {
        const key = `k${k}`
        const value = { round, k }
        const [m] = await log.append('kv', [{ key, value }])
        latest.set(key, { offset: m.offset, value })
      }
    }
    const [tomb] = await log.append('kv', [{ key: 'k3', value: null }])
    latest.set('k3', { offset: tomb.offset, value: null })
    // Push everything above into non-active segments.
    for (let i = 0; i < 30; i++) await log.append('kv', [{ key: `pad${i}`, value: i }])
    const before = log.describeTopic('kv').partitions[0]
    const results = await log.compact('kv')
    expect(results[0].cleaned).toBe(true)
    expect(events.some((e) => e.type === 'compaction')).toBe(true)
    const after = log.describeTopic('kv').partitions[0]
    expect(after.bytes).toBeLessThan(before.bytes)
    expect(after.logEndOffset).toBe(before.logEndOffset)
    const all = await log.read('kv', 0, 0, { maxRecords: 10_000, maxBytes: 1 << 24 })
    const byKey = new Map<string, { offset: number; value: unknown }[]>()
    for (const r of all) {
      const key = r.key!.toString()
      if (!byKey.has(key)) byKey.set(key, [])
      byKey.get(key)!.push({ offset: r.offset, value: r.value })
    }
    for (const [key, want] of latest) {
      // One record per key, the latest, at its original offset (the tombstone is still there: its horizon runs).
      expect(byKey.get(key), key).toEqual([want])
    }
    // Reading from a removed offset gives the next surviving record.
    const firstKept = all[0].offset
    if (firstKept > 0) expect((await log.read('kv', 0, 0, { maxRecords: 1 }))[0].offset).toBe(firstKept)
    // After the delete horizon, the next pass drops the tombstone.
    now += 20_000
    for (let i = 0; i < 30; i++) await log.append('kv', [{ key: `pad${i}`, value: i + 100 }])
    await log.compact('kv')
    const again = await log.read('kv', 0, 0, { maxRecords: 10_000, maxBytes: 1 << 24 })
    expect(again.some((r) => r.key?.toString() === 'k3')).toBe(false)
    await log.close()
  })

  it('rejects compact() on a delete-policy topic with INVALID_CONFIG', async () => {
    const log = await Seglog.open(dir, { cleanerBackoffMs: 0 })
    await log.createTopic('t')
    await expect(log.compact('t')).rejects.toMatchObject({ code: 'INVALID_CONFIG' })
    await log.close()
  })
})

describe('Seglog compaction file lifecycle', () => {
  it('keeps each replaced generation of a segment under its own .deleted name until its delay ends', async () => {
    const log = await Seglog.open(dir, { cleanerBackoffMs: 0 })
    await log.createTopic('kv', {
      config: { cleanupPolicy: 'compact', segmentBytes: 2048, format: 'string', fileDeleteDelayMs: 60_000 },
    })
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 60; i++) await log.append('kv', [{ key: `k${i % 7}`, value: `v${round}-${i}` }])
      await log.compact('kv')
    }
    const deleted = fs.readdirSync(path.join(dir, 'kv-0')).filter((n) => n.endsWith('.deleted'))
    const first = deleted.filter((n) => /^0{20}\.log/.test(n)).sort()
    // The segment at base 0 was replaced more than once: every generation is still there, under distinct names.
    expect(first.length).toBeGreaterThanOrEqual(2)
    expect(first).toContain('00000000000000000000.log.deleted')
    expect(first).toContain('00000000000000000000.log.1.deleted')
    await log.close()
    expect(fs.readdirSync(path.join(dir, 'kv-0')).filter((n) => n.endsWith('.deleted'))).toEqual([])
  })
})

describe('Seglog close during compaction', () => {
  it('stops a pass in progress safely: after reopen the records are the pre- or the post-compaction set', async () => {
    const log = await Seglog.open(dir, { cleanerBackoffMs: 0 })
    await log.createTopic('kv', { config: { cleanupPolicy: 'compact', segmentBytes: 64 * 1024, format: 'binary' } })
    const value = Buffer.alloc(100, 7)
    for (let i = 0; i < 40; i++) {
      await log.append(
        'kv',
        Array.from({ length: 500 }, (_, j) => ({ key: `k${(i * 500 + j) % 2000}`, value })),
        { acks: 1 },
      )
    }
    const before = (await log.read('kv', 0, 0, { maxRecords: 100_000, maxBytes: 1 << 30 })).map((r) => r.offset)
    const pass = log.compact('kv').then(
      () => 'done',
      (err: { code?: string }) => err.code ?? 'error',
    )
    await log.close()
    const outcome = await pass
    console.log('compaction outcome when closed mid-pass:', outcome)
    expect(['done', 'ABORTED', 'ENGINE_CLOSED']).toContain(outcome)
    const again = await Seglog.open(dir, { cleanerBackoffMs: 0 })
    const after = (await again.read('kv', 0, 0, { maxRecords: 100_000, maxBytes: 1 << 30 })).map((r) => r.offset)
    const kvDir = path.join(dir, 'kv-0')
    expect(fs.readdirSync(kvDir).filter((n) => n.endsWith('.cleaned') || n.endsWith('.swap'))).toEqual([])
    if (after.length !== before.length) {
      // Compacted: the survivors are the latest offset of each key, at their original offsets.
      expect(after.length).toBeLessThan(before.length)
      expect(after.every((o) => before.includes(o))).toBe(true)
    } else expect(after).toEqual(before)
    expect(again.offsets('kv', 0).logEndOffset).toBe(20_000)
    await again.close()
  })
})
