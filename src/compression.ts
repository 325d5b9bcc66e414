/**
 * Compression codecs for record batches (Kafka's `compression.type`). A compressed batch stores its records
 * section as one compressed blob and the codec id in attributes bits 0–2 (`CODEC_IDS`: gzip 1, snappy 2, lz4 3,
 * zstd 4), as Kafka does, so the codecs must produce what Kafka's own readers expect.
 *
 * Rules:
 * - Built in: `gzip` (node:zlib, gzip format with header, as Kafka's GZIPOutputStream) always; `zstd` (node:zlib's
 *   zstd, a standard zstd frame) **only** when this runtime's zlib has `zstdCompressSync`/`zstdDecompressSync`
 *   (Node 22.15+/23.8+; not Node 20). Detected at construction.
 * - `snappy` and `lz4` have no built-in codec: `register(name, codec)` supplies one (for Kafka compatibility,
 *   snappy in xerial framing and lz4 in the LZ4 frame format, as Kafka's clients write). `register` also replaces
 *   a built-in.
 * - Writing with a type that has no codec is `COMPRESSION_UNSUPPORTED` naming the type; so is reading a batch
 *   whose codec id has no codec (or is not a Kafka codec id: 5–7). `none` never needs a codec.
 * - A codec that fails to decompress a batch (whose CRC was fine) is `CORRUPT_LOG`: the bytes are not what the
 *   codec id says.
 */
import * as zlib from 'node:zlib'
import { SeglogError } from './errors.js'
import { CODEC_IDS, type Decompressor } from './segment/record-batch.js'

export const COMPRESSION_TYPES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
export type CompressionType = (typeof COMPRESSION_TYPES)[number]
/** The compression types that need a codec. */
export type CodecType = Exclude<CompressionType, 'none'>

export interface Codec {
  compress(data: Buffer): Buffer
  decompress(data: Buffer): Buffer
}

/** What `encodeBatch` takes as `options.compression`. */
export interface BatchCompression {
  codec: number
  compress: (records: Buffer) => Buffer
}

/** The parts of node:zlib the registry uses; zstd is optional (absent before Node 22.15). */
export interface ZlibLike {
  gzipSync(data: Buffer): Buffer
  gunzipSync(data: Buffer): Buffer
  zstdCompressSync?: (data: Buffer) => Buffer
  zstdDecompressSync?: (data: Buffer) => Buffer
}

export interface CodecRegistryOptions {
  /** The zlib to build the built-in codecs from; node:zlib by default (tests pass one with or without zstd). */
  zlib?: ZlibLike
}

const CODEC_TYPES: readonly CodecType[] = ['gzip', 'snappy', 'lz4', 'zstd']
const NAME_BY_ID = new Map<number, CodecType>(CODEC_TYPES.map((name) => [CODEC_IDS[name], name]))

export function isCompressionType(x: unknown): x is CompressionType {
  return typeof x === 'string' && (COMPRESSION_TYPES as readonly string[]).includes(x)
}

/** True when this runtime's node:zlib has zstd (Node 22.15+/23.8+). */
export function runtimeHasZstd(z: ZlibLike = zlib as unknown as ZlibLike): boolean {
  return typeof z.zstdCompressSync === 'function' && typeof z.zstdDecompressSync === 'function'
}

interface Entry {
  codec: Codec
  compression: BatchCompression
}

export class CodecRegistry {
  readonly #entries = new Map<CodecType, Entry>()

  constructor(options: CodecRegistryOptions = {}) {
    const z = options.zlib ?? (zlib as unknown as ZlibLike)
    this.register('gzip', { compress: (d) => z.gzipSync(d), decompress: (d) => z.gunzipSync(d) })
    const { zstdCompressSync, zstdDecompressSync } = z
    if (typeof zstdCompressSync === 'function' && typeof zstdDecompressSync === 'function') {
      this.register('zstd', {
        compress: (d) => zstdCompressSync.call(z, d),
        decompress: (d) => zstdDecompressSync.call(z, d),
      })
    }
  }

  /** Installs (or replaces) the codec for a compression type. */
  register(name: CodecType, codec: Codec): void {
    if (!(CODEC_TYPES as readonly string[]).includes(name)) {
      throw new TypeError(
        `cannot register a codec for ${JSON.stringify(name)}; expected one of ${CODEC_TYPES.join(', ')}`,
      )
    }
    if (
      codec === null ||
      typeof codec !== 'object' ||
      typeof codec.compress !== 'function' ||
      typeof codec.decompress !== 'function'
    ) {
      throw new TypeError(`the ${name} codec must have compress(data) and decompress(data) functions`)
    }
    const compress = (records: Buffer): Buffer => codec.compress(records)
    this.#entries.set(name, { codec, compression: { codec: CODEC_IDS[name], compress } })
  }

  /** True when records can be written and read with `type` (`none` always). */
  has(type: CompressionType): boolean {
    return type === 'none' || this.#entries.has(type)
  }

  /** The compression types usable now, `none` first. */
  available(): CompressionType[] {
    return ['none', ...CODEC_TYPES.filter((t) => this.#entries.has(t))]
  }

  /**
   * `encodeBatch`'s `compression` option for `type`: undefined for `none`; COMPRESSION_UNSUPPORTED when the
   * type has no codec here.
   */
  compressionFor(type: CompressionType): BatchCompression | undefined {
    if (type === 'none') return undefined
    const entry = this.#entries.get(type)
    if (entry === undefined) throw this.#unsupported(type)
    return entry.compression
  }

  /** Decompresses a records section by Kafka codec id; for `decodeRecords`. Bound: pass it around as is. */
  readonly decompressor: Decompressor = (codec: number, data: Buffer): Buffer => {
    if (codec === CODEC_IDS.none) return data
    const name = NAME_BY_ID.get(codec)
    if (name === undefined) {
      throw new SeglogError('COMPRESSION_UNSUPPORTED', `codec id ${codec} is not a Kafka compression codec`)
    }
    const entry = this.#entries.get(name)
    if (entry === undefined) throw this.#unsupported(name, ` (batch attributes say codec ${codec})`)
    try {
      return entry.codec.decompress(data)
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err)
      throw new SeglogError('CORRUPT_LOG', `records do not decompress as ${name}: ${why}`, { cause: err })
    }
  }

  #unsupported(type: string, detail = ''): SeglogError {
    const hint =
      type === 'zstd'
        ? 'this Node.js has no zlib zstd (22.15+ has it); register a zstd codec'
        : type === 'snappy' || type === 'lz4'
          ? `register a ${type} codec with CodecRegistry.register('${type}', codec)`
          : `supported: ${this.available().join(', ')}`
    return new SeglogError(
      'COMPRESSION_UNSUPPORTED',
      `compression ${JSON.stringify(type)}${detail} is not available: ${hint}`,
    )
  }
}
