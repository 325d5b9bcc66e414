/**
 * Kafka's lz4 (codec id 3): the records section is one **LZ4 frame** (the LZ4 frame format, magic `04 22 4d 18`),
 * which every Kafka client writes for v2 batches (Kafka's `KafkaLZ4BlockOutputStream`, librdkafka's LZ4F).
 *
 * Decoding takes any frame a client writes: independent or linked blocks, any maximum block size (64 KiB–4 MiB),
 * with or without the content size, block checksums and content checksum (checked when present). Encoding writes
 * independent blocks without checksums, which Kafka's Java reader, librdkafka and kafkajs's lz4 codecs read.
 * Both come from the `lz4-napi` package (lz4_flex, prebuilt per platform, loaded on first use).
 */
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
    decompress: (data) => {
      // The frame decoder would read other data as a (different) frame format's error; say what it is instead.
      if (data.length < 4 || data.readUInt32LE(0) !== LZ4_FRAME_MAGIC) {
        throw new Error(`not an LZ4 frame (it starts ${data.subarray(0, 4).toString('hex') || 'with nothing'})`)
      }
      return pkg.get()!.decompressFrameSync(data)
    },
  }
}
