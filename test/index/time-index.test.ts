import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TimeIndex } from '../../src/index/time-index.js'
import { nodeFileSystem } from '../../src/io/file-system.js'
import { codeOf } from '../support/errors.js'
import { mulberry32 } from '../support/random.js'

interface Entry {
  timestamp: number
  offset: number
}

/** Linear-scan model of Kafka's lookup: largest timestamp <= target, else (-1, base). */
function modelLookup(entries: Entry[], base: number, target: number): Entry {
  let found: Entry = { timestamp: -1, offset: base }
  for (const e of entries) if (e.timestamp <= target) found = e
  return found
}

function entryBytes(entries: [number, number][]): Buffer {
  const buf = Buffer.alloc(entries.length * 12)
  entries.forEach(([ts, rel], i) => {
    buf.writeBigInt64BE(BigInt(ts), i * 12)
    buf.writeInt32BE(rel, i * 12 + 8)
  })
  return buf
}

let dir: string
let file: string

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
  file = path.join(dir, '00000000000000000050.timeindex')
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('TimeIndex', () => {
  describe('matches a sorted-array model', () => {
    for (const seed of [1, 2, 3, 42, 1337]) {
      it(`agrees with a linear scan on random entries, lookups, truncation and reopen (seed ${seed})`, () => {
        console.log(`time index property test seed=${seed}`)
        const rand = mulberry32(seed)
        const int = (n: number) => Math.floor(rand() * n)
        const base = int(1_000_000)
        const count = 50 + int(400)
        const maxBytes = 12 * (count + 2)
        const model: Entry[] = []
        const index = new TimeIndex(nodeFileSystem, file, base, maxBytes)
        // Running max timestamps: some repeat (skipped) and some offsets repeat (allowed).
        let timestamp = 1_600_000_000_000 + int(1_000_000_000)
        let offset = base + int(3)
        for (let i = 0; i < count; i++) {
          index.maybeAppend(timestamp, offset)
          const last = model[model.length - 1]
          if (last === undefined || timestamp > last.timestamp) model.push({ timestamp, offset })
          timestamp += int(3) === 0 ? 0 : 1 + int(100_000)
          offset += int(4) === 0 ? 0 : 1 + int(50)
        }

        const check = (idx: TimeIndex, entries: Entry[]) => {
          expect(idx.entries).toBe(entries.length)
          expect(idx.lastEntry()).toEqual(entries[entries.length - 1] ?? { timestamp: -1, offset: base })
          for (const [i, e] of entries.entries()) expect(idx.entryAt(i)).toEqual(e)
          const first = entries[0]?.timestamp ?? 0
          const last = entries[entries.length - 1]?.timestamp ?? 0
          const targets = [-1, 0, first - 1, first, last, last + 1, Number.MAX_SAFE_INTEGER]
          for (const e of entries) targets.push(e.timestamp - 1, e.timestamp, e.timestamp + 1)
          for (let i = 0; i < 200; i++) targets.push(first - 10 + int(last - first + 20))
          for (const t of targets) expect(idx.lookup(t), `lookup(${t})`).toEqual(modelLookup(entries, base, t))
          expect(fs.existsSync(file) ? fs.statSync(file).size : 0).toBe(entries.length * 12)
        }

        check(index, model)
        index.close()
        check(new TimeIndex(nodeFileSystem, file, base, maxBytes, { check: true }), model)

        // Truncate twice: exactly at an entry's offset, then at an arbitrary offset; reopen after each.
        let kept = model
        for (const cut of [model[int(model.length)].offset, base + int(offset - base + 10)]) {
          index.truncateTo(cut)
          kept = kept.filter((e) => e.offset < cut)
          check(index, kept)
          index.close()
          check(new TimeIndex(nodeFileSystem, file, base, maxBytes, { check: true }), kept)
        }
      })
    }
  })

  it('returns (-1, baseOffset) for any lookup on an empty index', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    expect(index.entries).toBe(0)
    expect(index.lastEntry()).toEqual({ timestamp: -1, offset: 50 })
    expect(index.lookup(0)).toEqual({ timestamp: -1, offset: 50 })
    expect(index.lookup(1_700_000_000_000)).toEqual({ timestamp: -1, offset: 50 })
    expect(fs.existsSync(file)).toBe(false)
  })

  it('returns (-1, baseOffset) for a timestamp below the first entry', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    index.maybeAppend(1000, 55)
    expect(index.lookup(999)).toEqual({ timestamp: -1, offset: 50 })
    expect(index.lookup(1000)).toEqual({ timestamp: 1000, offset: 55 })
  })

  it('writes each entry as timestamp int64 BE then relativeOffset int32 BE', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    index.maybeAppend(1_700_000_000_000, 55)
    index.close()
    expect(fs.readFileSync(file).toString('hex')).toBe('0000018bcfe5680000000005')
  })

  it('round-trips timestamps through both 32-bit halves, including negative and 2^53-1', () => {
    fs.writeFileSync(
      file,
      entryBytes([
        [-2, 0],
        [0xffffffff, 1],
        [2 ** 32, 2],
        [Number.MAX_SAFE_INTEGER - 1, 3],
      ]),
    )
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024, { check: true })
    expect([0, 1, 2, 3].map((i) => index.entryAt(i).timestamp)).toEqual([
      -2,
      0xffffffff,
      2 ** 32,
      Number.MAX_SAFE_INTEGER - 1,
    ])
    index.maybeAppend(Number.MAX_SAFE_INTEGER, 60)
    index.close()
    const bytes = fs.readFileSync(file)
    expect(bytes.readBigInt64BE(48)).toBe(BigInt(Number.MAX_SAFE_INTEGER))
    expect(bytes.readBigInt64BE(0)).toBe(-2n)
  })

  it('silently skips a timestamp equal to the last entry', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    index.maybeAppend(1000, 51)
    index.maybeAppend(1000, 52)
    expect(index.entries).toBe(1)
    expect(index.lastEntry()).toEqual({ timestamp: 1000, offset: 51 })
    index.maybeAppend(1001, 52)
    expect(index.entries).toBe(2)
    expect(fs.statSync(file).size).toBe(24)
  })

  it('skips the no-timestamp value -1 on an empty index, as Kafka does', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    index.maybeAppend(-1, 51)
    expect(index.entries).toBe(0)
    index.maybeAppend(0, 51)
    expect(index.entries).toBe(1)
  })

  it('accepts a larger timestamp at the same offset as the last entry', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    index.maybeAppend(1000, 51)
    index.maybeAppend(2000, 51)
    expect(index.lookup(5000)).toEqual({ timestamp: 2000, offset: 51 })
  })

  it('rejects a smaller timestamp or a smaller offset with CORRUPT_LOG naming the path and values', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    index.maybeAppend(1000, 60)
    expect(() => index.maybeAppend(999, 61)).toThrow(expect.objectContaining({ code: 'CORRUPT_LOG' }))
    expect(() => index.maybeAppend(2000, 59)).toThrow(expect.objectContaining({ code: 'CORRUPT_LOG' }))
    // A smaller offset is an error even when the timestamp would have been skipped.
    expect(codeOf(() => index.maybeAppend(1000, 59))).toBe('CORRUPT_LOG')
    try {
      index.maybeAppend(999, 61)
      expect.unreachable()
    } catch (err) {
      expect((err as Error).message).toContain(file)
      expect((err as Error).message).toContain('999')
      expect((err as Error).message).toContain('1000')
    }
    expect(index.entries).toBe(1)
  })

  it('rejects an offset below the base offset and a relative offset that overflows int32', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    expect(codeOf(() => index.maybeAppend(1000, 49))).toBe('CORRUPT_LOG')
    expect(codeOf(() => index.maybeAppend(1000, 50 + 2 ** 31))).toBe('CORRUPT_LOG')
    index.maybeAppend(1000, 50 + 2 ** 31 - 1)
    expect(index.lastEntry()).toEqual({ timestamp: 1000, offset: 50 + 2 ** 31 - 1 })
  })

  it('reserves the last slot for the entry appended with skipFullCheck at roll or close', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 12 * 3 + 11)
    expect(index.maxEntries).toBe(3)
    index.maybeAppend(100, 51)
    expect(index.isFull()).toBe(false)
    index.maybeAppend(200, 52)
    expect(index.isFull()).toBe(true)
    expect(() => index.maybeAppend(300, 53)).toThrow(expect.objectContaining({ code: 'CORRUPT_LOG' }))
    // Kafka checks fullness before anything else, so even a skippable entry throws when full.
    expect(codeOf(() => index.maybeAppend(200, 53))).toBe('CORRUPT_LOG')
    index.maybeAppend(300, 53, true)
    expect(index.entries).toBe(3)
    expect(() => index.maybeAppend(400, 54, true)).toThrow(expect.objectContaining({ code: 'CORRUPT_LOG' }))
    expect(index.entries).toBe(3)
    expect(fs.statSync(file).size).toBe(36)
  })

  it('keeps its entries across close and reopen', async () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    index.maybeAppend(1000, 52)
    index.maybeAppend(2000, 60)
    await index.sync()
    index.close()
    const reopened = new TimeIndex(nodeFileSystem, file, 50, 1024, { check: true })
    expect(reopened.entries).toBe(2)
    expect(reopened.lookup(1999)).toEqual({ timestamp: 1000, offset: 52 })
    expect(reopened.lastEntry()).toEqual({ timestamp: 2000, offset: 60 })
    reopened.maybeAppend(2000, 61)
    reopened.maybeAppend(3000, 70)
    reopened.close()
    expect(fs.statSync(file).size).toBe(36)
  })

  it('fails sanityCheck with CORRUPT_LOG naming the path when the length is not a multiple of 12', () => {
    fs.writeFileSync(file, Buffer.concat([entryBytes([[1000, 1]]), Buffer.alloc(5)]))
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    expect(index.entries).toBe(1)
    try {
      index.sanityCheck()
      expect.unreachable()
    } catch (err) {
      expect(err).toEqual(expect.objectContaining({ code: 'CORRUPT_LOG', path: file }))
      expect((err as Error).message).toContain(file)
    }
    expect(() => new TimeIndex(nodeFileSystem, file, 50, 1024, { check: true })).toThrow(
      expect.objectContaining({ code: 'CORRUPT_LOG' }),
    )
  })

  it('fails sanityCheck on decreasing timestamps, decreasing offsets and offsets below base', () => {
    const cases: [number, number][][] = [
      [
        [2000, 1],
        [1000, 2],
      ],
      [
        [1000, 5],
        [2000, 4],
      ],
      [[1000, -1]],
    ]
    for (const entries of cases) {
      fs.writeFileSync(file, entryBytes(entries))
      expect(() => new TimeIndex(nodeFileSystem, file, 50, 1024, { check: true }), JSON.stringify(entries)).toThrow(
        expect.objectContaining({ code: 'CORRUPT_LOG' }),
      )
    }
    fs.writeFileSync(
      file,
      entryBytes([
        [1000, 0],
        [1000, 0],
        [3000, 9],
      ]),
    )
    expect(() => new TimeIndex(nodeFileSystem, file, 50, 1024, { check: true })).not.toThrow()
  })

  it('truncates entries whose offset is at or above an offset, in memory and in the file', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    index.maybeAppend(100, 50)
    index.maybeAppend(200, 55)
    index.maybeAppend(300, 55)
    index.maybeAppend(400, 60)
    index.truncateTo(56)
    expect(index.entries).toBe(3)
    index.truncateTo(55)
    expect(index.entries).toBe(1)
    expect(index.lastEntry()).toEqual({ timestamp: 100, offset: 50 })
    expect(fs.statSync(file).size).toBe(12)
    index.maybeAppend(150, 52)
    expect(index.lookup(1000)).toEqual({ timestamp: 150, offset: 52 })
    index.reset()
    expect(index.entries).toBe(0)
    expect(fs.statSync(file).size).toBe(0)
  })

  it('renames and deletes its file', () => {
    const index = new TimeIndex(nodeFileSystem, file, 50, 1024)
    index.maybeAppend(100, 51)
    const moved = path.join(dir, 'moved.timeindex')
    index.renameTo(moved)
    index.maybeAppend(200, 52)
    index.syncNow()
    expect(fs.statSync(moved).size).toBe(24)
    expect(fs.existsSync(file)).toBe(false)
    index.deleteFile()
    expect(fs.existsSync(moved)).toBe(false)
  })
})
