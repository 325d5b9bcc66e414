/**
 * Kafka's zstd (codec id 4): the records section is a standard zstd frame (Kafka's `ZstdOutputStream`,
 * librdkafka's `ZSTD_compress`), with or without its content size and checksum.
 *
 * Where it comes from, first found wins:
 * 1. node:zlib's zstd (Node 22.15+/23.8+), both ways;
 * 2. the `@toondepauw/node-zstd` package (libzstd, prebuilt per platform), both ways, level 3 (Kafka's default);
 * 3. the `fzstd` package (pure JavaScript): decoding only, so a platform without a prebuilt libzstd still reads
 *    every zstd batch; writing zstd there is COMPRESSION_UNSUPPORTED naming the missing package.
 * The packages are loaded on first use.
 *
 * The output bound: node:zlib stops at `maxOutputLength` as it inflates (it builds at most the bound). For the
 * packages, which decode to the end, the frames' headers are walked first (`zstdFrames`) and data that could pass
 * the bound is refused undecoded: a frame counts as the sum over its blocks of what each can yield (a raw or RLE
 * block its stated size, a compressed one the block maximum of 128 KiB, which decoders enforce), or its content
 * size when it declares a larger one (fzstd allocates that). Encoders fill every block but the last, so the sum
 * passes the real size by less than one block, also for a frame without a content size (what a streaming encoder
 * such as Kafka's Java client writes). fzstd also allocates the whole window of a frame without a content size, so
 * there a window above the bound is refused too (of zstd's levels only 21 and 22 use windows of 64 MiB or more).
 */
import { tooLargeForZlib, zlibOutputLimit } from './gzip.js'
import { checkBound } from './limit.js'
import {
  asBuffer,
  type Direction,
  functionOf,
  type LoadableCodec,
  OptionalPackage,
  type PackageLoader,
} from './packages.js'

/** The zlib functions this codec uses when the runtime has them. */
export interface ZlibZstd {
  zstdCompressSync?: (data: Buffer) => Buffer
  zstdDecompressSync?: (data: Buffer, options?: { maxOutputLength?: number }) => Buffer
}

/** Kafka's default zstd level (`compression.zstd.level`). */
export const ZSTD_LEVEL = 3

interface Native {
  compress(data: Buffer): Buffer
  decompress(data: Buffer): Buffer
}

type ZstdClass = new (...args: unknown[]) => { encodeSync(d: Buffer): Buffer; decodeSync(d: Buffer): Buffer }

export function zstdCodec(z: ZlibZstd, load: PackageLoader): LoadableCodec {
  const { zstdCompressSync, zstdDecompressSync } = z
  if (typeof zstdCompressSync === 'function' && typeof zstdDecompressSync === 'function') {
    return {
      missing: () => null,
      compress: (d) => zstdCompressSync.call(z, d),
      decompress: (d, maxBytes) => {
        try {
          return zstdDecompressSync.call(z, d, { maxOutputLength: zlibOutputLimit(maxBytes) })
        } catch (err) {
          throw tooLargeForZlib(err, maxBytes) ?? err
        }
      },
    }
  }
  const native = new OptionalPackage<Native>(
    '@toondepauw/node-zstd',
    (mod) => {
      const encoder = new (functionOf<ZstdClass>(mod, '@toondepauw/node-zstd', 'Encoder'))(ZSTD_LEVEL)
      const decoder = new (functionOf<ZstdClass>(mod, '@toondepauw/node-zstd', 'Decoder'))()
      return { compress: (d) => encoder.encodeSync(d), decompress: (d) => decoder.decodeSync(d) }
    },
    load,
  )
  const pureJs = new OptionalPackage<(d: Uint8Array) => Uint8Array>(
    'fzstd',
    (mod) => functionOf<(d: Uint8Array) => Uint8Array>(mod, 'fzstd', 'decompress'),
    load,
  )
  const missing = (direction: Direction): string | null => {
    if (native.get() !== null) return null
    const noZlib = 'this Node.js has no zlib zstd (22.15+ has it)'
    if (direction === 'compress') return `${noZlib}, and ${native.why()}`
    if (pureJs.get() !== null) return null
    return `${noZlib}, ${native.why()}, and ${pureJs.why()}`
  }
  return {
    missing,
    compress: (d) => native.get()!.compress(d),
    decompress: (d, maxBytes) => {
      const frames = zstdFrames(d)
      let bound = 0
      for (const f of frames) bound += Math.max(f.contentSize ?? 0, f.blocks)
      checkBound(bound, maxBytes, 'the zstd frames can decompress to')
      const n = native.get()
      if (n !== null) return n.decompress(d)
      for (const f of frames) {
        // fzstd allocates a frame's whole window (up to 2 GiB) when the frame does not say its size.
        if (f.contentSize === null)
          checkBound(f.windowSize, maxBytes, 'a zstd frame without a content size has a window of')
      }
      return asBuffer(pureJs.get()!(d))
    },
  }
}

/** What one zstd frame's headers say about its output, in bytes (skippable frames yield nothing and are left out). */
export interface ZstdFrameBound {
  /** The frame content size field, or null when the frame has none. */
  contentSize: number | null
  /** The most its blocks can decompress to. */
  blocks: number
  windowSize: number
}

const ZSTD_MAGIC = 0xfd2fb528
const BLOCK_MAX_BYTES = 128 * 1024

/**
 * Walks the frames of `data` (each frame header, then each block header) without decoding anything; throws on data
 * that is not zstd frames back to back or is cut short. A raw or RLE block yields its stated size, a compressed
 * one at most the block maximum (128 KiB, or the window when smaller), which decoders enforce.
 */
export function zstdFrames(data: Buffer): ZstdFrameBound[] {
  const frames: ZstdFrameBound[] = []
  let pos = 0
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new Error(`${data.length - pos} bytes at byte ${pos} are not a zstd frame`)
    const magic = data.readUInt32LE(pos)
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (pos + 8 > data.length) throw new Error(`the skippable frame at byte ${pos} is cut short`)
      pos += 8 + data.readUInt32LE(pos + 4)
      if (pos > data.length) throw new Error('a skippable zstd frame runs past the end')
      continue
    }
    if (magic !== ZSTD_MAGIC)
      throw new Error(`the data at byte ${pos} is not a zstd frame (magic 0x${magic.toString(16)})`)
    if (pos + 5 > data.length) throw new Error(`the zstd frame header at byte ${pos} is cut short`)
    const fhd = data[pos + 4]
    const fcsFlag = fhd >> 6
    const singleSegment = (fhd & 0x20) !== 0
    const checksum = (fhd & 0x04) !== 0
    const dictBytes = [0, 1, 2, 4][fhd & 3]
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag
    let at = pos + 5
    let windowSize = 0
    if (!singleSegment) {
      if (at >= data.length) throw new Error(`the zstd frame header at byte ${pos} is cut short`)
      const wd = data[at++]
      const base = 2 ** (10 + (wd >> 3))
      windowSize = base + (base / 8) * (wd & 7)
    }
    at += dictBytes
    if (at + fcsBytes > data.length) throw new Error(`the zstd frame header at byte ${pos} is cut short`)
    let contentSize: number | null = null
    if (fcsBytes === 1) contentSize = data[at]
    else if (fcsBytes === 2) contentSize = data.readUInt16LE(at) + 256
    else if (fcsBytes === 4) contentSize = data.readUInt32LE(at)
    else if (fcsBytes === 8) contentSize = Number(data.readBigUInt64LE(at))
    at += fcsBytes
    if (singleSegment) windowSize = contentSize!
    const blockMax = Math.min(windowSize, BLOCK_MAX_BYTES)
    let blocks = 0
    for (let last = false; !last; ) {
      if (at + 3 > data.length) throw new Error(`the zstd frame at byte ${pos} is cut short at byte ${at}`)
      const header = data[at] | (data[at + 1] << 8) | (data[at + 2] << 16)
      at += 3
      last = (header & 1) === 1
      const type = (header >> 1) & 3
      const size = header >>> 3
      if (type === 3) throw new Error(`the zstd block at byte ${at - 3} has the reserved block type`)
      blocks += type === 2 ? blockMax : size
      at += type === 1 ? 1 : size
    }
    at += checksum ? 4 : 0
    if (at > data.length) throw new Error(`the zstd frame at byte ${pos} is cut short`)
    frames.push({ contentSize, blocks, windowSize })
    pos = at
  }
  return frames
}
