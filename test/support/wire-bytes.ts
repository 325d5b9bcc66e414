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

export interface ProducePartitionResult {
  index: number
  errorCode: number
  baseOffset: number
  logAppendTime: number
  logStartOffset: number
}

/** Reads a Produce v5–v7 response body. */
export function readProduceV5(body: Buffer): { name: string; partitions: ProducePartitionResult[] }[] {
  let pos = 0
  const int16 = () => ((pos += 2), body.readInt16BE(pos - 2))
  const int32 = () => ((pos += 4), body.readInt32BE(pos - 4))
  const int64 = () => ((pos += 8), Number(body.readBigInt64BE(pos - 8)))
  const string = () => {
    const n = int16()
    pos += n
    return body.toString('utf8', pos - n, pos)
  }
  const topics = []
  for (let t = int32(); t > 0; t--) {
    const name = string()
    const partitions: ProducePartitionResult[] = []
    for (let p = int32(); p > 0; p--) {
      partitions.push({
        index: int32(),
        errorCode: int16(),
        baseOffset: int64(),
        logAppendTime: int64(),
        logStartOffset: int64(),
      })
    }
    topics.push({ name, partitions })
  }
  int32()
  if (pos !== body.length) throw new Error(`produce response has ${body.length - pos} trailing bytes`)
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
  let pos = 4
  const int16 = () => ((pos += 2), body.readInt16BE(pos - 2))
  const int32 = () => ((pos += 4), body.readInt32BE(pos - 4))
  const int64 = () => ((pos += 8), Number(body.readBigInt64BE(pos - 8)))
  const out = []
  for (let t = int32(); t > 0; t--) {
    const n = int16()
    const topic = body.toString('utf8', pos, pos + n)
    pos += n
    const partitions: FetchPartitionV4[] = []
    for (let p = int32(); p > 0; p--) {
      const partition = int32()
      const errorCode = int16()
      const highWatermark = int64()
      const lastStableOffset = int64()
      for (let a = int32(); a > 0; a--) pos += 16
      const size = int32()
      const records = body.subarray(pos, pos + Math.max(0, size))
      pos += Math.max(0, size)
      partitions.push({ partition, errorCode, highWatermark, lastStableOffset, records })
    }
    out.push({ topic, partitions })
  }
  if (pos !== body.length) throw new Error(`fetch response has ${body.length - pos} trailing bytes`)
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
