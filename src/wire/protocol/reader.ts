/**
 * A bounds-checked reader over one request frame, for Kafka's non-flexible primitive types (big-endian fixed
 * ints, int16-length strings, int32-length bytes and arrays) plus zigzag varints.
 *
 * Invariants: `start <= position <= end <= buf.length`; every read checks the bytes it needs first, and any read
 * that would pass `end`, or any value that cannot be what the protocol allows (a negative length other than the
 * null marker, an array count larger than the bytes left could hold, an int64 beyond ±2^53), throws
 * `MalformedRequest` and leaves the position unspecified. The connection answers that error by closing the
 * connection, as Kafka does for a request it cannot parse. `bytes()` returns views into the frame (no copy), so
 * a record set handed to the engine is the client's bytes.
 */

/** A request that does not parse: the connection that sent it is closed. */
export class MalformedRequest extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MalformedRequest'
  }
}

const TWO_32 = 0x1_0000_0000
/** High words of the int64s that are safe integers (hi = MIN_SAFE_HI with lo = 0 is -2^53, just outside). */
const MAX_SAFE_HI = 0x1f_ffff
const MIN_SAFE_HI = -0x20_0000

export class Reader {
  private pos: number
  private readonly end: number

  constructor(
    private readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    if (start < 0 || end > buf.length || start > end) throw new RangeError('reader bounds outside the buffer')
    this.pos = start
    this.end = end
  }

  get position(): number {
    return this.pos
  }

  get remaining(): number {
    return this.end - this.pos
  }

  private need(n: number, what: string): number {
    const at = this.pos
    if (n > this.end - at) {
      throw new MalformedRequest(`${what}: needs ${n} bytes at ${at}, ${this.end - at} left`)
    }
    this.pos = at + n
    return at
  }

  skip(n: number): void {
    this.need(n, 'skip')
  }

  int8(): number {
    return this.buf.readInt8(this.need(1, 'int8'))
  }

  boolean(): boolean {
    return this.buf[this.need(1, 'boolean')] !== 0
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2, 'int16'))
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4, 'int32'))
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.need(4, 'uint32'))
  }

  /** An int64 as a number; throws for values a number cannot hold exactly. */
  int64(): number {
    const at = this.need(8, 'int64')
    const hi = this.buf.readInt32BE(at)
    const lo = this.buf.readUInt32BE(at + 4)
    if (hi > MAX_SAFE_HI || hi < MIN_SAFE_HI || (hi === MIN_SAFE_HI && lo === 0))
      throw new MalformedRequest(`int64 at ${at} is beyond ±2^53`)
    return hi * TWO_32 + lo
  }

  /** A non-nullable int16-length UTF-8 string. */
  string(): string {
    const s = this.nullableString()
    if (s === null) throw new MalformedRequest(`non-nullable string at ${this.pos - 2} is null`)
    return s
  }

  nullableString(): string | null {
    const at = this.pos
    const len = this.int16()
    if (len === -1) return null
    if (len < 0) throw new MalformedRequest(`string length ${len} at ${at}`)
    const from = this.need(len, 'string')
    return this.buf.toString('utf8', from, from + len)
  }

  /** Non-nullable int32-length bytes, as a view into the frame. */
  bytes(): Buffer {
    const b = this.nullableBytes()
    if (b === null) throw new MalformedRequest(`non-nullable bytes at ${this.pos - 4} are null`)
    return b
  }

  nullableBytes(): Buffer | null {
    const at = this.pos
    const len = this.int32()
    if (len === -1) return null
    if (len < 0) throw new MalformedRequest(`bytes length ${len} at ${at}`)
    const from = this.need(len, 'bytes')
    return this.buf.subarray(from, from + len)
  }

  /**
   * A non-nullable int32-count array. `minItemBytes` is the smallest encoding of one item: a count the bytes
   * left cannot hold is rejected before any item is read (so a huge count costs nothing).
   */
  array<T>(readItem: (r: Reader) => T, minItemBytes = 1): T[] {
    const items = this.nullableArray(readItem, minItemBytes)
    if (items === null) throw new MalformedRequest(`non-nullable array at ${this.pos - 4} is null`)
    return items
  }

  nullableArray<T>(readItem: (r: Reader) => T, minItemBytes = 1): T[] | null {
    const at = this.pos
    const count = this.int32()
    if (count === -1) return null
    if (count < 0 || count * minItemBytes > this.end - this.pos) {
      throw new MalformedRequest(`array count ${count} at ${at} with ${this.end - this.pos} bytes left`)
    }
    const items = new Array<T>(count)
    for (let i = 0; i < count; i++) items[i] = readItem(this)
    return items
  }

  /** An unsigned base-128 varint of at most 5 bytes (uint32 range). */
  uvarint(): number {
    const at = this.pos
    let value = 0
    let scale = 1
    for (let i = 0; i < 5; i++) {
      const b = this.buf[this.need(1, 'varint')]
      value += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        if (value > 0xffff_ffff) break
        return value
      }
      scale *= 128
    }
    throw new MalformedRequest(`varint at ${at} is longer than 5 bytes or beyond uint32`)
  }

  /** A zigzag varint (int32). */
  varint(): number {
    const z = this.uvarint()
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2
  }

  /** A zigzag varlong, as a number; throws when its zigzag form is beyond 2^53 (|n| > 2^52). */
  varlong(): number {
    const at = this.pos
    let z = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.need(1, 'varlong')]
      z += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        // Beyond 2^53 the sum itself may have rounded, so its parity (the sign) is no longer known.
        if (z > Number.MAX_SAFE_INTEGER) break
        return z % 2 === 0 ? z / 2 : -(z + 1) / 2
      }
      scale *= 128
    }
    throw new MalformedRequest(`varlong at ${at} is longer than 10 bytes or beyond ±2^53`)
  }
}
