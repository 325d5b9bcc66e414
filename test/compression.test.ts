import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { type Codec, CodecRegistry, runtimeHasZstd, type ZlibLike } from '../src/compression.js'
import { SeglogError } from '../src/errors.js'
import {
  ATTRIBUTES_OFFSET,
  type BatchRecordInput,
  batchAttributes,
  CODEC_IDS,
  COMPRESSION_CODEC_MASK,
  checkBatch,
  type DecodedRecord,
  type Decompressor,
  decodeRecords,
  encodeBatch,
} from '../src/segment/record-batch.js'
import { fixtureRecords } from './fixtures/codecs/records.js'

function records(n: number): BatchRecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    timestamp: 1_700_000_000_000 + i,
    key: i % 3 === 0 ? null : Buffer.from(`key-${i}`),
    value: i % 5 === 4 ? null : Buffer.from(`value ${i} `.repeat(20)),
    headers: i % 2 === 0 ? [{ key: 'h', value: Buffer.from(String(i)) }] : null,
  }))
}

function decodeAll(batch: Buffer, decompress?: Decompressor): DecodedRecord[] {
  const out: DecodedRecord[] = []
  const err = decodeRecords(
    batch,
    0,
    batch.length,
    0,
    (r) => {
      out.push(r)
      return undefined
    },
    decompress,
  )
  expect(err).toBeNull()
  return out
}

function expectSameRecords(decoded: DecodedRecord[], input: BatchRecordInput[]): void {
  expect(decoded.length).toBe(input.length)
  decoded.forEach((r, i) => {
    expect(r.offset).toBe(i)
    expect(r.timestamp).toBe(input[i].timestamp)
    expect(r.key).toEqual(input[i].key === null ? null : Buffer.from(input[i].key!))
    expect(r.value).toEqual(input[i].value === null ? null : Buffer.from(input[i].value!))
    expect(r.headers.map((h) => [h.key, Buffer.from(h.value!).toString()])).toEqual(
      (input[i].headers ?? []).map((h) => [h.key, Buffer.from(h.value!).toString()]),
    )
  })
}

function seglogError(f: () => unknown): SeglogError {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(SeglogError)
    return err as SeglogError
  }
  throw new Error('expected a SeglogError, nothing was thrown')
}

/** A trivial reversible transform standing in for a real codec: a marker byte, then every byte XOR 0x5a. */
const xorCodec: Codec = {
  compress: (data) => Buffer.concat([Buffer.from([0xa5]), Buffer.from(data.map((b) => b ^ 0x5a))]),
  decompress: (data) => {
    if (data[0] !== 0xa5) throw new Error('missing marker')
    return Buffer.from(data.subarray(1).map((b) => b ^ 0x5a))
  },
}

describe('gzip', () => {
  it('round-trips a batch through encodeBatch and decodeRecords with codec 1 in attributes bits 0-2', () => {
    const registry = new CodecRegistry()
    const input = records(50)
    const batch = encodeBatch(input, { compression: registry.compressionFor('gzip') })
    expect(batchAttributes(batch, 0) & COMPRESSION_CODEC_MASK).toBe(1)
    expect(checkBatch(batch, 0, batch.length)).toBeNull()
    expect(batch.length).toBeLessThan(encodeBatch(input).length)
    expectSameRecords(decodeAll(batch, registry.decompressor), input)
  })

  it('writes real gzip (the records section starts with the gzip magic 1f 8b)', () => {
    const batch = encodeBatch(records(3), { compression: new CodecRegistry().compressionFor('gzip') })
    expect(batch.subarray(61, 63).toString('hex')).toBe('1f8b')
    expect(() => zlib.gunzipSync(batch.subarray(61))).not.toThrow()
  })

  it('reports records that do not gunzip as CORRUPT_LOG', () => {
    const registry = new CodecRegistry()
    const batch = encodeBatch(records(2), { compression: { codec: CODEC_IDS.gzip, compress: (d) => d } })
    const err = seglogError(() => decodeAll(batch, registry.decompressor))
    expect(err.code).toBe('CORRUPT_LOG')
    expect(err.message).toContain('gzip')
  })
})

describe('none', () => {
  it('needs no codec and leaves the batch uncompressed', () => {
    const registry = new CodecRegistry()
    expect(registry.has('none')).toBe(true)
    expect(registry.compressionFor('none')).toBeUndefined()
    expect(registry.available()[0]).toBe('none')
  })
})

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'codecs')
const fixture = (name: string): Buffer => fs.readFileSync(path.join(FIXTURES, name))

/** A batch of `input` whose records section is exactly `blob`, flagged with `codec` (CRC computed over it). */
function batchWithSection(input: BatchRecordInput[], codec: number, blob: Buffer): Buffer {
  return encodeBatch(input, { compression: { codec, compress: () => blob } })
}

/** Snappy's raw format with literals only: an encoder independent of the package seglog uses. */
function literalSnappy(data: Buffer): Buffer {
  const out: number[] = []
  let n = data.length
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  for (let pos = 0; pos < data.length; pos += 60_000) {
    const len = Math.min(60_000, data.length - pos)
    if (len <= 60) out.push((len - 1) << 2)
    else out.push(61 << 2, (len - 1) & 0xff, (len - 1) >>> 8)
    for (let i = 0; i < len; i++) out.push(data[pos + i])
  }
  return Buffer.from(out)
}

/** snappy-java's stream format by hand: the 16-byte header, then length-prefixed raw blocks of `blockBytes`. */
function xerialByHand(data: Buffer, blockBytes: number): Buffer {
  const parts: Buffer[] = [Buffer.from('82534e415050590000000001' + '00000001', 'hex')]
  for (let pos = 0; pos < data.length; pos += blockBytes) {
    const block = literalSnappy(data.subarray(pos, pos + blockBytes))
    const len = Buffer.alloc(4)
    len.writeInt32BE(block.length)
    parts.push(len, block)
  }
  return Buffer.concat(parts)
}

/** A loader that finds none of the packages in `absent` (as an install without optional dependencies). */
function without(...absent: string[]) {
  return (name: string): unknown => {
    if (absent.includes(name)) throw new Error(`Cannot find module '${name}'`)
    return createRequire(import.meta.url)(name)
  }
}

const plainSection = (input: BatchRecordInput[]): Buffer => encodeBatch(input).subarray(61)

describe.each([
  ['snappy', CODEC_IDS.snappy],
  ['lz4', CODEC_IDS.lz4],
  ['zstd', CODEC_IDS.zstd],
] as const)('%s', (type, id) => {
  it('round-trips a batch of 400 records (~110 KiB) through encodeBatch and decodeRecords with its Kafka codec id', () => {
    const registry = new CodecRegistry()
    expect(registry.has(type)).toBe(true)
    const input = fixtureRecords()
    const batch = encodeBatch(input, { compression: registry.compressionFor(type) })
    expect(batchAttributes(batch, 0) & COMPRESSION_CODEC_MASK).toBe(id)
    expect(checkBatch(batch, 0, batch.length)).toBeNull()
    expect(batch.length).toBeLessThan(encodeBatch(input).length / 2)
    expectSameRecords(decodeAll(batch, registry.decompressor), input)
  })

  it('is COMPRESSION_UNSUPPORTED for writing and reading, naming the package, when its package is not installed', () => {
    const packages = { snappy: ['snappyjs'], lz4: ['lz4-napi'], zstd: ['@toondepauw/node-zstd', 'fzstd'] }[type]
    const noZstdZlib: ZlibLike = { gzipSync: zlib.gzipSync, gunzipSync: zlib.gunzipSync }
    const registry = new CodecRegistry({ zlib: noZstdZlib, loadPackage: without(...packages) })
    expect(registry.has(type)).toBe(false)
    expect(registry.canRead(type)).toBe(false)
    expect(registry.available()).not.toContain(type)
    const write = seglogError(() => registry.compressionFor(type))
    expect(write.code).toBe('COMPRESSION_UNSUPPORTED')
    expect(write.message).toContain(packages[0])
    const batch = encodeBatch(records(3), { compression: new CodecRegistry().compressionFor(type) })
    const read = seglogError(() => decodeAll(batch, registry.decompressor))
    expect(read.code).toBe('COMPRESSION_UNSUPPORTED')
    expect(read.message).toContain(type)
    for (const p of packages) expect(read.message).toContain(`npm install ${p}`)
  })

  it('reports records that are not in its format as CORRUPT_LOG (the CRC was right)', () => {
    const registry = new CodecRegistry()
    const batch = batchWithSection(records(2), id, Buffer.from('not compressed at all'))
    const err = seglogError(() => decodeAll(batch, registry.decompressor))
    expect(err.code).toBe('CORRUPT_LOG')
    expect(err.message).toContain(type)
  })
})

describe('snappy framings', () => {
  it('writes xerial framing as the Java client does: magic 82 SNAPPY 00, versions 1/1, 32 KiB blocks', () => {
    const registry = new CodecRegistry()
    const section = plainSection(fixtureRecords())
    const batch = encodeBatch(fixtureRecords(), { compression: registry.compressionFor('snappy') })
    const blob = batch.subarray(61)
    expect(blob.subarray(0, 16).toString('hex')).toBe('82534e41505059000000000100000001')
    let pos = 16
    let blocks = 0
    let plain = 0
    while (pos < blob.length) {
      const len = blob.readInt32BE(pos)
      // Each block is a raw snappy stream whose varint says how much input it holds.
      let n = 0
      let shift = 0
      let at = pos + 4
      for (;;) {
        const b = blob[at++]
        n += (b & 0x7f) * 2 ** shift
        shift += 7
        if (b < 0x80) break
      }
      expect(n).toBeLessThanOrEqual(32 * 1024)
      plain += n
      pos += 4 + len
      blocks++
    }
    expect(pos).toBe(blob.length)
    expect(plain).toBe(section.length)
    expect(blocks).toBe(Math.ceil(section.length / (32 * 1024)))
  })

  it('reads xerial-framed batches (several blocks) and raw snappy batches (librdkafka), both encoded by hand', () => {
    const { decompressor } = new CodecRegistry()
    const input = fixtureRecords()
    const section = plainSection(input)
    for (const blob of [xerialByHand(section, 32 * 1024), xerialByHand(section, 7000), literalSnappy(section)]) {
      expectSameRecords(decodeAll(batchWithSection(input, CODEC_IDS.snappy, blob), decompressor), input)
    }
  })

  it("reads kafkajs's raw-snappy fetch fixture", () => {
    // kafkajs src/protocol/requests/fetch/fixtures/v4_response_snappy.json: the batch at byte 54 of the response.
    const batch = Buffer.from(
      '000000000000000000000062000000000297ef6eaa00020000000000000168b91290b100000168b91290b1ffffffffffffffff00000000' +
        '00000000000130445e0000000e6b65792d3134394476616c7565010a642d323031392d30322d30345431353a31333a34382e3138375a00',
      'hex',
    )
    expect(checkBatch(batch, 0, batch.length)).toBeNull()
    const [r] = decodeAll(batch, new CodecRegistry().decompressor)
    expect(r.key?.toString()).toBe('key-149')
    expect(r.value?.toString()).toBe('value-149-2019-02-04T15:13:48.187Z')
    expect(r.headers).toEqual([])
  })

  it('refuses a block that claims more output than its bytes can hold, before allocating it', () => {
    // Varint 0xffffffff (4 GiB) followed by one literal byte.
    const bomb = Buffer.from('ffffffff0f0061', 'hex')
    const err = seglogError(() => new CodecRegistry().decompressor(CODEC_IDS.snappy, bomb))
    expect(err.code).toBe('CORRUPT_LOG')
    const cut = Buffer.concat([xerialByHand(Buffer.from('abc'), 10), Buffer.from([0, 0, 1])])
    expect(seglogError(() => new CodecRegistry().decompressor(CODEC_IDS.snappy, cut)).code).toBe('CORRUPT_LOG')
  })
})

describe('lz4 frames', () => {
  it.each([
    ['linked-64k-sizes-checksums.lz4', 'linked blocks, content size, block and content checksums'],
    ['independent-64k.lz4', "Kafka's Java settings: independent 64 KiB blocks"],
    ['independent-4m.lz4', 'one 4 MiB block, no checksum'],
  ])('reads %s from the lz4 command-line tool (%s)', (file) => {
    const input = fixtureRecords()
    const batch = batchWithSection(input, CODEC_IDS.lz4, fixture(file))
    expectSameRecords(decodeAll(batch, new CodecRegistry().decompressor), input)
  })

  it('writes a frame with independent blocks (FLG bit 5), which Kafka and librdkafka read', () => {
    const batch = encodeBatch(fixtureRecords(), { compression: new CodecRegistry().compressionFor('lz4') })
    expect(batch.readUInt32LE(61)).toBe(0x184d2204)
    const flg = batch[65]
    expect(flg >> 6).toBe(1) // version 01
    expect(flg & 0x20).toBe(0x20)
  })

  it('refuses a frame whose content checksum does not match as CORRUPT_LOG', () => {
    const frame = Buffer.from(fixture('independent-64k.lz4'))
    frame[frame.length - 1] ^= 0xff
    const err = seglogError(() => new CodecRegistry().decompressor(CODEC_IDS.lz4, frame))
    expect(err.code).toBe('CORRUPT_LOG')
  })
})

describe('zstd frames', () => {
  const noZstdZlib: ZlibLike = { gzipSync: zlib.gzipSync, gunzipSync: zlib.gunzipSync }

  it.each([['sized.zst'], ['streamed.zst']])('reads %s from the zstd command-line tool', (file) => {
    const input = fixtureRecords()
    const batch = batchWithSection(input, CODEC_IDS.zstd, fixture(file))
    for (const registry of [
      new CodecRegistry(),
      new CodecRegistry({ zlib: noZstdZlib }),
      new CodecRegistry({ zlib: noZstdZlib, loadPackage: without('@toondepauw/node-zstd') }),
    ]) {
      expectSameRecords(decodeAll(batch, registry.decompressor), input)
    }
  })

  it("decodes kafkajs's zstd record-batch fixture frame to its one record", () => {
    // kafkajs src/protocol/recordBatch/fixtures/v0_recordbatch_zstd.json, records section from byte 61.
    const raw = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'kafkajs-v0_recordbatch_zstd.json'), 'utf8'))
    const frame = Buffer.from(raw.data as number[]).subarray(61)
    const plain = new CodecRegistry({ zlib: noZstdZlib }).decompressor(CODEC_IDS.zstd, frame)
    const batch = batchWithSection(records(1), CODEC_IDS.none, plain)
    const [r] = decodeAll(batch)
    expect(r.key?.toString()).toBe('lorem')
    expect(r.value?.toString()).toMatch(/^Lorem ipsum dolor sit amet/)
  })

  it('uses zlib zstd when the runtime has it', () => {
    // This Node may have no zlib zstd: gzip stands in for it (zlib's sync API, options included, is the same).
    const gzipAsZstd: ZlibLike = {
      gzipSync: zlib.gzipSync,
      gunzipSync: zlib.gunzipSync,
      zstdCompressSync: (d) => zlib.gzipSync(d),
      zstdDecompressSync: (d, options) => zlib.gunzipSync(d, options),
    }
    const registry = new CodecRegistry({ zlib: gzipAsZstd })
    expect(runtimeHasZstd(gzipAsZstd)).toBe(true)
    const input = records(10)
    const batch = encodeBatch(input, { compression: registry.compressionFor('zstd') })
    expect(batch.subarray(61, 63).toString('hex')).toBe('1f8b') // went through the zlib's zstdCompressSync
    expectSameRecords(decodeAll(batch, registry.decompressor), input)
  })

  it('without zlib zstd, writes with the native package at level 3 (a standard frame) and reads with either package', () => {
    const registry = new CodecRegistry({ zlib: noZstdZlib })
    const batch = encodeBatch(fixtureRecords(), { compression: registry.compressionFor('zstd') })
    expect(batch.subarray(61, 65).toString('hex')).toBe('28b52ffd')
    const pureJsOnly = new CodecRegistry({ zlib: noZstdZlib, loadPackage: without('@toondepauw/node-zstd') })
    expectSameRecords(decodeAll(batch, pureJsOnly.decompressor), fixtureRecords())
  })

  it('reads but does not write zstd when only the pure-JavaScript decoder is installed', () => {
    const registry = new CodecRegistry({ zlib: noZstdZlib, loadPackage: without('@toondepauw/node-zstd') })
    expect(registry.canRead('zstd')).toBe(true)
    expect(registry.has('zstd')).toBe(false)
    const err = seglogError(() => registry.compressionFor('zstd'))
    expect(err.code).toBe('COMPRESSION_UNSUPPORTED')
    expect(err.message).toContain('@toondepauw/node-zstd')
  })
})

describe('loading', () => {
  it('loads no codec package when seglog is imported and a registry is built, only on first use', () => {
    const script = `
      import { createRequire } from 'node:module'
      const req = createRequire(process.cwd() + '/package.json')
      const { CodecRegistry } = await import('./src/internal.ts')
      await import('./src/main.ts')
      const loaded = () => Object.keys(req.cache).filter((f) => /snappyjs|lz4-napi|node-zstd|fzstd/.test(f)).length
      const r = new CodecRegistry()
      const before = loaded()
      r.compressionFor('lz4')
      console.log(JSON.stringify({ before, after: loaded() }))`
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: path.join(path.dirname(fileURLToPath(import.meta.url)), '..'),
      encoding: 'utf8',
    })
    const { before, after } = JSON.parse(out.trim().split('\n').at(-1)!)
    expect(before).toBe(0)
    expect(after).toBeGreaterThan(0)
  })
})

describe('registered codecs', () => {
  it('replace a built-in codec for their registry only', () => {
    const registry = new CodecRegistry()
    registry.register('lz4', xorCodec)
    const input = records(30)
    const batch = encodeBatch(input, { compression: registry.compressionFor('lz4') })
    expect(batchAttributes(batch, 0) & COMPRESSION_CODEC_MASK).toBe(3)
    expect(batch[61]).toBe(0xa5)
    expectSameRecords(decodeAll(batch, registry.decompressor), input)
    expect(seglogError(() => decodeAll(batch, new CodecRegistry().decompressor)).code).toBe('CORRUPT_LOG')
  })

  it('can replace gzip', () => {
    const registry = new CodecRegistry()
    registry.register('gzip', xorCodec)
    const batch = encodeBatch(records(1), { compression: registry.compressionFor('gzip') })
    expect(batch[61]).toBe(0xa5)
    expectSameRecords(decodeAll(batch, registry.decompressor), records(1))
  })

  it('make a codec whose package is missing work', () => {
    const registry = new CodecRegistry({ loadPackage: without('snappyjs') })
    expect(registry.has('snappy')).toBe(false)
    registry.register('snappy', xorCodec)
    expect(registry.has('snappy')).toBe(true)
    const batch = encodeBatch(records(3), { compression: registry.compressionFor('snappy') })
    expect(batch.readInt16BE(ATTRIBUTES_OFFSET) & COMPRESSION_CODEC_MASK).toBe(2)
    expectSameRecords(decodeAll(batch, registry.decompressor), records(3))
  })

  it('rejects a malformed codec or an unknown name with a TypeError', () => {
    const registry = new CodecRegistry()
    expect(() => registry.register('lz4', { compress: (d: Buffer) => d } as unknown as Codec)).toThrow(TypeError)
    expect(() => registry.register('brotli' as 'lz4', xorCodec)).toThrow(TypeError)
  })
})

describe('decompressor', () => {
  it('rejects codec ids that are not Kafka codecs, naming the id', () => {
    const registry = new CodecRegistry()
    for (const id of [5, 6, 7]) {
      const err = seglogError(() => registry.decompressor(id, Buffer.alloc(1)))
      expect(err.code).toBe('COMPRESSION_UNSUPPORTED')
      expect(err.message).toContain(`codec id ${id}`)
    }
  })

  it('passes data through for codec 0 and works detached from its registry', () => {
    const { decompressor } = new CodecRegistry()
    const data = Buffer.from('plain')
    expect(decompressor(0, data)).toBe(data)
    expect(decompressor(CODEC_IDS.gzip, zlib.gzipSync(data)).toString()).toBe('plain')
  })
})
