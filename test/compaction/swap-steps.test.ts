/**
 * Crash at EVERY file rename of the swap, in-process: the log runs on a FileSystem wrapper that copies the
 * partition directory right after each rename of `PartitionLog.replaceSegments` (a process crash at that moment
 * leaves exactly that directory: renames are not lost by a process crash). Each copy is then opened like after a
 * crash, and must read exactly as before the pass (while a `.cleaned` file remains) or exactly as after it.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cleaner } from '../../src/compaction/cleaner.js'
import { compactPartition } from '../../src/compaction/compactor.js'
import { type FileSystem, nodeFileSystem } from '../../src/io/file-system.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import { mulberry32 } from '../support/random.js'
import { appendWorkload, type Rec, readAll, SMALL_LOG, TS_BASE, tempDir } from './support.js'
import { CHILD_COMPACTION_CONFIG } from './swap-child.js'

const SEED = 0x5eb5
const NOW = TS_BASE + 50_000_000

let root: string
const cleaner = new Cleaner()

beforeAll(() => {
  root = tempDir('seglog-swap-steps-')
})

afterAll(async () => {
  await cleaner.close()
  fs.rmSync(root, { recursive: true, force: true })
})

interface Snapshot {
  dir: string
  /** The rename just done (or 'before' for the state with every `.cleaned` file written and none renamed). */
  after: string
  /** `.cleaned` files still present in it. */
  cleanedLeft: number
}

const same = (a: Rec[], b: Rec[]): boolean => JSON.stringify(a) === JSON.stringify(b)

describe(`the swap, crashed after each rename (seed ${SEED})`, () => {
  it('recovers the pre-compaction records while a .cleaned file remains, the post-compaction ones after', async () => {
    const live = path.join(root, 'live')
    const log0 = await PartitionLog.open(live, { config: SMALL_LOG })
    appendWorkload(log0, mulberry32(SEED), 1000, { keys: 25, tombstones: 0.05, unkeyed: 0.05 })
    const pre = readAll(log0)
    await log0.close()

    const snapshots: Snapshot[] = []
    let armed = false
    const snapshot = (after: string): void => {
      const dir = path.join(root, `snap-${String(snapshots.length).padStart(4, '0')}`)
      fs.cpSync(live, dir, { recursive: true })
      const cleanedLeft = fs.readdirSync(dir).filter((n) => n.endsWith('.cleaned')).length
      snapshots.push({ dir, after, cleanedLeft })
    }
    const recording: FileSystem = {
      ...nodeFileSystem,
      rename(from, to) {
        if (!armed && from.endsWith('.cleaned')) {
          armed = true
          snapshot('before')
        }
        nodeFileSystem.rename(from, to)
        if (armed) snapshot(`${path.basename(from)} -> ${path.basename(to)}`)
      },
    }
    const log = await PartitionLog.open(live, { config: SMALL_LOG, fs: recording })
    const res = await compactPartition(log, CHILD_COMPACTION_CONFIG, { now: NOW, cleaner })
    armed = false
    expect(res.cleaned, res.reason).toBe(true)
    const post = readAll(log)
    const end = log.logEndOffset
    await log.close()
    expect(post.length).toBeLessThan(pre.length)
    // Three renames per new segment to .swap, up to three per old segment to .deleted, three back to final.
    expect(snapshots.length).toBeGreaterThan(3 * 2 * res.segmentsAfter)

    const strays: string[] = []
    for (const snap of snapshots) {
      const reopened = await PartitionLog.open(snap.dir, { config: SMALL_LOG })
      const got = readAll(reopened)
      const verdict = same(got, pre) ? 'pre' : same(got, post) ? 'post' : 'neither'
      expect(verdict, `crash after ${snap.after}`).toBe(snap.cleanedLeft > 0 ? 'pre' : 'post')
      expect(reopened.logEndOffset).toBe(end)
      await reopened.close()
      const temp = fs.readdirSync(snap.dir).filter((n) => /\.(cleaned|swap|deleted)$/.test(n))
      if (temp.length > 0) strays.push(`${snap.after}: ${temp.join(' ')}`)
      fs.rmSync(snap.dir, { recursive: true, force: true })
    }
    // Known gap in recovery.ts (see the compaction hand-over note): a crash between renaming the LAST new
    // segment's `.log.swap` and its index `.swap` files leaves those index files (no `.log.swap` is left, so the
    // sweep skips its swap step). Records are right; the segment's index is missing until then. Any other stray
    // temp file is a bug.
    for (const s of strays)
      expect(s).toMatch(/^\d{20}\.(log|index)\.swap -> \d{20}\.(log|index): (\d{20}\.(time)?index\.swap ?)+$/)
    expect(strays.length).toBeLessThanOrEqual(2)
  })
})
