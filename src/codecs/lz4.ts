/**
 * Kafka's lz4 (codec id 3): the records section is one **LZ4 frame** (the LZ4 frame format, magic `04 22 4d 18`),
 * which every Kafka client writes for v2 batches (Kafka's `KafkaLZ4BlockOutputStream`, librdkafka's LZ4F).
 *
 * Decoding takes any frame a client writes: independent or linked blocks, any maximum block size (64 KiB–4 MiB),
 * with or without the content size, block checksums and content checksum (checked when present). Encoding writes
 * independent blocks without checksums, which Kafka's Java reader, librdkafka and kafkajs's lz4 codecs read.
 * Both come from the `lz4-napi` package (lz4_flex, prebuilt per platform, loaded on first use). Like lz4-napi, only
 * the first frame is read; bytes after its end are ignored.
 *
 * The output bound is checked on the frame's headers before anything is decoded (`lz4FrameBound`): the content size
 * when the frame declares one, and always the sum over its blocks of what each can yield (an uncompressed block its
 * length, a compressed one the frame's maximum block size, which the decoder enforces). Encoders fill every block
 * but the last, so the sum passes the real size by less than one block.
 */
import { checkBound } from './limit.js'
import { functionOf, type LoadableCodec, OptionalPackage, type PackageLoader } from './packages.js'

interface Lz4Functions {
  compressFrameSync(data: Buffer): Buffer
  decompressFrameSync(data: Buffer): Buffer
}

export const LZ4_FRAME_MAGIC = 0x184d2204

export function lz4Codec(load: PackageLoader): LoadableCodec {
  const pkg = new OptionalPackage<Lz4Functions>(
    'lz4-napi',
    (mod) => ({
      compressFrameSync: functionOf<Lz4Functions['compressFrameSync']>(mod, 'lz4-napi', 'compressFrameSync'),
      decompressFrameSync: functionOf<Lz4Functions['decompressFrameSync']>(mod, 'lz4-napi', 'decompressFrameSync'),
    }),
    load,
  )
  return {
    missing: () => (pkg.get() === null ? pkg.why() : null),
    compress: (data) => pkg.get()!.compressFrameSync(data),
    decompress: (data, maxBytes) => {
      const bound = lz4FrameBound(data)
      if (bound.contentSize !== null)
        checkBound(bound.contentSize, maxBytes, 'the LZ4 frame declares a content size of')
      checkBound(bound.blocks, maxBytes, 'the blocks of the LZ4 frame can decompress to')
      return pkg.get()!.decompressFrameSync(data)
    },
  }
}

/** What an LZ4 frame's headers say about its output, in bytes. */
export interface Lz4FrameBound {
  /** The frame's content size field, or null when it has none. */
  contentSize: number | null
  /** The most its blocks can decompress to. */
  blocks: number
}

/** Maximum block size by the block descriptor's bits 4–6 (4: 64 KiB … 7: 4 MiB). */
const BLOCK_MAX_BYTES: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 }

/**
 * Walks the headers of the LZ4 frame at the start of `data` (frame header, then each block's length) without
 * decoding anything; throws on data that is not a frame or is cut short.
 */
export function lz4FrameBound(data: Buffer): Lz4FrameBound {
  // The frame decoder would read other data as a (different) frame format's error; say what it is instead.
  if (data.length < 4 || data.readUInt32LE(0) !== LZ4_FRAME_MAGIC) {
    throw new Error(`not an LZ4 frame (it starts ${data.subarray(0, 4).toString('hex') || 'with nothing'})`)
  }
  if (data.length < 7) throw new Error(`the LZ4 frame header is cut short (${data.length} bytes)`)
  const flg = data[4]
  if (flg >> 6 !== 1) throw new Error(`the LZ4 frame has version ${flg >> 6}; only version 1 exists`)
  const blockMax = BLOCK_MAX_BYTES[(data[5] >> 4) & 7]
  if (blockMax === undefined) throw new Error(`the LZ4 frame's block descriptor 0x${data[5].toString(16)} is invalid`)
  const blockChecksums = (flg & 0x10) !== 0
  const hasContentSize = (flg & 0x08) !== 0
  let pos = 6 + (hasContentSize ? 8 : 0) + (flg & 0x01 ? 4 : 0) + 1
  if (pos > data.length) throw new Error(`the LZ4 frame header is cut short (${data.length} bytes)`)
  const contentSize = hasContentSize ? Number(data.readBigUInt64LE(6)) : null
  let blocks = 0
  for (;;) {
    if (pos + 4 > data.length) throw new Error(`the LZ4 frame is cut short at byte ${pos} (no end mark)`)
    const word = data.readUInt32LE(pos)
    pos += 4
    if (word === 0) break
    const size = word & 0x7fffffff
    blocks += word & 0x80000000 ? size : blockMax
    pos += size + (blockChecksums ? 4 : 0)
  }
  return { contentSize, blocks }
}
