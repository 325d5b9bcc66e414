/**
 * Producer: KafkaJS-shaped sends on top of the engine's append (through `ProducerHost`).
 *
 * Batching: with `lingerMs` > 0, concurrent `send`s to one topic (and one `acks` level) are gathered until
 * `lingerMs` passed or about `batchBytes` are queued, then written as one engine append (one batch per
 * partition, one fsync for acks -1). Each `send` resolves with the metadata of its own messages, in order. If a
 * combined append is rejected (an invalid message), each gathered send is retried alone so only the faulty one
 * fails. With `lingerMs` 0 (the default) every send is its own append.
 *
 * A custom partitioner has KafkaJS's shape: `() => ({ topic, partitionMetadata, message }) => number`; it is
 * called for messages without an explicit `partition`.
 *
 * Concurrency: any number of sends at once; a send resolves with its own messages' metadata, in order.
 * `disconnect()` (also called by the engine's close) delivers what is queued before it resolves.
 */
import { SeglogError } from '../errors.js'
import { holdProcess } from '../keep-alive.js'
import { checkMessages } from '../messages.js'
import { type Acks, checkAcks, type Message } from '../records.js'

export interface PartitionMetadata {
  partitionId: number
  leader: number
  replicas: number[]
  isr: number[]
}

export type PartitionerFn = (args: {
  topic: string
  partitionMetadata: PartitionMetadata[]
  message: Message
}) => number
export type Partitioner = () => PartitionerFn

export interface ProducerOptions {
  /** Wait this long to gather concurrent sends into one append. Default 0 (no wait). */
  lingerMs?: number
  /** Flush a topic's gathered messages once about this many bytes are queued. Default 16384. */
  batchBytes?: number
  /** Default acks for sends (the engine's default when unset). */
  acks?: Acks
  /** KafkaJS-shaped partitioner factory (`createPartitioner` is accepted too). */
  partitioner?: Partitioner
  createPartitioner?: Partitioner
}

export interface ProducerRecordMetadata {
  topic: string
  partition: number
  offset: number
  timestamp: number
}

/** What a producer needs from the engine: exactly these calls (the facade builds it; a producer never sees `Seglog`). */
export interface ProducerHost {
  assertOpen(): void
  append(topic: string, messages: readonly Message[], options: { acks?: Acks }): Promise<ProducerRecordMetadata[]>
  partitionCount(topic: string): number | undefined
  registerClient(client: { stop(): Promise<void> }): void
  unregisterClient(client: { stop(): Promise<void> }): void
}

interface Pending {
  messages: Message[]
  resolve: (meta: ProducerRecordMetadata[]) => void
  reject: (err: unknown) => void
}

interface Queue {
  topic: string
  acks: Acks | undefined
  pending: Pending[]
  bytes: number
  timer: NodeJS.Timeout | null
}

function estimateBytes(m: Message): number {
  const v = m.value
  const valueBytes =
    v === null || v === undefined ? 0 : typeof v === 'string' ? v.length : v instanceof Uint8Array ? v.length : 100
  const k = m.key
  return 24 + valueBytes + (k === null || k === undefined ? 0 : k.length)
}

const NO_OPTIONS = Object.freeze({})

export class Producer {
  private readonly lingerMs: number
  private readonly batchBytes: number
  private readonly acks: Acks | undefined
  private readonly partitionerFn: PartitionerFn | null
  private readonly queues = new Map<string, Queue>()
  private readonly inflight = new Set<Promise<unknown>>()
  private disconnected = false

  constructor(
    private readonly host: ProducerHost,
    options: ProducerOptions = {},
  ) {
    if (options === null || typeof options !== 'object') throw new TypeError('producer options must be an object')
    const linger = options.lingerMs ?? 0
    if (!Number.isFinite(linger) || linger < 0) throw new TypeError('lingerMs must be a non-negative number')
    const batchBytes = options.batchBytes ?? 16384
    if (!Number.isInteger(batchBytes) || batchBytes < 1) throw new TypeError('batchBytes must be a positive integer')
    this.lingerMs = linger
    this.batchBytes = batchBytes
    this.acks = options.acks === undefined ? undefined : checkAcks(options.acks)
    const factory = options.partitioner ?? options.createPartitioner
    if (factory !== undefined && typeof factory !== 'function') throw new TypeError('partitioner must be a function')
    this.partitionerFn = factory ? factory() : null
    if (this.partitionerFn !== null && typeof this.partitionerFn !== 'function') {
      throw new TypeError('partitioner() must return a function ({ topic, partitionMetadata, message }) => number')
    }
    host.registerClient(this)
  }

  /** KafkaJS compatibility: the engine is already open. */
  async connect(): Promise<void> {
    this.assertUsable()
  }

  private assertUsable(): void {
    this.host.assertOpen()
    if (this.disconnected) throw new SeglogError('ENGINE_CLOSED', 'producer is disconnected')
  }

  /** Sends `messages` to `topic`; resolves with `{ topic, partition, offset, timestamp }` per message. */
  send(record: { topic: string; messages: Message[]; acks?: Acks }): Promise<ProducerRecordMetadata[]> {
    try {
      this.assertUsable()
      if (record === null || typeof record !== 'object') throw new TypeError('send needs { topic, messages }')
      const { topic, messages } = record
      if (typeof topic !== 'string') throw new TypeError('topic must be a string')
      if (!Array.isArray(messages)) throw new TypeError('messages must be an array')
      const acks = record.acks === undefined ? this.acks : checkAcks(record.acks)
      // Checked alone before it can be gathered with other sends, so a bad message fails only its own send.
      if (this.lingerMs > 0) checkMessages(messages)
      const prepared = this.applyPartitioner(topic, messages)
      if (this.lingerMs === 0) return this.track(this.appendNow(topic, prepared, acks))
      return this.track(this.enqueue(topic, prepared, acks))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Sends to several topics; resolves with all metadata (in the order of `topicMessages`). */
  async sendBatch(batch: {
    topicMessages: { topic: string; messages: Message[] }[]
    acks?: Acks
  }): Promise<ProducerRecordMetadata[]> {
    if (batch === null || typeof batch !== 'object' || !Array.isArray(batch.topicMessages)) {
      throw new TypeError('sendBatch needs { topicMessages: [{ topic, messages }] }')
    }
    const results = await Promise.all(batch.topicMessages.map((tm) => this.send({ ...tm, acks: batch.acks })))
    return results.flat()
  }

  private applyPartitioner(topic: string, messages: Message[]): Message[] {
    const fn = this.partitionerFn
    if (fn === null) return messages
    const count = this.host.partitionCount(topic)
    if (count === undefined) throw new SeglogError('TOPIC_NOT_FOUND', `topic '${topic}' does not exist`)
    const partitionMetadata: PartitionMetadata[] = Array.from({ length: count }, (_, i) => ({
      partitionId: i,
      leader: 0,
      replicas: [0],
      isr: [0],
    }))
    return messages.map((message) => {
      if (message?.partition !== undefined && message.partition !== null) return message
      const partition = fn({ topic, partitionMetadata, message })
      if (!Number.isInteger(partition)) throw new TypeError(`partitioner returned ${String(partition)}, not an integer`)
      return { ...message, partition }
    })
  }

  /** A send queued or in flight keeps the process alive until it settles (what a caller awaits). */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p)
    const release = holdProcess()
    const done = () => {
      this.inflight.delete(p)
      release()
    }
    p.then(done, done)
    return p
  }

  private appendNow(topic: string, messages: Message[], acks: Acks | undefined): Promise<ProducerRecordMetadata[]> {
    return this.host.append(topic, messages, acks === undefined ? NO_OPTIONS : { acks })
  }

  private enqueue(topic: string, messages: Message[], acks: Acks | undefined): Promise<ProducerRecordMetadata[]> {
    const key = `${topic}\0${acks ?? ''}`
    let q = this.queues.get(key)
    if (q === undefined) {
      q = { topic, acks, pending: [], bytes: 0, timer: null }
      this.queues.set(key, q)
    }
    const queue = q
    return new Promise((resolve, reject) => {
      queue.pending.push({ messages, resolve, reject })
      for (const m of messages) queue.bytes += estimateBytes(m)
      if (queue.bytes >= this.batchBytes) this.drain(key)
      else if (queue.timer === null) {
        queue.timer = setTimeout(() => this.drain(key), this.lingerMs)
      }
    })
  }

  /** Writes a queue's gathered sends as one append. */
  private drain(key: string): Promise<void> {
    const q = this.queues.get(key)
    if (q === undefined) return Promise.resolve()
    this.queues.delete(key)
    if (q.timer) clearTimeout(q.timer)
    const pending = q.pending
    const all = pending.length === 1 ? pending[0].messages : pending.flatMap((p) => p.messages)
    const job = this.appendNow(q.topic, all, q.acks).then(
      (meta) => {
        if (pending.length === 1) {
          pending[0].resolve(meta)
          return
        }
        let at = 0
        for (const p of pending) {
          p.resolve(meta.slice(at, at + p.messages.length))
          at += p.messages.length
        }
      },
      async (err) => {
        if (pending.length === 1 || !(err instanceof SeglogError) || err.code === 'IO_ERROR') {
          for (const p of pending) p.reject(err)
          return
        }
        // One bad message must not fail the sends it was gathered with: retry each alone.
        for (const p of pending) {
          try {
            p.resolve(await this.appendNow(q.topic, p.messages, q.acks))
          } catch (e) {
            p.reject(e)
          }
        }
      },
    )
    return this.track(job)
  }

  /** Writes everything queued now and waits for all sends in flight. */
  async flush(): Promise<void> {
    await Promise.all([...this.queues.keys()].map((k) => this.drain(k)))
    await Promise.allSettled([...this.inflight])
  }

  /** Delivers what is queued, then refuses further sends. */
  async disconnect(): Promise<void> {
    if (this.disconnected) return
    await this.flush()
    this.disconnected = true
    this.host.unregisterClient(this)
  }

  /** Engine close: deliver what is queued. */
  async stop(): Promise<void> {
    await this.disconnect()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect()
  }
}
