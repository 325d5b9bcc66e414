/**
 * Compression codecs for record batches (Kafka's `compression.type`). A compressed batch stores its records
 * section as one compressed blob and the codec id in attributes bits 0–2 (`CODEC_IDS`: gzip 1, snappy 2, lz4 3,
 * zstd 4), as Kafka does, so the codecs must read and write what Kafka's own clients do.
 *
 * Rules:
 * - Every Kafka codec is built in, in the framing Kafka's clients use (see each module in src/codecs/):
 *   `gzip` (node:zlib, gzip format with header, as Kafka's GZIPOutputStream); `snappy` (xerial-framed or raw
 *   snappy read, xerial written; package `snappyjs`); `lz4` (LZ4 frame; package `lz4-napi`); `zstd` (a standard
 *   zstd frame; node:zlib where the runtime has it (Node 22.15+), else package `@toondepauw/node-zstd`, else
 *   package `fzstd` for reading only).
 * - The packages are optional dependencies, loaded on the first (de)compression that needs one, never at import;
 *   so every registry, the compaction worker's too, has every codec the install has. A codec whose package is
 *   missing (or has no build for this platform) is `COMPRESSION_UNSUPPORTED`, naming the package and how to
 *   install it.
 * - `register(name, codec)` replaces a built-in codec for this registry (a registered codec is a function of the
 *   thread that registered it: compaction's worker uses the built-in ones).
 * - Writing with a type that has no codec is `COMPRESSION_UNSUPPORTED` naming the type; so is reading a batch
 *   whose codec id has no codec (or is not a Kafka codec id: 5–7). `none` never needs a codec.
 * - A codec that fails to decompress a batch (whose CRC was fine) is `CORRUPT_LOG`: the bytes are not what the
 *   codec id says.
 */
import * as zlib from 'node:zlib'
import { lz4Codec } from './codecs/lz4.js'
import { type Direction, type LoadableCodec, type PackageLoader, requirePackage } from './codecs/packages.js'
import { snappyCodec } from './codecs/snappy.js'
import { zstdCodec } from './codecs/zstd.js'
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
  /** How the codec packages are loaded; `require` by default (tests pass one that fails, as a missing package). */
  loadPackage?: PackageLoader
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
  /** Why a direction is not available here (a built-in codec's package is missing), or null. */
  missing: (direction: Direction) => string | null
  compression: BatchCompression
}

const ALWAYS = (): null => null

export class CodecRegistry {
  readonly #entries = new Map<CodecType, Entry>()

  constructor(options: CodecRegistryOptions = {}) {
    const z = options.zlib ?? (zlib as unknown as ZlibLike)
    const load = options.loadPackage ?? requirePackage
    this.#set('gzip', { compress: (d) => z.gzipSync(d), decompress: (d) => z.gunzipSync(d) }, ALWAYS)
    this.#builtin('snappy', snappyCodec(load))
    this.#builtin('lz4', lz4Codec(load))
    this.#builtin('zstd', zstdCodec(z, load))
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
    this.#set(name, codec, ALWAYS)
  }

  #builtin(name: CodecType, codec: LoadableCodec): void {
    this.#set(name, codec, (direction) => codec.missing(direction))
  }

  #set(name: CodecType, codec: Codec, missing: Entry['missing']): void {
    const compress = (records: Buffer): Buffer => codec.compress(records)
    this.#entries.set(name, { codec, missing, compression: { codec: CODEC_IDS[name], compress } })
  }

  /**
   * True when records can be written and read with `type` here (`none` always). Loads the codec's package if
   * it was not loaded yet.
   */
  has(type: CompressionType): boolean {
    return type === 'none' || (this.canRead(type) && this.#missing(type, 'compress') === null)
  }

  /** True when batches compressed with `type` can be read here (`none` always); loads the package if needed. */
  canRead(type: CompressionType): boolean {
    return type === 'none' || this.#missing(type, 'decompress') === null
  }

  /** The compression types usable for writing and reading now, `none` first. */
  available(): CompressionType[] {
    return ['none', ...CODEC_TYPES.filter((t) => this.has(t))]
  }

  /**
   * `encodeBatch`'s `compression` option for `type`: undefined for `none`; COMPRESSION_UNSUPPORTED when the
   * type has no codec that can write here.
   */
  compressionFor(type: CompressionType): BatchCompression | undefined {
    if (type === 'none') return undefined
    const why = this.#missing(type, 'compress')
    if (why !== null) throw unsupported(type, 'writing', why)
    return this.#entries.get(type)!.compression
  }

  /** Decompresses a records section by Kafka codec id; for `decodeRecords`. Bound: pass it around as is. */
  readonly decompressor: Decompressor = (codec: number, data: Buffer): Buffer => {
    if (codec === CODEC_IDS.none) return data
    const name = NAME_BY_ID.get(codec)
    if (name === undefined) {
      throw new SeglogError('COMPRESSION_UNSUPPORTED', `codec id ${codec} is not a Kafka compression codec`)
    }
    const why = this.#missing(name, 'decompress')
    if (why !== null) throw unsupported(name, `reading (batch attributes say codec ${codec})`, why)
    try {
      return this.#entries.get(name)!.codec.decompress(data)
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err)
      throw new SeglogError('CORRUPT_LOG', `records do not decompress as ${name}: ${detail}`, { cause: err })
    }
  }

  #missing(type: CodecType, direction: Direction): string | null {
    const entry = this.#entries.get(type)
    return entry === undefined ? `no ${type} codec` : entry.missing(direction)
  }
}

function unsupported(type: CodecType, what: string, why: string): SeglogError {
  return new SeglogError(
    'COMPRESSION_UNSUPPORTED',
    `compression ${JSON.stringify(type)} is not available for ${what}: ${why}; or register a codec with the ` +
      `open option codecs.${type}`,
  )
}
