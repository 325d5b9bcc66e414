/**
 * Reaching a directory that another process owns: through that owner's Kafka listener, with the kafkajs package
 * itself as the client (an optional peer dependency, loaded only here and only when needed). The facade hands
 * the app's config to kafkajs with the listener's address as the only broker and without `ssl`/`sasl` (the
 * listener is plain TCP); the app's partitioner and assignors are KafkaJS-shaped and work there unchanged.
 *
 * Also the bridge back: kafkajs's errors become this facade's error classes (`fromKafkaJS`), and the codecs an
 * app registered in this facade's `CompressionCodecs` are copied into kafkajs's registry before each send.
 */
import { CompressionCodecs } from './compression.js'
import { CompressionTypes } from './enums.js'
import { fromKafkaJS, KafkaJSNonRetriableError } from './errors.js'
import type { Admin, Consumer, KafkaConfig, Producer } from './types.js'

/** The parts of the kafkajs package the facade uses. */
export interface KafkaJSModule {
  Kafka: new (
    config: object,
  ) => {
    producer(config?: object): Producer
    consumer(config: object): Consumer
    admin(config?: object): Admin
  }
  CompressionCodecs: Record<number, unknown>
}

let loaded: Promise<KafkaJSModule> | null = null

/** The kafkajs package; KafkaJSNonRetriableError naming `why` and the install command when it is not there. */
export function loadKafkaJS(why: string): Promise<KafkaJSModule> {
  loaded ??= import('kafkajs').then(
    (m) => ((m as { default?: unknown }).default ?? m) as KafkaJSModule,
    (err: unknown) => {
      loaded = null
      throw new KafkaJSNonRetriableError(
        `${why}; reaching it from this process needs the kafkajs package, an optional peer dependency of seglog ` +
          `(npm install kafkajs@^2.2.4): ${(err as Error).message}`,
        { cause: err as Error },
      )
    },
  )
  return loaded
}

/** The app's config for kafkajs: the listener as the one broker, no TLS or SASL, seglog's own keys dropped. */
export function remoteConfig(config: KafkaConfig, broker: string): object {
  const { dir: _dir, seglog: _seglog, ssl: _ssl, sasl: _sasl, brokers: _brokers, socketFactory: _sf, ...rest } = config
  return { ...rest, brokers: [broker] }
}

const CODEC_TYPES = [CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD] as const

/** Copies the codecs registered here into kafkajs's registry (an app registers them on the facade's). */
export function shareCodecs(mod: KafkaJSModule): void {
  for (const t of CODEC_TYPES) {
    const mine = CompressionCodecs[t]
    if (mod.CompressionCodecs[t] !== mine && !isPlaceholder(mine)) mod.CompressionCodecs[t] = mine
  }
}

function isPlaceholder(factory: () => unknown): boolean {
  try {
    factory()
    return false
  } catch {
    return true
  }
}

/** Runs a call against kafkajs, rethrowing its error as this facade's class of the same name. */
export async function viaKafkaJS<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    throw fromKafkaJS(err)
  }
}
