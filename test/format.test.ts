import { describe, expect, it } from 'vitest'
import { SeglogError } from '../src/errors.js'
import {
  decodeHeaders,
  decodeValue,
  encodeHeaders,
  encodeKey,
  encodeValue,
  isValueFormat,
  normalizeKey,
  VALUE_FORMATS,
  type ValueFormat,
} from '../src/format.js'

const fn = (): number => 1

const roundTrip = (format: ValueFormat, value: unknown): unknown =>
  decodeValue(format, encodeValue(format, value, 0), 0)

/** Runs `f`, expecting a SeglogError; returns it for further checks. */
function seglogError(f: () => unknown): SeglogError {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(SeglogError)
    return err as SeglogError
  }
  throw new Error('expected a SeglogError, nothing was thrown')
}

describe('value formats', () => {
  it('lists the four formats and recognizes them', () => {
    expect(VALUE_FORMATS).toEqual(['msgpack', 'json', 'string', 'binary'])
    for (const f of VALUE_FORMATS) expect(isValueFormat(f)).toBe(true)
    expect(isValueFormat('avro')).toBe(false)
    expect(isValueFormat(undefined)).toBe(false)
  })

  it.each(VALUE_FORMATS)('treats null and undefined as a tombstone in %s', (format) => {
    expect(encodeValue(format, null, 0)).toBeNull()
    expect(encodeValue(format, undefined, 0)).toBeNull()
    expect(decodeValue(format, null, 0)).toBeNull()
  })

  it('rejects an unknown format with a TypeError', () => {
    expect(() => encodeValue('avro' as ValueFormat, 1, 0)).toThrow(TypeError)
    expect(() => decodeValue('avro' as ValueFormat, Buffer.from('1'), 0)).toThrow(TypeError)
  })
})

describe('msgpack values', () => {
  it('writes {a: 1} as the standard bytes 81 a1 61 01', () => {
    expect(encodeValue('msgpack', { a: 1 }, 0)!.toString('hex')).toBe('81a16101')
  })

  it('writes plain msgpack with no msgpackr extension for objects, arrays and strings', () => {
    // fixmap(2) "k" fixarray(2) 1 "x" "n" nil
    expect(encodeValue('msgpack', { k: [1, 'x'], n: null }, 0)!.toString('hex')).toBe('82a16b9201a178a16ec0')
    // A map of 16 keys is map16 (de 0010), 20 repeated objects never become records.
    const big = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i]))
    expect(encodeValue('msgpack', big, 0)!.subarray(0, 3).toString('hex')).toBe('de0010')
    const many = Array.from({ length: 20 }, (_, i) => ({ id: i, name: 'n' }))
    const bytes = encodeValue('msgpack', many, 0)!
    expect(bytes[0]).toBe(0xdc) // array16
    expect(bytes.subarray(3, 4).toString('hex')).toBe('82') // first element: fixmap(2)
  })

  it('round-trips nested objects, arrays, numbers, strings, booleans and null inside objects', () => {
    const value = {
      order: {
        id: 'o-1',
        lines: [
          { sku: 'A', qty: 2 },
          { sku: 'B', qty: -3 },
        ],
      },
      numbers: [0, 1, -1, 127, 128, -32, -33, 255, 65535, 65536, 2 ** 31, 2 ** 32, -(2 ** 31) - 1],
      floats: [0.5, -1.25, Math.PI, 1e-300, 1.7976931348623157e308, Number.EPSILON],
      large: [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 60, -(2 ** 60)],
      special: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
      text: ['', 'plain', 'héllo wörld', '日本語', '😀🚀', 'x'.repeat(70_000)],
      flags: [true, false],
      nothing: null,
      deep: { a: { b: { c: { d: [[[]]] } } } },
    }
    expect(roundTrip('msgpack', value)).toEqual(value)
  })

  it('round-trips scalars and arrays at the top level', () => {
    for (const v of [0, -7, 3.5, 'str', true, false, [], [1, [2, [3]]], {}]) expect(roundTrip('msgpack', v)).toEqual(v)
  })

  it('round-trips a Date as the standard timestamp extension -1, to the millisecond', () => {
    for (const d of [new Date(1_700_000_000_123), new Date(0), new Date(1_700_000_000_000), new Date(-86_400_001)]) {
      const back = roundTrip('msgpack', { at: d }) as { at: Date }
      expect(back.at).toBeInstanceOf(Date)
      expect(back.at.getTime()).toBe(d.getTime())
    }
    const bytes = encodeValue('msgpack', new Date(1_700_000_000_123), 0)!
    expect(bytes[0]).toBe(0xd7) // fixext 8
    expect(bytes[1]).toBe(0xff) // type -1
  })

  it('round-trips Buffer and Uint8Array as bin, read back as Buffer', () => {
    const back = roundTrip('msgpack', { b: Buffer.from([1, 2, 3]), u: new Uint8Array([250, 0, 7]) }) as {
      b: Buffer
      u: Buffer
    }
    expect(Buffer.isBuffer(back.b)).toBe(true)
    expect([...back.b]).toEqual([1, 2, 3])
    expect(Buffer.isBuffer(back.u)).toBe(true)
    expect([...back.u]).toEqual([250, 0, 7])
    expect(encodeValue('msgpack', Buffer.from([9]), 0)!.toString('hex')).toBe('c40109')
  })

  it('round-trips a Map as a Map through extension type 77 holding a standard array of pairs', () => {
    const m = new Map<unknown, unknown>([
      ['a', 1],
      [2, 'two'],
    ])
    // c7 0b 4d: ext8, 11 bytes, type 0x4d; payload [["a", 1], [2, "two"]] in plain msgpack.
    expect(encodeValue('msgpack', m, 0)!.toString('hex')).toBe('c70b4d9292a161019202a374776f')
    const back = roundTrip('msgpack', { m }) as { m: Map<unknown, unknown> }
    expect(back.m).toBeInstanceOf(Map)
    expect([...back.m]).toEqual([
      ['a', 1],
      [2, 'two'],
    ])
  })

  it('round-trips nested Maps, object keys and Dates inside Maps', () => {
    const when = new Date(1_700_000_000_123)
    const inner = new Map([['deep', [1, { x: when }]]])
    const value = {
      outer: new Map<unknown, unknown>([
        [{ id: 1 }, inner],
        ['list', [new Map([[1, 2]])]],
      ]),
    }
    const back = roundTrip('msgpack', value) as { outer: Map<unknown, unknown> }
    const entries = [...back.outer]
    expect(entries[0][0]).toEqual({ id: 1 })
    expect(entries[0][1]).toBeInstanceOf(Map)
    expect((entries[0][1] as Map<string, unknown>).get('deep')).toEqual([1, { x: when }])
    expect((entries[1][1] as Map<number, number>[])[0].get(1)).toBe(2)
  })

  it('reads a map whose keys are not property keys (written by another tool) as a Map', () => {
    // {[1, 2]: 3, "k": {"x": 1}} — an array as a map key, valid msgpack.
    const bytes = Buffer.from('82920102' + '03' + 'a16b' + '81a17801', 'hex')
    const back = decodeValue('msgpack', bytes, 5) as Map<unknown, unknown>
    expect(back).toBeInstanceOf(Map)
    expect([...back.keys()][0]).toEqual([1, 2])
    expect(back.get('k')).toEqual({ x: 1 })
  })

  it('writes bigints as int64 and reads int64 back as bigint', () => {
    expect(roundTrip('msgpack', { n: 12n, big: 2n ** 62n, neg: -(2n ** 63n) })).toEqual({
      n: 12n,
      big: 2n ** 62n,
      neg: -(2n ** 63n),
    })
  })

  it('leaves undefined properties out and writes undefined array elements as nil, as JSON does', () => {
    expect(encodeValue('msgpack', { a: undefined, b: 1 }, 0)!.toString('hex')).toBe('81a16201')
    expect(roundTrip('msgpack', { a: undefined, b: [1, undefined] })).toEqual({ b: [1, null] })
    expect(roundTrip('msgpack', { nested: { gone: undefined } })).toEqual({ nested: {} })
  })

  it('reads Sets, Errors and class instances back as their plain shapes', () => {
    class Point {
      constructor(
        public x: number,
        public y: number,
      ) {}
    }
    class Money {
      constructor(readonly cents: number) {}
      toJSON() {
        return { amount: this.cents / 100 }
      }
    }
    expect(roundTrip('msgpack', new Set([1, 2]))).toEqual([1, 2])
    expect(roundTrip('msgpack', new Point(1, 2))).toEqual({ x: 1, y: 2 })
    expect(roundTrip('msgpack', { price: new Money(950) })).toEqual({ price: { amount: 9.5 } })
    expect(roundTrip('msgpack', new Error('boom'))).toEqual(['Error', 'boom', null])
  })

  it('keeps a __proto__ key from changing the prototype of the decoded object', () => {
    const back = roundTrip('msgpack', JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it.each([
    ['a Float32Array', { v: [new Float32Array([1])] }, 'value.v[0] is a Float32Array'],
    ['a DataView', { d: new DataView(new ArrayBuffer(2)) }, 'value.d is a DataView'],
    ['a Map holding a Float32Array', new Map([['k', new Float32Array([1])]]), 'is a Float32Array'],
    ['an invalid Date', { at: new Date(Number.NaN) }, 'invalid Date'],
    ['a bigint beyond 64 bits', { n: 2n ** 70n }, 'too large'],
    ['a symbol', { s: Symbol('x') }, 'symbol'],
    ['a function', fn, 'value is a function'],
    ['a function property', { onClick: fn }, 'value.onClick is a function'],
    ['a function in an array', [1, fn], 'value[1] is a function'],
    ['a function as a Map value', new Map([['k', fn]]), 'value.get("k") is a function'],
    ['a function in a Set', new Set([fn]), 'a Set element) is a function'],
    [
      'a class instance with a function field',
      {
        h: new (class H {
          f = fn
        })(),
      },
      'value.h.f is a function',
    ],
    ['a top-level symbol', Symbol('x'), 'value is a symbol'],
    ['a boxed number', { n: new Number(1) }, 'value.n is a Number'],
    ['a boxed string', new String('s'), 'value is a String'],
    ['a WeakMap', { w: new WeakMap() }, 'value.w is a WeakMap'],
    ['a Promise', [Promise.resolve(1)], 'value[0] is a Promise'],
  ])('rejects %s with INVALID_RECORD naming the message index', (_name, value, why) => {
    const err = seglogError(() => encodeValue('msgpack', value, 7))
    expect(err.code).toBe('INVALID_RECORD')
    expect(err.message).toContain('message 7')
    expect(err.message).toContain(why)
  })

  it('does not check strings inside a msgpack value for lone surrogates: they read back as U+FFFD (documented)', () => {
    const back = roundTrip('msgpack', { s: 'a\ud800', long: `${'x'.repeat(100)}\udc00` }) as Record<string, string>
    expect(back.s.startsWith('a\ufffd')).toBe(true)
    expect(back.long).toBe(`${'x'.repeat(100)}\ufffd`)
  })

  it('rejects a reference cycle with INVALID_RECORD', () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    const err = seglogError(() => encodeValue('msgpack', cyclic, 3))
    expect(err.code).toBe('INVALID_RECORD')
    expect(err.message).toContain('message 3')
    expect(err.message).toContain('cycle')
  })

  it('stays usable after a value is refused midway through encoding', () => {
    for (const bad of [{ x: 'y'.repeat(100), at: new Date(Number.NaN) }, { a: [1, { s: Symbol('s') }] }]) {
      expect(() => encodeValue('msgpack', bad, 0)).toThrow(SeglogError)
      expect(encodeValue('msgpack', { a: 1 }, 1)!.toString('hex')).toBe('81a16101')
    }
  })

  it('passes the underlying error as cause when msgpackr refuses a value', () => {
    const err = seglogError(() => encodeValue('msgpack', { n: 2n ** 70n }, 1))
    expect(err.cause).toBeInstanceOf(RangeError)
  })

  it('rejects bytes that are not msgpack with INVALID_RECORD naming the offset', () => {
    for (const hex of ['6e6f74206d73677061636b', '9201', 'd40500']) {
      const err = seglogError(() => decodeValue('msgpack', Buffer.from(hex, 'hex'), 42))
      expect(err.code).toBe('INVALID_RECORD')
      expect(err.message).toContain('value at offset 42 does not decode as msgpack')
      expect(err.offset).toBe(42)
    }
  })
})

describe('json values', () => {
  it('round-trips JSON values', () => {
    const value = { a: [1, 'two', { three: 3.5 }], b: null, c: true, s: 'ünïcödé 😀' }
    expect(roundTrip('json', value)).toEqual(value)
    expect(encodeValue('json', { a: 1 }, 0)!.toString()).toBe('{"a":1}')
    expect(roundTrip('json', 'text')).toBe('text')
    expect(roundTrip('json', 0)).toBe(0)
  })

  it('follows JSON rules for Dates (ISO strings) and undefined properties (left out)', () => {
    expect(roundTrip('json', { at: new Date(0), u: undefined })).toEqual({ at: '1970-01-01T00:00:00.000Z' })
  })

  it.each([
    ['a bigint', { n: 1n }],
    [
      'a cycle',
      (() => {
        const o: Record<string, unknown> = {}
        o.o = o
        return o
      })(),
    ],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
  ])('rejects %s with INVALID_RECORD naming the message index', (_name, value) => {
    const err = seglogError(() => encodeValue('json', value, 4))
    expect(err.code).toBe('INVALID_RECORD')
    expect(err.message).toContain('message 4')
    expect(err.message).toContain('json')
  })

  it('keeps the thrown error as cause', () => {
    const err = seglogError(() => encodeValue('json', { n: 1n }, 0))
    expect(err.cause).toBeInstanceOf(TypeError)
  })

  it('rejects bytes that are not JSON with INVALID_RECORD naming the offset', () => {
    const err = seglogError(() => decodeValue('json', Buffer.from('{nope'), 9))
    expect(err.code).toBe('INVALID_RECORD')
    expect(err.message).toContain('value at offset 9 does not decode as json')
  })
})

describe('string values', () => {
  it('round-trips strings as UTF-8', () => {
    for (const s of ['', 'abc', 'Grüße 日本 😀']) expect(roundTrip('string', s)).toBe(s)
    expect(encodeValue('string', 'é', 0)!.toString('hex')).toBe('c3a9')
  })

  it.each([[1], [{}], [Buffer.from('x')], [true]])('rejects %j with INVALID_RECORD', (value) => {
    const err = seglogError(() => encodeValue('string', value, 2))
    expect(err.code).toBe('INVALID_RECORD')
    expect(err.message).toContain('message 2')
    expect(err.message).toContain('expected a string')
  })

  it('reads invalid UTF-8 as replacement characters instead of failing', () => {
    expect(decodeValue('string', Buffer.from([0x61, 0xff]), 0)).toBe('a\ufffd')
  })

  it('rejects a string with a lone surrogate with INVALID_RECORD instead of storing U+FFFD', () => {
    for (const value of ['\ud800', 'a\udfffb', `${'😀'.repeat(10)}\ud83d`]) {
      const err = seglogError(() => encodeValue('string', value, 2))
      expect(err.code).toBe('INVALID_RECORD')
      expect(err.message).toContain('message 2')
      expect(err.message).toContain('lone surrogate')
    }
  })
})

describe('binary values', () => {
  it('stores a Buffer as is and reads back the same bytes as a Buffer', () => {
    const b = Buffer.from([0, 1, 255])
    expect(encodeValue('binary', b, 0)).toBe(b)
    const back = roundTrip('binary', b)
    expect(Buffer.isBuffer(back)).toBe(true)
    expect(back).toEqual(b)
  })

  it('wraps a Uint8Array without copying it', () => {
    const u = new Uint8Array([5, 6, 7, 8]).subarray(1, 3)
    const enc = encodeValue('binary', u, 0)!
    expect(Buffer.isBuffer(enc)).toBe(true)
    expect([...enc]).toEqual([6, 7])
    expect(enc.buffer).toBe(u.buffer)
  })

  it('decodes to the given Buffer itself', () => {
    const b = Buffer.from('raw')
    expect(decodeValue('binary', b, 0)).toBe(b)
  })

  it.each([
    ['a string', 'text'],
    ['a number', 3],
    ['an ArrayBuffer', new ArrayBuffer(2)],
    ['an array', [1]],
  ])('rejects %s with INVALID_RECORD', (_name, value) => {
    const err = seglogError(() => encodeValue('binary', value, 5))
    expect(err.code).toBe('INVALID_RECORD')
    expect(err.message).toContain('message 5')
  })
})

describe('keys', () => {
  it('encodes strings as UTF-8, keeps Buffers, wraps Uint8Arrays and maps null/undefined to null', () => {
    expect(encodeKey('k-é', 0)!.toString('hex')).toBe(Buffer.from('k-é').toString('hex'))
    expect(encodeKey('', 0)).toEqual(Buffer.alloc(0))
    const b = Buffer.from('key')
    expect(encodeKey(b, 0)).toBe(b)
    const u = new Uint8Array([1, 2])
    const k = encodeKey(u, 0)!
    expect(Buffer.isBuffer(k)).toBe(true)
    expect(k.buffer).toBe(u.buffer)
    expect(encodeKey(null, 0)).toBeNull()
    expect(encodeKey(undefined, 0)).toBeNull()
  })

  it('rejects a string key with a lone surrogate with INVALID_RECORD (its UTF-8 would be another key)', () => {
    for (const key of ['\ud800', 'k\udc00']) {
      for (const f of [encodeKey, normalizeKey]) {
        const err = seglogError(() => f(key, 4))
        expect(err.code).toBe('INVALID_RECORD')
        expect(err.message).toContain('message 4: key')
      }
    }
    expect(normalizeKey('😀', 0)).toBe('😀')
  })

  it.each([[42], [{}], [true], [Symbol('k')], [[1]]])(
    'rejects a key of the wrong type (%s) with a TypeError',
    (key) => {
      expect(() => encodeKey(key, 6)).toThrow(TypeError)
      expect(() => encodeKey(key, 6)).toThrow(/message 6/)
    },
  )
})

describe('headers', () => {
  it('encodes strings, Buffers and Uint8Arrays, one header per array element, in order', () => {
    const list = encodeHeaders(
      { src: 'web', bin: Buffer.from([1]), u: new Uint8Array([2]), tag: ['a', Buffer.from('b')] },
      0,
    )!
    expect(list.map((h) => [h.key, h.value === null ? null : [...h.value]])).toEqual([
      ['src', [...Buffer.from('web')]],
      ['bin', [1]],
      ['u', [2]],
      ['tag', [...Buffer.from('a')]],
      ['tag', [...Buffer.from('b')]],
    ])
  })

  it('writes null and undefined header values as null values, as KafkaJS does', () => {
    expect(encodeHeaders({ a: null, b: undefined }, 0)).toEqual([
      { key: 'a', value: null },
      { key: 'b', value: null },
    ])
  })

  it('returns null for absent or empty headers', () => {
    expect(encodeHeaders(undefined, 0)).toBeNull()
    expect(encodeHeaders(null, 0)).toBeNull()
    expect(encodeHeaders({}, 0)).toBeNull()
  })

  it.each([
    ['a string', 'x'],
    ['an array', [['k', 'v']]],
    ['a Map', new Map([['k', 'v']])],
    ['a number', 1],
  ])('rejects headers given as %s with a TypeError', (_name, headers) => {
    expect(() => encodeHeaders(headers, 8)).toThrow(TypeError)
    expect(() => encodeHeaders(headers, 8)).toThrow(/message 8/)
  })

  it('rejects a header value of the wrong type with a TypeError naming the header', () => {
    expect(() => encodeHeaders({ n: 1 }, 0)).toThrow(/header "n"/)
    expect(() => encodeHeaders({ arr: ['ok', 2] }, 0)).toThrow(TypeError)
  })

  it('reads every value of a repeated key back, in order, as an array (KafkaJS shape)', () => {
    const headers = decodeHeaders([
      { key: 'tag', value: Buffer.from('first') },
      { key: 'src', value: new Uint8Array([119, 101, 98]) },
      { key: 'tag', value: null },
      { key: 'tag', value: Buffer.from('last') },
    ])
    expect(Object.keys(headers)).toEqual(['tag', 'src'])
    expect(headers.tag).toEqual([Buffer.from('first'), null, Buffer.from('last')])
    expect(Buffer.isBuffer(headers.src)).toBe(true)
    expect(headers.src).toEqual(Buffer.from('web'))
  })

  it('reads a null header value back as null, distinct from an empty Buffer', () => {
    const headers = decodeHeaders([
      { key: 'none', value: null },
      { key: 'empty', value: Buffer.alloc(0) },
    ])
    expect(headers.none).toBeNull()
    expect(headers.empty).toEqual(Buffer.alloc(0))
  })

  it('keeps keys that Object.prototype also has as ordinary headers', () => {
    const headers = decodeHeaders([
      { key: 'toString', value: Buffer.from('a') },
      { key: 'constructor', value: Buffer.from('b') },
      { key: 'constructor', value: Buffer.from('c') },
    ])
    expect(headers.toString).toEqual(Buffer.from('a'))
    expect(headers.constructor).toEqual([Buffer.from('b'), Buffer.from('c')])
  })

  it('keeps a __proto__ header as an own property, repeated or not', () => {
    const headers = decodeHeaders([{ key: '__proto__', value: Buffer.from('x') }])
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype)
    expect(Object.hasOwn(headers, '__proto__')).toBe(true)
    const twice = decodeHeaders([
      { key: '__proto__', value: Buffer.from('x') },
      { key: '__proto__', value: Buffer.from('y') },
    ])
    expect(Object.getPrototypeOf(twice)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(twice, '__proto__')?.value).toEqual([Buffer.from('x'), Buffer.from('y')])
  })

  it('round-trips through encodeHeaders and decodeHeaders, arrays and nulls included', () => {
    const headers = decodeHeaders(
      encodeHeaders({ a: 'x', b: Buffer.from('y'), c: ['1', null, Buffer.from('3')], d: null, e: ['only'] }, 0)!,
    )
    expect(headers).toEqual({
      a: Buffer.from('x'),
      b: Buffer.from('y'),
      c: [Buffer.from('1'), null, Buffer.from('3')],
      d: null,
      e: Buffer.from('only'),
    })
  })

  it('writes no header for an empty array', () => {
    expect(encodeHeaders({ a: [] }, 0)).toBeNull()
  })

  it('rejects symbol-keyed headers with a TypeError instead of dropping them', () => {
    expect(() => encodeHeaders({ [Symbol('s')]: 'x' }, 3)).toThrow(TypeError)
    expect(() => encodeHeaders({ [Symbol('s')]: 'x' }, 3)).toThrow(/message 3/)
  })

  it('rejects a header key or string value with a lone surrogate with INVALID_RECORD', () => {
    expect(seglogError(() => encodeHeaders({ '\ud800': 'x' }, 2)).code).toBe('INVALID_RECORD')
    const err = seglogError(() => encodeHeaders({ h: ['ok', 'x\udc00'] }, 2))
    expect(err.code).toBe('INVALID_RECORD')
    expect(err.message).toMatch(/message 2: header "h"/)
  })
})
