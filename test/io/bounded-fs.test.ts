import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BoundedFileSystem } from '../../src/io/bounded-fs.js'
import { type FileHandle, type FileSystem, nodeFileSystem, type OpenMode } from '../../src/io/file-system.js'
import { errnoOf } from '../support/errors.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const childScript = path.join(repoRoot, 'test/support/bounded-fs-child.ts')

let dir: string

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8')

function append(h: FileHandle, s: string): void {
  const b = bytes(s)
  h.write(b, 0, b.length, h.size())
}

function readAll(h: FileHandle): string {
  const buf = Buffer.alloc(h.size())
  const n = h.read(buf, 0, buf.length, 0)
  return buf.toString('utf8', 0, n)
}

/**
 * A FileSystem over nodeFileSystem that counts inner opens/closes per path and can hold `sync()` calls until
 * released, so "an fsync in flight" is deterministic.
 */
class SpyFileSystem implements FileSystem {
  readonly openPaths = new Map<string, number>()
  readonly closes: string[] = []
  gateSyncs = false
  readonly heldSyncs: Array<() => void> = []
  failOpens: string[] = []

  open(p: string, mode: OpenMode): FileHandle {
    const code = this.failOpens.shift()
    if (code !== undefined) throw Object.assign(new Error(`${code}: injected, open '${p}'`), { code })
    const inner = nodeFileSystem.open(p, mode)
    this.openPaths.set(p, (this.openPaths.get(p) ?? 0) + 1)
    return {
      path: p,
      read: (b, o, l, pos) => inner.read(b, o, l, pos),
      write: (b, o, l, pos) => inner.write(b, o, l, pos),
      size: () => inner.size(),
      truncate: (l) => inner.truncate(l),
      sync: async () => {
        if (this.gateSyncs) await new Promise<void>((resolve) => this.heldSyncs.push(resolve))
        await inner.sync()
      },
      syncNow: () => inner.syncNow(),
      close: () => {
        const left = (this.openPaths.get(p) ?? 0) - 1
        if (left === 0) this.openPaths.delete(p)
        else this.openPaths.set(p, left)
        this.closes.push(p)
        inner.close()
      },
    }
  }

  releaseSyncs(): void {
    for (const release of this.heldSyncs.splice(0)) release()
  }

  exists = (p: string) => nodeFileSystem.exists(p)
  readdir = (d: string) => nodeFileSystem.readdir(d)
  mkdir = (d: string) => nodeFileSystem.mkdir(d)
  rename = (a: string, b: string) => nodeFileSystem.rename(a, b)
  unlink = (p: string) => nodeFileSystem.unlink(p)
  rmdir = (d: string) => nodeFileSystem.rmdir(d)
  fileSize = (p: string) => nodeFileSystem.fileSize(p)
  readFile = (p: string) => nodeFileSystem.readFile(p)
  syncDir = (d: string) => nodeFileSystem.syncDir(d)
  syncDirNow = (d: string) => nodeFileSystem.syncDirNow(d)
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Releases held syncs until `all` settles (calling `each` after every step); fails instead of hanging. */
async function drain(spy: SpyFileSystem, all: Promise<unknown>, each: () => void = () => {}): Promise<void> {
  let done = false
  all.then(
    () => (done = true),
    () => (done = true),
  )
  // A deadline in time, not in steps: the released syncs are real fsyncs, slow on a loaded machine.
  const deadline = Date.now() + 30_000
  while (!done) {
    if (Date.now() > deadline) throw new Error('syncs never settled')
    spy.releaseSyncs()
    await tick()
    each()
  }
}

describe('BoundedFileSystem', () => {
  it('rejects a maxOpenFiles that is not an integer of at least 4', () => {
    expect(() => new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 2.5 })).toThrow(TypeError)
    expect(() => new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: Number.NaN })).toThrow(TypeError)
    expect(() => new BoundedFileSystem(nodeFileSystem, {} as { maxOpenFiles: number })).toThrow(TypeError)
    expect(() => new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 3 })).toThrow(RangeError)
    expect(() => new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 4 })).not.toThrow()
  })

  it('writes and reads back 500 files through 16 descriptors, never holding more than 16 open', async () => {
    const bfs = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 16 })
    const check = () => expect(bfs.openCount).toBeLessThanOrEqual(16)
    const handles: FileHandle[] = []
    const expected: string[] = []
    for (let i = 0; i < 500; i++) {
      handles.push(bfs.open(path.join(dir, `${i}.log`), 'rw'))
      expected.push('')
      check()
    }
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 500; i++) {
        const s = `${i}:${round};`
        append(handles[i], s)
        expected[i] += s
        check()
      }
    }
    // Positional overwrite in the middle, and a truncate, on handles that were evicted long ago.
    handles[0].write(bytes('X'), 0, 1, 1)
    expected[0] = `${expected[0][0]}X${expected[0].slice(2)}`
    check()
    handles[1].truncate(3)
    expected[1] = expected[1].slice(0, 3)
    check()
    for (let i = 0; i < 500; i++) {
      expect(readAll(handles[i])).toBe(expected[i])
      check()
    }
    for (let i = 0; i < 500; i += 7) {
      await handles[i].sync()
      check()
      handles[i].syncNow()
      check()
    }
    for (const h of handles) {
      h.close()
      check()
    }
    expect(bfs.openCount).toBe(0)
    for (let i = 0; i < 500; i++) expect(fs.readFileSync(path.join(dir, `${i}.log`), 'utf8')).toBe(expected[i])
    expect(bfs.stats.evictions).toBeGreaterThan(0)
    expect(bfs.stats.opens).toBeGreaterThan(500)
  })

  it('reports ENOENT from open of a missing file in mode r, as the inner file system does', () => {
    const bfs = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 4 })
    expect(errnoOf(() => bfs.open(path.join(dir, 'missing'), 'r'))).toBe('ENOENT')
    expect(bfs.openCount).toBe(0)
  })

  it('keeps an evicted handle working at the new path after a rename through the file system', () => {
    const bfs = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 4 })
    const a = bfs.open(path.join(dir, 'a.cleaned'), 'rw')
    append(a, 'hello ')
    for (let i = 0; i < 8; i++) bfs.open(path.join(dir, `other${i}`), 'rw') // evicts a
    bfs.rename(path.join(dir, 'a.cleaned'), path.join(dir, 'a.log'))
    expect(a.path).toBe(path.join(dir, 'a.log'))
    append(a, 'world')
    expect(readAll(a)).toBe('hello world')
    expect(fs.existsSync(path.join(dir, 'a.cleaned'))).toBe(false)
    expect(fs.readFileSync(path.join(dir, 'a.log'), 'utf8')).toBe('hello world')
  })

  it('moves the handles of files inside a renamed directory', () => {
    const bfs = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 4 })
    bfs.mkdir(path.join(dir, 'p-0'))
    const h = bfs.open(path.join(dir, 'p-0', 'seg.log'), 'rw')
    append(h, 'abc')
    for (let i = 0; i < 8; i++) bfs.open(path.join(dir, `other${i}`), 'rw')
    bfs.rename(path.join(dir, 'p-0'), path.join(dir, 'p-0.deleted'))
    append(h, 'def')
    expect(fs.readFileSync(path.join(dir, 'p-0.deleted', 'seg.log'), 'utf8')).toBe('abcdef')
    expect(fs.existsSync(path.join(dir, 'p-0'))).toBe(false)
  })

  it('makes later use of a handle throw ENOENT after an unlink, without recreating the file', () => {
    const bfs = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 4 })
    const evicted = bfs.open(path.join(dir, 'evicted.log'), 'rw')
    append(evicted, 'x')
    for (let i = 0; i < 8; i++) bfs.open(path.join(dir, `other${i}`), 'rw')
    const cached = bfs.open(path.join(dir, 'cached.log'), 'rw')
    append(cached, 'y')
    const before = bfs.openCount
    bfs.unlink(path.join(dir, 'evicted.log'))
    bfs.unlink(path.join(dir, 'cached.log'))
    expect(bfs.openCount).toBe(before - 1) // the cached handle's fd was released
    for (const h of [evicted, cached]) {
      expect(errnoOf(() => append(h, 'z'))).toBe('ENOENT')
      expect(errnoOf(() => h.size())).toBe('ENOENT')
      expect(errnoOf(() => h.syncNow())).toBe('ENOENT')
    }
    expect(fs.existsSync(path.join(dir, 'evicted.log'))).toBe(false)
    expect(fs.existsSync(path.join(dir, 'cached.log'))).toBe(false)
    evicted.close() // closing a dead handle is fine
    expect(errnoOf(() => evicted.close())).toBe('EBADF')
  })

  it('makes the handles of a file replaced by a rename dead, and those of a removed directory too', () => {
    const bfs = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 4 })
    const old = bfs.open(path.join(dir, 'index'), 'rw')
    append(old, 'old')
    fs.writeFileSync(path.join(dir, 'index.tmp'), 'new')
    bfs.rename(path.join(dir, 'index.tmp'), path.join(dir, 'index'))
    expect(errnoOf(() => readAll(old))).toBe('ENOENT')
    expect(fs.readFileSync(path.join(dir, 'index'), 'utf8')).toBe('new')

    bfs.mkdir(path.join(dir, 'sub'))
    const inSub = bfs.open(path.join(dir, 'sub', 'f'), 'rw')
    bfs.rmdir(path.join(dir, 'sub'))
    expect(errnoOf(() => append(inSub, 'z'))).toBe('ENOENT')
    expect(fs.existsSync(path.join(dir, 'sub'))).toBe(false)
  })

  it('makes an evicted handle dead when another process replaced its file under the same name, instead of reading the new file', () => {
    const bfs = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 4, sameFileOnReopen: true })
    const seg = path.join(dir, 'seg.log')
    fs.writeFileSync(seg, 'old contents')
    const h = bfs.open(seg, 'r')
    const kept = bfs.open(path.join(dir, 'kept.log'), 'rw')
    append(kept, 'k')
    for (let i = 0; i < 8; i++) bfs.open(path.join(dir, `other${i}`), 'rw') // evicts both
    // The owner's compaction: a new file renamed over the old name, behind this file system's back.
    fs.writeFileSync(path.join(dir, 'seg.log.swap'), 'NEW CONTENTS')
    fs.renameSync(path.join(dir, 'seg.log.swap'), seg)
    expect(errnoOf(() => readAll(h))).toBe('ENOENT')
    expect(errnoOf(() => h.size())).toBe('ENOENT')
    // A file that was not replaced reopens as before.
    expect(readAll(kept)).toBe('k')
    const again = bfs.open(seg, 'r')
    expect(readAll(again)).toBe('NEW CONTENTS')
  })
  it('throws EBADF on every use of a handle after close, including a second close', async () => {
    const bfs = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 4 })
    const h = bfs.open(path.join(dir, 'f'), 'rw')
    append(h, 'abc')
    h.close()
    expect(bfs.openCount).toBe(0)
    expect(errnoOf(() => readAll(h))).toBe('EBADF')
    expect(errnoOf(() => append(h, 'x'))).toBe('EBADF')
    expect(errnoOf(() => h.truncate(0))).toBe('EBADF')
    expect(errnoOf(() => h.syncNow())).toBe('EBADF')
    await expect(h.sync()).rejects.toMatchObject({ code: 'EBADF' })
    expect(errnoOf(() => h.close())).toBe('EBADF')
    expect(fs.readFileSync(path.join(dir, 'f'), 'utf8')).toBe('abc')
  })

  it('does not evict a handle whose sync is in flight while other handles churn', async () => {
    const spy = new SpyFileSystem()
    const bfs = new BoundedFileSystem(spy, { maxOpenFiles: 4 })
    const pinnedPath = path.join(dir, 'pinned.log')
    const pinned = bfs.open(pinnedPath, 'rw')
    append(pinned, 'data')
    spy.gateSyncs = true
    let synced = false
    const syncing = pinned.sync().then(() => {
      synced = true
    })
    await tick()
    expect(spy.heldSyncs.length).toBe(1)
    const others = Array.from({ length: 50 }, (_, i) => bfs.open(path.join(dir, `churn${i}`), 'rw'))
    for (let round = 0; round < 3; round++) {
      for (const h of others) {
        append(h, 'x')
        expect(bfs.openCount).toBeLessThanOrEqual(4)
      }
    }
    expect(spy.closes).not.toContain(pinnedPath)
    expect(spy.openPaths.get(pinnedPath)).toBe(1)
    expect(synced).toBe(false)
    spy.releaseSyncs()
    await syncing
    expect(synced).toBe(true)
    // Unpinned now: ordinary LRU member again, evictable.
    for (const h of others.slice(0, 5)) append(h, 'y')
    expect(spy.closes).toContain(pinnedPath)
    expect(readAll(pinned)).toBe('data')
  })

  it('defers closing the descriptor of a handle closed during its sync until the sync settles', async () => {
    const spy = new SpyFileSystem()
    const bfs = new BoundedFileSystem(spy, { maxOpenFiles: 4 })
    const p = path.join(dir, 'f')
    const h = bfs.open(p, 'rw')
    spy.gateSyncs = true
    const syncing = h.sync()
    await tick()
    h.close()
    expect(spy.closes).not.toContain(p)
    expect(bfs.openCount).toBe(1)
    spy.releaseSyncs()
    await syncing
    expect(spy.closes).toContain(p)
    expect(bfs.openCount).toBe(0)
  })

  it('makes async syncs wait for a descriptor when every cached one is pinned, and lets synchronous calls exceed the limit briefly', async () => {
    const spy = new SpyFileSystem()
    const bfs = new BoundedFileSystem(spy, { maxOpenFiles: 4 })
    const handles = Array.from({ length: 12 }, (_, i) => bfs.open(path.join(dir, `f${i}`), 'rw'))
    for (const [i, h] of handles.entries()) append(h, `v${i}`)
    spy.gateSyncs = true
    const syncs = handles.map((h) => h.sync())
    await tick()
    expect(spy.heldSyncs.length).toBe(4) // the other 8 wait for a free descriptor
    expect(bfs.openCount).toBe(4)
    // A synchronous call cannot wait: it borrows a fifth descriptor...
    expect(readAll(handles[11])).toBe('v11')
    expect(bfs.openCount).toBe(5)
    let afterFirstSync = -1
    void syncs[0].then(() => (afterFirstSync = bfs.openCount))
    let maxSeen = 0
    await drain(spy, Promise.all(syncs), () => {
      maxSeen = Math.max(maxSeen, bfs.openCount)
    })
    // ...which is given back as soon as a pin drops; the waiting syncs never go over the limit themselves.
    expect(afterFirstSync).toBeLessThanOrEqual(4)
    expect(maxSeen).toBeLessThanOrEqual(5)
    expect(bfs.openCount).toBeLessThanOrEqual(4)
    for (const [i, h] of handles.entries()) expect(readAll(h)).toBe(`v${i}`)
  })

  it('does not strand waiting syncs when a woken one fails', async () => {
    const spy = new SpyFileSystem()
    const bfs = new BoundedFileSystem(spy, { maxOpenFiles: 4 })
    const handles = Array.from({ length: 10 }, (_, i) => bfs.open(path.join(dir, `f${i}`), 'rw'))
    spy.gateSyncs = true
    const syncs = handles.map((h) =>
      h.sync().then(
        () => 'ok',
        (err: NodeJS.ErrnoException) => err.code,
      ),
    )
    await tick()
    expect(spy.heldSyncs.length).toBe(4)
    // The next four waiters will find their handles dead.
    for (const i of [0, 1, 2, 3].map((j) => j + 4)) bfs.unlink(path.join(dir, `f${i}`))
    await drain(spy, Promise.all(syncs))
    expect(await Promise.all(syncs)).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'ENOENT',
      'ENOENT',
      'ENOENT',
      'ENOENT',
      'ok',
      'ok',
    ])
  })

  it('evicts half of the cached descriptors and retries once when the inner open fails with EMFILE', () => {
    const spy = new SpyFileSystem()
    const bfs = new BoundedFileSystem(spy, { maxOpenFiles: 8 })
    for (let i = 0; i < 8; i++) bfs.open(path.join(dir, `f${i}`), 'rw')
    expect(bfs.openCount).toBe(8)
    spy.failOpens = ['EMFILE']
    const h = bfs.open(path.join(dir, 'new'), 'rw')
    // One evicted to make room for the new handle (8 -> 7), then half of 7 (4) purged after EMFILE, then the open.
    expect(bfs.openCount).toBe(4)
    append(h, 'ok')
    expect(readAll(h)).toBe('ok')
    spy.failOpens = ['ENFILE', 'ENFILE']
    expect(errnoOf(() => bfs.open(path.join(dir, 'new2'), 'rw'))).toBe('ENFILE')
    spy.failOpens = ['EACCES']
    expect(errnoOf(() => bfs.open(path.join(dir, 'new3'), 'rw'))).toBe('EACCES')
  })

  it('delegates the other FileSystem methods to the inner file system', async () => {
    const bfs = new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: 4 })
    bfs.mkdir(path.join(dir, 'a', 'b'))
    fs.writeFileSync(path.join(dir, 'a', 'b', 'f'), 'abc')
    expect(bfs.exists(path.join(dir, 'a', 'b', 'f'))).toBe(true)
    expect(bfs.readdir(path.join(dir, 'a', 'b'))).toEqual(['f'])
    expect(bfs.fileSize(path.join(dir, 'a', 'b', 'f'))).toBe(3)
    expect(bfs.readFile(path.join(dir, 'a', 'b', 'f'))?.toString()).toBe('abc')
    expect(bfs.readFile(path.join(dir, 'nope'))).toBeNull()
    await bfs.syncDir(path.join(dir, 'a'))
    bfs.syncDirNow(path.join(dir, 'a'))
  })

  describe('in a child process under ulimit -n 64', () => {
    const runChild = (...args: string[]) =>
      spawnSync('bash', ['-c', 'ulimit -n 64 && exec node --import tsx "$@"', 'bash', childScript, dir, ...args], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 50_000,
      })

    it('handles 300 files through 32 descriptors and prints ok', () => {
      const r = runChild()
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      expect(r.stdout.trim()).toBe('ok')
    })

    it('fails with EMFILE without the bounded wrapper, so the limit is real', () => {
      const r = runChild('--unbounded')
      expect(r.status).toBe(1)
      expect(r.stdout).not.toContain('ok')
      expect(r.stderr).toMatch(/^error EMFILE/)
    })
  })
})
