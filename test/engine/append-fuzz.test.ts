/**
 * Seeded fuzz of what `append` (and a lingering producer's `send`) accepts. Each call is generated from a table of
 * field values, each either good (with the form it must read back in) or bad (with the errors it may raise):
 * wrong types for every field of Message and AppendOptions, partitions out of range, huge, negative and
 * fractional numbers, NaN, strings. Every call must either
 * - succeed, with metadata that says where each message went, and each record reading back exactly as the model
 *   says (key bytes, decoded value, headers, timestamp), also after a reopen; or
 * - fail with a TypeError or a SeglogError the model allows for one of its bad fields, writing nothing.
 * A call the model says is good must succeed, and one it says is bad must fail: nothing is silently coerced.
 *
 * SEGLOG_FUZZ_SEED and SEGLOG_FUZZ_CALLS override the fixed seed and the number of calls (both are printed).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { type Message, Seglog } from '../../src/main.js'
import { mulberry32 } from '../support/random.js'

const SEED = Number(process.env.SEGLOG_FUZZ_SEED ?? 0x5eed1e)
const CALLS = Number(process.env.SEGLOG_FUZZ_CALLS ?? 2500)
const NOW = 1_790_000_000_000
const MAX = Number.MAX_SAFE_INTEGER

/** An error the model allows: 'TypeError' or a SeglogError code. */
type ErrorKind = 'TypeError' | string

/** A generated field: present in the message unless `absent`; `bad` lists the errors it may raise. */
type Field<T> = { absent?: boolean; v?: unknown; bad?: ErrorKind[]; want?: T }

interface TopicSpec {
  name: string
  format: 'msgpack' | 'binary' | 'string' | 'json'
  partitions: number
  compacted?: boolean
  logAppendTime?: boolean
  maxMessageBytes?: number
}

const TOPICS: TopicSpec[] = [
  { name: 'mp', format: 'msgpack', partitions: 3 },
  { name: 'bin', format: 'binary', partitions: 2, maxMessageBytes: 2048 },
  { name: 'str', format: 'string', partitions: 1 },
  { name: 'js', format: 'json', partitions: 1 },
  { name: 'cmp', format: 'msgpack', partitions: 2, compacted: true },
  { name: 'lat', format: 'msgpack', partitions: 1, logAppendTime: true },
]

const B = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s))
const good = <T>(v: unknown, want: T): Field<T> => ({ v, want })
const absent = <T>(want: T): Field<T> => ({ absent: true, want })
const bad = (v: unknown, ...kinds: ErrorKind[]): Field<never> => ({ v, bad: kinds })

function cyclic(): unknown {
  const o: Record<string, unknown> = { a: 1 }
  o.self = o
  return o
}

class Shape {
  constructor(readonly side: number) {}
}

/** Builders of field values; each call builds fresh objects, so nothing is shared between messages. */
const KEYS: (() => Field<Buffer | null>)[] = [
  () => absent(null),
  () => good(null, null),
  () => good(undefined, null),
  () => good('k1', B('k1')),
  () => good('', B('')),
  () => good('clé-😀', B('clé-😀')),
  () => good(B([0, 255, 7]), B([0, 255, 7])),
  () => good(new Uint8Array([9, 8]), B([9, 8])),
  () => bad(5, 'TypeError'),
  () => bad(1.5, 'TypeError'),
  () => bad(true, 'TypeError'),
  () => bad({}, 'TypeError'),
  () => bad([1], 'TypeError'),
  () => bad(Symbol('k'), 'TypeError'),
  () => bad(5n, 'TypeError'),
  () => bad(() => 'k', 'TypeError'),
  () => bad(new Date(0), 'TypeError'),
  () => bad('k\ud800', 'INVALID_RECORD'),
]

const VALUES: Record<TopicSpec['format'], (() => Field<unknown>)[]> = {
  msgpack: [
    () => absent(null),
    () => good(null, null),
    () => good(0, 0),
    () => good(-1, -1),
    () => good(2 ** 31, 2 ** 31),
    () => good(1.5, 1.5),
    () => good(Number.NaN, Number.NaN),
    () => good(-0, 0),
    () => good(2 ** 53, 2 ** 53),
    () => good(-1e300, -1e300),
    () => good('text', 'text'),
    () => good('', ''),
    () => good('Grüße 😀', 'Grüße 😀'),
    () => good(true, true),
    () => good([1, 'a', null, undefined], [1, 'a', null, null]),
    () => good({ a: 1, b: { c: [1, 2] }, u: undefined }, { a: 1, b: { c: [1, 2] } }),
    () => good(new Date(5), new Date(5)),
    () => good(B('xy'), B('xy')),
    () =>
      good(
        new Map<unknown, unknown>([
          ['k', 1],
          [2, 'v'],
        ]),
        new Map<unknown, unknown>([
          ['k', 1],
          [2, 'v'],
        ]),
      ),
    () => good(5n, 5n),
    () => good(new Set([1, 2]), [1, 2]),
    () => good(new Shape(3), { side: 3 }),
    () => bad(() => 1, 'INVALID_RECORD'),
    () => bad({ f: () => 1 }, 'INVALID_RECORD'),
    () => bad([Symbol('s')], 'INVALID_RECORD'),
    () => bad(new Float32Array(1), 'INVALID_RECORD'),
    () => bad(cyclic(), 'INVALID_RECORD'),
    () => bad(2n ** 70n, 'INVALID_RECORD'),
    () => bad(new Date(Number.NaN), 'INVALID_RECORD'),
    () => bad(new Number(1), 'INVALID_RECORD'),
    () => bad({ w: new WeakMap() }, 'INVALID_RECORD'),
  ],
  binary: [
    () => absent(null),
    () => good(null, null),
    () => good(B('bytes'), B('bytes')),
    () => good(Buffer.alloc(0), Buffer.alloc(0)),
    () => good(new Uint8Array([1, 2, 3]), B([1, 2, 3])),
    () => good(Buffer.alloc(40, 0xab), Buffer.alloc(40, 0xab)),
    () => bad(Buffer.alloc(3000), 'RECORD_TOO_LARGE'),
    () => bad('text', 'INVALID_RECORD'),
    () => bad(5, 'INVALID_RECORD'),
    () => bad({}, 'INVALID_RECORD'),
    () => bad(new ArrayBuffer(2), 'INVALID_RECORD'),
    () => bad([1], 'INVALID_RECORD'),
  ],
  string: [
    () => absent(null),
    () => good('abc', 'abc'),
    () => good('', ''),
    () => good('日本 😀', '日本 😀'),
    () => bad(5, 'INVALID_RECORD'),
    () => bad(B('x'), 'INVALID_RECORD'),
    () => bad({}, 'INVALID_RECORD'),
    () => bad('\ud83d', 'INVALID_RECORD'),
  ],
  json: [
    () => absent(null),
    () => good({ a: [1, 'x'], u: undefined }, { a: [1, 'x'] }),
    () => good('text', 'text'),
    () => good(0, 0),
    () => good(false, false),
    () => good([undefined, 1], [null, 1]),
    () => good(new Date(0), '1970-01-01T00:00:00.000Z'),
    () => good(Number.NaN, null),
    () => bad(1n, 'INVALID_RECORD'),
    () => bad(() => 1, 'INVALID_RECORD'),
    () => bad(Symbol('s'), 'INVALID_RECORD'),
    () => bad(cyclic(), 'INVALID_RECORD'),
  ],
}

type Headers = Record<string, unknown>
const HEADERS: (() => Field<Headers>)[] = [
  () => absent({}),
  () => good(null, {}),
  () => good({}, {}),
  () => good({ a: 'x' }, { a: B('x') }),
  () => good({ a: ['1', null, B('3'), ''] }, { a: [B('1'), null, B('3'), B('')] }),
  () => good({ n: null, u: undefined }, { n: null, u: null }),
  () => good({ e: [], one: ['x'] }, { one: B('x') }),
  () => good({ bytes: new Uint8Array([1]), toString: 't' }, { bytes: B([1]), toString: B('t') }),
  () => bad('x', 'TypeError'),
  () => bad(5, 'TypeError'),
  () => bad([['k', 'v']], 'TypeError'),
  () => bad(new Map([['k', 'v']]), 'TypeError'),
  () => bad({ a: 1 }, 'TypeError'),
  () => bad({ a: [[1]] }, 'TypeError'),
  () => bad({ a: {} }, 'TypeError'),
  () => bad({ a: true }, 'TypeError'),
  () => bad({ [Symbol('s')]: 'x' }, 'TypeError'),
  () => bad(Object.create({ inherited: 'x' }), 'TypeError'),
  () => bad(new Shape(1), 'TypeError'),
  () => bad({ a: 'x\ud800' }, 'INVALID_RECORD'),
  () => bad({ '\udc00': 'x' }, 'INVALID_RECORD'),
]

function partitionFields(n: number): (() => Field<number | null>)[] {
  const explicit = Array.from({ length: n }, (_, p) => () => good(p, p))
  return [
    () => absent(null),
    () => good(null, null),
    () => good(undefined, null),
    ...explicit,
    () => good(-0, 0),
    () => bad('0', 'TypeError'),
    () => bad(1.5, 'TypeError'),
    () => bad(Number.NaN, 'TypeError'),
    () => bad(Number.POSITIVE_INFINITY, 'TypeError'),
    () => bad(true, 'TypeError'),
    () => bad({}, 'TypeError'),
    () => bad(1n, 'TypeError'),
    () => bad(-1, 'PARTITION_NOT_FOUND'),
    () => bad(n, 'PARTITION_NOT_FOUND'),
    () => bad(2 ** 31, 'PARTITION_NOT_FOUND'),
    () => bad(1e300, 'PARTITION_NOT_FOUND'),
  ]
}

/** `want` null = the clock (NOW). */
const TIMESTAMPS: (() => Field<number | null>)[] = [
  () => absent(null),
  () => good(null, null),
  () => good(undefined, null),
  () => good(0, 0),
  () => good(-0, 0),
  () => good(1, 1),
  () => good(NOW - 5, NOW - 5),
  () => good(MAX, MAX),
  () => good(8.64e15, 8.64e15),
  () => good('1700000000000', 1_700_000_000_000),
  () => good('0', 0),
  () => good(String(MAX), MAX),
  ...['', '0x10', ' 5 ', '1e3', '05', '-0', '1.5', 'now'].map((s) => () => bad(s, 'TypeError')),
  ...[1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map((x) => () => bad(x, 'TypeError')),
  () => bad(true, 'TypeError'),
  () => bad({}, 'TypeError'),
  () => bad([], 'TypeError'),
  () => bad(new Date(0), 'TypeError'),
  () => bad(5n, 'TypeError'),
  ...[-1, -5, '-5', MAX + 1, 1e300, '9007199254740993'].map((x) => () => bad(x, 'INVALID_RECORD')),
]

/** A generated message and the model's verdict on it. */
interface GenMessage {
  input: unknown
  /** Errors it may cause; empty when it is good. */
  bad: ErrorKind[]
  key: Buffer | null
  value: unknown
  headers: Headers
  partition: number | null
  /** null = the clock. */
  timestamp: number | null
}

function pick<T>(rng: () => number, list: readonly T[]): T {
  return list[Math.floor(rng() * list.length)]
}

/** A field from `list`: bad with probability `pBad`, else good. */
function field<T>(rng: () => number, list: readonly (() => Field<T>)[], pBad: number): Field<T> {
  for (;;) {
    const f = pick(rng, list)()
    if ((f.bad !== undefined) === rng() < pBad) return f
  }
}

function genMessage(rng: () => number, topic: TopicSpec): GenMessage {
  if (rng() < 0.03) {
    return {
      input: pick(rng, [null, 5, 'x', [], [{ value: 1 }]]),
      bad: ['TypeError'],
      key: null,
      value: null,
      headers: {},
      partition: null,
      timestamp: null,
    }
  }
  // Most messages are good; the others have one or two bad fields.
  const nBad = rng() < 0.75 ? 0 : rng() < 0.8 ? 1 : 2
  const badFields = new Set<string>()
  while (badFields.size < nBad) badFields.add(pick(rng, ['key', 'value', 'headers', 'partition', 'timestamp']))
  const p = (name: string) => (badFields.has(name) ? 1 : 0)
  const key = field(rng, KEYS, p('key'))
  const value = field(rng, VALUES[topic.format], p('value'))
  const headers = field(rng, HEADERS, p('headers'))
  const partition = field(rng, partitionFields(topic.partitions), p('partition'))
  const timestamp = field(rng, TIMESTAMPS, p('timestamp'))
  const input: Record<string, unknown> = {}
  const fields: [string, Field<unknown>][] = [
    ['key', key],
    ['value', value],
    ['headers', headers],
    ['partition', partition],
    ['timestamp', timestamp],
  ]
  const errors: ErrorKind[] = []
  for (const [name, f] of fields) {
    if (!f.absent) input[name] = f.v
    if (f.bad) errors.push(...f.bad)
  }
  if (topic.compacted && key.bad === undefined && key.want === null) errors.push('INVALID_RECORD')
  return {
    input,
    bad: errors,
    key: key.want ?? null,
    value: value.want,
    headers: headers.want ?? {},
    partition: partition.want ?? null,
    timestamp: timestamp.want ?? null,
  }
}

interface GenCall {
  topic: unknown
  spec: TopicSpec | null
  messages: unknown
  gen: GenMessage[]
  options: unknown
  bad: ErrorKind[]
}

function genCall(rng: () => number): GenCall {
  const spec = pick(rng, TOPICS)
  const count = Math.floor(rng() * 5)
  const gen = Array.from({ length: count }, () => genMessage(rng, spec))
  const call: GenCall = {
    topic: spec.name,
    spec,
    messages: gen.map((g) => g.input),
    gen,
    options: undefined,
    bad: gen.flatMap((g) => g.bad),
  }
  if (rng() < 0.25) {
    const [options, kinds] = pick<[unknown, ErrorKind[]]>(rng, [
      [{}, []],
      [{ acks: 1 }, []],
      [{ acks: 0 }, []],
      [{ acks: -1 }, []],
      [null, ['TypeError']],
      [5, ['TypeError']],
      ['x', ['TypeError']],
      [{ acks: 2 }, ['TypeError']],
      [{ acks: '1' }, ['TypeError']],
      [{ acks: null }, ['TypeError']],
      [{ acks: Number.NaN }, ['TypeError']],
    ])
    call.options = options
    call.bad.push(...kinds)
  }
  if (rng() < 0.05) {
    const [topic, kind] = pick<[unknown, ErrorKind]>(rng, [
      ['nope', 'TOPIC_NOT_FOUND'],
      ['', 'TOPIC_NOT_FOUND'],
      [5, 'TypeError'],
      [null, 'TypeError'],
      [undefined, 'TypeError'],
      [{}, 'TypeError'],
    ])
    call.topic = topic
    call.spec = null
    call.bad.push(kind)
  }
  if (rng() < 0.03) {
    call.messages = pick(rng, [null, 'x', { value: 1 }, 5, undefined])
    call.bad.push('TypeError')
  }
  return call
}

function kindOf(err: unknown): ErrorKind {
  if (err instanceof SeglogError) return err.code
  if (err instanceof TypeError) return 'TypeError'
  return `unexpected ${String(err)}`
}

/** What the model says each partition of each topic holds, by offset. */
type Stored = Map<string, Map<number, GenMessage & { at: number }>>

let dir: string
const engines: Seglog[] = []
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-fuzz-'))
})
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

async function openEngine(): Promise<Seglog> {
  const e = await Seglog.open(dir, { clock: () => NOW, acks: 1 })
  engines.push(e)
  return e
}

async function createTopics(log: Seglog): Promise<void> {
  for (const t of TOPICS) {
    await log.createTopic(t.name, {
      partitions: t.partitions,
      config: {
        format: t.format,
        ...(t.compacted ? { cleanupPolicy: 'compact' as const } : {}),
        ...(t.logAppendTime ? { messageTimestampType: 'LogAppendTime' as const } : {}),
        ...(t.maxMessageBytes ? { maxMessageBytes: t.maxMessageBytes } : {}),
      },
    })
  }
}

function logEnds(log: Seglog): number[] {
  return TOPICS.flatMap((t) => Array.from({ length: t.partitions }, (_, p) => log.offsets(t.name, p).logEndOffset))
}

/** Checks one record read back against the model; returns a description of the first difference, or null. */
async function checkStored(
  log: Seglog,
  spec: TopicSpec,
  partition: number,
  offset: number,
  g: GenMessage,
  what: string,
): Promise<void> {
  const [r] = await log.read(spec.name, partition, offset, { maxRecords: 1 })
  expect(r.offset, what).toBe(offset)
  expect(r.timestamp, `${what} timestamp`).toBe(spec.logAppendTime || g.timestamp === null ? NOW : g.timestamp)
  expect(r.key, `${what} key`).toEqual(g.key)
  expect(r.value, `${what} value`).toEqual(g.value)
  expect(r.headers, `${what} headers`).toEqual(g.headers)
}

/** Settles `call` (sync throw or rejection) as { meta } or { error }. */
async function settle<T>(call: () => Promise<T>): Promise<{ meta?: T; error?: unknown }> {
  try {
    return { meta: await call() }
  } catch (error) {
    return { error }
  }
}

describe('append fuzz', () => {
  it(`stores every accepted call exactly and refuses every bad one, writing nothing (seed ${SEED})`, async () => {
    console.log(`append fuzz: seed ${SEED} (SEGLOG_FUZZ_SEED), ${CALLS} calls (SEGLOG_FUZZ_CALLS)`)
    const rng = mulberry32(SEED)
    let log = await openEngine()
    await createTopics(log)
    const stored: Stored = new Map()
    const counts = { ok: 0, refused: 0, messages: 0 }
    for (let c = 0; c < CALLS; c++) {
      const call = genCall(rng)
      const what = `call ${c} (seed ${SEED})`
      const before = logEnds(log)
      const { meta, error } = await settle(() =>
        log.append(call.topic as string, call.messages as Message[], call.options as never),
      )
      if (call.bad.length > 0) {
        expect(error, `${what} must fail with one of ${call.bad.join(', ')}`).toBeDefined()
        expect(call.bad, `${what}: ${String(error)}`).toContain(kindOf(error))
        expect(logEnds(log), `${what} wrote something`).toEqual(before)
        counts.refused++
        continue
      }
      expect(error, `${what} must succeed`).toBeUndefined()
      const spec = call.spec!
      expect(meta).toHaveLength(call.gen.length)
      for (let i = 0; i < call.gen.length; i++) {
        const g = call.gen[i]
        const m = meta![i]
        if (g.partition !== null) expect(m.partition, `${what} message ${i} partition`).toBe(g.partition)
        expect(m.timestamp, `${what} message ${i} timestamp`).toBe(
          spec.logAppendTime || g.timestamp === null ? NOW : g.timestamp,
        )
        await checkStored(log, spec, m.partition, m.offset, g, `${what} message ${i}`)
        const key = `${spec.name}-${m.partition}`
        if (!stored.has(key)) stored.set(key, new Map())
        stored.get(key)!.set(m.offset, { ...g, at: c })
        counts.messages++
      }
      counts.ok++
    }
    console.log(`append fuzz: ${counts.ok} calls stored (${counts.messages} messages), ${counts.refused} refused`)
    // Offsets are dense: each partition holds exactly what the model stored, and it survives a reopen.
    await log.close()
    engines.length = 0
    log = await openEngine()
    for (const t of TOPICS) {
      for (let p = 0; p < t.partitions; p++) {
        const want = stored.get(`${t.name}-${p}`) ?? new Map()
        expect(log.offsets(t.name, p).logEndOffset, `${t.name}-${p} log end`).toBe(want.size)
        for (const [offset, g] of want)
          await checkStored(log, t, p, offset, g, `${t.name}-${p}@${offset} (call ${g.at})`)
      }
    }
    expect(counts.ok).toBeGreaterThan(CALLS / 5)
    expect(counts.refused).toBeGreaterThan(CALLS / 5)
  }, 120_000)

  it(`fails only the bad sends gathered by a lingering producer (seed ${SEED + 1})`, async () => {
    const rng = mulberry32(SEED + 1)
    const log = await openEngine()
    await createTopics(log)
    const producer = log.producer({ lingerMs: 5, acks: 1 })
    const rounds = Math.max(20, Math.floor(CALLS / 20))
    console.log(`producer fuzz: seed ${SEED + 1}, ${rounds} rounds of concurrent sends`)
    let refused = 0
    let delivered = 0
    for (let round = 0; round < rounds; round++) {
      const spec = pick(
        rng,
        TOPICS.filter((t) => !t.logAppendTime),
      )
      const sends = Array.from({ length: 2 + Math.floor(rng() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(rng() * 3) }, () => genMessage(rng, spec)),
      )
      const results = await Promise.all(
        sends.map((gen) =>
          settle(() => producer.send({ topic: spec.name, messages: gen.map((g) => g.input as Message) })),
        ),
      )
      for (let s = 0; s < sends.length; s++) {
        const what = `round ${round} send ${s} (seed ${SEED + 1})`
        const gen = sends[s]
        const errors = gen.flatMap((g) => g.bad)
        const { meta, error } = results[s]
        if (errors.length > 0) {
          expect(error, `${what} must fail with one of ${errors.join(', ')}`).toBeDefined()
          expect(errors, `${what}: ${String(error)}`).toContain(kindOf(error))
          refused++
          continue
        }
        expect(error, `${what} must succeed`).toBeUndefined()
        for (let i = 0; i < gen.length; i++) {
          const m = meta![i]
          if (gen[i].partition !== null) expect(m.partition).toBe(gen[i].partition)
          await checkStored(log, spec, m.partition, m.offset, gen[i], `${what} message ${i}`)
        }
        delivered++
      }
    }
    console.log(`producer fuzz: ${delivered} sends delivered, ${refused} refused`)
    expect(delivered).toBeGreaterThan(rounds / 2)
    expect(refused).toBeGreaterThan(rounds / 2)
    await producer.disconnect()
  }, 120_000)
})
