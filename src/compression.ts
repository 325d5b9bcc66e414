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
 * - Decompression is bounded: `decompressor(codec, data, maxBytes)` never returns more than `maxBytes` (by default
 *   the most a Buffer holds; codec 0 returns `data` itself), and each built-in codec refuses output above it without building it first (gzip and
 *   zlib's zstd through zlib's `maxOutputLength`; snappy by the lengths its blocks declare; lz4 and the zstd
 *   packages by what the frame's headers say its blocks can yield; see src/codecs/). Exceeding it is
 *   `CORRUPT_LOG` whose `cause.kind` is `'decompressed-size'` (with `cause.limit`), so that a caller checking a
 *   client's data can report it as its own error. A registered codec gets `maxBytes` as its second argument; what
 *   it returns is checked against it too.
 */
import { createRequire } from 'node:module'
import { gzipCodec } from './codecs/gzip.js'
import { type BoundedCodec, MAX_BUFFER_BYTES, OutputLimitError } from './codecs/limit.js'
import { lz4Codec } from './codecs/lz4.js'
import { type Direction, type LoadableCodec, type PackageLoader, requirePackage } from './codecs/packages.js'
import { snappyCodec } from './codecs/snappy.js'
import { zstdCodec } from './codecs/zstd.js'
import { SeglogError } from './errors.js'
import { CODEC_IDS } from './segment/record-batch.js'

export const COMPRESSION_TYPES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
export type CompressionType = (typeof COMPRESSION_TYPES)[number]
/** The compression types that need a codec. */
export type CodecType = Exclude<CompressionType, 'none'>

export interface Codec {
  compress(data: Buffer): Buffer
  /**
   * `maxBytes`: the most output the caller accepts; a codec should throw rather than build more (the registry
   * refuses a longer result either way).
   */
  decompress(data: Buffer, maxBytes: number): Buffer
}

/**
 * A `Decompressor` (for `decodeRecords`) that takes a bound: it returns at most `maxBytes` bytes (default: the most
 * a Buffer holds), else throws CORRUPT_LOG with `cause.kind === 'decompressed-size'`.
 */
export type BoundedDecompressor = (codec: number, data: Buffer, maxBytes?: number) => Buffer

/** The `cause` of the error a `BoundedDecompressor` throws for output above its bound. */
export interface DecompressedSizeCause {
  kind: 'decompressed-size'
  limit: number
  err: unknown
}

/** What `encodeBatch` takes as `options.compression`. */
export interface BatchCompression {
  codec: number
  compress: (records: Buffer) => Buffer
}

/** The parts of node:zlib the registry uses; zstd is optional (absent before Node 22.15). */
export interface ZlibLike {
  gzipSync(data: Buffer): Buffer
  gunzipSync(data: Buffer, options?: { maxOutputLength?: number }): Buffer
  zstdCompressSync?: (data: Buffer) => Buffer
  zstdDecompressSync?: (data: Buffer, options?: { maxOutputLength?: number }) => Buffer
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

/**
 * node:zlib, loaded on the first registry that builds its codecs (the first compressed batch written or read, or a
 * compression check): loading it costs ~4 ms (it pulls in node:stream), which an engine that never compresses does
 * not pay.
 */
let nodeZlib: ZlibLike | null = null
function loadZlib(): ZlibLike {
  nodeZlib ??= createRequire(import.meta.url)('node:zlib') as ZlibLike
  return nodeZlib
}

/** True when this runtime's node:zlib has zstd (Node 22.15+/23.8+). */
export function runtimeHasZstd(z: ZlibLike = loadZlib()): boolean {
  return typeof z.zstdCompressSync === 'function' && typeof z.zstdDecompressSync === 'function'
}

interface Entry {
  codec: BoundedCodec
  /** Why a direction is not available here (a built-in codec's package is missing), or null. */
  missing: (direction: Direction) => string | null
  compression: BatchCompression
}

const ALWAYS = (): null => null

export class CodecRegistry {
  readonly #entries = new Map<CodecType, Entry>()
  /** The built-in codecs are built on first use (see loadZlib); until then, the options they are built from. */
  #pending: CodecRegistryOptions | null

  constructor(options: CodecRegistryOptions = {}) {
    this.#pending = { ...options }
  }

  /** The entries, with the built-in codecs built first if they were not yet (a registered codec replaces one). */
  #table(): Map<CodecType, Entry> {
    const options = this.#pending
    if (options !== null) {
      this.#pending = null
      const registered = new Map(this.#entries)
      const z = options.zlib ?? loadZlib()
      const load = options.loadPackage ?? requirePackage
      this.#set('gzip', gzipCodec(z), ALWAYS)
      this.#builtin('snappy', snappyCodec(load))
      this.#builtin('lz4', lz4Codec(load))
      this.#builtin('zstd', zstdCodec(z, load))
      for (const [name, entry] of registered) this.#entries.set(name, entry)
    }
    return this.#entries
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

  #set(name: CodecType, codec: BoundedCodec, missing: Entry['missing']): void {
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
    return this.#table().get(type)!.compression
  }

  /**
   * Decompresses a records section by Kafka codec id, to at most `maxBytes` bytes (see the module header); for
   * `decodeRecords`. Bound: pass it around as is.
   */
  readonly decompressor: BoundedDecompressor = (codec: number, data: Buffer, maxBytes?: number): Buffer => {
    const limit = maxBytes ?? MAX_BUFFER_BYTES
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new TypeError(`maxBytes must be a non-negative integer, got ${String(maxBytes)}`)
    }
    if (codec === CODEC_IDS.none) return data
    const name = NAME_BY_ID.get(codec)
    if (name === undefined) {
      throw new SeglogError('COMPRESSION_UNSUPPORTED', `codec id ${codec} is not a Kafka compression codec`)
    }
    const why = this.#missing(name, 'decompress')
    if (why !== null) throw unsupported(name, `reading (batch attributes say codec ${codec})`, why)
    try {
      const out = this.#table().get(name)!.codec.decompress(data, limit)
      if (out.length > limit) throw new OutputLimitError(limit, `the output is ${out.length} bytes`)
      return out
    } catch (err) {
      if (err instanceof OutputLimitError) {
        const cause: DecompressedSizeCause = { kind: 'decompressed-size', limit, err }
        throw new SeglogError(
          'CORRUPT_LOG',
          `records decompress as ${name} to more than ${limit} bytes, the most allowed here: ${err.message}`,
          { cause },
        )
      }
      const detail = err instanceof Error ? err.message : String(err)
      throw new SeglogError('CORRUPT_LOG', `records do not decompress as ${name}: ${detail}`, { cause: err })
    }
  }

  #missing(type: CodecType, direction: Direction): string | null {
    const entry = this.#table().get(type)
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
