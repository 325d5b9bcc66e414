/**
 * A growing writer for response bodies in Kafka's non-flexible primitive types. Output is a list of chunks:
 * the writer's own scratch buffers plus, by reference, any large buffer passed to `raw` (stored record batches),
 * so a Fetch response never copies batch bytes; the connection sends the list with one vectored write.
 *
 * Invariants: a scratch buffer is never reallocated or copied while writing (a full one is sealed and a new one
 * started), so a `Slot` from `reserveInt32` stays valid until `finish`; `length` is the sum of all chunk lengths;
 * chunks are in write order and never overlap.
 */

/** Buffers up to this size are copied into the scratch buffer: cheaper than one more iovec entry. */
const COPY_LIMIT = 256
const MAX_CHUNK = 64 * 1024
const TWO_32 = 0x1_0000_0000

/** A reserved int32 to fill in later (a count or a size known only after the items are written). */
export interface Slot {
  set(value: number): void
}

export class Writer {
  private readonly chunks: Buffer[] = []
  private cur: Buffer
  /** Start of the part of `cur` not yet sealed into `chunks`. */
  private curStart = 0
  private pos = 0
  private sealedBytes = 0

  constructor(initialBytes = 256) {
    this.cur = Buffer.allocUnsafe(initialBytes)
  }

  /** Bytes written so far. */
  get length(): number {
    return this.sealedBytes + this.pos - this.curStart
  }

  private seal(): void {
    if (this.pos > this.curStart) {
      this.chunks.push(this.cur.subarray(this.curStart, this.pos))
      this.sealedBytes += this.pos - this.curStart
    }
    this.curStart = this.pos
  }

  /** Room for `n` more bytes in `cur`; returns the write position. */
  private room(n: number): number {
    if (this.pos + n > this.cur.length) {
      this.seal()
      this.cur = Buffer.allocUnsafe(Math.max(n, Math.min(this.cur.length * 2, MAX_CHUNK)))
      this.curStart = 0
      this.pos = 0
    }
    const at = this.pos
    this.pos = at + n
    return at
  }

  int8(v: number): this {
    const at = this.room(1)
    this.cur.writeInt8(v, at)
    return this
  }

  boolean(v: boolean): this {
    const at = this.room(1)
    this.cur[at] = v ? 1 : 0
    return this
  }

  int16(v: number): this {
    const at = this.room(2)
    this.cur.writeInt16BE(v, at)
    return this
  }

  int32(v: number): this {
    const at = this.room(4)
    this.cur.writeInt32BE(v, at)
    return this
  }

  uint32(v: number): this {
    const at = this.room(4)
    this.cur.writeUInt32BE(v, at)
    return this
  }

  /** An int64 from a safe integer (offsets, timestamps, -1 markers). */
  int64(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`int64 value ${v} is not a safe integer`)
    const hi = Math.floor(v / TWO_32)
    const at = this.room(8)
    this.cur.writeInt32BE(hi, at)
    this.cur.writeUInt32BE(v - hi * TWO_32, at + 4)
    return this
  }

  string(s: string): this {
    const len = Buffer.byteLength(s, 'utf8')
    if (len > 0x7fff) throw new RangeError(`string of ${len} bytes does not fit an int16 length`)
    const at = this.room(2 + len)
    this.cur.writeInt16BE(len, at)
    this.cur.write(s, at + 2, len, 'utf8')
    return this
  }

  nullableString(s: string | null): this {
    return s === null ? this.int16(-1) : this.string(s)
  }

  /** int32 length then the bytes (null: length -1). */
  bytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1)
    this.int32(b.length)
    return this.raw(b)
  }

  /** The buffer's bytes, with no length: copied when small, else referenced (never copied). */
  raw(b: Buffer): this {
    if (b.length <= COPY_LIMIT) {
      const at = this.room(b.length)
      b.copy(this.cur, at)
      return this
    }
    this.seal()
    this.chunks.push(b)
    this.sealedBytes += b.length
    return this
  }

  array<T>(items: readonly T[], writeItem: (w: Writer, item: T) => void): this {
    this.int32(items.length)
    for (const item of items) writeItem(this, item)
    return this
  }

  nullableArray<T>(items: readonly T[] | null, writeItem: (w: Writer, item: T) => void): this {
    return items === null ? this.int32(-1) : this.array(items, writeItem)
  }

  uvarint(v: number): this {
    let u = v
    while (u >= 0x80) {
      const at = this.room(1)
      this.cur[at] = (u & 0x7f) | 0x80
      u = Math.floor(u / 128)
    }
    const at = this.room(1)
    this.cur[at] = u
    return this
  }

  /** A zigzag varint (int32 range). */
  varint(v: number): this {
    return this.uvarint(((v << 1) ^ (v >> 31)) >>> 0)
  }

  /** Reserves an int32 to be set before `finish`. */
  reserveInt32(): Slot {
    const at = this.room(4)
    // After `room`, the four bytes are in `cur` (a new scratch buffer if the old one was full).
    const target = this.cur
    target.writeInt32BE(0, at)
    return { set: (value: number) => void target.writeInt32BE(value, at) }
  }

  /** The chunks written, in order (views, not copies). The writer must not be used afterwards. */
  finish(): Buffer[] {
    this.seal()
    return this.chunks
  }

  /** One buffer (copies only when there is more than one chunk). */
  toBuffer(): Buffer {
    const chunks = this.finish()
    if (chunks.length === 1) return chunks[0]
    return Buffer.concat(chunks, this.sealedBytes)
  }
}
