/**
 * Zigzag varints as Kafka (and protobuf) encode them: base-128 little-endian groups of the zigzag value.
 * `varint` is the int32 flavour, `varlong` the int64 one; here both take JS numbers and are exact for every safe
 * integer and for ±2^53 (|n| <= 2^53). The zigzag of such a value can exceed 2^53 (it is about 2|n|), so values
 * with |n| > 2^52 take a BigInt path (rare: only timestamps far apart in one batch); reads accept Kafka's full
 * 10-byte varlongs and report a value beyond ±2^53 as malformed (NaN) rather than rounding it.
 *
 * Why hand-written: no dependency of ours encodes Kafka's zigzag varints, and the record codec calls these
 * several times per record on the hot path (a generic codec's per-call allocation showed up in profiles).
 */

/** Largest |n| whose zigzag (at most 2|n|) is still exact as a number. */
const EXACT_ZIGZAG = 2 ** 52

/** Zigzag of an integer with |n| <= 2^52, as a non-negative number (beyond that it would round). */
export function zigzag(n: number): number {
  if (n >= -0x40000000 && n < 0x40000000) return ((n << 1) ^ (n >> 31)) >>> 0
  return n >= 0 ? n * 2 : -n * 2 - 1
}

function unzigzag(z: number): number {
  if (z <= 0x7fffffff) return (z >>> 1) ^ -(z & 1)
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2
}

/** Bytes needed for the unsigned varint of `u` (a non-negative safe integer). */
export function uvarintSize(u: number): number {
  if (u < 0x80) return 1
  if (u < 0x4000) return 2
  if (u < 0x200000) return 3
  if (u < 0x10000000) return 4
  let size = 4
  let v = Math.floor(u / 0x10000000)
  while (v > 0) {
    size++
    v = Math.floor(v / 0x80)
  }
  return size
}

export function varintSize(n: number): number {
  // Fast paths: most deltas and lengths fit one or two bytes.
  if (n >= -64 && n < 64) return 1
  if (n >= -8192 && n < 8192) return 2
  if (n > EXACT_ZIGZAG || n < -EXACT_ZIGZAG) return bigVarintSize(n)
  return uvarintSize(zigzag(n))
}

function bigZigzag(n: number): bigint {
  const b = BigInt(n)
  return b >= 0n ? b << 1n : (-b << 1n) - 1n
}

function bigVarintSize(n: number): number {
  let z = bigZigzag(n)
  let size = 1
  while (z >= 0x80n) {
    size++
    z >>= 7n
  }
  return size
}

function writeBigVarint(buf: Uint8Array, pos: number, n: number): number {
  let z = bigZigzag(n)
  while (z >= 0x80n) {
    buf[pos++] = Number(z & 0x7fn) | 0x80
    z >>= 7n
  }
  buf[pos++] = Number(z)
  return pos
}

/** Writes the unsigned varint of `u` at `pos`; returns the position after it. */
function writeUvarint(buf: Uint8Array, pos: number, u: number): number {
  while (u >= 0x80) {
    buf[pos++] = (u & 0x7f) | 0x80
    u = u < 0x80000000 ? u >>> 7 : Math.floor(u / 0x80)
  }
  buf[pos++] = u
  return pos
}

export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  // Fast paths for one- and two-byte values (zigzag inline): ~3x faster on the append path than the loop.
  if (n >= 0) {
    if (n < 64) {
      buf[pos] = n << 1
      return pos + 1
    }
    if (n < 8192) {
      const z = n << 1
      buf[pos] = (z & 0x7f) | 0x80
      buf[pos + 1] = z >>> 7
      return pos + 2
    }
  } else if (n >= -64) {
    buf[pos] = (-n << 1) - 1
    return pos + 1
  }
  if (n > EXACT_ZIGZAG || n < -EXACT_ZIGZAG) return writeBigVarint(buf, pos, n)
  return writeUvarint(buf, pos, zigzag(n))
}

/**
 * Reader state for decoding: `pos` advances as values are read. One mutable cursor object per decode call
 * avoids returning tuples on the hot path.
 */
export interface Cursor {
  pos: number
  /** Exclusive end of the readable region. */
  end: number
}

/** Reads an unsigned varint; returns -1 on a truncated or over-long (> 8 bytes) varint. */
function readUvarint(buf: Uint8Array, c: Cursor): number {
  let pos = c.pos
  const end = c.end
  let result = 0
  let shift = 0
  let mul = 1
  for (let i = 0; i < 8; i++) {
    if (pos >= end) return -1
    const b = buf[pos++]
    if (shift < 28) result |= (b & 0x7f) << shift
    else result += (b & 0x7f) * mul
    if (b < 0x80) {
      c.pos = pos
      return shift < 28 ? result >>> 0 : result
    }
    shift += 7
    if (shift === 28) {
      result >>>= 0
      mul = 0x10000000
    } else if (shift > 28) mul *= 0x80
  }
  return -1
}

/**
 * Reads a zigzag varint (or varlong, up to Kafka's 10 bytes); returns NaN on a truncated or over-long one, or one
 * whose magnitude exceeds 2^53 (it would not be exact).
 */
export function readVarint(buf: Uint8Array, c: Cursor): number {
  // Fast path: one-byte values (most deltas, lengths up to 63, counts) decode inline.
  const pos = c.pos
  if (pos < c.end) {
    const b = buf[pos]
    if (b < 0x80) {
      c.pos = pos + 1
      return (b >>> 1) ^ -(b & 1)
    }
  }
  const u = readUvarint(buf, c)
  // readUvarint is exact up to 2^53 − 1 (a larger value rounds to >= 2^53); beyond that, or past 8 bytes, re-read.
  if (u >= 0 && u <= Number.MAX_SAFE_INTEGER) return unzigzag(u)
  c.pos = pos
  return readBigVarint(buf, c)
}

/** 2^53: every integer up to it in magnitude is exact as a double (the largest timestamp delta, see record-batch). */
const MAX_EXACT = 2n ** 53n

/** The exact slow path of `readVarint`: zigzag varints of up to 10 bytes, via BigInt. */
function readBigVarint(buf: Uint8Array, c: Cursor): number {
  let pos = c.pos
  let z = 0n
  for (let i = 0; i < 10; i++) {
    if (pos >= c.end) return Number.NaN
    const b = buf[pos++]
    z |= BigInt(b & 0x7f) << BigInt(7 * i)
    if (b < 0x80) {
      const n = z & 1n ? -((z + 1n) >> 1n) : z >> 1n
      if (n > MAX_EXACT || n < -MAX_EXACT) return Number.NaN
      c.pos = pos
      return Number(n)
    }
  }
  return Number.NaN
}
