import { describe, expect, it } from 'vitest'
import { Writer } from '../../../src/wire/protocol/writer.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

describe('Writer', () => {
  it('writes Kafka primitives big-endian, with int16 string and int32 bytes lengths', () => {
    const w = new Writer()
    w.int8(-1)
      .int16(1)
      .int32(-2)
      .int64(-1)
      .int64(2 ** 32 + 5)
      .string('ab')
      .nullableString(null)
      .bytes(null)
      .boolean(true)
    expect(w.toBuffer()).toEqual(hex('ff 0001 fffffffe ffffffffffffffff 0000000100000005 0002 6162 ffff ffffffff 01'))
  })

  it('references large buffers instead of copying them, and copies small ones', () => {
    const big = Buffer.alloc(1000, 7)
    const small = Buffer.from([1, 2, 3])
    const w = new Writer(16)
    w.int32(big.length).raw(big).raw(small).int16(9)
    const chunks = w.finish()
    expect(chunks.some((c) => c === big)).toBe(true)
    expect(chunks.some((c) => c === small)).toBe(false)
    const all = Buffer.concat(chunks)
    expect(all.length).toBe(4 + 1000 + 3 + 2)
    expect(all.readInt32BE(0)).toBe(1000)
    expect(all.subarray(1004, 1007)).toEqual(small)
    expect(all.readInt16BE(1007)).toBe(9)
  })

  it('keeps a reserved int32 writable while later writes fill new scratch buffers', () => {
    const w = new Writer(8)
    w.int16(1)
    const slot = w.reserveInt32()
    for (let i = 0; i < 100; i++) w.int32(i)
    w.raw(Buffer.alloc(300, 1))
    slot.set(12345)
    const all = w.toBuffer()
    expect(all.readInt32BE(2)).toBe(12345)
    expect(all.readInt32BE(6 + 99 * 4)).toBe(99)
    expect(all.length).toBe(2 + 4 + 400 + 300)
  })

  it('counts its length across chunks', () => {
    const w = new Writer(4)
    for (let i = 0; i < 50; i++) w.string('xyz')
    w.raw(Buffer.alloc(500))
    expect(w.length).toBe(50 * 5 + 500)
    expect(Buffer.concat(w.finish()).length).toBe(750)
  })

  it('refuses an int64 that is not a safe integer and a string too long for int16', () => {
    expect(() => new Writer().int64(2 ** 60)).toThrow(RangeError)
    expect(() => new Writer().string('x'.repeat(40000))).toThrow(RangeError)
  })
})
