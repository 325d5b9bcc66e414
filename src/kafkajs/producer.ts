/**
 * The KafkaJS producer over a directory. On a local directory it sends through the engine's native producer
 * (which keeps the process alive while a send is in flight and delivers what is queued before `disconnect()`
 * resolves); on a directory another process owns it is a kafkajs producer pointed at the owner's listener.
 *
 * A send, as KafkaJS does it: the checks KafkaJS makes first (topic, messages, values, the connection state, the
 * compression codec), then missing topics are created (`allowAutoTopicCreation`, default true; such topics are
 * `binary`, as a broker's auto-created topics hold raw bytes), every message is given its partition by the
 * partitioner (`createPartitioner`, KafkaJS's DefaultPartitioner by default: murmur2 of the key, round-robin for
 * null keys), and each topic's messages are one engine append (one batch per partition: all of it lands or none).
 * The result is one `RecordMetadata` per topic and partition written, partitions in ascending order, with
 * `baseOffset` the partition's first offset of this send (none for `acks: 0`, like KafkaJS).
 *
 * Values are raw bytes (KafkaJS writes a non-Buffer value as `String(value)`). On a topic whose format is not
 * `binary` (a topic made with the native API) the bytes must be a value of that format: they are decoded and
 * stored in it (INVALID_RECORD when they do not decode), as a wire client's bytes are checked.
 */

import { decodeValue } from '../internal.js'
import type { Message as NativeMessage, Producer as NativeProducer, Seglog } from '../main.js'
import { checkCompression } from './compression.js'
import { type KafkaContext, partitionMetadata, type TopicFacts, topicFacts } from './context.js'
import type { Backend, Lease } from './directory.js'
import {
  fromSeglog,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  PROTOCOL_CODES,
  protocolError,
} from './errors.js'
import { Instrumentation } from './instrumentation.js'
import { Partitioners } from './partitioners.js'
import { shareCodecs, viaKafkaJS } from './remote.js'
import type {
  IHeaders,
  InstrumentationEvent,
  Logger,
  Message,
  Producer,
  ProducerBatch,
  ProducerConfig,
  ProducerEvents,
  ProducerRecord,
  RecordMetadata,
  Transaction,
} from './types.js'

export const PRODUCER_EVENTS: ProducerEvents = Object.freeze({
  CONNECT: 'producer.connect',
  DISCONNECT: 'producer.disconnect',
  REQUEST: 'producer.network.request',
  REQUEST_TIMEOUT: 'producer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'producer.network.request_queue_size',
})

/** How long a producer trusts what it learned about a topic (KafkaJS refreshes its metadata every few minutes). */
const FACTS_TTL_MS = 1000

type Status = 'disconnected' | 'connecting' | 'connected' | 'disconnecting'

/** A value, key or header value as KafkaJS writes it: bytes as they are, anything else as `String(x)`. */
function bytesOf(x: unknown): Buffer {
  return Buffer.isBuffer(x) ? x : x instanceof Uint8Array ? Buffer.from(x) : Buffer.from(String(x))
}

function nativeHeaders(headers: IHeaders | undefined): NativeMessage['headers'] {
  if (headers === undefined || headers === null) return undefined
  const out: NonNullable<NativeMessage['headers']> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (Array.isArray(v)) out[k] = v.map((x) => (x === null || x === undefined ? null : bytesOf(x)))
    else out[k] = v === null || v === undefined ? null : bytesOf(v)
  }
  return out
}

export class FacadeProducer implements Producer {
  readonly events: ProducerEvents = PRODUCER_EVENTS
  readonly #ctx: KafkaContext
  readonly #config: ProducerConfig
  readonly #logger: Logger
  readonly #instrumentation: Instrumentation
  readonly #partition: ReturnType<NonNullable<ProducerConfig['createPartitioner']>>
  #status: Status = 'disconnected'
  #connecting: Promise<void> | null = null
  #lease: Lease | null = null
  #native: NativeProducer | null = null
  #remote: Producer | null = null
  #remoteModule: Parameters<typeof shareCodecs>[0] | null = null
  readonly #facts = new Map<string, { facts: TopicFacts; at: number }>()

  constructor(ctx: KafkaContext, config: ProducerConfig = {}) {
    if (config === null || typeof config !== 'object')
      throw new KafkaJSNonRetriableError('producer config must be an object')
    if (config.idempotent === true) {
      throw new KafkaJSNotImplemented(
        'seglog/kafkajs does not implement idempotent producers yet (producer({ idempotent: true })): create the producer without it',
      )
    }
    this.#ctx = ctx
    this.#config = config
    this.#logger = ctx.logger.namespace('Producer')
    this.#instrumentation = new Instrumentation(PRODUCER_EVENTS, 'producer', () => this.#logger)
    const factory = config.createPartitioner ?? Partitioners.DefaultPartitioner
    if (typeof factory !== 'function') throw new KafkaJSNonRetriableError('createPartitioner must be a function')
    this.#partition = factory()
  }

  async connect(): Promise<void> {
    if (this.#status === 'connected') return
    if (this.#connecting !== null) return this.#connecting
    this.#status = 'connecting'
    const connecting = this.#open()
    this.#connecting = connecting
    try {
      await connecting
      this.#status = 'connected'
      this.#instrumentation.emit(PRODUCER_EVENTS.CONNECT, undefined)
    } catch (err) {
      this.#status = 'disconnected'
      throw err
    } finally {
      this.#connecting = null
    }
  }

  async #open(): Promise<void> {
    const lease = await this.#ctx.lease()
    try {
      await this.#attach(lease.backend)
    } catch (err) {
      await lease.release()
      throw err
    }
    this.#lease = lease
  }

  async #attach(backend: Backend): Promise<void> {
    if (backend.kind === 'local') {
      this.#native = backend.log.producer()
      return
    }
    const { mod, kafka } = await this.#ctx.remote(backend)
    const remote = kafka.producer({
      ...this.#config,
      createPartitioner: this.#config.createPartitioner ?? Partitioners.DefaultPartitioner,
    })
    // CONNECT and DISCONNECT are this facade's own (emitted once whichever client did the work).
    for (const name of [PRODUCER_EVENTS.REQUEST, PRODUCER_EVENTS.REQUEST_TIMEOUT, PRODUCER_EVENTS.REQUEST_QUEUE_SIZE]) {
      remote.on(name, (e: InstrumentationEvent<unknown>) => this.#instrumentation.forward(e))
    }
    await viaKafkaJS(() => remote.connect())
    this.#remote = remote
    this.#remoteModule = mod
  }

  async disconnect(): Promise<void> {
    await this.#connecting?.catch(() => {})
    if (this.#status === 'disconnecting') return
    this.#status = 'disconnecting'
    try {
      if (this.#native !== null) await this.#native.disconnect()
      if (this.#remote !== null) await viaKafkaJS(() => this.#remote!.disconnect())
    } finally {
      this.#native = null
      this.#remote = null
      const lease = this.#lease
      this.#lease = null
      this.#status = 'disconnected'
      await lease?.release()
      this.#instrumentation.emit(PRODUCER_EVENTS.DISCONNECT, undefined)
    }
  }

  isIdempotent(): boolean {
    return false
  }

  async transaction(): Promise<Transaction> {
    throw new KafkaJSNotImplemented(
      'seglog/kafkajs does not implement transactions yet (producer.transaction()): send without a transaction',
    )
  }

  on<E extends ProducerEvents[keyof ProducerEvents]>(
    eventName: E,
    // biome-ignore lint/suspicious/noExplicitAny: each event name has its own payload type (see ProducerEventMap).
    listener: (event: any) => void,
  ): () => void {
    return this.#instrumentation.on(eventName, listener)
  }

  logger(): Logger {
    return this.#logger
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (record === null || typeof record !== 'object') {
      return Promise.reject(new KafkaJSNonRetriableError('send needs { topic, messages }'))
    }
    const { acks, timeout, compression, topic, messages } = record
    return this.sendBatch({ acks, timeout, compression, topicMessages: [{ topic, messages }] })
  }

  async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    if (batch === null || typeof batch !== 'object')
      throw new KafkaJSNonRetriableError('sendBatch needs { topicMessages }')
    const { acks = -1, compression, topicMessages = [] } = batch
    if (!Array.isArray(topicMessages)) throw new KafkaJSNonRetriableError('Invalid topicMessages array')
    if (topicMessages.some((tm) => !tm?.topic)) throw new KafkaJSNonRetriableError('Invalid topic')
    for (const { topic, messages } of topicMessages) {
      if (!Array.isArray(messages)) {
        throw new KafkaJSNonRetriableError(`Invalid messages array [${messages}] for topic "${topic}"`)
      }
      const noValue = messages.find((m) => m?.value === undefined)
      if (noValue !== undefined) {
        throw new KafkaJSNonRetriableError(
          `Invalid message without value for topic "${topic}": ${JSON.stringify(noValue)}`,
        )
      }
    }
    if (this.#status === 'disconnecting') {
      throw new KafkaJSNonRetriableError(
        "The producer is disconnecting; therefore, it can't safely accept messages anymore",
      )
    }
    if (this.#status !== 'connected') throw new KafkaJSError('The producer is disconnected')
    checkCompression(compression)
    if (this.#remote !== null) {
      shareCodecs(this.#remoteModule!)
      return viaKafkaJS(() => this.#remote!.sendBatch(batch))
    }
    if (acks !== -1 && acks !== 0 && acks !== 1) {
      throw protocolError(21, `acks must be -1, 0 or 1, got ${String(acks)}`)
    }
    const backend = this.#lease?.backend
    const native = this.#native
    if (backend?.kind !== 'local' || native === null) throw new KafkaJSError('The producer is disconnected')
    const merged = new Map<string, Message[]>()
    for (const { topic, messages } of topicMessages) merged.set(topic, [...(merged.get(topic) ?? []), ...messages])
    const results = await Promise.all(
      [...merged].map(([topic, messages]) => this.#sendTopic(backend.log, native, topic, messages, acks)),
    )
    return acks === 0 ? [] : results.flat()
  }

  async #sendTopic(
    log: Seglog,
    native: NativeProducer,
    topic: string,
    messages: Message[],
    acks: -1 | 0 | 1,
  ): Promise<RecordMetadata[]> {
    const facts = await this.#topic(log, topic)
    const metadata = partitionMetadata(facts.partitions)
    const prepared: NativeMessage[] = messages.map((m, i) => {
      const partition = this.#partition({ topic, partitionMetadata: metadata, message: m })
      return {
        key: m.key === null || m.key === undefined ? null : Buffer.isBuffer(m.key) ? m.key : bytesOf(m.key),
        value: this.#value(facts, m.value, i),
        headers: nativeHeaders(m.headers),
        partition,
        timestamp: m.timestamp ?? undefined,
      }
    })
    let meta: Awaited<ReturnType<NativeProducer['send']>>
    try {
      meta = await native.send({ topic, messages: prepared, acks })
    } catch (err) {
      // A partition the cached facts do not know yet: forget them, so the next send sees the topic afresh.
      this.#facts.delete(topic)
      throw toKafka(err, topic)
    }
    const first = new Map<number, { offset: number; timestamp: number }>()
    for (const m of meta) if (!first.has(m.partition)) first.set(m.partition, m)
    return [...first]
      .sort(([a], [b]) => a - b)
      .map(([partition, m]) => ({
        topicName: topic,
        partition,
        errorCode: 0,
        baseOffset: String(m.offset),
        logAppendTime: facts.logAppendTime ? String(m.timestamp) : '-1',
        logStartOffset: String(log.offsets(topic, partition).logStartOffset),
      }))
  }

  #value(facts: TopicFacts, value: Message['value'], index: number): unknown {
    if (value === null) return null
    const bytes = bytesOf(value)
    if (facts.format === 'binary') return bytes
    try {
      return decodeValue(facts.format, bytes)
    } catch (err) {
      throw protocolError(
        PROTOCOL_CODES.INVALID_RECORD,
        `message ${index}: the value is not ${facts.format} (topic format ${facts.format})`,
        err,
      )
    }
  }

  /** The topic's facts, creating it (binary) when missing and allowed. */
  async #topic(log: Seglog, topic: string): Promise<TopicFacts> {
    const cached = this.#facts.get(topic)
    if (cached !== undefined && Date.now() - cached.at < FACTS_TTL_MS) return cached.facts
    let facts: TopicFacts | undefined
    try {
      facts = topicFacts(log, topic)
      if (facts === undefined) {
        if (this.#config.allowAutoTopicCreation === false) {
          throw protocolError(PROTOCOL_CODES.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`)
        }
        await log.createTopic(topic, { config: { format: 'binary' } }).catch((err: unknown) => {
          // Another send created it meanwhile.
          if ((err as { code?: unknown })?.code !== 'TOPIC_EXISTS') throw err
        })
        facts = topicFacts(log, topic)
      }
    } catch (err) {
      throw toKafka(err, topic)
    }
    if (facts === undefined)
      throw protocolError(PROTOCOL_CODES.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' was deleted`)
    this.#facts.set(topic, { facts, at: Date.now() })
    return facts
  }
}

/** An engine error as KafkaJS reports it; a TypeError from the engine's message checks as a non-retriable error. */
function toKafka(err: unknown, topic: string): unknown {
  if (err instanceof KafkaJSError) return err
  if (err instanceof TypeError) return new KafkaJSNonRetriableError(err.message, { cause: err })
  return fromSeglog(err, { topic })
}
