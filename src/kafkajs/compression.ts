/**
 * `CompressionCodecs`, KafkaJS's mutable codec registry: each entry is a factory returning
 * `{ compress(encoder), decompress(buffer) }`. GZIP is built in; Snappy, LZ4 and ZSTD are factories that throw
 * `KafkaJSNotImplemented` until an app assigns a codec package's factory (kafkajs-snappy, kafkajs-lz4, ...), as in
 * KafkaJS. A send asking for a codec checks it here first, so an app that forgot to register one fails on the
 * facade exactly as it would on KafkaJS.
 *
 * What is stored is another matter: the engine compresses a topic's batches per the topic's `compression.type`
 * (every Kafka codec is built into the engine), not per send.
 */
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { CompressionTypes } from './enums.js'
import { KafkaJSNotImplemented } from './errors.js'

const gzip = promisify(zlib.gzip)
const gunzip = promisify(zlib.gunzip)

type CodecFactory = () => unknown

const notRegistered =
  (name: string): CodecFactory =>
  () => {
    throw new KafkaJSNotImplemented(
      `${name} compression not implemented: register a codec with CompressionCodecs[CompressionTypes.${name}] = ...`,
    )
  }

const gzipCodec: CodecFactory = () => ({
  async compress(encoder: { buffer: Buffer } | Buffer): Promise<Buffer> {
    return gzip(Buffer.isBuffer(encoder) ? encoder : encoder.buffer)
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    return gunzip(buffer)
  },
})

export const CompressionCodecs: {
  // biome-ignore lint/suspicious/noExplicitAny: kafkajs types the codec factories' results as any.
  [CompressionTypes.GZIP]: () => any
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  [CompressionTypes.Snappy]: () => any
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  [CompressionTypes.LZ4]: () => any
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  [CompressionTypes.ZSTD]: () => any
} = {
  [CompressionTypes.GZIP]: gzipCodec,
  [CompressionTypes.Snappy]: notRegistered('Snappy'),
  [CompressionTypes.LZ4]: notRegistered('LZ4'),
  [CompressionTypes.ZSTD]: notRegistered('ZSTD'),
}

/**
 * Checks that a send's `compression` has a codec, as KafkaJS does before it encodes a batch: undefined and None
 * need none; a registered factory is called (it throws when the codec is missing); an unknown type is
 * KafkaJSNotImplemented.
 */
export function checkCompression(type: unknown): void {
  if (type === undefined || type === null || type === CompressionTypes.None) return
  const factory = (CompressionCodecs as Record<number, CodecFactory | undefined>)[type as number]
  if (typeof factory !== 'function') throw new KafkaJSNotImplemented(`Compression type ${String(type)} not implemented`)
  factory()
}
