import { describe, expect, it } from 'vitest'
import { MalformedRequest, Reader } from '../../../src/wire/protocol/reader.js'
import { Writer } from '../../../src/wire/protocol/writer.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

function malformed(fn: () => unknown): MalformedRequest {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(MalformedRequest)
    return err as MalformedRequest
  }
  throw new Error('expected MalformedRequest')
}

describe('Reader', () => {
  it('reads big-endian fixed-width integers, booleans and int64 offsets as numbers', () => {
    const r = new Reader(hex('ff 8000 80000000 ffffffff 01 00 0000000000000001 ffffffffffffffff 001fffffffffffff'))
    expect(r.int8()).toBe(-1)
    expect(r.int16()).toBe(-32768)
    expect(r.int32()).toBe(-2147483648)
    expect(r.uint32()).toBe(0xffffffff)
    expect(r.boolean()).toBe(true)
    expect(r.boolean()).toBe(false)
    expect(r.int64()).toBe(1)
    expect(r.int64()).toBe(-1)
    expect(r.int64()).toBe(Number.MAX_SAFE_INTEGER)
    expect(r.remaining).toBe(0)
  })

  it('rejects an int64 that a number cannot hold exactly', () => {
    expect(malformed(() => new Reader(hex('0020000000000000')).int64()).message).toMatch(/2\^53/)
    expect(() => new Reader(hex('ffe0000000000000')).int64()).toThrow(MalformedRequest)
  })

  it('reads int16-length strings, null strings, and int32-length bytes as views into the frame', () => {
    const frame = hex('0003 616263 ffff 0000 00000002 cafe ffffffff')
    const r = new Reader(frame)
    expect(r.string()).toBe('abc')
    expect(r.nullableString()).toBeNull()
    expect(r.string()).toBe('')
    const b = r.bytes()
    expect(b).toEqual(hex('cafe'))
    expect(b.buffer).toBe(frame.buffer)
    expect(r.nullableBytes()).toBeNull()
  })

  it('throws MalformedRequest for a null where the field is not nullable and for negative lengths', () => {
    expect(() => new Reader(hex('ffff')).string()).toThrow(MalformedRequest)
    expect(() => new Reader(hex('fffe')).nullableString()).toThrow(MalformedRequest)
    expect(() => new Reader(hex('ffffffff')).bytes()).toThrow(MalformedRequest)
    expect(() => new Reader(hex('fffffffe')).nullableBytes()).toThrow(MalformedRequest)
    expect(() => new Reader(hex('ffffffff')).array((r) => r.int8())).toThrow(MalformedRequest)
  })

  it('throws MalformedRequest for every read past the end, at any truncation point', () => {
    const full = hex('0003 616263 00000002 0001 0002 00000002 cafe')
    const read = (r: Reader) => {
      r.string()
      r.array((r) => r.int16(), 2)
      r.bytes()
    }
    read(new Reader(full))
    for (let cut = 0; cut < full.length; cut++) {
      expect(() => read(new Reader(full.subarray(0, cut)))).toThrow(MalformedRequest)
    }
  })

  it('rejects an array count larger than the bytes left could hold before reading any item', () => {
    let items = 0
    const r = new Reader(hex('7fffffff 00000000'))
    expect(() => r.array(() => items++, 4)).toThrow(MalformedRequest)
    expect(items).toBe(0)
    expect(new Reader(hex('ffffffff')).nullableArray((r) => r.int8())).toBeNull()
  })

  it('stays inside the bounds it was given', () => {
    const r = new Reader(hex('00010203'), 1, 3)
    expect(r.int8()).toBe(1)
    expect(r.int8()).toBe(2)
    expect(() => r.int8()).toThrow(MalformedRequest)
  })

  it('reads zigzag varints and varlongs as Kafka encodes them', () => {
    const cases: [string, number][] = [
      ['00', 0],
      ['01', -1],
      ['02', 1],
      ['7f', -64],
      ['8001', 64],
      ['feffffff0f', 2147483647],
      ['ffffffff0f', -2147483648],
    ]
    for (const [h, n] of cases) expect(new Reader(hex(h)).varint()).toBe(n)
    expect(new Reader(hex('feffffffffffff0f')).varlong()).toBe(2 ** 52 - 1)
    expect(() => new Reader(hex('feffffffffffff1f')).varlong()).toThrow(MalformedRequest)
    expect(() => new Reader(hex('ffffffffff0f')).varint()).toThrow(MalformedRequest)
    expect(() => new Reader(hex('80808080808080808080')).varlong()).toThrow(MalformedRequest)
    expect(() => new Reader(hex('80')).varint()).toThrow(MalformedRequest)
  })

  it('reads back what the Writer wrote', () => {
    const w = new Writer(4)
    w.int8(-2)
      .int16(300)
      .int32(-70000)
      .int64(-(2 ** 40))
      .string('héllo')
      .nullableString(null)
      .bytes(hex('0102'))
    w.array([1, 2, 3], (w, n) => void w.int32(n))
      .varint(-300)
      .boolean(true)
    const r = new Reader(w.toBuffer())
    expect([r.int8(), r.int16(), r.int32(), r.int64(), r.string(), r.nullableString()]).toEqual([
      -2,
      300,
      -70000,
      -(2 ** 40),
      'héllo',
      null,
    ])
    expect(r.bytes()).toEqual(hex('0102'))
    expect(r.array((r) => r.int32(), 4)).toEqual([1, 2, 3])
    expect(r.varint()).toBe(-300)
    expect(r.boolean()).toBe(true)
    expect(r.remaining).toBe(0)
  })
})
