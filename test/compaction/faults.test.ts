/**
 * Faults injected into a compaction pass at every point where it touches the disk: each write, fsync (file and
 * directory), truncate, rename and unlink of the pass, counted on a FileSystem wrapper around `FaultyFileSystem`.
 * At each point the pass either fails with ENOSPC or EIO there, or the power is cut right after it. The
 * partition must then hold exactly the records it held before the pass or exactly those after it (compared by
 * offset, key and value), the failure must be a typed SeglogError (IO_ERROR carrying the errno), and a reopen
 * (after the power cut: of what the disk kept) must read pre or post as well.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cleaner } from '../../src/compaction/cleaner.js'
import { compactPartition } from '../../src/compaction/compactor.js'
import { SeglogError } from '../../src/errors.js'
import type { FileHandle, FileSystem } from '../../src/io/file-system.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import { FaultyFileSystem } from '../support/faulty-fs.js'
import { mulberry32 } from '../support/random.js'
import { appendWorkload, type Rec, readAll, SMALL_LOG, TS_BASE, tempDir } from './support.js'
import { CHILD_COMPACTION_CONFIG } from './swap-child.js'

const SEED = 0xfa17
const NOW = TS_BASE + 50_000_000

/** A disk operation of the pass, as counted by `counting`. */
type Op = 'write' | 'sync' | 'truncate' | 'rename' | 'unlink' | 'syncDir'

/** `inner` with a hook called after each disk-changing operation (while `armed()`), with its kind. */
function counting(inner: FileSystem, armed: () => boolean, after: (op: Op, path: string) => void): FileSystem {
  const note = (op: Op, path: string): void => {
    if (armed()) after(op, path)
  }
  const wrap = (h: FileHandle): FileHandle => ({
    path: h.path,
    read: (b, o, l, p) => h.read(b, o, l, p),
    write: (b, o, l, p) => {
      h.write(b, o, l, p)
      note('write', h.path)
    },
    size: () => h.size(),
    truncate: (l) => {
      h.truncate(l)
      note('truncate', h.path)
    },
    sync: async () => {
      await h.sync()
      note('sync', h.path)
    },
    syncNow: () => {
      h.syncNow()
      note('sync', h.path)
    },
    close: () => h.close(),
  })
  return {
    open: (p, mode) => wrap(inner.open(p, mode)),
    exists: (p) => inner.exists(p),
    readdir: (d) => inner.readdir(d),
    mkdir: (d) => inner.mkdir(d),
    rename: (from, to) => {
      inner.rename(from, to)
      note('rename', from)
    },
    unlink: (p) => {
      inner.unlink(p)
      note('unlink', p)
    },
    rmdir: (d) => inner.rmdir(d),
    fileSize: (p) => inner.fileSize(p),
    readFile: (p) => inner.readFile(p),
    syncDir: async (d) => {
      await inner.syncDir(d)
      note('syncDir', d)
    },
    syncDirNow: (d) => {
      inner.syncDirNow(d)
      note('syncDir', d)
    },
  }
}

let root: string
let pristine: string
let pre: Rec[]
let post: Rec[]
/** The kinds of the pass's operations, in order (from a pass without faults), and the paths they touched. */
let ops: Op[]
let opPaths: string[]
const cleaner = new Cleaner()
let copies = 0

const same = (a: Rec[], b: Rec[]): boolean => JSON.stringify(a) === JSON.stringify(b)
const verdict = (got: Rec[]): string => (same(got, pre) ? 'pre' : same(got, post) ? 'post' : 'neither')

function freshCopy(): string {
  const dir = path.join(root, `copy-${copies++}`)
  fs.cpSync(pristine, dir, { recursive: true })
  return dir
}

async function reopenVerdict(dir: string): Promise<string> {
  const log = await PartitionLog.open(dir, { config: SMALL_LOG })
  try {
    return verdict(readAll(log))
  } finally {
    await log.close()
  }
}

beforeAll(async () => {
  root = tempDir('seglog-compaction-faults-')
  pristine = path.join(root, 'pristine')
  const log = await PartitionLog.open(pristine, { config: SMALL_LOG })
  appendWorkload(log, mulberry32(SEED), 400, { keys: 15, tombstones: 0.05, unkeyed: 0.05 })
  pre = readAll(log)
  await log.close()

  const dir = freshCopy()
  let armed = false
  ops = []
  opPaths = []
  const fsys = counting(
    new FaultyFileSystem(dir),
    () => armed,
    (op, p) => {
      ops.push(op)
      opPaths.push(`${op} ${path.basename(p)}`)
    },
  )
  const live = await PartitionLog.open(dir, { config: SMALL_LOG, fs: fsys })
  armed = true
  const res = await compactPartition(live, CHILD_COMPACTION_CONFIG, { now: NOW, cleaner })
  armed = false
  expect(res.cleaned, res.reason).toBe(true)
  post = readAll(live)
  await live.close()
  expect(post.length).toBeLessThan(pre.length)
  fs.rmSync(dir, { recursive: true, force: true })
})

afterAll(async () => {
  await cleaner.close()
  fs.rmSync(root, { recursive: true, force: true })
})

describe(`a compaction pass under injected faults (seed ${SEED})`, () => {
  it('goes through the injected FileSystem for every write, fsync and rename it makes', () => {
    // The .cleaned files, their fsyncs, the swap's renames and directory fsyncs, the checkpoint.
    for (const op of ['write', 'sync', 'rename', 'syncDir'] as const) expect(ops).toContain(op)
    for (const file of ['log', 'index', 'timeindex']) {
      expect(opPaths).toContainEqual(expect.stringMatching(new RegExp(`^write \\d{20}\\.${file}\\.cleaned$`)))
      expect(opPaths).toContainEqual(expect.stringMatching(new RegExp(`^sync \\d{20}\\.${file}\\.cleaned$`)))
    }
    expect(opPaths).toContain('write cleaner.checkpoint.tmp')
  })

  it.each([
    ['ENOSPC', ['write', 'truncate']],
    ['EIO', ['write', 'sync', 'truncate', 'rename', 'unlink', 'syncDir']],
  ] as const)(
    'fails with IO_ERROR (%s) at each point, keeping pre or post records, live and after a reopen',
    async (errno, kinds) => {
      const checked: string[] = []
      for (const kind of kinds) {
        const points = ops.filter((o) => o === kind).length
        for (let k = 0; k < points; k++) {
          const dir = freshCopy()
          const faulty = new FaultyFileSystem(dir)
          const log = await PartitionLog.open(dir, { config: SMALL_LOG, fs: faulty })
          // FaultOp names: a directory fsync is 'syncDir', every other operation has its own name.
          faulty.failNext({ op: kind, path: dir, errno, skip: k })
          const err = await compactPartition(log, CHILD_COMPACTION_CONFIG, { now: NOW, cleaner }).then(
            () => null,
            (e: unknown) => e,
          )
          faulty.clearFailures()
          const where = `${errno} at ${kind} #${k}`
          expect(err, `${where}: the pass must fail`).toBeInstanceOf(SeglogError)
          expect((err as SeglogError).code, `${where}: ${(err as Error).message}`).toBe('IO_ERROR')
          expect((err as SeglogError).errno, where).toBe(errno)
          let live: string
          try {
            live = verdict(readAll(log))
          } catch (e) {
            live = `${where}: ${String(e)}`
          }
          expect(live, `${where}: live records`).toMatch(/^(pre|post)$/)
          await log.close().catch(() => {})
          expect(await reopenVerdict(dir), `${where}: after reopen`).not.toBe('neither')
          checked.push(where)
          fs.rmSync(dir, { recursive: true, force: true })
        }
      }
      expect(checked.length).toBeGreaterThan(10)
    },
  )

  it('keeps pre or post records when the power is cut right after any of its operations', async () => {
    const seen = new Set<string>()
    for (let k = 0; k < ops.length; k++) {
      const dir = freshCopy()
      const faulty = new FaultyFileSystem(dir)
      let armed = false
      let n = 0
      const fsys = counting(
        faulty,
        () => armed,
        () => {
          if (n++ === k) faulty.powerCut({ seed: SEED + k, keepUnsynced: 'random-prefix' })
        },
      )
      const log = await PartitionLog.open(dir, { config: SMALL_LOG, fs: fsys })
      armed = true
      const err = await compactPartition(log, CHILD_COMPACTION_CONFIG, { now: NOW, cleaner }).then(
        () => null,
        (e: unknown) => e,
      )
      armed = false
      const where = `power cut after ${ops[k]} #${k}`
      if (err !== null) expect(err, `${where}: ${(err as Error).stack}`).toBeInstanceOf(SeglogError)
      await log.close().catch(() => {})
      const v = await reopenVerdict(dir)
      expect(v, where).not.toBe('neither')
      seen.add(v)
      fs.rmSync(dir, { recursive: true, force: true })
    }
    // Early cuts lose the pass, late ones keep it.
    expect([...seen].sort()).toEqual(['post', 'pre'])
  })
})
