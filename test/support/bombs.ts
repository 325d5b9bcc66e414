/**
 * Decompression bombs: records sections a few hundred KiB long that inflate to hundreds of MiB or GiB, in the real
 * formats (gzip, LZ4 frame, zstd frame), built without ever holding the inflated bytes. What they inflate to is one
 * valid record (offset delta 0, no key, a value of `valueBytes` zero bytes, no headers), so a walk that decompresses
 * everything would accept the batch; `bombBatch` wraps a section in a client batch (base offset 0, one record, CRC
 * right) as a Produce would carry it.
 */
import { createRequire } from 'node:module'
import * as zlib from 'node:zlib'
import { CODEC_IDS, encodeBatch } from '../../src/segment/record-batch.js'

/** Kafka's zigzag varint of a (possibly large) integer, with arithmetic rather than 32-bit bit operations. */
function varint(n: number): Buffer {
  let z = n >= 0 ? 2 * n : -2 * n - 1
  const out: number[] = []
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80)
    z = Math.floor(z / 0x80)
  }
  out.push(z)
  return Buffer.from(out)
}

/** The bytes before and after the value of the one record: the record is `head ‖ zeros(valueBytes) ‖ tail`. */
export function bombRecord(valueBytes: number): { head: Buffer; tail: Buffer } {
  const valueLength = varint(valueBytes)
  const tail = Buffer.from([0]) // no headers
  // attributes, timestamp delta 0, offset delta 0, key length -1 (zigzag 1)
  const fields = Buffer.from([0, 0, 0, 1])
  const bodyBytes = fields.length + valueLength.length + valueBytes + tail.length
  return { head: Buffer.concat([varint(bodyBytes), fields, valueLength]), tail }
}

/** Total bytes the record of `bombRecord(valueBytes)` inflates to. */
export function bombRecordBytes(valueBytes: number): number {
  const { head, tail } = bombRecord(valueBytes)
  return head.length + valueBytes + tail.length
}

/** A client batch (one record, base offset 0, CRC right) whose records section is `section`, compressed with `codec`. */
export function bombBatch(codec: keyof typeof CODEC_IDS, section: Buffer, timestamp = 1_700_000_000_000): Buffer {
  // encodeBatch encodes a stand-in record, then stores what `compress` returns as the section.
  return encodeBatch([{ timestamp, key: null, value: Buffer.alloc(0) }], {
    compression: { codec: CODEC_IDS[codec], compress: () => section },
  })
}

/** One gzip member (level 9) of the record with `valueBytes` zero bytes, streamed through zlib 1 MiB at a time. */
export async function gzipBomb(valueBytes: number): Promise<Buffer> {
  const { head, tail } = bombRecord(valueBytes)
  const gzip = zlib.createGzip({ level: 9 })
  const out: Buffer[] = []
  gzip.on('data', (chunk: Buffer) => out.push(chunk))
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve)
    gzip.on('error', reject)
  })
  const write = (b: Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (gzip.write(b)) resolve()
      else gzip.once('drain', resolve)
    })
  const zeros = Buffer.alloc(1 << 20)
  await write(head)
  for (let left = valueBytes; left > 0; left -= zeros.length)
    await write(zeros.subarray(0, Math.min(left, zeros.length)))
  await write(tail)
  gzip.end()
  await done
  return Buffer.concat(out)
}

const LZ4_BLOCK_BYTES = 64 * 1024

interface Lz4Napi {
  compressSync(data: Buffer): Buffer
  compressFrameSync(data: Buffer): Buffer
}

/**
 * An LZ4 frame as Kafka's Java client writes them (independent 64 KiB blocks, no content size, no checksums) of the
 * record with a value of about `approxValueBytes` zero bytes (rounded so that every block is full, as an encoder
 * fills them); returns the frame and the exact value size. Blocks are compressed by lz4-napi one at a time (three
 * distinct ones: the first, the zeros, the last).
 */
export function lz4Bomb(approxValueBytes: number): { frame: Buffer; valueBytes: number } {
  const lz4 = createRequire(import.meta.url)('lz4-napi') as Lz4Napi
  const blocks = Math.max(2, Math.ceil(approxValueBytes / LZ4_BLOCK_BYTES))
  const total = blocks * LZ4_BLOCK_BYTES
  // The record's head grows with its value length; find the value size that makes the record `total` bytes.
  let valueBytes = total - 16
  while (bombRecordBytes(valueBytes) !== total) valueBytes += total - bombRecordBytes(valueBytes)
  const { head, tail } = bombRecord(valueBytes)
  // lz4-napi's own frame header for its defaults: FLG 0x60 (version 1, independent blocks), BD 0x40 (64 KiB).
  const header = lz4.compressFrameSync(Buffer.alloc(0)).subarray(0, 7)
  if (header[4] !== 0x60 || header[5] !== 0x40)
    throw new Error(`unexpected lz4-napi frame header ${header.toString('hex')}`)
  // compressSync prepends the block's uncompressed size (4 bytes); a frame block is what follows, behind its length.
  const block = (data: Buffer): Buffer => {
    const raw = lz4.compressSync(data).subarray(4)
    const length = Buffer.alloc(4)
    length.writeUInt32LE(raw.length, 0)
    return Buffer.concat([length, raw])
  }
  const zeros = Buffer.alloc(LZ4_BLOCK_BYTES)
  const first = block(Buffer.concat([head, zeros.subarray(head.length)]))
  const middle = block(zeros)
  const last = block(Buffer.concat([zeros.subarray(tail.length), tail]))
  const parts: Buffer[] = [header, first]
  for (let i = 1; i < blocks - 1; i++) parts.push(middle)
  parts.push(last, Buffer.alloc(4)) // end mark
  return { frame: Buffer.concat(parts), valueBytes }
}

const ZSTD_RLE_BYTES = 128 * 1024

function zstdBlockHeader(last: boolean, type: number, size: number): Buffer {
  const h = (last ? 1 : 0) | (type << 1) | (size << 3)
  return Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff])
}

/**
 * A zstd frame of the record with `valueBytes` zero bytes, written as blocks by hand: the record's head as a raw
 * block, the zeros as RLE blocks of 128 KiB (4 bytes each), the tail as the last raw block. Window 128 KiB, no
 * checksum; with `declareSize` the frame header has the content size (8 bytes), else none (as streaming encoders).
 */
export function zstdBomb(valueBytes: number, declareSize = false): Buffer {
  const { head, tail } = bombRecord(valueBytes)
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd])]
  const windowDescriptor = (17 - 10) << 3 // 2^17 = 128 KiB
  if (declareSize) {
    const fcs = Buffer.alloc(8)
    fcs.writeBigUInt64LE(BigInt(head.length + valueBytes + tail.length), 0)
    parts.push(Buffer.from([0xc0, windowDescriptor]), fcs)
  } else {
    parts.push(Buffer.from([0x00, windowDescriptor]))
  }
  parts.push(zstdBlockHeader(false, 0, head.length), head)
  const rle = Buffer.concat([zstdBlockHeader(false, 1, ZSTD_RLE_BYTES), Buffer.from([0])])
  let left = valueBytes
  for (; left >= ZSTD_RLE_BYTES; left -= ZSTD_RLE_BYTES) parts.push(rle)
  if (left > 0) parts.push(zstdBlockHeader(false, 1, left), Buffer.from([0]))
  parts.push(zstdBlockHeader(true, 0, tail.length), tail)
  return Buffer.concat(parts)
}

/** The records section the bomb record inflates to, for checking a small bomb against a real decoder. */
export function bombPlain(valueBytes: number): Buffer {
  const { head, tail } = bombRecord(valueBytes)
  return Buffer.concat([head, Buffer.alloc(valueBytes), tail])
}
