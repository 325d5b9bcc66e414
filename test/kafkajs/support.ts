/**
 * What the seglog/kafkajs tests share: the three ways a test reaches a directory with KafkaJS's API, and small
 * waiting helpers (waits are on conditions with a deadline that names what was awaited, never bare sleeps).
 *
 * Modes (the shared behaviour file runs every assertion in each):
 * - `seglog/kafkajs`: the facade owns the directory in this process (in-process groups, no network).
 * - `kafkajs → listener`: the kafkajs package talking to an engine of this process that listens on loopback
 *   (`Seglog.open(dir, { listen })`, what `seglog serve` runs); here the behaviour is the broker's.
 * - `seglog/kafkajs → owner's listener`: the facade on a directory that engine owns, so it reaches it through the
 *   listener (the facade's multi-process path, with kafkajs underneath).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as KafkaJS from 'kafkajs'
import * as Facade from '../../src/kafkajs/index.js'
import { Seglog } from '../../src/main.js'

export type Kafka = Facade.Kafka
export type Consumer = Facade.Consumer
export type Producer = Facade.Producer
export type Admin = Facade.Admin

export interface Env {
  readonly mode: Mode
  readonly dir: string
  readonly kafka: Kafka
  /** Clients made through these helpers are disconnected by `close()`. */
  producer(config?: Facade.ProducerConfig): Producer
  consumer(config: Facade.ConsumerConfig): Consumer
  admin(): Admin
  /** Disconnects every client made here, then closes the engine the test opened (if any). */
  close(): Promise<void>
}

export interface Mode {
  readonly name: string
  /** True when a Kafka listener serves the directory (the behaviour under test is the broker's). */
  readonly wire: boolean
  open(dir: string, overrides?: Partial<Facade.KafkaConfig>): Promise<Env>
}

const RETRY = { retries: 2, initialRetryTime: 50, maxRetryTime: 500 }

/** Config for every client in the tests: short retries, no logging. */
export function baseConfig(extra: Partial<Facade.KafkaConfig> = {}): Facade.KafkaConfig {
  return {
    clientId: 'kafkajs-test',
    logLevel: Facade.logLevel.NOTHING,
    retry: RETRY,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    ...extra,
  }
}

/** Engine options the tests open with: a cleaner that looks every 50 ms (compaction tests). */
const ENGINE = { cleanerBackoffMs: 50 }

function envOf(mode: Mode, dir: string, kafka: Kafka, closeEngine: () => Promise<void>): Env {
  const clients: { disconnect(): Promise<void> }[] = []
  const track = <T extends { disconnect(): Promise<void> }>(c: T): T => {
    clients.push(c)
    return c
  }
  return {
    mode,
    dir,
    kafka,
    producer: (config) => track(kafka.producer(config)),
    consumer: (config) => track(kafka.consumer(config)),
    admin: () => track(kafka.admin()),
    close: async () => {
      await Promise.allSettled(clients.splice(0).map((c) => c.disconnect()))
      await closeEngine()
    },
  }
}

async function listeningEngine(dir: string): Promise<{ log: Seglog; broker: string }> {
  const log = await Seglog.open(dir, { ...ENGINE, listen: { port: 0 } })
  const a = log.address()!
  return { log, broker: `${a.host}:${a.port}` }
}

export const FACADE: Mode = {
  name: 'seglog/kafkajs',
  wire: false,
  async open(dir, overrides) {
    const kafka = new Facade.Kafka(baseConfig({ dir, seglog: ENGINE, ...overrides }))
    return envOf(this, dir, kafka, async () => {})
  },
}

export const KAFKAJS: Mode = {
  name: 'kafkajs → listener',
  wire: true,
  async open(dir, overrides) {
    const { log, broker } = await listeningEngine(dir)
    // The kafkajs package's own Kafka, typed through the facade's types (the type contract proves them equal).
    const kafka = new KafkaJS.Kafka({
      ...(baseConfig(overrides) as KafkaJS.KafkaConfig),
      brokers: [broker],
    }) as unknown as Kafka
    return envOf(this, dir, kafka, () => log.close())
  },
}

export const FACADE_REMOTE: Mode = {
  name: 'seglog/kafkajs → owner’s listener',
  wire: true,
  async open(dir, overrides) {
    const { log } = await listeningEngine(dir)
    const kafka = new Facade.Kafka(baseConfig({ dir, ...overrides }))
    return envOf(this, dir, kafka, () => log.close())
  },
}

export const MODES: readonly Mode[] = [FACADE, KAFKAJS, FACADE_REMOTE]

export function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `seglog-kafkajs-${name}-`))
}

/** Consumer settings that let kafkajs join and rebalance quickly against a local listener. */
export function groupConfig(groupId: string, extra: Partial<Facade.ConsumerConfig> = {}): Facade.ConsumerConfig {
  return {
    groupId,
    sessionTimeout: 10_000,
    rebalanceTimeout: 3000,
    heartbeatInterval: 100,
    maxWaitTimeInMs: 100,
    retry: RETRY,
    ...extra,
  }
}

/** Resolves once `pred()` is true (checked every 10 ms); rejects after `ms` naming `what`. */
export async function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A promise with its resolve function. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** The rejection of `p` (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  throw new Error('expected a rejection')
}
