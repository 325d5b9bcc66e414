import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OffsetIndex } from '../../src/index/offset-index.js'
import { type FileSystem, nodeFileSystem } from '../../src/io/file-system.js'
import { codeOf } from '../support/errors.js'
import { mulberry32 } from '../support/random.js'

interface Entry {
  offset: number
  position: number
}

/** Linear-scan model of Kafka's lookup: largest offset <= target, else (base, 0). */
function modelLookup(entries: Entry[], base: number, target: number): Entry {
  let found: Entry = { offset: base, position: 0 }
  for (const e of entries) if (e.offset <= target) found = e
  return found
}

let dir: string
let file: string

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
  file = path.join(dir, '00000000000000000050.index')
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('OffsetIndex', () => {
  describe('matches a sorted-array model', () => {
    for (const seed of [1, 2, 3, 42, 1337]) {
      it(`agrees with a linear scan on random entries, lookups, truncation and reopen (seed ${seed})`, () => {
        console.log(`offset index property test seed=${seed}`)
        const rand = mulberry32(seed)
        const int = (n: number) => Math.floor(rand() * n)
        const base = int(1_000_000)
        const count = 50 + int(400)
        const model: Entry[] = []
        const index = new OffsetIndex(nodeFileSystem, file, base, 8 * (count + 1))
        let offset = base + int(3)
        let position = int(100)
        for (let i = 0; i < count; i++) {
          index.append(offset, position)
          model.push({ offset, position })
          offset += 1 + int(50)
          position += int(5000)
        }

        const check = (idx: OffsetIndex, entries: Entry[]) => {
          expect(idx.entries).toBe(entries.length)
          expect(idx.lastOffset()).toBe(entries.length === 0 ? base : entries[entries.length - 1].offset)
          for (const [i, e] of entries.entries()) expect(idx.entryAt(i)).toEqual(e)
          const last = entries.length === 0 ? base : entries[entries.length - 1].offset
          const targets = [base - 1, base, last, last + 1, last + 1_000_000, entries[0]?.offset ?? base]
          for (const e of entries) targets.push(e.offset - 1, e.offset, e.offset + 1)
          for (let i = 0; i < 200; i++) targets.push(base - 10 + int(last - base + 20))
          for (const t of targets) expect(idx.lookup(t), `lookup(${t})`).toEqual(modelLookup(entries, base, t))
          expect(fs.existsSync(file) ? fs.statSync(file).size : 0).toBe(entries.length * 8)
        }

        check(index, model)
        index.close()
        check(new OffsetIndex(nodeFileSystem, file, base, 8 * (count + 1), { check: true }), model)

        // Truncate twice: exactly at an entry's offset, then at an arbitrary offset; reopen after each.
        let kept = model
        for (const cut of [model[int(model.length)].offset, base + int(offset - base + 10)]) {
          index.truncateTo(cut)
          kept = kept.filter((e) => e.offset < cut)
          check(index, kept)
          index.close()
          check(new OffsetIndex(nodeFileSystem, file, base, 8 * (count + 1), { check: true }), kept)
        }
      })
    }
  })

  it('returns (baseOffset, 0) for any lookup on an empty index', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    expect(index.entries).toBe(0)
    expect(index.lastOffset()).toBe(50)
    expect(index.lookup(0)).toEqual({ offset: 50, position: 0 })
    expect(index.lookup(50)).toEqual({ offset: 50, position: 0 })
    expect(index.lookup(1e12)).toEqual({ offset: 50, position: 0 })
  })

  it('does not create the file until the first append', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    index.lookup(60)
    index.close()
    expect(fs.existsSync(file)).toBe(false)
    index.append(50, 0)
    expect(fs.statSync(file).size).toBe(8)
  })

  it('writes each entry as relativeOffset int32 BE then position int32 BE', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    index.append(55, 1234)
    index.close()
    expect(fs.readFileSync(file).toString('hex')).toBe('00000005000004d2')
  })

  it('rejects an offset that does not increase with CORRUPT_LOG naming the path', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    index.append(60, 100)
    expect(() => index.append(60, 200)).toThrow(expect.objectContaining({ code: 'CORRUPT_LOG' }))
    expect(() => index.append(59, 200)).toThrow(expect.objectContaining({ code: 'CORRUPT_LOG' }))
    try {
      index.append(59, 200)
    } catch (err) {
      expect((err as Error).message).toContain(file)
      expect((err as Error).message).toContain('60')
      expect((err as Error).message).toContain('59')
    }
    expect(index.entries).toBe(1)
    expect(fs.statSync(file).size).toBe(8)
  })

  it('rejects a first offset below the base offset and a relative offset that overflows int32', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    expect(codeOf(() => index.append(49, 0))).toBe('CORRUPT_LOG')
    expect(codeOf(() => index.append(50 + 2 ** 31, 0))).toBe('CORRUPT_LOG')
    index.append(50 + 2 ** 31 - 1, 0)
    expect(index.lastOffset()).toBe(50 + 2 ** 31 - 1)
  })

  it('rejects a position that goes backwards', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    index.append(51, 500)
    expect(codeOf(() => index.append(52, 499))).toBe('CORRUPT_LOG')
    index.append(52, 500)
  })

  it('holds floor(maxIndexBytes / 8) entries and rejects an append past capacity', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 23)
    expect(index.maxEntries).toBe(2)
    index.append(51, 10)
    expect(index.isFull()).toBe(false)
    index.append(52, 20)
    expect(index.isFull()).toBe(true)
    expect(() => index.append(53, 30)).toThrow(expect.objectContaining({ code: 'CORRUPT_LOG' }))
    expect(index.entries).toBe(2)
  })

  it('keeps its entries across close and reopen', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    index.append(52, 0)
    index.append(60, 4100)
    index.syncNow()
    index.close()
    const reopened = new OffsetIndex(nodeFileSystem, file, 50, 1024, { check: true })
    expect(reopened.entries).toBe(2)
    expect(reopened.lookup(59)).toEqual({ offset: 52, position: 0 })
    expect(reopened.lookup(61)).toEqual({ offset: 60, position: 4100 })
    reopened.append(70, 8200)
    reopened.close()
    expect(fs.statSync(file).size).toBe(24)
  })

  it('fails sanityCheck with CORRUPT_LOG naming the path when the length is not a multiple of 8', () => {
    const buf = Buffer.alloc(13)
    buf.writeInt32BE(1, 0)
    buf.writeInt32BE(100, 4)
    fs.writeFileSync(file, buf)
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    expect(index.entries).toBe(1)
    expect(() => index.sanityCheck()).toThrow(expect.objectContaining({ code: 'CORRUPT_LOG' }))
    try {
      index.sanityCheck()
      expect.unreachable()
    } catch (err) {
      expect((err as Error).message).toContain(file)
    }
    expect(() => new OffsetIndex(nodeFileSystem, file, 50, 1024, { check: true })).toThrow(
      expect.objectContaining({ code: 'CORRUPT_LOG', path: file }),
    )
  })

  it('trims a partial trailing entry before the next append', () => {
    fs.writeFileSync(file, Buffer.from('0000000100000064ffff', 'hex'))
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    index.append(52, 200)
    index.close()
    expect(fs.readFileSync(file).toString('hex')).toBe('000000010000006400000002000000c8')
    expect(() => new OffsetIndex(nodeFileSystem, file, 50, 1024, { check: true })).not.toThrow()
  })

  it('fails sanityCheck on offsets that do not increase, offsets below base and positions that decrease', () => {
    const write = (pairs: [number, number][]) => {
      const buf = Buffer.alloc(pairs.length * 8)
      pairs.forEach(([rel, pos], i) => {
        buf.writeInt32BE(rel, i * 8)
        buf.writeInt32BE(pos, i * 8 + 4)
      })
      fs.writeFileSync(file, buf)
    }
    const cases: [number, number][][] = [
      [
        [5, 0],
        [5, 10],
      ],
      [
        [5, 0],
        [3, 10],
      ],
      [[-1, 0]],
      [
        [1, 100],
        [2, 50],
      ],
    ]
    for (const pairs of cases) {
      write(pairs)
      expect(() => new OffsetIndex(nodeFileSystem, file, 50, 1024, { check: true }), JSON.stringify(pairs)).toThrow(
        expect.objectContaining({ code: 'CORRUPT_LOG' }),
      )
    }
    write([
      [0, 0],
      [1, 0],
      [9, 70],
    ])
    expect(() => new OffsetIndex(nodeFileSystem, file, 50, 1024, { check: true })).not.toThrow()
  })

  it('truncates entries at or above an offset, in memory and in the file', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    for (const o of [50, 55, 60, 65]) index.append(o, (o - 50) * 10)
    index.truncateTo(61)
    expect(index.entries).toBe(3)
    index.truncateTo(60)
    expect(index.entries).toBe(2)
    expect(index.lastOffset()).toBe(55)
    expect(fs.statSync(file).size).toBe(16)
    index.append(56, 60)
    index.truncateToEntries(1)
    expect(index.lookup(100)).toEqual({ offset: 50, position: 0 })
    index.truncateTo(0)
    expect(index.entries).toBe(0)
    expect(fs.statSync(file).size).toBe(0)
  })

  it('resets to zero entries and an empty file', () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    index.append(51, 1)
    index.append(52, 2)
    index.close()
    const reopened = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    reopened.reset()
    expect(reopened.entries).toBe(0)
    expect(fs.statSync(file).size).toBe(0)
    reopened.append(53, 3)
    expect(reopened.entryAt(0)).toEqual({ offset: 53, position: 3 })
  })

  it('renames its file and keeps appending under the new path', async () => {
    const index = new OffsetIndex(nodeFileSystem, file, 50, 1024)
    index.append(51, 1)
    const moved = path.join(dir, 'moved.index')
    index.renameTo(moved)
    expect(index.path).toBe(moved)
    expect(fs.existsSync(file)).toBe(false)
    index.append(52, 2)
    await index.sync()
    expect(fs.statSync(moved).size).toBe(16)
    index.deleteFile()
    expect(fs.existsSync(moved)).toBe(false)
    expect(index.entries).toBe(0)
    index.deleteFile()
  })

  it('fsyncs only when something was written since the last sync', async () => {
    let syncs = 0
    const counting: FileSystem = {
      ...nodeFileSystem,
      open(p, mode) {
        const handle = nodeFileSystem.open(p, mode)
        return {
          path: handle.path,
          read: (...args) => handle.read(...args),
          write: (...args) => handle.write(...args),
          size: () => handle.size(),
          truncate: (n) => handle.truncate(n),
          sync: () => {
            syncs++
            return handle.sync()
          },
          syncNow: () => {
            syncs++
            handle.syncNow()
          },
          close: () => handle.close(),
        }
      },
    }
    const index = new OffsetIndex(counting, file, 50, 1024)
    await index.sync()
    index.syncNow()
    expect(syncs).toBe(0)
    index.append(51, 1)
    await index.sync()
    await index.sync()
    index.syncNow()
    expect(syncs).toBe(1)
    index.append(52, 2)
    index.close()
    index.syncNow()
    expect(syncs).toBe(2)
    index.close()
  })

  it('wraps a failing write as IO_ERROR with the errno and leaves the entries unchanged', () => {
    const failing: FileSystem = {
      ...nodeFileSystem,
      open(p, mode) {
        const handle = nodeFileSystem.open(p, mode)
        return Object.assign(Object.create(Object.getPrototypeOf(handle)), handle, {
          write: () => {
            throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
          },
        })
      },
    }
    const index = new OffsetIndex(failing, file, 50, 1024)
    expect(() => index.append(51, 1)).toThrow(
      expect.objectContaining({ code: 'IO_ERROR', errno: 'ENOSPC', path: file }),
    )
    expect(index.entries).toBe(0)
    expect(index.lookup(51)).toEqual({ offset: 50, position: 0 })
    index.close()
  })
})

describe('OffsetIndex.ceiling', () => {
  it('returns the entry with the smallest offset at or above the target, or null', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
    try {
      const idx = new OffsetIndex(nodeFileSystem, path.join(d, 'x.index'), 100, 1024)
      expect(idx.ceiling(100)).toBeNull()
      idx.append(110, 1000)
      idx.append(120, 2000)
      idx.append(135, 3000)
      expect(idx.ceiling(50)).toEqual({ offset: 110, position: 1000 })
      expect(idx.ceiling(110)).toEqual({ offset: 110, position: 1000 })
      expect(idx.ceiling(111)).toEqual({ offset: 120, position: 2000 })
      expect(idx.ceiling(135)).toEqual({ offset: 135, position: 3000 })
      expect(idx.ceiling(136)).toBeNull()
      idx.close()
    } finally {
      fs.rmSync(d, { recursive: true, force: true })
    }
  })
})
