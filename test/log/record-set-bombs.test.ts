/**
 * Decompression bombs in a client's record set (`appendRecordSet`, what a Produce does): batches of about 1 MiB whose
 * records inflate to hundreds of MiB or GiB are refused as INVALID_RECORD once their output would pass the bound
 * (`maxDecompressedBytes`: 64 times the largest batch, at least 64 MiB), without building more than the bound, and
 * nothing is stored; batches within the bound, and ordinary compressed batches, are stored as before.
 *
 * Memory is measured as the growth of this process's peak resident set (VmHWM, reset through
 * /proc/self/clear_refs before each append): vitest runs each test file in its own process.
 */
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as os from 'node:os'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CodecRegistry, type CompressionType, type ZlibLike } from '../../src/compression.js'
import { isSeglogError, type SeglogError } from '../../src/errors.js'
import { type LogConfig, PartitionLog } from '../../src/log/partition-log.js'
import { encodeBatch } from '../../src/segment/record-batch.js'
import { maxDecompressedBytes } from '../../src/segment/record-set.js'
import { bombBatch, bombRecordBytes, gzipBomb, lz4Bomb, zstdBomb } from '../support/bombs.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
/** The default `maxMessageBytes` (Kafka's `max.message.bytes`), and the bound it gives (just above 64 MiB). */
const DEFAULT_MAX_BATCH = 1_048_588
const BOUND = 64 * DEFAULT_MAX_BATCH
/** Peak resident memory an append may add while it refuses a bomb. */
const MAX_GROWTH = 200 * MiB

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-bombs-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const noZstdZlib: ZlibLike = { gzipSync: zlib.gzipSync, gunzipSync: zlib.gunzipSync }

/** A loader that finds none of the packages in `absent`. */
function without(...absent: string[]) {
  return (name: string): unknown => {
    if (absent.includes(name)) throw new Error(`Cannot find module '${name}'`)
    return createRequire(import.meta.url)(name)
  }
}

async function open(registry = new CodecRegistry(), config: Partial<LogConfig> = {}): Promise<PartitionLog> {
  return PartitionLog.open(dir, { config, decompress: registry.decompressor })
}

function logFileBytes(): number {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
}

function status(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'))
  if (m === null) throw new Error(`no ${field} in /proc/self/status`)
  return Number(m[1]) * 1024
}

/** Runs `fn`, returning what it threw and how far it raised the peak resident set above the resident set before. */
function measured(fn: () => unknown): { err: unknown; growth: number } {
  fs.writeFileSync('/proc/self/clear_refs', '5') // the peak (VmHWM) restarts from the current resident set
  const before = status('VmRSS')
  let err: unknown = null
  try {
    fn()
  } catch (e) {
    err = e
  }
  return { err, growth: status('VmHWM') - before }
}

function refusal(err: unknown): SeglogError {
  if (!isSeglogError(err)) throw new Error(`expected a SeglogError, got ${String(err)}`)
  return err
}

/** Checks the refusal of a bomb batch: the code, its kind and bound, the batch named, memory, nothing stored. */
function expectRefused(log: PartitionLog, batch: Buffer, codec: number, bound = BOUND): void {
  const { err, growth } = measured(() => log.appendRecordSet(batch))
  const e = refusal(err)
  expect(e.code).toBe('INVALID_RECORD')
  expect(e.cause).toMatchObject({ kind: 'decompressed-size', limit: bound })
  expect(e.message).toContain('batch 0 (at byte 0 of the record set)')
  expect(e.message).toContain(`codec ${codec}`)
  expect(e.message).toContain(`more than ${bound} bytes`)
  expect(growth).toBeLessThan(MAX_GROWTH)
  expect(log.logEndOffset).toBe(0)
  expect(logFileBytes()).toBe(0)
}

/** An ordinary compressed client batch stores and reads back after a refusal. */
function expectOrdinaryBatchStored(log: PartitionLog, registry: CodecRegistry, type: CompressionType): void {
  const records = Array.from({ length: 50 }, (_, i) => ({
    timestamp: 1_700_000_000_000 + i,
    key: Buffer.from(`k${i}`),
    value: Buffer.from(`value ${i} `.repeat(30)),
  }))
  const compression = type === 'zstd' && !registry.has('zstd') ? new CodecRegistry().compressionFor('zstd') : undefined
  const batch = encodeBatch(records, { compression: compression ?? registry.compressionFor(type) })
  const before = log.logEndOffset
  expect(log.appendRecordSet(batch)).toMatchObject({ baseOffset: before, lastOffset: before + 49 })
  const read = log.read(before, { maxRecords: 100 })
  expect(read.map((r) => r.value?.toString())).toEqual(records.map((r) => r.value.toString()))
}

describe('maxDecompressedBytes', () => {
  it('is 64 times the largest batch, at least 64 MiB, at most what one Buffer holds', () => {
    expect(maxDecompressedBytes(DEFAULT_MAX_BATCH)).toBe(67_109_632)
    expect(maxDecompressedBytes(4096)).toBe(64 * MiB)
    expect(maxDecompressedBytes(2 * MiB)).toBe(128 * MiB)
    expect(maxDecompressedBytes(2 ** 31 - 1)).toBe(4 * GiB)
  })
})

describe('appendRecordSet with decompression bombs', () => {
  it('refuses a 1 MiB gzip batch that inflates to 1 GiB as INVALID_RECORD naming the batch and the bound (64 MiB), building at most the bound, storing nothing', async () => {
    const section = await gzipBomb(GiB)
    const batch = bombBatch('gzip', section)
    expect(batch.length).toBeLessThanOrEqual(DEFAULT_MAX_BATCH)
    const registry = new CodecRegistry()
    const log = await open(registry)
    expectRefused(log, batch, 1)
    expectOrdinaryBatchStored(log, registry, 'gzip')
    await log.close()
  })

  it('refuses an LZ4 frame of 64 KiB blocks that inflates to 224 MiB before decoding it', async () => {
    const { frame } = lz4Bomb(224 * MiB)
    const batch = bombBatch('lz4', frame)
    expect(batch.length).toBeLessThanOrEqual(DEFAULT_MAX_BATCH)
    const registry = new CodecRegistry()
    const log = await open(registry)
    expectRefused(log, batch, 3)
    expectOrdinaryBatchStored(log, registry, 'lz4')
    await log.close()
  })

  it.each([
    ['the native package', { zlib: noZstdZlib }],
    ['fzstd only', { zlib: noZstdZlib, loadPackage: without('@toondepauw/node-zstd') }],
  ])(
    'refuses zstd frames that inflate to 1 GiB, with and without a content size, before decoding them (%s)',
    async (_, options) => {
      const registry = new CodecRegistry(options)
      const log = await open(registry)
      for (const declareSize of [false, true]) {
        const batch = bombBatch('zstd', zstdBomb(GiB, declareSize))
        expectRefused(log, batch, 4)
      }
      expectOrdinaryBatchStored(log, registry, 'zstd')
      await log.close()
    },
  )

  it('stores a gzip batch whose records inflate to exactly the bound and refuses one a byte larger', async () => {
    const registry = new CodecRegistry()
    const log = await open(registry)
    let value = BOUND - 16
    while (bombRecordBytes(value) < BOUND) value++
    expect(bombRecordBytes(value)).toBe(BOUND)
    expectRefused(log, bombBatch('gzip', await gzipBomb(value + 1)), 1)
    expect(log.appendRecordSet(bombBatch('gzip', await gzipBomb(value)))).toMatchObject({
      baseOffset: 0,
      lastOffset: 0,
    })
    await log.close()
  })

  it('lets the bound grow with maxMessageBytes: a gzip batch inflating to 100 MiB is refused by default, stored at 2 MiB', async () => {
    const batch = bombBatch('gzip', await gzipBomb(100 * MiB))
    const registry = new CodecRegistry()
    const strict = await open(registry)
    expectRefused(strict, Buffer.from(batch), 1)
    await strict.close()
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir)
    const larger = await open(registry, { maxMessageBytes: 2 * MiB })
    expect(larger.appendRecordSet(batch)).toMatchObject({ baseOffset: 0, lastOffset: 0 })
    await larger.close()
  })
})
