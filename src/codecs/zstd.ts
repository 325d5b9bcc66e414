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
 */
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
  zstdDecompressSync?: (data: Buffer) => Buffer
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
      decompress: (d) => zstdDecompressSync.call(z, d),
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
    decompress: (d) => {
      const n = native.get()
      return n !== null ? n.decompress(d) : asBuffer(pureJs.get()!(d))
    },
  }
}
