/**
 * The checks made on the metadata LevelDB's files before the binding reads them (src/metadata-check.ts), on
 * files LevelDB itself wrote: every sound store passes untouched (big multi-block log records and snappy tables
 * included), and damage is found where it is — a torn tail as a tail, anything before valid data as CORRUPT_LOG.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkTable, inspectStore, readLogFile } from '../../src/engine/metadata-check.js'
import { SeglogError } from '../../src/errors.js'
import { nodeFileSystem } from '../../src/io/file-system.js'

let dir: string

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-mcheck-'))
})

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const BIG = 100_000

/** Writes a few small records and one ~100 KB batch (so the log holds a record spanning four 32 KiB blocks). */
async function writeStore(options: { compression?: boolean; flush?: boolean } = {}): Promise<void> {
  const db = new Level<string, string>(dir, { valueEncoding: 'utf8', compression: options.compression ?? false })
  await db.open()
  await db.put('topic:a', JSON.stringify({ name: 'a' }), { sync: true })
  const ops = Array.from({ length: 1000 }, (_, i) => ({
    type: 'put' as const,
    key: `offset:g\0a\0${String(i).padStart(10, '0')}`,
    value: JSON.stringify({ offset: i, pad: 'x'.repeat(40) }),
  }))
  await db.batch(ops, { sync: true })
  await db.put('topic:z', 'last', { sync: true })
  await db.close()
  if (options.flush) {
    // A reopen turns the log into a table.
    const again = new Level<string, string>(dir, { valueEncoding: 'utf8', compression: options.compression ?? false })
    await again.open()
    await again.close()
  }
}

const files = (ext: string) =>
  fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(ext))
    .map((n) => path.join(dir, n))
const logFile = () => files('.log').sort().at(-1) as string

function corruptPath(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof SeglogError && err.code === 'CORRUPT_LOG') return err.path
    throw err
  }
  return undefined
}

describe('metadata log files', () => {
  it('reads every record of a log LevelDB wrote, including one that spans several 32 KiB blocks', async () => {
    await writeStore()
    const buf = fs.readFileSync(logFile())
    expect(buf.length).toBeGreaterThan(BIG / 2)
    const log = readLogFile(buf)
    expect(log.tail).toBe(null)
    expect(log.validEnd).toBe(buf.length)
    expect(log.records.map((r) => r.length > 32768)).toEqual([false, true, false])
    expect(inspectStore(nodeFileSystem, dir)).toEqual({ state: 'sound', cuts: [], missing: [], current: null })
  })

  it('finds a log cut anywhere in its last record as a torn tail, to be cut to the end of the record before', async () => {
    await writeStore()
    const buf = fs.readFileSync(logFile())
    const whole = readLogFile(buf)
    const lastStart = buf.length - (whole.records[2].length + 7)
    for (const cut of [buf.length - 1, buf.length - 5, lastStart + 3]) {
      const log = readLogFile(buf.subarray(0, cut))
      expect(log.records.length).toBe(2)
      expect(log.validEnd).toBe(lastStart)
      expect(log.tail?.cut).toBe(true)
    }
    // Cut inside the big record (its later fragments missing): both later records go, reported as a tail.
    const log = readLogFile(buf.subarray(0, 50_000))
    expect(log.records.length).toBe(1)
    expect(log.tail?.cut).toBe(true)
  })

  it('finds a failed checksum in the last record as a tail, and one before any valid record as damage', async () => {
    await writeStore()
    const buf = fs.readFileSync(logFile())
    const lastTail = Buffer.from(buf)
    lastTail[buf.length - 2] ^= 1
    expect(readLogFile(lastTail).tail).toMatchObject({ reason: 'record checksum mismatch', cut: false })
    for (const at of [3, 20, 40_000, 70_000]) {
      const bad = Buffer.from(buf)
      bad[at] ^= 0x40
      expect(() => readLogFile(bad)).toThrow(/valid records after it/)
    }
  })

  it('names the damaged log in CORRUPT_LOG and cuts a torn one', async () => {
    await writeStore()
    const log = logFile()
    const buf = fs.readFileSync(log)
    const lastStart = buf.length - (readLogFile(buf).records[2].length + 7)
    fs.writeFileSync(log, buf.subarray(0, buf.length - 4))
    expect(inspectStore(nodeFileSystem, dir).cuts).toEqual([
      { path: log, length: lastStart, reason: expect.stringContaining('cut short') },
    ])
    const bad = Buffer.from(buf)
    bad[10] ^= 1
    fs.writeFileSync(log, bad)
    expect(corruptPath(() => inspectStore(nodeFileSystem, dir))).toBe(log)
  })
})

describe('metadata tables', () => {
  it.each([false, true])('passes every table LevelDB wrote (snappy compression %s)', async (compression) => {
    await writeStore({ compression, flush: true })
    const tables = files('.ldb')
    expect(tables.length).toBeGreaterThan(0)
    for (const t of tables) {
      const buf = fs.readFileSync(t)
      expect(() => checkTable(buf, buf.length)).not.toThrow()
    }
    expect(inspectStore(nodeFileSystem, dir)).toMatchObject({ state: 'sound', cuts: [] })
  })

  it.each([false, true])('finds every flipped byte of a table (snappy compression %s)', async (compression) => {
    await writeStore({ compression, flush: true })
    const table = files('.ldb')[0]
    const buf = fs.readFileSync(table)
    let found = 0
    // Every 37th byte: block contents and trailers are checksummed; the footer's padding is the only slack.
    for (let at = 0; at < buf.length; at += 37) {
      const bad = Buffer.from(buf)
      bad[at] ^= 0x10
      let threw = false
      try {
        checkTable(bad, bad.length)
      } catch {
        threw = true
      }
      const inPadding = at >= buf.length - 48 && at < buf.length - 8 && !threw
      if (threw) found++
      else expect(inPadding, `byte ${at} of ${buf.length}`).toBe(true)
    }
    expect(found).toBeGreaterThan(0)
  })

  it('finds a truncated table, and a table shorter than its MANIFEST says', async () => {
    await writeStore({ flush: true })
    const table = files('.ldb')[0]
    const buf = fs.readFileSync(table)
    expect(() => checkTable(buf.subarray(0, buf.length - 1), buf.length - 1)).toThrow()
    expect(() => checkTable(buf.subarray(0, buf.length - 1), buf.length)).toThrow(/expected/)
    fs.writeFileSync(table, buf.subarray(0, 100))
    expect(corruptPath(() => inspectStore(nodeFileSystem, dir))).toBe(table)
  })
})

describe('metadata store files', () => {
  it('says missing files (CURRENT, the MANIFEST, a table) need a repair, and a missing log only a report', async () => {
    await writeStore({ flush: true })
    const log = logFile()
    fs.rmSync(log)
    expect(inspectStore(nodeFileSystem, dir)).toEqual({
      state: 'sound',
      cuts: [],
      missing: [path.basename(log)],
      current: null,
    })
    fs.rmSync(files('.ldb')[0])
    expect(inspectStore(nodeFileSystem, dir).state).toBe('missing-files')
    fs.rmSync(path.join(dir, 'CURRENT'))
    expect(inspectStore(nodeFileSystem, dir)).toMatchObject({ state: 'missing-files', missing: ['CURRENT'] })
  })

  it('names the sound MANIFEST for a lost or garbled CURRENT, and gives up only when no MANIFEST is sound', async () => {
    await writeStore({ flush: true })
    const manifest = fs.readdirSync(dir).find((n) => n.startsWith('MANIFEST-')) as string
    for (const damage of [
      () => fs.rmSync(path.join(dir, 'CURRENT')),
      () => fs.writeFileSync(path.join(dir, 'CURRENT'), 'MANIFEST-9\n'),
    ]) {
      damage()
      expect(inspectStore(nodeFileSystem, dir)).toMatchObject({ state: 'sound', current: manifest })
    }
    fs.writeFileSync(path.join(dir, 'CURRENT'), 'garbage')
    expect(inspectStore(nodeFileSystem, dir)).toMatchObject({ state: 'sound', current: manifest })
    const buf = fs.readFileSync(path.join(dir, manifest))
    buf[12] ^= 1
    fs.writeFileSync(path.join(dir, manifest), buf)
    expect(corruptPath(() => inspectStore(nodeFileSystem, dir))).toBe(path.join(dir, 'CURRENT'))
  })

  it('calls an empty or absent directory a new store', () => {
    expect(inspectStore(nodeFileSystem, path.join(dir, 'nope')).state).toBe('new')
    expect(inspectStore(nodeFileSystem, dir).state).toBe('new')
  })
})
