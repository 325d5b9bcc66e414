/**
 * What `close()` costs is what changed: a partition that was opened clean and never written is closed without an
 * fsync and without rewriting its `partition.state`; a written one is fsynced and marked clean as before. Seen
 * through `FaultyFileSystem`'s logs of fsyncs and writes (passed as `fs`; LevelDB's own files do not go through it).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TEST_HOOKS } from '../../src/internal.js'
import { type EngineEvent, Seglog } from '../../src/main.js'
import { FaultyFileSystem } from '../support/faulty-fs.js'

let dir: string

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-close-cost-')))
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const PARTITIONS = 20

/** A topic of PARTITIONS partitions with one record each, closed cleanly. */
async function makeDir(): Promise<void> {
  const e = await Seglog.open(dir)
  await e.createTopic('t', { partitions: PARTITIONS, config: { format: 'string' } })
  await e.append(
    't',
    Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `v${p}` })),
  )
  await e.close()
}

/** Paths inside the partition directories of topic t. */
const inPartitions = (paths: readonly string[]): string[] => paths.filter((p) => path.relative(dir, p).startsWith('t-'))

async function openTraced(events: EngineEvent[] = []): Promise<{ e: Seglog; ffs: FaultyFileSystem }> {
  const ffs = new FaultyFileSystem(dir)
  const e = await Seglog.open(dir, { [TEST_HOOKS]: { fs: ffs }, onEvent: (ev) => events.push(ev) })
  return { e, ffs }
}

describe('close after a clean open', () => {
  it('fsyncs and writes nothing in partitions that were not written, and the next open is still clean', async () => {
    await makeDir()
    const { e, ffs } = await openTraced()
    ffs.resetStats()
    await e.close()
    expect(inPartitions(ffs.syncs)).toEqual([])
    expect(inPartitions(ffs.dirSyncs)).toEqual([])
    expect(inPartitions(ffs.writes.map((w) => w.path))).toEqual([])

    const events: EngineEvent[] = []
    const again = await openTraced(events)
    expect(events.filter((ev) => ev.type === 'recovered')).toEqual([])
    for (let p = 0; p < PARTITIONS; p++) {
      expect((await again.e.read('t', p, 0)).map((r) => r.value)).toEqual([`v${p}`])
    }
    await again.e.close()
  })

  it('fsyncs and marks clean only the partition that was written', async () => {
    await makeDir()
    const { e, ffs } = await openTraced()
    await e.append('t', [{ partition: 3, value: 'more' }], { acks: 1 })
    ffs.resetStats()
    await e.close()
    const touched = new Set(
      inPartitions([...ffs.syncs, ...ffs.dirSyncs]).map((p) => path.relative(dir, p).split('/')[0]),
    )
    expect([...touched]).toEqual(['t-3'])
    expect(inPartitions(ffs.writes.map((w) => w.path)).every((p) => p.includes(`${path.sep}t-3${path.sep}`))).toBe(true)

    const events: EngineEvent[] = []
    const again = await openTraced(events)
    expect(events.filter((ev) => ev.type === 'recovered')).toEqual([])
    expect((await again.e.read('t', 3, 0)).map((r) => r.value)).toEqual(['v3', 'more'])
    await again.e.close()
  })

  it('recovers a partition written after a clean open when the process died before close', async () => {
    await makeDir()
    const { e, ffs } = await openTraced()
    await e.append('t', [{ partition: 5, value: 'after' }], { acks: -1 })
    // The process dies: nothing of close runs, the page cache survives. Its lock goes with it (closed below
    // only to release this process's LevelDB handles).
    ffs.crash()
    await e.close().catch(() => {})
    const events: EngineEvent[] = []
    const again = await openTraced(events)
    const recovered = events.filter((ev) => ev.type === 'recovered') as Extract<EngineEvent, { type: 'recovered' }>[]
    expect(recovered.map((ev) => (ev as { partition?: number }).partition)).toEqual([5])
    expect((await again.e.read('t', 5, 0)).map((r) => r.value)).toEqual(['v5', 'after'])
    await again.e.close()
  })
})

describe('close after writes to many partitions', () => {
  it('closes them side by side, each durable and clean: a power cut right after close loses nothing and the reopen recovers none', async () => {
    await makeDir()
    const { e, ffs } = await openTraced()
    await e.append(
      't',
      Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `w${p}` })),
      { acks: 1 },
    )
    ffs.resetStats()
    await e.close()
    // Every written partition fsynced its log (and the indexes that changed) and its directory, and rewrote
    // partition.state (its .tmp fsynced before the rename).
    for (let p = 0; p < PARTITIONS; p++) {
      const inP = (paths: readonly string[]) =>
        paths.filter((x) => path.relative(dir, x).split(path.sep)[0] === `t-${p}`)
      expect(inP(ffs.syncs).map((x) => path.extname(x))).toEqual(expect.arrayContaining(['.log', '.tmp']))
      expect(inP(ffs.dirSyncs).length).toBeGreaterThanOrEqual(1)
    }
    ffs.powerCut()
    const events: EngineEvent[] = []
    const again = await openTraced(events)
    expect(events.filter((ev) => ev.type === 'recovered')).toEqual([])
    for (let p = 0; p < PARTITIONS; p++) {
      expect((await again.e.read('t', p, 0)).map((r) => r.value)).toEqual([`v${p}`, `w${p}`])
    }
    await again.e.close()
  })
})
