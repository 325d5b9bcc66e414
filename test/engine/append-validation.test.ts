/**
 * What `append` accepts and what it stores: timestamps (range, types, far apart in one call), headers (repeated
 * keys, null values), values msgpack cannot hold, the smallest usable maxMessageBytes, and `open`'s options
 * (the clock above all). Every refusal writes nothing.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { TEST_HOOKS } from '../../src/internal.js'
import { nodeFileSystem } from '../../src/io/file-system.js'
import { type Message, Seglog, type SeglogOptions } from '../../src/main.js'

let dir: string
const engines: Seglog[] = []
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-append-'))
})
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

async function engine(options: SeglogOptions = {}): Promise<Seglog> {
  const e = await Seglog.open(dir, options)
  engines.push(e)
  return e
}

/** The rejection of `p` (which must reject). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

async function expectCode(p: Promise<unknown>, code: string): Promise<SeglogError> {
  const err = await rejection(p)
  expect(err).toBeInstanceOf(SeglogError)
  expect((err as SeglogError).code).toBe(code)
  return err as SeglogError
}

const MAX = Number.MAX_SAFE_INTEGER

describe('append timestamps', () => {
  it('stores timestamps far apart in one call exactly, across a reopen, and finds them by timestamp', async () => {
    const now = Date.now()
    let e = await engine()
    await e.createTopic('t')
    const calls = [
      [8.64e15, now],
      [MAX, now],
      [0, MAX],
      [MAX, 0, now],
    ]
    const written: number[] = []
    for (const timestamps of calls) {
      const meta = await e.append(
        't',
        timestamps.map((timestamp) => ({ value: timestamp, timestamp })),
      )
      expect(meta.map((m) => m.timestamp)).toEqual(timestamps)
      written.push(...timestamps)
    }
    const check = async (log: Seglog) => {
      const recs = await log.read('t', 0, 0, { maxRecords: 100 })
      expect(recs.map((r) => r.timestamp)).toEqual(written)
      expect(recs.map((r) => r.value)).toEqual(written)
      expect(await log.offsetForTimestamp('t', 0, MAX)).toBe(2)
    }
    await check(e)
    await e.close()
    engines.length = 0
    e = await engine()
    await check(e)
  })

  it('accepts canonical decimal integer strings (as KafkaJS passes timestamps) and stores numbers', async () => {
    const e = await engine()
    await e.createTopic('t')
    const meta = await e.append('t', [
      { value: 1, timestamp: '1700000000000' },
      { value: 2, timestamp: '0' },
      { value: 3, timestamp: String(MAX) },
    ])
    expect(meta.map((m) => m.timestamp)).toEqual([1_700_000_000_000, 0, MAX])
    expect((await e.read('t', 0, 0)).map((r) => r.timestamp)).toEqual([1_700_000_000_000, 0, MAX])
  })

  it.each([
    ['an empty string', ''],
    ['a hex string', '0x10'],
    ['a padded string', ' 5 '],
    ['an exponent string', '1e3'],
    ['a string with a leading zero', '05'],
    ['a fractional string', '1.5'],
    ['"-0"', '-0'],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a boolean', true],
    ['a Date', new Date(0)],
    ['a bigint', 5n],
    ['an object', {}],
  ])('rejects %s as a timestamp with a TypeError and writes nothing', async (_name, timestamp) => {
    const e = await engine()
    await e.createTopic('t')
    const err = await rejection(e.append('t', [{ value: 1 }, { value: 2, timestamp: timestamp as never }]))
    expect(err).toBeInstanceOf(TypeError)
    expect((err as Error).message).toMatch(/^message 1: timestamp/)
    expect(e.offsets('t', 0).logEndOffset).toBe(0)
  })

  it.each([
    ['-1', -1],
    ['a negative string', '-5'],
    ['2^53', MAX + 1],
    ['1e300', 1e300],
    ['a decimal string past 2^53', '9007199254740993'],
  ])('rejects the out-of-range timestamp %s with INVALID_RECORD and writes nothing', async (_name, timestamp) => {
    const e = await engine()
    await e.createTopic('t')
    const err = await expectCode(e.append('t', [{ value: 1 }, { value: 2, timestamp }]), 'INVALID_RECORD')
    expect(err.message).toMatch(/: message 1: timestamp .* outside the accepted range \[0, 9007199254740991\]/)
    expect(e.offsets('t', 0).logEndOffset).toBe(0)
  })
})

describe('append headers', () => {
  it('reads back every header value, in order, repeated keys as arrays and null values as null', async () => {
    const e = await engine()
    await e.createTopic('t')
    await e.append('t', [
      {
        value: 1,
        headers: {
          tag: ['a', Buffer.from('b'), null, ''],
          none: null,
          gone: undefined,
          empty: '',
          one: ['only'],
          bytes: new Uint8Array([1, 2]),
          nothing: [],
        },
      },
    ])
    const [r] = await e.read('t', 0, 0)
    expect(r.headers).toEqual({
      tag: [Buffer.from('a'), Buffer.from('b'), null, Buffer.alloc(0)],
      none: null,
      gone: null,
      empty: Buffer.alloc(0),
      one: Buffer.from('only'),
      bytes: Buffer.from([1, 2]),
    })
    expect(r.headers.none).toBeNull()
    expect(r.headers.empty).not.toBeNull()
  })

  it('rejects a header of the wrong type with a TypeError and writes nothing', async () => {
    const e = await engine()
    await e.createTopic('t')
    for (const headers of [{ n: 1 }, { a: [['x']] }, { a: {} }, 'x', [['k', 'v']], { [Symbol('s')]: 'x' }]) {
      const err = await rejection(e.append('t', [{ value: 1 }, { value: 2, headers: headers as never }]))
      expect(err).toBeInstanceOf(TypeError)
      expect((err as Error).message).toMatch(/^message 1: header/)
    }
    expect(e.offsets('t', 0).logEndOffset).toBe(0)
  })
})

describe('append values and keys that cannot be stored as given', () => {
  it('rejects a msgpack value holding a function with INVALID_RECORD naming the message and the path', async () => {
    const e = await engine()
    await e.createTopic('t')
    for (const value of [() => 1, { id: 1, onSave: () => 1 }, [1, () => 1]]) {
      const err = await expectCode(e.append('t', [{ value: 1 }, { value }]), 'INVALID_RECORD')
      expect(err.message).toMatch(/: message 1: value cannot be written as msgpack: value.* is a function/)
    }
    expect(e.offsets('t', 0).logEndOffset).toBe(0)
  })

  it('rejects a key with a lone surrogate with INVALID_RECORD instead of storing another key', async () => {
    const e = await engine()
    await e.createTopic('t')
    const err = await expectCode(
      e.append('t', [
        { key: 'ok', value: 1 },
        { key: 'k\ud800', value: 2 },
      ]),
      'INVALID_RECORD',
    )
    expect(err.message).toMatch(/: message 1: key/)
    expect(e.offsets('t', 0).logEndOffset).toBe(0)
  })

  it.each([
    ['a message that is an array', [[{ value: 1 }]]],
    ['a message that is a string', ['x']],
    ['a partition given as a string', [{ value: 1, partition: '0' }]],
    ['a fractional partition', [{ value: 1, partition: 0.5 }]],
    ['a NaN partition', [{ value: 1, partition: Number.NaN }]],
  ])('rejects %s with a TypeError', async (_name, messages) => {
    const e = await engine()
    await e.createTopic('t')
    expect(await rejection(e.append('t', messages as Message[]))).toBeInstanceOf(TypeError)
    expect(e.offsets('t', 0).logEndOffset).toBe(0)
  })
})

describe('maxMessageBytes', () => {
  it('is at least the smallest batch that holds one record (68 bytes), and such a record fits', async () => {
    const e = await engine()
    for (const bad of [62, 67]) {
      await expectCode(e.createTopic(`t${bad}`, { config: { maxMessageBytes: bad } }), 'INVALID_CONFIG')
    }
    await e.createTopic('t', { config: { maxMessageBytes: 68, format: 'binary' } })
    await expectCode(e.alterTopicConfig('t', { maxMessageBytes: 67 }), 'INVALID_CONFIG')
    const [m] = await e.append('t', [{ value: null }])
    expect(m.offset).toBe(0)
    await expectCode(e.append('t', [{ value: Buffer.from('x') }]), 'RECORD_TOO_LARGE')
    expect((await e.read('t', 0, 0)).map((r) => r.value)).toEqual([null])
  })
})

describe('Seglog.open options', () => {
  it.each([
    ['returns NaN', () => Number.NaN],
    ['returns a fraction', () => 1.5],
    ['returns a negative number', () => -1],
    ['returns a string', () => '1700000000000' as unknown as number],
    ['returns a number past 2^53', () => 2 ** 60],
  ])('refuses a clock that %s with INVALID_CONFIG, and the directory stays usable', async (_name, clock) => {
    await expectCode(Seglog.open(dir, { clock }), 'INVALID_CONFIG')
    const e = await engine()
    await e.createTopic('t')
  })

  it('fails an append with INVALID_CONFIG, writing nothing, when the clock stops telling the time', async () => {
    let now = 1_000
    const e = await engine({ clock: () => now })
    await e.createTopic('t')
    await e.append('t', [{ value: 1 }])
    now = Number.NaN
    await expectCode(e.append('t', [{ value: 2 }]), 'INVALID_CONFIG')
    now = 2_000
    await e.append('t', [{ value: 3 }])
    expect((await e.read('t', 0, 0)).map((r) => [r.value, r.timestamp])).toEqual([
      [1, 1_000],
      [3, 2_000],
    ])
  })

  it.each([
    ['options that are not an object', 'x'],
    ['a clock that is not a function', { clock: 5 }],
    ['acks given as a string', { acks: '1' }],
    ['maxOpenFiles given as a string', { maxOpenFiles: '100' }],
    ['a fractional maxOpenFiles', { maxOpenFiles: 100.5 }],
    ['an onEvent that is not a function', { onEvent: {} }],
    ['a crashPoint that is not a function', { [TEST_HOOKS]: { crashPoint: 1 } }],
    ['a NaN retentionCheckIntervalMs', { retentionCheckIntervalMs: Number.NaN }],
    ['a negative cleanerBackoffMs', { cleanerBackoffMs: -1 }],
    ['a cleanerMapBytes too small for the offset map', { cleanerMapBytes: 10 }],
    ['codecs that are not an object', { codecs: 5 }],
    ['a codec without functions', { codecs: { lz4: {} } }],
    ['a codec for an unknown type', { codecs: { brotli: { compress: () => 0, decompress: () => 0 } } }],
    ['an fs that is not a FileSystem', { [TEST_HOOKS]: { fs: { open: () => 0 } } }],
  ])('rejects %s with a TypeError, and the directory stays usable', async (_name, options) => {
    expect(await rejection(Seglog.open(dir, options as never))).toBeInstanceOf(TypeError)
    const e = await engine()
    await e.createTopic('t')
  })

  it('rejects engine topic defaults out of range with INVALID_CONFIG', async () => {
    await expectCode(Seglog.open(dir, { defaults: { maxMessageBytes: 67 } }), 'INVALID_CONFIG')
  })

  it('accepts every option with its right type', async () => {
    const events: unknown[] = []
    const e = await engine({
      acks: 1,
      maxOpenFiles: 64,
      clock: () => 1_000,
      onEvent: (ev) => events.push(ev),
      [TEST_HOOKS]: { crashPoint: () => {}, fs: nodeFileSystem },
      retentionCheckIntervalMs: 0,
      cleanerBackoffMs: 0,
      cleanerMapBytes: 1 << 16,
      codecs: { lz4: { compress: (d) => d, decompress: (d) => d } },
      defaults: { maxMessageBytes: 68 },
    })
    await e.createTopic('t')
    expect((await e.append('t', [{ value: null }]))[0].timestamp).toBe(1_000)
  })
})
