/**
 * Where a pass run by the Cleaner does its I/O (`worker-fs.ts`): on the worker's own thread through an equivalent
 * FileSystem when the given one can be shared (a BoundedFileSystem lending it descriptors meanwhile), through the
 * given object itself (a proxy) when it cannot; and a stopped pass closing what it opened there.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cleaner } from '../../src/compaction/cleaner.js'
import { type CompactionConfig, compactPartition } from '../../src/compaction/compactor.js'
import { BoundedFileSystem } from '../../src/io/bounded-fs.js'
import { type FileHandle, type FileSystem, nodeFileSystem } from '../../src/io/file-system.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import { mulberry32 } from '../support/random.js'
import { appendWorkload, expectedAfterPass, readAll, SMALL_LOG, TS_BASE, tempDir, tempFiles } from './support.js'

const NOW = TS_BASE + 10_000_000
const CFG: CompactionConfig = {
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  deleteRetentionMs: 1000,
}
const cleaner = new Cleaner()
let dir: string

beforeEach(() => {
  dir = tempDir('seglog-worker-fs-')
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

afterAll(async () => {
  await cleaner.close()
})

/** The real file system, noting the path of every file it opens; shareable with a worker when `shareable`. */
function noting(opened: string[], shareable: boolean): FileSystem {
  const base: FileSystem = {
    ...nodeFileSystem,
    open: (p, mode): FileHandle => {
      opened.push(path.basename(p))
      return nodeFileSystem.open(p, mode)
    },
  }
  if (!shareable) base.shareWithWorker = undefined
  return base
}

/** Names of this process's open descriptors that point into `dir` (Linux). */
function descriptorsInto(d: string): string[] {
  const out: string[] = []
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`)
      if (target.startsWith(d)) out.push(path.basename(target))
    } catch {
      // closed meanwhile
    }
  }
  return out.sort()
}

describe('a pass run by the Cleaner', () => {
  it('does its reads and writes in the worker through an equivalent FileSystem when the given one can be shared', async () => {
    for (const shareable of [true, false]) {
      const sub = path.join(dir, String(shareable))
      const opened: string[] = []
      const log = await PartitionLog.open(sub, { config: SMALL_LOG, fs: noting(opened, shareable) })
      const written = appendWorkload(log, mulberry32(0x5a), 600, { keys: 20 })
      opened.length = 0
      const res = await compactPartition(log, CFG, { now: NOW, cleaner })
      expect(res.cleaned).toBe(true)
      expect(readAll(log)).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))
      await log.close()
      const cleanedOpens = opened.filter((n) => n.endsWith('.cleaned'))
      if (shareable) expect(cleanedOpens).toEqual([])
      // Not shareable: every file operation of the worker's pass reaches this very object.
      else expect(cleanedOpens.length).toBeGreaterThanOrEqual(3 * res.segmentsAfter - 3)
    }
  })

  it("keeps a BoundedFileSystem's descriptors within its bound: the worker's share is taken from it, then given back", async () => {
    const bounded = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 10 })
    const log = await PartitionLog.open(dir, { config: SMALL_LOG, fs: bounded })
    const written = appendWorkload(log, mulberry32(0xb0), 1500, { keys: 30 })
    readAll(log)
    expect(bounded.openCount).toBe(10)
    const during: number[] = []
    const res = await compactPartition(log, CFG, {
      now: NOW,
      cleaner,
      onProgress: () => {
        readAll(log)
        during.push(bounded.openCount)
      },
    })
    expect(res.cleaned).toBe(true)
    expect(during.length).toBeGreaterThan(0)
    // 4 of the 10 are lent to the worker while the pass runs.
    expect(Math.max(...during)).toBeLessThanOrEqual(6)
    expect(readAll(log)).toEqual(expectedAfterPass(written, 0, res.firstDirtyOffset))
    appendWorkload(log, mulberry32(0xb1), 1500, { keys: 30 })
    readAll(log)
    expect(bounded.openCount).toBe(10)
    await log.close()
  })

  it.runIf(process.platform === 'linux')(
    'stops in the worker when aborted midway, closing every file it opened there and removing its .cleaned files',
    async () => {
      // Segments of 256 KiB, so the worker is inside a group's files when the stop arrives.
      const log = await PartitionLog.open(dir, { config: { ...SMALL_LOG, segmentBytes: 256 * 1024 } })
      const written = appendWorkload(log, mulberry32(0xab), 30_000, { keys: 40, maxBatch: 50 })
      // Each roll starts a background fsync round that opens the directory on the pool; let those end first, so
      // that a descriptor counted below can only be the worker's.
      await log.flush()
      const before = descriptorsInto(dir)
      const ac = new AbortController()
      let groups = 0
      const pass = compactPartition(log, CFG, {
        now: NOW,
        cleaner,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.stage !== 'group-written') return
          groups++
          ac.abort()
        },
      })
      await expect(pass).rejects.toMatchObject({ name: 'SeglogError', code: 'ABORTED' })
      // The worker stopped the pass itself (and stays for the next job) rather than being terminated.
      expect(cleaner.hasWorker).toBe(true)
      expect(descriptorsInto(dir)).toEqual(before)
      expect(tempFiles(dir)).toEqual([])
      expect(readAll(log)).toEqual(written)
      // It stopped: an unstopped pass writes one group per source segment here (each keeps a few survivors).
      let unstopped = 0
      const res = await compactPartition(log, CFG, {
        now: NOW,
        cleaner,
        onProgress: (p) => {
          if (p.stage === 'group-written') unstopped++
        },
      })
      expect(res.cleaned).toBe(true)
      expect(groups).toBeLessThan(unstopped)
      await log.close()
    },
  )
})
