/**
 * Consumer options are checked where they are given: every consumer option when the consumer is made, every
 * run() option when run() is called, a TypeError naming the option. And what a consumer's background loop meets
 * afterwards (a failing fetch, a throwing event listener) goes to `consumer.crash` and the documented retry/stop
 * behaviour, never to an unhandled rejection.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ConsumerEventMap, ConsumerOptions, RunOptions } from '../../src/clients/consumer.js'
import { TEST_HOOKS } from '../../src/internal.js'
import { Seglog } from '../../src/main.js'
import { FaultyFileSystem } from '../support/faulty-fs.js'

let dir: string
let log: Seglog
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-options-'))
  unhandled.length = 0
  process.on('unhandledRejection', onUnhandled)
})
afterEach(async () => {
  await log?.close().catch(() => {})
  process.off('unhandledRejection', onUnhandled)
  fs.rmSync(dir, { recursive: true, force: true })
})

async function open(options: Parameters<typeof Seglog.open>[1] = {}): Promise<Seglog> {
  log = await Seglog.open(dir, options)
  return log
}

/** Lets pending rejections surface as 'unhandledRejection' (Node reports them after the microtask queue). */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20))

function typeErrorOf(fn: () => unknown): TypeError {
  try {
    fn()
  } catch (err) {
    if (err instanceof TypeError) return err
    throw err
  }
  throw new Error('no error thrown')
}

describe('consumer options', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['maxRecordsPerFetch 0', { maxRecordsPerFetch: 0 }],
    ['maxRecordsPerFetch -1', { maxRecordsPerFetch: -1 }],
    ['maxRecordsPerFetch 1.5', { maxRecordsPerFetch: 1.5 }],
    ['maxRecordsPerFetch NaN', { maxRecordsPerFetch: Number.NaN }],
    ['maxRecordsPerFetch Infinity', { maxRecordsPerFetch: Number.POSITIVE_INFINITY }],
    ["maxRecordsPerFetch '10'", { maxRecordsPerFetch: '10' }],
    ['retry null', { retry: null }],
    ['retry 5', { retry: 5 }],
    ['retry.initialRetryTime -1', { retry: { initialRetryTime: -1 } }],
    ['retry.initialRetryTime NaN', { retry: { initialRetryTime: Number.NaN } }],
    ["retry.initialRetryTime '100'", { retry: { initialRetryTime: '100' } }],
    ['retry.maxRetryTime -5', { retry: { maxRetryTime: -5 } }],
    ['retry.maxRetryTime Infinity', { retry: { maxRetryTime: Number.POSITIVE_INFINITY } }],
    ['retry.retries -1', { retry: { retries: -1 } }],
    ['retry.retries 1.5', { retry: { retries: 1.5 } }],
    ['retry.retries NaN', { retry: { retries: Number.NaN } }],
    ["retry.retries '3'", { retry: { retries: '3' } }],
    ["autoOffsetReset 'smallest'", { autoOffsetReset: 'smallest' }],
    ['autoOffsetReset 1', { autoOffsetReset: 1 }],
    ["partitionAssigner 'sticky'", { partitionAssigner: 'sticky' }],
    ['partitionAssigner a function', { partitionAssigner: () => ({}) }],
    ['clientId 5', { clientId: 5 }],
    ["clientId ''", { clientId: '' }],
  ]
  for (const [label, extra] of bad) {
    it(`rejects ${label} with a TypeError naming the option when the consumer is made`, async () => {
      await open()
      const err = typeErrorOf(() => log.consumer({ groupId: 'g', ...extra } as unknown as ConsumerOptions))
      const option = label.split(' ')[0].split('.').at(-1)!
      expect(err.message).toContain(option)
    })
  }

  it('rejects a missing, empty or non-string groupId with a TypeError', async () => {
    await open()
    for (const groupId of [undefined, '', 5, 'a\0b']) {
      expect(typeErrorOf(() => log.consumer({ groupId } as unknown as ConsumerOptions)).message).toContain('groupId')
    }
  })

  it('accepts the edge values that are valid: retries 0 and Infinity, initialRetryTime 0, maxRecordsPerFetch 1', async () => {
    await open()
    await log.createTopic('t')
    await log.append('t', [{ value: 1 }, { value: 2 }])
    const c = log.consumer({
      groupId: 'g',
      maxRecordsPerFetch: 1,
      retry: { retries: 0, initialRetryTime: 0, maxRetryTime: 0 },
    })
    expect(() => log.consumer({ groupId: 'h', retry: { retries: Number.POSITIVE_INFINITY } })).not.toThrow()
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const seen: number[] = []
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.offset) })
    const end = Date.now() + 3000
    while (seen.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 5))
    expect(seen).toEqual([0, 1])
    await c.stop()
  })
})

describe('run() options', () => {
  const handler = async (): Promise<void> => {}
  const bad: [string, Record<string, unknown>][] = [
    ["autoCommit 'yes'", { eachMessage: handler, autoCommit: 'yes' }],
    ['autoCommit 1', { eachMessage: handler, autoCommit: 1 }],
    ['autoCommitInterval -1', { eachMessage: handler, autoCommitInterval: -1 }],
    ['autoCommitInterval NaN', { eachMessage: handler, autoCommitInterval: Number.NaN }],
    ["autoCommitInterval '5000'", { eachMessage: handler, autoCommitInterval: '5000' }],
    ['autoCommitThreshold 0', { eachMessage: handler, autoCommitThreshold: 0 }],
    ['autoCommitThreshold 1.5', { eachMessage: handler, autoCommitThreshold: 1.5 }],
    ["autoCommitThreshold '10'", { eachMessage: handler, autoCommitThreshold: '10' }],
    ['partitionsConsumedConcurrently 0', { eachMessage: handler, partitionsConsumedConcurrently: 0 }],
    ['partitionsConsumedConcurrently 2.5', { eachMessage: handler, partitionsConsumedConcurrently: 2.5 }],
    ["partitionsConsumedConcurrently '2'", { eachMessage: handler, partitionsConsumedConcurrently: '2' }],
    ["eachMessage 'handler' (with an eachBatch)", { eachMessage: 'handler', eachBatch: handler }],
    ['eachBatch 5 (with an eachMessage)', { eachMessage: handler, eachBatch: 5 }],
    ["eachBatchAutoResolve 'no'", { eachBatch: handler, eachBatchAutoResolve: 'no' }],
    ['no handler', {}],
  ]
  for (const [label, options] of bad) {
    it(`rejects ${label} with a TypeError, and the consumer can run afterwards with good options`, async () => {
      await open()
      await log.createTopic('t')
      await log.append('t', [{ value: 1 }])
      const c = log.consumer({ groupId: 'g' })
      await c.subscribe({ topics: ['t'], fromBeginning: true })
      const err = await c.run(options as unknown as RunOptions).then(
        () => null,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(TypeError)
      const option = label.split(' ')[0]
      if (option !== 'no') expect((err as TypeError).message).toContain(option)
      const seen: number[] = []
      await c.run({ eachMessage: async ({ message }) => void seen.push(message.offset) })
      const end = Date.now() + 3000
      while (seen.length < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 5))
      expect(seen).toEqual([0])
      await c.stop()
    })
  }
})

describe('failures in the background loop', () => {
  it('a failing fetch is reported as consumer.crash with its backoff, and consuming resumes once reads work', async () => {
    const faulty = new FaultyFileSystem(dir)
    await open({ [TEST_HOOKS]: { fs: faulty } })
    await log.createTopic('t')
    await log.append('t', [{ value: 1 }])
    faulty.failNext({ op: 'read', path: '.log', count: 2 })
    const c = log.consumer({ groupId: 'g', retry: { initialRetryTime: 5 } })
    const crashes: ConsumerEventMap['consumer.crash'][] = []
    c.on('consumer.crash', (e) => crashes.push(e))
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const seen: number[] = []
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.offset) })
    const end = Date.now() + 3000
    while (seen.length < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 5))
    expect(seen).toEqual([0])
    expect(crashes.map((e) => [(e.error as { code?: string }).code, e.offset, e.retryInMs])).toEqual([
      ['IO_ERROR', 0, 5],
      ['IO_ERROR', 0, 10],
    ])
    await c.stop()
    await settle()
    expect(unhandled).toEqual([])
  })

  it('a fetch that keeps failing stops the consumer after its retries; stop() then resolves at once', async () => {
    const faulty = new FaultyFileSystem(dir)
    await open({ [TEST_HOOKS]: { fs: faulty } })
    await log.createTopic('t')
    await log.append('t', [{ value: 1 }])
    faulty.failNext({ op: 'read', path: '.log', count: Number.POSITIVE_INFINITY })
    const c = log.consumer({ groupId: 'g', retry: { initialRetryTime: 1, retries: 1 } })
    const retryIn: (number | null)[] = []
    c.on('consumer.crash', (e) => retryIn.push(e.retryInMs))
    const stopped = new Promise<void>((r) => c.on('consumer.stop', () => r()))
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    await c.run({ eachMessage: async () => {} })
    await stopped
    expect(retryIn).toEqual([1, null])
    await c.stop()
    await settle()
    expect(unhandled).toEqual([])
  })

  it('a consumer.crash listener that throws does not escape: the consumer stops, and nothing is unhandled', async () => {
    await open()
    await log.createTopic('t')
    await log.append('t', [{ value: 1 }])
    const c = log.consumer({ groupId: 'g', retry: { initialRetryTime: 1 } })
    let calls = 0
    c.on('consumer.crash', () => {
      calls++
      throw new Error('listener bug')
    })
    const stopped = new Promise<void>((r) => c.on('consumer.stop', () => r()))
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    await c.run({
      eachMessage: async () => {
        throw new Error('handler fails')
      },
    })
    await stopped
    expect(calls).toBeGreaterThanOrEqual(1)
    await c.stop()
    await settle()
    expect(unhandled).toEqual([])
    expect(await log.fetchOffsets('g', 't')).toEqual([])
  })
})
