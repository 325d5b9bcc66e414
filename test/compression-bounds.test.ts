/**
 * The output bound of `CodecRegistry.decompressor(codec, data, maxBytes)`: per codec, output up to the bound is
 * returned as before and output above it is CORRUPT_LOG with `cause.kind === 'decompressed-size'`, refused before it
 * is built (the bombs, and what each codec checks first, are in test/log/record-set-bombs.test.ts).
 */
import { createRequire } from 'node:module'
import * as zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { type Codec, CodecRegistry, type ZlibLike } from '../src/compression.js'
import { isSeglogError, type SeglogError } from '../src/errors.js'
import { CODEC_IDS } from '../src/segment/record-batch.js'
import { bombPlain, lz4Bomb, zstdBomb } from './support/bombs.js'

const KiB = 1024
const MiB = 1024 * KiB

function thrown(f: () => unknown): SeglogError {
  try {
    f()
  } catch (err) {
    if (isSeglogError(err)) return err
    throw err
  }
  throw new Error('expected a SeglogError, nothing was thrown')
}

function expectTooLarge(f: () => unknown, limit: number, codec: string): void {
  const err = thrown(f)
  expect(err.code).toBe('CORRUPT_LOG')
  expect(err.cause).toMatchObject({ kind: 'decompressed-size', limit })
  expect(err.message).toContain(`as ${codec} to more than ${limit} bytes`)
}

function without(...absent: string[]) {
  return (name: string): unknown => {
    if (absent.includes(name)) throw new Error(`Cannot find module '${name}'`)
    return createRequire(import.meta.url)(name)
  }
}

const noZstdZlib: ZlibLike = { gzipSync: zlib.gzipSync, gunzipSync: zlib.gunzipSync }

/** Bytes that compress well but not trivially. */
function text(bytes: number): Buffer {
  const b = Buffer.alloc(bytes)
  for (let i = 0; i < bytes; i++) b[i] = 97 + ((i * 7 + (i >> 9)) % 23)
  return b
}

describe('decompressor bound', () => {
  it('gzip: returns output of exactly maxBytes, refuses a byte more (zlib stops there)', () => {
    const { decompressor } = new CodecRegistry()
    const plain = text(300 * KiB)
    const gz = zlib.gzipSync(plain)
    expect(decompressor(CODEC_IDS.gzip, gz, plain.length).equals(plain)).toBe(true)
    expectTooLarge(() => decompressor(CODEC_IDS.gzip, gz, plain.length - 1), plain.length - 1, 'gzip')
  })

  it("zstd through zlib (Node 22.15+): passes the bound to zlib's maxOutputLength", () => {
    // This Node may have no zlib zstd: gzip stands in for it, with zlib's own sync function and options.
    const zlibWithZstd: ZlibLike = {
      ...noZstdZlib,
      zstdCompressSync: zlib.gzipSync,
      zstdDecompressSync: zlib.gunzipSync,
    }
    const { decompressor } = new CodecRegistry({ zlib: zlibWithZstd })
    const plain = text(100 * KiB)
    const data = zlib.gzipSync(plain)
    expect(decompressor(CODEC_IDS.zstd, data, plain.length).equals(plain)).toBe(true)
    expectTooLarge(() => decompressor(CODEC_IDS.zstd, data, plain.length - 1), plain.length - 1, 'zstd')
  })

  it('snappy: sums the lengths every xerial block declares before decoding any', () => {
    const registry = new CodecRegistry()
    const plain = text(100 * KiB)
    const xerial = registry.compressionFor('snappy')!.compress(plain)
    expect(registry.decompressor(CODEC_IDS.snappy, xerial, plain.length).equals(plain)).toBe(true)
    expectTooLarge(() => registry.decompressor(CODEC_IDS.snappy, xerial, plain.length - 1), plain.length - 1, 'snappy')
    // A last block whose tags are garbage: refused for the bound before it would fail to decode.
    const garbage = Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff])
    const length = Buffer.alloc(4)
    length.writeInt32BE(garbage.length)
    const broken = Buffer.concat([xerial, length, garbage])
    expect(thrown(() => registry.decompressor(CODEC_IDS.snappy, broken)).cause).not.toMatchObject({
      kind: 'decompressed-size',
    })
    expectTooLarge(() => registry.decompressor(CODEC_IDS.snappy, broken, plain.length), plain.length, 'snappy')
  })

  it('lz4: refuses a frame whose blocks could pass the bound, before decoding, and one declaring a larger content size', () => {
    const { decompressor } = new CodecRegistry()
    // 16 full 64 KiB blocks: their bound is their real size.
    const { frame, valueBytes } = lz4Bomb(MiB - 100)
    const plain = bombPlain(valueBytes)
    expect(plain.length).toBe(MiB)
    expect(decompressor(CODEC_IDS.lz4, frame, MiB).equals(plain)).toBe(true)
    expectTooLarge(() => decompressor(CODEC_IDS.lz4, frame, MiB - 1), MiB - 1, 'lz4')
    // The lz4 command line tool's frame with a content size field (FLG bit 3): the field is checked too.
    const lz4 = createRequire(import.meta.url)('lz4-napi') as { compressFrameSync(d: Buffer): Buffer }
    const small = lz4.compressFrameSync(text(1000))
    const sized = Buffer.concat([small.subarray(0, 6), Buffer.alloc(8), small.subarray(6)])
    sized[4] |= 0x08
    sized.writeBigUInt64LE(10n * BigInt(MiB), 6)
    expectTooLarge(() => decompressor(CODEC_IDS.lz4, sized, MiB), MiB, 'lz4')
  })

  it.each([
    ['the native package', { zlib: noZstdZlib }],
    ['fzstd only', { zlib: noZstdZlib, loadPackage: without('@toondepauw/node-zstd') }],
  ])(
    'zstd (%s): counts raw and RLE blocks exactly, compressed ones as 128 KiB, and a declared content size',
    (_, options) => {
      const { decompressor } = new CodecRegistry(options)
      for (const declareSize of [false, true]) {
        const frame = zstdBomb(MiB, declareSize)
        const plain = bombPlain(MiB)
        expect(decompressor(CODEC_IDS.zstd, frame, plain.length).equals(plain)).toBe(true)
        expectTooLarge(() => decompressor(CODEC_IDS.zstd, frame, plain.length - 1), plain.length - 1, 'zstd')
      }
      // 2.5 MiB: above the window node-zstd's level 3 writes (2 MiB), which fzstd allocates.
      const plain = text(2.5 * MiB)
      const streamed = new CodecRegistry({ zlib: noZstdZlib }).compressionFor('zstd')!.compress(plain)
      // A real encoder's compressed blocks hold 128 KiB each but the last: the bound passes the size by under a block.
      expect(decompressor(CODEC_IDS.zstd, streamed, plain.length + 128 * KiB).equals(plain)).toBe(true)
      expectTooLarge(() => decompressor(CODEC_IDS.zstd, streamed, plain.length - 1), plain.length - 1, 'zstd')
    },
  )

  it('fzstd only: refuses a frame without a content size whose window passes the bound (fzstd allocates it whole)', () => {
    const { decompressor } = new CodecRegistry({ zlib: noZstdZlib, loadPackage: without('@toondepauw/node-zstd') })
    const frame = zstdBomb(1000)
    frame[5] = (26 - 10) << 3 // a 64 MiB window
    expectTooLarge(() => decompressor(CODEC_IDS.zstd, frame, 32 * MiB), 32 * MiB, 'zstd')
    expect(decompressor(CODEC_IDS.zstd, frame, 64 * MiB).equals(bombPlain(1000))).toBe(true)
    const native = new CodecRegistry({ zlib: noZstdZlib })
    expect(native.decompressor(CODEC_IDS.zstd, frame, 32 * MiB).equals(bombPlain(1000))).toBe(true)
  })

  it('gives a registered codec the bound and refuses a longer result it returns anyway', () => {
    const seen: number[] = []
    const ignoring: Codec = {
      compress: (d) => d,
      decompress: (d, maxBytes) => {
        seen.push(maxBytes)
        return Buffer.concat([d, d])
      },
    }
    const registry = new CodecRegistry()
    registry.register('lz4', ignoring)
    expect(registry.decompressor(CODEC_IDS.lz4, Buffer.from('abc'), 6).toString()).toBe('abcabc')
    expectTooLarge(() => registry.decompressor(CODEC_IDS.lz4, Buffer.from('abc'), 5), 5, 'lz4')
    expect(seen).toEqual([6, 5])
  })

  it('defaults to the most a Buffer holds and rejects a bound that is not a non-negative integer with a TypeError', () => {
    const { decompressor } = new CodecRegistry()
    const gz = zlib.gzipSync(Buffer.from('plain'))
    expect(decompressor(CODEC_IDS.gzip, gz).toString()).toBe('plain')
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => decompressor(CODEC_IDS.gzip, gz, bad)).toThrow(TypeError)
    }
  })
})
