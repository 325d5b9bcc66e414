/**
 * Hand-built protocol bytes for the wire tests, written independently of src/wire's Writer and Reader: request
 * bodies kafkajs cannot produce (bad CRCs, null record sets, odd acks) and a reader of Fetch v4 responses that
 * returns the record-set bytes exactly as they came over the wire.
 */

export const i8 = (n: number): Buffer => Buffer.from([n & 0xff])

export function i16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n)
  return b
}

export function i32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

export function i64(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigInt64BE(BigInt(n))
  return b
}

export function str(s: string | null): Buffer {
  if (s === null) return i16(-1)
  const utf8 = Buffer.from(s, 'utf8')
  return Buffer.concat([i16(utf8.length), utf8])
}

export function bytes(b: Buffer | null): Buffer {
  return b === null ? i32(-1) : Buffer.concat([i32(b.length), b])
}

export function array<T>(items: readonly T[], each: (item: T) => Buffer): Buffer {
  return Buffer.concat([i32(items.length), ...items.map(each)])
}

/** A Produce v3–v7 body. */
export function produceBody(
  acks: number,
  topics: readonly { name: string; partitions: readonly { index: number; records: Buffer | null }[] }[],
  transactionalId: string | null = null,
): Buffer {
  return Buffer.concat([
    str(transactionalId),
    i16(acks),
    i32(5000),
    array(topics, (t) =>
      Buffer.concat([str(t.name), array(t.partitions, (p) => Buffer.concat([i32(p.index), bytes(p.records)]))]),
    ),
  ])
}

/** Reads big-endian fields in order. */
class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}
  int16(): number {
    this.pos += 2
    return this.buf.readInt16BE(this.pos - 2)
  }
  int32(): number {
    this.pos += 4
    return this.buf.readInt32BE(this.pos - 4)
  }
  int64(): number {
    this.pos += 8
    return Number(this.buf.readBigInt64BE(this.pos - 8))
  }
  string(): string {
    const n = this.int16()
    this.pos += n
    return this.buf.toString('utf8', this.pos - n, this.pos)
  }
  end(what: string): void {
    if (this.pos !== this.buf.length) throw new Error(`${what} has ${this.buf.length - this.pos} trailing bytes`)
  }
}

export interface ProducePartitionResult {
  index: number
  errorCode: number
  baseOffset: number
  logAppendTime: number
  logStartOffset: number
}

/** Reads a Produce v5–v7 response body. */
export function readProduceV5(body: Buffer): { name: string; partitions: ProducePartitionResult[] }[] {
  const c = new Cursor(body)
  const topics = []
  for (let t = c.int32(); t > 0; t--) {
    const name = c.string()
    const partitions: ProducePartitionResult[] = []
    for (let p = c.int32(); p > 0; p--) {
      partitions.push({
        index: c.int32(),
        errorCode: c.int16(),
        baseOffset: c.int64(),
        logAppendTime: c.int64(),
        logStartOffset: c.int64(),
      })
    }
    topics.push({ name, partitions })
  }
  c.int32()
  c.end('produce response')
  return topics
}

export interface FetchPartitionV4 {
  partition: number
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  records: Buffer
}

/** Reads a Fetch v4 response body: each partition's record set as raw bytes. */
export function readFetchV4(body: Buffer): { topic: string; partitions: FetchPartitionV4[] }[] {
  const c = new Cursor(body, 4)
  const out = []
  for (let t = c.int32(); t > 0; t--) {
    const topic = c.string()
    const partitions: FetchPartitionV4[] = []
    for (let p = c.int32(); p > 0; p--) {
      const partition = c.int32()
      const errorCode = c.int16()
      const highWatermark = c.int64()
      const lastStableOffset = c.int64()
      for (let a = c.int32(); a > 0; a--) c.pos += 16
      const size = c.int32()
      const records = body.subarray(c.pos, c.pos + Math.max(0, size))
      c.pos += Math.max(0, size)
      partitions.push({ partition, errorCode, highWatermark, lastStableOffset, records })
    }
    out.push({ topic, partitions })
  }
  c.end('fetch response')
  return out
}

/** A Fetch v4 body for one topic. */
export function fetchV4Body(
  topic: string,
  partitions: readonly { partition: number; offset: number; maxBytes: number }[],
  opts: { maxWaitMs?: number; minBytes?: number; maxBytes?: number } = {},
): Buffer {
  return Buffer.concat([
    i32(-1),
    i32(opts.maxWaitMs ?? 0),
    i32(opts.minBytes ?? 1),
    i32(opts.maxBytes ?? 1 << 20),
    i8(0),
    array([topic], (t) =>
      Buffer.concat([
        str(t),
        array(partitions, (p) => Buffer.concat([i32(p.partition), i64(p.offset), i32(p.maxBytes)])),
      ]),
    ),
  ])
}
