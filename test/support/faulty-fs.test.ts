import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type FileHandle, nodeFileSystem, writeFileAtomic } from '../../src/io/file-system.js'
import { FaultyFileSystem } from './faulty-fs.js'

let dir: string
const extraDirs: string[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
  for (const d of extraDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8')

function append(h: FileHandle, s: string): void {
  const b = bytes(s)
  h.write(b, 0, b.length, h.size())
}

function text(p: string): string {
  return fs.readFileSync(p, 'utf8')
}

describe('FaultyFileSystem power cut', () => {
  it('keeps fsynced data under a synced name and drops unsynced appended bytes', async () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, 'a.log')
    const h = ffs.open(p, 'rw')
    append(h, 'hello')
    await h.sync()
    ffs.syncDirNow(dir)
    append(h, ' world')
    expect(text(p)).toBe('hello world')

    ffs.powerCut({ keepUnsynced: 'none' })

    expect(text(p)).toBe('hello')
    expect(fs.readdirSync(dir)).toEqual(['a.log'])
  })

  it('restores the durable content of a file overwritten or truncated after its last fsync', () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, 'b.log')
    const h = ffs.open(p, 'rw')
    append(h, 'abcdef')
    h.syncNow()
    ffs.syncDirNow(dir)
    h.write(bytes('XY'), 0, 2, 1)
    h.truncate(4)
    expect(text(p)).toBe('aXYd')

    ffs.powerCut({ keepUnsynced: 'random-prefix', seed: 7 })

    expect(text(p)).toBe('abcdef')
  })

  it('treats files that existed before construction as durable and reverts their unsynced changes', () => {
    fs.mkdirSync(path.join(dir, 'sub'))
    fs.writeFileSync(path.join(dir, 'sub', 'old.log'), 'original')
    const ffs = new FaultyFileSystem(dir)
    const h = ffs.open(path.join(dir, 'sub', 'old.log'), 'rw')
    append(h, '+more')
    h.close()

    ffs.powerCut()

    expect(text(path.join(dir, 'sub', 'old.log'))).toBe('original')
    const again = new FaultyFileSystem(dir)
    again.powerCut()
    expect(text(path.join(dir, 'sub', 'old.log'))).toBe('original')
  })

  it('makes a file whose directory was never synced disappear even when its data was fsynced', async () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, 'new.log')
    const h = ffs.open(p, 'rw')
    append(h, 'data')
    await h.sync()
    h.close()

    ffs.powerCut()

    expect(fs.existsSync(p)).toBe(false)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('gives a created but never fsynced file empty content when only its directory was synced', () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, 'empty.log')
    const h = ffs.open(p, 'rw')
    append(h, 'not synced')
    ffs.syncDirNow(dir)

    ffs.powerCut()

    expect(fs.readFileSync(p).length).toBe(0)
  })

  it('removes a new directory with everything in it unless its parent directory was synced', async () => {
    const ffs = new FaultyFileSystem(dir)
    const kept = path.join(dir, 'kept')
    const lost = path.join(dir, 'lost', 'deeper')
    ffs.mkdir(kept)
    ffs.mkdir(lost)
    for (const d of [kept, lost]) {
      const h = ffs.open(path.join(d, 'f.log'), 'rw')
      append(h, 'payload')
      h.syncNow()
      h.close()
      await ffs.syncDir(d)
    }
    await ffs.syncDir(dir) // makes 'kept' and 'lost' durable, but not 'lost/deeper'

    ffs.powerCut()

    expect(text(path.join(kept, 'f.log'))).toBe('payload')
    expect(fs.existsSync(path.join(dir, 'lost'))).toBe(true)
    expect(fs.existsSync(lost)).toBe(false)
  })

  it('undoes a rename that was not followed by a directory sync', () => {
    const ffs = new FaultyFileSystem(dir)
    const target = path.join(dir, 'meta')
    const tmp = path.join(dir, 'meta.tmp')
    writeFileAtomic(ffs, dir, 'meta', bytes('v1'))
    const h = ffs.open(tmp, 'rw')
    append(h, 'v2')
    h.syncNow()
    h.close()
    ffs.syncDirNow(dir)
    ffs.rename(tmp, target)
    expect(text(target)).toBe('v2')

    ffs.powerCut()

    expect(text(target)).toBe('v1')
    expect(text(tmp)).toBe('v2')
  })

  it('keeps a rename once the directory was synced', () => {
    const ffs = new FaultyFileSystem(dir)
    writeFileAtomic(ffs, dir, 'meta', bytes('v1'))
    writeFileAtomic(ffs, dir, 'meta', bytes('v2'))

    ffs.powerCut()

    expect(fs.readdirSync(dir)).toEqual(['meta'])
    expect(text(path.join(dir, 'meta'))).toBe('v2')
  })

  it('models a rename across directories as a change to both namespaces', () => {
    fs.mkdirSync(path.join(dir, 'a'))
    fs.mkdirSync(path.join(dir, 'b'))
    fs.writeFileSync(path.join(dir, 'a', 'f'), 'content')
    const ffs = new FaultyFileSystem(dir)
    ffs.rename(path.join(dir, 'a', 'f'), path.join(dir, 'b', 'f'))
    ffs.syncDirNow(path.join(dir, 'b'))

    ffs.powerCut()

    // only the destination directory was synced: the name shows up in both
    expect(text(path.join(dir, 'a', 'f'))).toBe('content')
    expect(text(path.join(dir, 'b', 'f'))).toBe('content')
  })

  it('undoes an unlink that was not followed by a directory sync', () => {
    fs.writeFileSync(path.join(dir, 'x'), 'keep me')
    fs.writeFileSync(path.join(dir, 'y'), 'drop me')
    const ffs = new FaultyFileSystem(dir)
    ffs.unlink(path.join(dir, 'y'))
    ffs.syncDirNow(dir)
    ffs.unlink(path.join(dir, 'x'))
    expect(fs.readdirSync(dir)).toEqual([])

    ffs.powerCut()

    expect(fs.readdirSync(dir)).toEqual(['x'])
    expect(text(path.join(dir, 'x'))).toBe('keep me')
  })

  it('keeps the durable bytes and a seeded prefix of the unsynced tail with random-prefix', () => {
    const tail = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
    const run = (seed: number): string => {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
      extraDirs.push(d)
      const ffs = new FaultyFileSystem(d)
      const h = ffs.open(path.join(d, 'seg.log'), 'rw')
      append(h, 'durable|')
      h.syncNow()
      ffs.syncDirNow(d)
      append(h, tail)
      ffs.powerCut({ keepUnsynced: 'random-prefix', seed })
      return text(path.join(d, 'seg.log'))
    }

    const first = run(42)
    expect(run(42)).toBe(first)
    expect(`durable|${tail}`.startsWith(first)).toBe(true)
    expect(first.startsWith('durable|')).toBe(true)

    const lengths = new Set<number>()
    for (let seed = 1; seed <= 20; seed++) {
      const got = run(seed)
      expect(`durable|${tail}`.startsWith(got)).toBe(true)
      expect(got.length).toBeGreaterThanOrEqual('durable|'.length)
      lengths.add(got.length)
    }
    expect(lengths.size).toBeGreaterThan(1)
  })
})

describe('FaultyFileSystem injected failures', () => {
  it('fails a write with ENOSPC like Node does and writes nothing', () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, 'a.log')
    const h = ffs.open(p, 'rw')
    append(h, 'abc')
    ffs.failNext({ op: 'write', errno: 'ENOSPC' })

    let caught: unknown
    try {
      append(h, 'defgh')
    } catch (err) {
      caught = err
    }

    expect(caught).toBeInstanceOf(Error)
    expect(caught).toMatchObject({ code: 'ENOSPC', errno: -28, syscall: 'write' })
    expect((caught as Error).message).toMatch(/^ENOSPC: no space left on device, write/)
    expect(text(p)).toBe('abc')
    append(h, 'def')
    expect(text(p)).toBe('abcdef')
    h.close()
  })

  it('lets skip matching calls succeed first and then fails count of them', () => {
    const ffs = new FaultyFileSystem(dir)
    const h = ffs.open(path.join(dir, 'a.log'), 'rw')
    const other = ffs.open(path.join(dir, 'b.log'), 'rw')
    ffs.failNext({ op: 'write', path: 'a.log', skip: 2, count: 2 })

    const outcomes: string[] = []
    for (let i = 0; i < 5; i++) {
      append(other, 'x') // does not match the rule
      try {
        append(h, String(i))
        outcomes.push('ok')
      } catch (err) {
        outcomes.push((err as NodeJS.ErrnoException).code!)
      }
    }

    expect(outcomes).toEqual(['ok', 'ok', 'EIO', 'EIO', 'ok'])
    expect(text(path.join(dir, 'a.log'))).toBe('014')
    expect(text(path.join(dir, 'b.log'))).toBe('xxxxx')
  })

  it('matches rule paths by substring or RegExp and fails the other operations before they act', async () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, '00000.log')
    ffs.failNext({ op: 'open', path: /\.log$/, errno: 'EMFILE' })
    expect(() => ffs.open(p, 'rw')).toThrow(expect.objectContaining({ code: 'EMFILE', syscall: 'open', path: p }))
    expect(fs.existsSync(p)).toBe(false)

    const h = ffs.open(p, 'rw')
    append(h, 'abcdef')
    ffs.failNext({ op: 'truncate' })
    expect(() => h.truncate(2)).toThrow(expect.objectContaining({ code: 'EIO' }))
    expect(h.size()).toBe(6)

    ffs.failNext({ op: 'sync', errno: 'EIO' })
    await expect(h.sync()).rejects.toMatchObject({ code: 'EIO' })
    ffs.failNext({ op: 'sync' })
    expect(() => h.syncNow()).toThrow(expect.objectContaining({ code: 'EIO' }))
    ffs.failNext({ op: 'read' })
    expect(() => h.read(Buffer.alloc(6), 0, 6, 0)).toThrow(expect.objectContaining({ code: 'EIO' }))
    h.close()

    ffs.failNext({ op: 'rename', path: 'renamed' })
    expect(() => ffs.rename(p, path.join(dir, 'renamed'))).toThrow(expect.objectContaining({ code: 'EIO' }))
    expect(fs.existsSync(p)).toBe(true)

    ffs.failNext({ op: 'unlink', errno: 'EACCES' })
    expect(() => ffs.unlink(p)).toThrow(expect.objectContaining({ code: 'EACCES', errno: -13 }))
    expect(fs.existsSync(p)).toBe(true)

    ffs.failNext({ op: 'mkdir', errno: 'EROFS' })
    expect(() => ffs.mkdir(path.join(dir, 'd'))).toThrow(expect.objectContaining({ code: 'EROFS' }))
    expect(fs.existsSync(path.join(dir, 'd'))).toBe(false)

    ffs.failNext({ op: 'syncDir' })
    await expect(ffs.syncDir(dir)).rejects.toMatchObject({ code: 'EIO' })
    ffs.failNext({ op: 'syncDir' })
    expect(() => ffs.syncDirNow(dir)).toThrow(expect.objectContaining({ code: 'EIO' }))

    // a failed directory sync made nothing durable
    ffs.powerCut()
    expect(fs.existsSync(p)).toBe(false)
  })

  it('tears a write at exactly atByte bytes and throws EIO', () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, 'a.log')
    const h = ffs.open(p, 'rw')
    append(h, 'head-')
    ffs.tearNextWrite({ path: 'a.log', atByte: 3 })

    expect(() => append(h, '0123456789')).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'write' }))

    expect(text(p)).toBe('head-012')
    append(h, '|next') // not crashed: the file system keeps working
    expect(text(p)).toBe('head-012|next')
    h.close()
  })

  it('makes the file system crashed after a torn write with crashAfterTear, keeping the torn bytes on disk', () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, 'a.log')
    const h = ffs.open(p, 'rw')
    ffs.tearNextWrite({ atByte: 4, crashAfterTear: true })

    expect(() => append(h, 'abcdefgh')).toThrow(expect.objectContaining({ code: 'EIO' }))

    expect(ffs.dead).toBe(true)
    expect(() => h.size()).toThrow(expect.objectContaining({ code: 'ECRASHED' }))
    expect(() => ffs.open(p, 'r')).toThrow(expect.objectContaining({ code: 'ECRASHED' }))
    expect(ffs.openHandleCount).toBe(0)
    expect(text(p)).toBe('abcd')
    expect(nodeFileSystem.fileSize(p)).toBe(4)
  })
})

describe('FaultyFileSystem after a crash', () => {
  it('throws ECRASHED from every call after powerCut, including on handles opened before', async () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, 'a.log')
    const h = ffs.open(p, 'rw')
    append(h, 'abc')
    h.syncNow()
    ffs.syncDirNow(dir)
    ffs.powerCut()

    const crashed = expect.objectContaining({ code: 'ECRASHED' })
    const buf = Buffer.alloc(3)
    expect(() => h.read(buf, 0, 3, 0)).toThrow(crashed)
    expect(() => h.write(buf, 0, 3, 0)).toThrow(crashed)
    expect(() => h.size()).toThrow(crashed)
    expect(() => h.truncate(0)).toThrow(crashed)
    expect(() => h.syncNow()).toThrow(crashed)
    await expect(h.sync()).rejects.toMatchObject({ code: 'ECRASHED' })
    expect(() => h.close()).toThrow(crashed)

    expect(() => ffs.open(p, 'r')).toThrow(crashed)
    expect(() => ffs.exists(p)).toThrow(crashed)
    expect(() => ffs.readdir(dir)).toThrow(crashed)
    expect(() => ffs.mkdir(path.join(dir, 'd'))).toThrow(crashed)
    expect(() => ffs.rename(p, `${p}.2`)).toThrow(crashed)
    expect(() => ffs.unlink(p)).toThrow(crashed)
    expect(() => ffs.rmdir(path.join(dir, 'd'))).toThrow(crashed)
    expect(() => ffs.fileSize(p)).toThrow(crashed)
    expect(() => ffs.readFile(p)).toThrow(crashed)
    expect(() => ffs.syncDirNow(dir)).toThrow(crashed)
    await expect(ffs.syncDir(dir)).rejects.toMatchObject({ code: 'ECRASHED' })
    expect(() => ffs.powerCut()).toThrow(crashed)
    expect(() => ffs.crash()).toThrow(crashed)

    // the directory itself is fine for the next instance
    expect(text(p)).toBe('abc')
    const next = new FaultyFileSystem(dir)
    expect(next.readFile(p)?.toString()).toBe('abc')
  })

  it('rejects an fsync still in flight at the power cut with ECRASHED and does not make its data durable', async () => {
    const ffs = new FaultyFileSystem(dir)
    const p = path.join(dir, 'a.log')
    const h = ffs.open(p, 'rw')
    append(h, 'abc')
    h.syncNow()
    ffs.syncDirNow(dir)
    append(h, 'def')
    const pending = h.sync()

    ffs.powerCut()

    await expect(pending).rejects.toMatchObject({ code: 'ECRASHED' })
    expect(text(p)).toBe('abc')
  })

  it('keeps everything written when only the process crashes', () => {
    const ffs = new FaultyFileSystem(dir)
    const h = ffs.open(path.join(dir, 'a.log'), 'rw')
    append(h, 'never synced')
    ffs.crash()

    expect(() => ffs.exists(dir)).toThrow(expect.objectContaining({ code: 'ECRASHED' }))
    expect(text(path.join(dir, 'a.log'))).toBe('never synced')
  })
})

describe('FaultyFileSystem operation log', () => {
  it('records path, position and length of every read', () => {
    const ffs = new FaultyFileSystem(dir)
    const a = path.join(dir, 'a.log')
    const b = path.join(dir, 'b.index')
    const ha = ffs.open(a, 'rw')
    append(ha, '0123456789')
    const hb = ffs.open(b, 'rw')
    append(hb, 'xyz')
    expect(ffs.reads).toEqual([])

    const buf = Buffer.alloc(16)
    ha.read(buf, 0, 4, 2)
    hb.read(buf, 0, 16, 0)
    ha.read(buf, 0, 8, 6)

    expect(ffs.reads).toEqual([
      { path: a, position: 2, length: 4, bytesRead: 4 },
      { path: b, position: 0, length: 16, bytesRead: 3 },
      { path: a, position: 6, length: 8, bytesRead: 4 },
    ])
    expect(ffs.readBytes()).toBe(11)
    expect(ffs.readBytes((p) => p.endsWith('.log'))).toBe(8)
    expect(ffs.writes).toHaveLength(2)

    ffs.resetStats()
    expect(ffs.reads).toEqual([])
    expect(ffs.readBytes()).toBe(0)
    expect(ffs.writes).toEqual([])
    ha.close()
    hb.close()
  })
})
