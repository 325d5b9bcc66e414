/**
 * Kafka's snappy (codec id 2), in both framings Kafka clients write:
 * - **xerial** (snappy-java's `SnappyOutputStream`, what the Java client and kafka-python write): a 16-byte header,
 *   then blocks, each a raw snappy stream of at most 32 KiB of input behind its compressed length;
 * - **raw** snappy (one block, no header: what librdkafka and kafkajs-snappy write).
 *
 * | bytes   | type   | field                 | notes                                               |
 * |---------|--------|-----------------------|-----------------------------------------------------|
 * | 0..8    | bytes  | magic                 | `82 53 4e 41 50 50 59 00` (0x82 "SNAPPY" 0x00)      |
 * | 8..12   | int32  | version               | 1                                                   |
 * | 12..16  | int32  | minCompatibleVersion  | 1                                                   |
 * | then, per block:                                                                                  |
 * |         | int32  | length                | bytes of the raw snappy block that follows          |
 * |         | bytes  | block                 | raw snappy (varint uncompressed length, then tags)  |
 *
 * Decoding takes xerial when the data starts with the magic and holds the whole header, raw snappy otherwise (as
 * snappy-java's reader and librdkafka do). Encoding writes xerial with 32 KiB blocks, as the Java client does,
 * which every Kafka client reads. Raw snappy comes from the `snappyjs` package (pure JavaScript, loaded on first
 * use). Every length is checked against the bytes there: a block whose declared uncompressed length is more than a
 * snappy stream of its size can expand to (a 3-byte copy yields at most 64 bytes) is refused before anything is
 * allocated. The output bound is checked the same way: every block declares its exact output length up front, so
 * the sum over the blocks is compared with it before any block is decoded (and snappyjs allocates exactly that).
 */
import { checkBound } from './limit.js'
import { asBuffer, functionOf, type LoadableCodec, OptionalPackage, type PackageLoader } from './packages.js'

export const XERIAL_MAGIC: Readonly<Buffer> = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
export const XERIAL_HEADER_BYTES = 16
/** snappy-java's default block size, which Kafka's producer uses. */
export const XERIAL_BLOCK_BYTES = 32 * 1024
const XERIAL_VERSION = 1

interface SnappyFunctions {
  compress(data: Buffer): Buffer
  uncompress(data: Buffer, maxLength: number): Buffer
}

/** A valid raw snappy stream of n bytes decodes to at most this many (a 3-byte copy yields 64). */
function maxExpansion(compressedBytes: number): number {
  return Math.ceil((compressedBytes * 64) / 3) + 64
}

/** True when `data` starts with a whole xerial header. */
export function isXerial(data: Uint8Array): boolean {
  if (data.length < XERIAL_HEADER_BYTES) return false
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false
  return true
}

/** Splits xerial-framed data into its raw snappy blocks; throws on a block that runs past the end. */
export function xerialBlocks(data: Buffer): Buffer[] {
  const blocks: Buffer[] = []
  let pos = XERIAL_HEADER_BYTES
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new Error(`xerial block length at byte ${pos} is cut short`)
    const length = data.readInt32BE(pos)
    pos += 4
    if (length < 0 || pos + length > data.length) {
      throw new Error(`xerial block of ${length} bytes at byte ${pos - 4} runs past the end (${data.length} bytes)`)
    }
    blocks.push(data.subarray(pos, pos + length))
    pos += length
  }
  return blocks
}

/** Frames raw snappy blocks (each compressing at most 32 KiB of input) the way snappy-java does. */
export function xerialFrame(data: Buffer, compressBlock: (block: Buffer) => Buffer): Buffer {
  const parts: Buffer[] = []
  const header = Buffer.alloc(XERIAL_HEADER_BYTES)
  header.set(XERIAL_MAGIC, 0)
  header.writeInt32BE(XERIAL_VERSION, 8)
  header.writeInt32BE(XERIAL_VERSION, 12)
  parts.push(header)
  for (let pos = 0; pos < data.length; pos += XERIAL_BLOCK_BYTES) {
    const block = compressBlock(data.subarray(pos, Math.min(data.length, pos + XERIAL_BLOCK_BYTES)))
    const length = Buffer.alloc(4)
    length.writeInt32BE(block.length, 0)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}

export function snappyCodec(load: PackageLoader): LoadableCodec {
  const pkg = new OptionalPackage<SnappyFunctions>(
    'snappyjs',
    (mod) => ({
      compress: functionOf<SnappyFunctions['compress']>(mod, 'snappyjs', 'compress'),
      uncompress: functionOf<SnappyFunctions['uncompress']>(mod, 'snappyjs', 'uncompress'),
    }),
    load,
  )
  return {
    missing: () => (pkg.get() === null ? pkg.why() : null),
    compress: (data) => {
      const f = pkg.get()!
      return xerialFrame(data, (block) => asBuffer(f.compress(block)))
    },
    decompress: (data, maxBytes) => {
      const blocks = isXerial(data) ? xerialBlocks(data) : [data]
      const lengths = blocks.map(declaredLength)
      let total = 0
      for (const n of lengths) total += n
      checkBound(total, maxBytes, 'the snappy blocks declare')
      const f = pkg.get()!
      const out = blocks.map((block, i) => asBuffer(f.uncompress(block, lengths[i])))
      return out.length === 1 ? out[0] : Buffer.concat(out, total)
    },
  }
}

/**
 * The uncompressed length a raw snappy block declares (its leading varint, as snappyjs reads it); throws when it
 * is not there or is more than the block can expand to.
 */
export function declaredLength(block: Buffer): number {
  let length = 0
  for (let i = 0; i < 5 && i < block.length; i++) {
    const b = block[i]
    length += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) {
      if (length > maxExpansion(block.length)) {
        throw new Error(
          `a snappy block of ${block.length} bytes claims ${length} bytes of output, more than it can hold`,
        )
      }
      return length
    }
  }
  throw new Error(`a snappy block of ${block.length} bytes does not start with its uncompressed length`)
}
