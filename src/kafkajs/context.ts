/**
 * What the clients of one `Kafka` share: its config and root logger, the directory, how a client takes a lease on
 * it, the topic facts producers and consumers need (partition count, value format, timestamp type), and, for a
 * directory owned by another process, the kafkajs client pointed at the owner's listener (one per address).
 */
import { isSeglogError, type Seglog, type SeglogOptions } from '../main.js'
import { acquire, type Backend, type Lease } from './directory.js'
import { KafkaJSNonRetriableError } from './errors.js'
import { type KafkaJSModule, loadKafkaJS, remoteConfig } from './remote.js'
import type { KafkaConfig, Logger, PartitionMetadata, RetryOptions } from './types.js'

export interface TopicFacts {
  partitions: number
  format: 'msgpack' | 'json' | 'string' | 'binary'
  logAppendTime: boolean
}

/**
 * A client's `connect()` in flight: one open at a time, and a call while one runs waits for that one (kafkajs
 * clients may be connected from several places at once).
 */
export class ConnectInFlight {
  #running: Promise<void> | null = null

  /** Runs `open` unless one is running (then shares it); `connected` once this call's own open succeeded. */
  async run(open: () => Promise<void>, connected: () => void): Promise<void> {
    if (this.#running !== null) return this.#running
    const running = open()
    this.#running = running
    try {
      await running
    } finally {
      this.#running = null
    }
    connected()
  }

  /** Resolves once a connect in flight has settled, either way. */
  async settled(): Promise<void> {
    await this.#running?.catch(() => {})
  }
}

/** `SEGLOG_LISTEN` as listen options: `PORT` or `HOST:PORT` (`[v6]:PORT`). */
function listenFromEnv(): SeglogOptions['listen'] | undefined {
  const raw = process.env.SEGLOG_LISTEN
  if (raw === undefined || raw === '') return undefined
  const m = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(raw.trim())
  if (m === null || Number(m[3]) > 65535) {
    throw new KafkaJSNonRetriableError(
      `SEGLOG_LISTEN must be PORT or HOST:PORT (e.g. 0 or 127.0.0.1:9092), got '${raw}'`,
    )
  }
  const host = m[1] ?? m[2]
  return host === undefined ? { port: Number(m[3]) } : { port: Number(m[3]), host }
}

export class KafkaContext {
  readonly dir: string
  private readonly remotes = new Map<
    string,
    Promise<{ mod: KafkaJSModule; kafka: InstanceType<KafkaJSModule['Kafka']> }>
  >()

  constructor(
    readonly config: KafkaConfig,
    readonly logger: Logger,
  ) {
    const dir = config.dir ?? process.env.SEGLOG_DIR
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new KafkaJSNonRetriableError(
        'seglog/kafkajs needs a directory: new Kafka({ dir, ... }), or the SEGLOG_DIR environment variable when the config names only brokers',
      )
    }
    this.dir = dir
  }

  get retry(): RetryOptions | undefined {
    return this.config.retry
  }

  get clientId(): string {
    return this.config.clientId ?? 'kafkajs'
  }

  /** A lease on the directory (opened as its owner, or reached through the owner's listener). */
  lease(): Promise<Lease> {
    const engine: SeglogOptions = { ...(this.config.seglog ?? {}) }
    if (engine.listen === undefined) {
      const listen = listenFromEnv()
      if (listen !== undefined) engine.listen = listen
    }
    const waitForOwnerMs = Math.max(this.config.connectionTimeout ?? 3000, 0)
    return acquire(this.dir, { engine, waitForOwnerMs })
  }

  /** The kafkajs client for a directory reached through another process's listener. */
  remote(backend: Extract<Backend, { kind: 'remote' }>): Promise<{
    mod: KafkaJSModule
    kafka: InstanceType<KafkaJSModule['Kafka']>
  }> {
    let r = this.remotes.get(backend.broker)
    if (r === undefined) {
      const who = backend.owner.pid === null ? 'another process' : `process ${backend.owner.pid}`
      r = loadKafkaJS(`${backend.realDir} is owned by ${who}, which serves it on ${backend.broker}`).then((mod) => ({
        mod,
        kafka: new mod.Kafka(remoteConfig(this.config, backend.broker)),
      }))
      this.remotes.set(backend.broker, r)
      r.catch(() => this.remotes.delete(backend.broker))
    }
    return r
  }
}

/** The partitions of a topic as KafkaJS's metadata shows them on a one-broker cluster (node 0 leads all). */
export function partitionMetadata(count: number): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
  }))
}

/** A topic's facts, or undefined when it does not exist. */
export function topicFacts(log: Seglog, topic: string): TopicFacts | undefined {
  let d: ReturnType<Seglog['describeTopic']>
  try {
    d = log.describeTopic(topic)
  } catch (err) {
    if (isSeglogError(err, 'TOPIC_NOT_FOUND')) return undefined
    throw err
  }
  return {
    partitions: d.partitions.length,
    format: d.config.format,
    logAppendTime: d.config.messageTimestampType === 'LogAppendTime',
  }
}
