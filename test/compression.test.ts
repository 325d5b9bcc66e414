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

const runtimeZstd = typeof (zlib as unknown as { zstdCompressSync?: unknown }).zstdCompressSync === 'function'

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

describe('zstd', () => {
  it('is built in exactly when this runtime has zlib.zstdCompressSync', () => {
    expect(runtimeHasZstd()).toBe(runtimeZstd)
    expect(new CodecRegistry().has('zstd')).toBe(runtimeZstd)
  })

  it.runIf(runtimeZstd)('round-trips a batch with codec 4 on this runtime', () => {
    const registry = new CodecRegistry()
    const input = records(20)
    const batch = encodeBatch(input, { compression: registry.compressionFor('zstd') })
    expect(batchAttributes(batch, 0) & COMPRESSION_CODEC_MASK).toBe(4)
    expectSameRecords(decodeAll(batch, registry.decompressor), input)
  })

  it.skipIf(runtimeZstd)('is COMPRESSION_UNSUPPORTED on this runtime, naming zstd', () => {
    const err = seglogError(() => new CodecRegistry().compressionFor('zstd'))
    expect(err.code).toBe('COMPRESSION_UNSUPPORTED')
    expect(err.message).toContain('zstd')
  })

  // Both ways on any runtime: a zlib with zstd functions and one without.
  const gzipAsZstd: ZlibLike = {
    gzipSync: zlib.gzipSync,
    gunzipSync: zlib.gunzipSync,
    zstdCompressSync: (d) => xorCodec.compress(d),
    zstdDecompressSync: (d) => xorCodec.decompress(d),
  }
  const noZstd: ZlibLike = { gzipSync: zlib.gzipSync, gunzipSync: zlib.gunzipSync }

  it('uses zlib zstd when the zlib has it', () => {
    const registry = new CodecRegistry({ zlib: gzipAsZstd })
    expect(runtimeHasZstd(gzipAsZstd)).toBe(true)
    expect(registry.has('zstd')).toBe(true)
    const input = records(10)
    const batch = encodeBatch(input, { compression: registry.compressionFor('zstd') })
    expect(batchAttributes(batch, 0) & COMPRESSION_CODEC_MASK).toBe(CODEC_IDS.zstd)
    expect(batch[61]).toBe(0xa5) // went through the zlib's zstdCompressSync
    expectSameRecords(decodeAll(batch, registry.decompressor), input)
  })

  it('is COMPRESSION_UNSUPPORTED for writing and reading when the zlib lacks it', () => {
    const registry = new CodecRegistry({ zlib: noZstd })
    expect(runtimeHasZstd(noZstd)).toBe(false)
    expect(registry.has('zstd')).toBe(false)
    const write = seglogError(() => registry.compressionFor('zstd'))
    expect(write.code).toBe('COMPRESSION_UNSUPPORTED')
    expect(write.message).toContain('zstd')
    const batch = encodeBatch(records(2), {
      compression: new CodecRegistry({ zlib: gzipAsZstd }).compressionFor('zstd'),
    })
    const read = seglogError(() => decodeAll(batch, registry.decompressor))
    expect(read.code).toBe('COMPRESSION_UNSUPPORTED')
    expect(read.message).toContain('zstd')
  })
})

describe('registered codecs', () => {
  it('makes lz4 work once a codec is registered for it', () => {
    const registry = new CodecRegistry()
    expect(registry.has('lz4')).toBe(false)
    expect(() => registry.compressionFor('lz4')).toThrow(SeglogError)
    registry.register('lz4', xorCodec)
    expect(registry.has('lz4')).toBe(true)
    expect(registry.available()).toContain('lz4')
    const input = records(30)
    const batch = encodeBatch(input, { compression: registry.compressionFor('lz4') })
    expect(batchAttributes(batch, 0) & COMPRESSION_CODEC_MASK).toBe(3)
    expect(batch[61]).toBe(0xa5)
    expect(checkBatch(batch, 0, batch.length)).toBeNull()
    expectSameRecords(decodeAll(batch, registry.decompressor), input)
  })

  it('can replace a built-in codec', () => {
    const registry = new CodecRegistry()
    registry.register('gzip', xorCodec)
    const batch = encodeBatch(records(1), { compression: registry.compressionFor('gzip') })
    expect(batch[61]).toBe(0xa5)
    expectSameRecords(decodeAll(batch, registry.decompressor), records(1))
  })

  it('keeps each registry separate', () => {
    const a = new CodecRegistry()
    a.register('lz4', xorCodec)
    expect(new CodecRegistry().has('lz4')).toBe(false)
  })

  it('rejects a malformed codec or an unknown name with a TypeError', () => {
    const registry = new CodecRegistry()
    expect(() => registry.register('lz4', { compress: (d: Buffer) => d } as unknown as Codec)).toThrow(TypeError)
    expect(() => registry.register('brotli' as 'lz4', xorCodec)).toThrow(TypeError)
  })
})

describe('unregistered snappy', () => {
  it('is COMPRESSION_UNSUPPORTED for compressing, naming snappy', () => {
    const err = seglogError(() => new CodecRegistry().compressionFor('snappy'))
    expect(err.code).toBe('COMPRESSION_UNSUPPORTED')
    expect(err.message).toContain('snappy')
  })

  it('is COMPRESSION_UNSUPPORTED for decoding a batch whose attributes say snappy', () => {
    const batch = encodeBatch(records(3), { compression: { codec: CODEC_IDS.snappy, compress: (d) => d } })
    expect(batch.readInt16BE(ATTRIBUTES_OFFSET) & COMPRESSION_CODEC_MASK).toBe(2)
    const err = seglogError(() => decodeAll(batch, new CodecRegistry().decompressor))
    expect(err.code).toBe('COMPRESSION_UNSUPPORTED')
    expect(err.message).toContain('snappy')
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
