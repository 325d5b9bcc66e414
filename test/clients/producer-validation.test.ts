/**
 * A producer that lingers gathers concurrent sends into one append. Each send is checked alone before it joins
 * the gathered batch, so a bad message fails only its own send; the valid sends gathered with it are delivered.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { type Message, Seglog } from '../../src/main.js'

let dir: string
let log: Seglog
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-producer-'))
  log = await Seglog.open(dir)
  await log.createTopic('t', { partitions: 2 })
})
afterEach(async () => {
  await log.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

const BAD: [string, Partial<Message>, 'TypeError' | string][] = [
  ['a key of the wrong type', { key: 42 as never }, 'TypeError'],
  ['a header of the wrong type', { headers: { h: 1 as never } }, 'TypeError'],
  ['a partition given as a string', { partition: '1' as never }, 'TypeError'],
  ['a fractional partition', { partition: 0.5 }, 'TypeError'],
  ['a partition that does not exist', { partition: 7 }, 'PARTITION_NOT_FOUND'],
  ['an empty-string timestamp', { timestamp: '' }, 'TypeError'],
  ['a hex-string timestamp', { timestamp: '0x10' }, 'TypeError'],
  ['a negative timestamp', { timestamp: -5 }, 'INVALID_RECORD'],
  ['a value msgpack cannot hold', { value: () => 1 }, 'INVALID_RECORD'],
  ['a message that is not an object', null as never, 'TypeError'],
]

describe('Producer with lingerMs', () => {
  it.each(BAD)('fails only the send with %s; the sends gathered with it are delivered', async (_name, bad, kind) => {
    const producer = log.producer({ lingerMs: 20, acks: 1 })
    const badMessage = bad === null ? null : { value: 'bad', ...bad }
    const sends = [
      producer.send({ topic: 't', messages: [{ key: 'a', value: 1, partition: 0 }] }),
      producer.send({ topic: 't', messages: [{ value: 2, partition: 1 }, badMessage as Message] }),
      producer.send({ topic: 't', messages: [{ key: 'c', value: 3, partition: 0, headers: { h: ['x', 'y'] } }] }),
    ]
    const [first, second, third] = await Promise.allSettled(sends)
    expect(first.status).toBe('fulfilled')
    expect(third.status).toBe('fulfilled')
    expect(second.status).toBe('rejected')
    const err = (second as PromiseRejectedResult).reason
    if (kind === 'TypeError') expect(err).toBeInstanceOf(TypeError)
    else {
      expect(err).toBeInstanceOf(SeglogError)
      expect((err as SeglogError).code).toBe(kind)
    }
    // The error names the message's index in its own send, not in the gathered batch.
    expect((err as Error).message).toContain('message 1')
    const p0 = await log.read('t', 0, 0)
    expect(p0.map((r) => [r.key?.toString(), r.value])).toEqual([
      ['a', 1],
      ['c', 3],
    ])
    expect(p0[1].headers).toEqual({ h: [Buffer.from('x'), Buffer.from('y')] })
    // The failed send wrote nothing, not even its valid first message.
    expect(log.offsets('t', 1).logEndOffset).toBe(0)
    await producer.disconnect()
  })
})
