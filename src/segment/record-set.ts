/**
 * Record sets written by Kafka clients: the records of one partition in a Produce request, one or more RecordBatch
 * v2 batches back to back. `checkRecordSet` decides whether a set may be stored as it is (nothing is changed and
 * nothing allocated per record); `stampRecordSet` then assigns its offsets in place, so the bytes a client sent
 * are the bytes on disk.
 *
 * What a set must be, batch by batch (Kafka's `LogValidator` rules for a client's v2 batches):
 * - a complete batch: its size covers the 61-byte header and lies inside the set; magic 2; at most
 *   `maxBatchBytes` (RECORD_TOO_LARGE); CRC-32C right (INVALID_RECORD whose `cause.kind` is `'crc'`);
 * - offsets as a client writes them: base offset 0, at least one record, recordsCount = lastOffsetDelta + 1, and
 *   each record's offsetDelta its index (the log is dense: a gap would read as damage);
 * - no control batch and no transactional batch (there is no transaction coordinator to end them);
 * - a Kafka codec id (0–4); base, max and record timestamps integers in [-1, 2^53 - 1];
 * - records that parse: every length inside its record, exactly recordsCount of them filling the records section.
 *   A compressed batch is decompressed for this walk (Kafka does the same). When its codec is not available here
 *   the walk is skipped and the batch is stored as sent, CRC-checked, unless the topic needs to see its records
 *   (keys for compaction, values for a format): then COMPRESSION_UNSUPPORTED;
 * - decompressed, at most `maxDecompressedBytes(maxBatchBytes)` bytes (INVALID_RECORD whose `cause.kind` is
 *   `'decompressed-size'`), refused before more is built. Kafka names no such bound: its broker decompresses a
 *   batch as a stream, one record at a time. This walk holds a batch's whole records section, so a small batch
 *   that inflates a thousandfold (a "zip bomb": gzip reaches ~1000:1, lz4 ~250:1, zstd far more) must be stopped.
 *   The bound is 64 times the largest batch the topic stores, and at least 64 MiB: real records compress by well
 *   under 64:1 (text and JSON by 3–20), and Kafka's clients cut batches far below it (librdkafka at `batch.size`,
 *   1 MB before compression; the Java client at `batch.size`, 16 KiB, after it);
 * - `requireKeys` (compacted topics): every record has a key; `checkValue`: every value passes (a topic format).
 *
 * Timestamps, as Kafka's broker stores them: under LogAppendTime each batch gets the append time as max timestamp
 * and the LogAppendTime attribute bit; under CreateTime the max timestamp is the records' largest (the header's
 * when the records could not be walked) and the bit is cleared. A batch whose header already says so is not
 * touched; one that does not is rewritten (those two fields, then its CRC). Producer id, epoch, base sequence and
 * every other attribute stay as the client sent them. The partition leader epoch (outside the CRC) is set to 0,
 * as in every batch seglog writes.
 *
 * Concurrency: pure functions over the caller's buffer; `stampRecordSet` writes into it.
 */
import { constants } from 'node:buffer'
import { SeglogError } from '../errors.js'
import { crc32c } from './crc32c.js'
import {
  ATTRIBUTES_OFFSET,
  BATCH_OVERHEAD,
  batchAttributes,
  batchBaseOffset,
  batchBaseTimestamp,
  batchMaxTimestamp,
  batchRecordsCount,
  batchSizeAt,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  HEADER_SIZE_UP_TO_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAGIC_V2,
  PARTITION_LEADER_EPOCH_OFFSET,
  RECORDS_OFFSET,
  readInt32,
  recordFields,
  setBatchBaseOffset,
  setBatchTimestamps,
  TIMESTAMP_TYPE_MASK,
  TimestampType,
  TRANSACTIONAL_FLAG_MASK,
  walkRecordBody,
  walkRecordHead,
  writeInt32,
} from './record-batch.js'
import type { Cursor } from './varint.js'

/**
 * Decompresses a records section by codec id to at most `maxBytes` bytes (CodecRegistry's `decompressor`):
 * above it, a SeglogError whose `cause.kind` is `'decompressed-size'`.
 */
export type SetDecompressor = (codec: number, data: Buffer, maxBytes: number) => Buffer

/** How far the records section of a batch of at most `maxBatchBytes` may decompress (see the module header). */
export function maxDecompressedBytes(maxBatchBytes: number): number {
  return Math.min(MAX_BUFFER_BYTES, Math.max(DECOMPRESSED_FLOOR_BYTES, DECOMPRESSED_PER_BATCH_BYTE * maxBatchBytes))
}

const DECOMPRESSED_FLOOR_BYTES = 64 * 1024 * 1024
const DECOMPRESSED_PER_BATCH_BYTE = 64
const MAX_BUFFER_BYTES = constants.MAX_LENGTH

export interface RecordSetRules {
  /** Largest batch accepted (RECORD_TOO_LARGE above it). */
  maxBatchBytes: number
  /** The topic's timestamp type. */
  timestampType: TimestampType
  /** Every record needs a key (compacted topics). */
  requireKeys: boolean
  /** A value check (a topic format's decoder): why `value` cannot be stored, or null. */
  checkValue: ((value: Buffer | null) => string | null) | null
  /**
   * Decompresses a records section by codec id; without one, compressed batches are not walked. One that ignores
   * `maxBytes` is still held to it, once it returned.
   */
  decompress: SetDecompressor | undefined
}

/** One batch of a checked set. */
export interface CheckedBatch {
  /** Position of the batch in the set. */
  at: number
  size: number
  /** Records in the batch (= lastOffsetDelta + 1). */
  count: number
  /** Max timestamp under CreateTime: the records' largest (the header's when they were not walked). */
  maxTimestamp: number
}

export interface CheckedRecordSet {
  batches: CheckedBatch[]
  /** Records in the whole set. */
  records: number
}

/** Kafka's codec ids stop at zstd (4); 5–7 are no codec. */
const MAX_CODEC_ID = 4

/** A timestamp a batch can hold exactly: a safe integer >= -1 (-1 is Kafka's NO_TIMESTAMP). */
const storable = (ts: number): boolean => Number.isSafeInteger(ts) && ts >= -1

function invalid(message: string, kind: string): SeglogError {
  return new SeglogError('INVALID_RECORD', message, { cause: { kind } })
}

/**
 * Checks a client's record set against the rules in the module header. Returns its batches; throws INVALID_RECORD
 * (with `cause.kind`: 'structure', 'crc', 'offsets', 'timestamp', 'codec', 'decompressed-size', 'records', 'key' or
 * 'value'),
 * RECORD_TOO_LARGE or COMPRESSION_UNSUPPORTED naming the batch. Reads `set` only.
 */
export function checkRecordSet(set: Buffer, rules: RecordSetRules): CheckedRecordSet {
  if (set.length === 0) throw invalid('the record set is empty', 'structure')
  const batches: CheckedBatch[] = []
  let records = 0
  let at = 0
  for (let n = 0; at < set.length; n++) {
    const where = `batch ${n} (at byte ${at} of the record set)`
    if (set.length - at < HEADER_SIZE_UP_TO_MAGIC) {
      throw invalid(`${set.length - at} trailing bytes at byte ${at} of the record set are not a batch`, 'structure')
    }
    const size = batchSizeAt(set, at, set.length)
    if (size < BATCH_OVERHEAD) throw invalid(`${where} has an invalid size ${size}`, 'structure')
    const magic = set[at + MAGIC_OFFSET]
    if (magic !== MAGIC_V2) throw invalid(`${where} has magic ${magic}; only RecordBatch v2 is stored`, 'structure')
    if (size > rules.maxBatchBytes) {
      throw new SeglogError(
        'RECORD_TOO_LARGE',
        `${where} is ${size} bytes, above the limit of ${rules.maxBatchBytes} bytes`,
      )
    }
    if (at + size > set.length) {
      throw invalid(`${where} needs ${size} bytes, only ${set.length - at} remain in the record set`, 'structure')
    }
    const stored = readInt32(set, at + CRC_OFFSET) >>> 0
    const computed = crc32c(set, at + ATTRIBUTES_OFFSET, at + size)
    if (stored !== computed) {
      throw invalid(
        `${where} fails its CRC: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`,
        'crc',
      )
    }
    const count = checkHeader(set, at, where)
    const maxTimestamp = checkRecords(set, at, size, count, where, rules)
    batches.push({ at, size, count, maxTimestamp })
    records += count
    at += size
  }
  return { batches, records }
}

/** The header fields a client writes (see the module header); returns the record count. */
function checkHeader(set: Buffer, at: number, where: string): number {
  const attributes = batchAttributes(set, at)
  if (attributes & CONTROL_FLAG_MASK)
    throw invalid(`${where} is a control batch; clients may not write one`, 'structure')
  if (attributes & TRANSACTIONAL_FLAG_MASK) {
    throw invalid(`${where} is transactional; transactions are not supported`, 'structure')
  }
  const codec = attributes & COMPRESSION_CODEC_MASK
  if (codec > MAX_CODEC_ID) throw invalid(`${where} names compression codec ${codec}, which is no Kafka codec`, 'codec')
  const base = batchBaseOffset(set, at)
  if (base !== 0) throw invalid(`${where} has base offset ${base}; a client's batch starts at 0`, 'offsets')
  const delta = readInt32(set, at + LAST_OFFSET_DELTA_OFFSET)
  const count = batchRecordsCount(set, at)
  if (count < 1 || delta !== count - 1) {
    throw invalid(`${where} holds ${count} records for lastOffsetDelta ${delta}`, 'offsets')
  }
  const baseTs = batchBaseTimestamp(set, at)
  const maxTs = batchMaxTimestamp(set, at)
  if (!storable(baseTs) || !storable(maxTs)) {
    throw invalid(`${where} has timestamps ${baseTs}/${maxTs} outside [-1, 2^53 - 1]`, 'timestamp')
  }
  return count
}

/** Scratch of the record walk (synchronous, so one object serves every call). */
const FIELDS = recordFields()

/**
 * Walks the records of the batch at `set[at]` (decompressed when it must and can be); returns the max timestamp
 * the batch is stored with under CreateTime.
 */
function checkRecords(set: Buffer, at: number, size: number, count: number, where: string, rules: RecordSetRules) {
  const codec = batchAttributes(set, at) & COMPRESSION_CODEC_MASK
  let buf = set
  const c: Cursor = { pos: at + RECORDS_OFFSET, end: at + size }
  if (codec !== 0) {
    const needed = rules.requireKeys || rules.checkValue !== null
    const limit = maxDecompressedBytes(rules.maxBatchBytes)
    let plain: Buffer | null = null
    try {
      if (rules.decompress !== undefined) plain = rules.decompress(codec, set.subarray(c.pos, c.end), limit)
    } catch (err) {
      if ((err as { cause?: { kind?: unknown } } | null)?.cause?.kind === 'decompressed-size') {
        throw tooLargeDecompressed(where, codec, limit, rules.maxBatchBytes, err)
      }
      if (!(err instanceof SeglogError) || err.code !== 'COMPRESSION_UNSUPPORTED') {
        const why = err instanceof Error ? err.message : String(err)
        throw new SeglogError('INVALID_RECORD', `${where} does not decompress: ${why}`, {
          cause: { kind: 'codec', err },
        })
      }
    }
    if (plain !== null && plain.length > limit) {
      throw tooLargeDecompressed(where, codec, limit, rules.maxBatchBytes, null)
    }
    if (plain === null) {
      if (needed) {
        throw new SeglogError(
          'COMPRESSION_UNSUPPORTED',
          `${where} uses compression codec ${codec}, which has no codec here; the topic needs its records checked`,
        )
      }
      // Stored as sent: its CRC is right, its records are read by whoever has the codec.
      return batchMaxTimestamp(set, at)
    }
    buf = plain
    c.pos = 0
    c.end = plain.length
  }
  const baseTs = batchBaseTimestamp(set, at)
  const f = FIELDS
  let max = -1
  for (let i = 0; i < count; i++) {
    const problem = walkRecordHead(buf, c, f, i) ?? walkRecordBody(buf, c, f, i)
    if (problem !== null) throw invalid(`${where}: ${problem}`, 'records')
    if (f.offsetDelta !== i) {
      throw invalid(
        `${where}: record ${i} has offsetDelta ${f.offsetDelta}; a client's records count 0, 1, 2, ...`,
        'offsets',
      )
    }
    const ts = baseTs + f.timestampDelta
    if (!storable(ts)) throw invalid(`${where}: record ${i} has timestamp ${ts} outside [-1, 2^53 - 1]`, 'timestamp')
    if (ts > max) max = ts
    if (rules.requireKeys && f.keyLength < 0) {
      throw invalid(`${where}: record ${i} has no key; the topic is compacted and needs one`, 'key')
    }
    if (rules.checkValue !== null) {
      const value = f.valueLength < 0 ? null : buf.subarray(f.valueStart, f.valueStart + f.valueLength)
      const why = rules.checkValue(value)
      if (why !== null) throw invalid(`${where}: record ${i}: ${why}`, 'value')
    }
  }
  if (c.pos !== c.end) throw invalid(`${where}: ${c.end - c.pos} bytes follow its ${count} records`, 'records')
  return max
}

function tooLargeDecompressed(where: string, codec: number, limit: number, maxBatch: number, err: unknown) {
  return new SeglogError(
    'INVALID_RECORD',
    `${where} decompresses (codec ${codec}) to more than ${limit} bytes, the most a batch's records may take here ` +
      `(64 times the largest batch, ${maxBatch} bytes, and at least 64 MiB); no more than that was decompressed`,
    { cause: { kind: 'decompressed-size', limit, err } },
  )
}

/**
 * Assigns offsets from `baseOffset` to a set `checkRecordSet` accepted, in place: each batch's base offset, a
 * partition leader epoch of 0, and its timestamps per the module header (`logAppendTime` under LogAppendTime,
 * -1 under CreateTime). Returns the set's largest max timestamp.
 */
export function stampRecordSet(set: Buffer, checked: CheckedRecordSet, baseOffset: number, logAppendTime: number) {
  let next = baseOffset
  let setMax = -1
  for (const b of checked.batches) {
    setBatchBaseOffset(set, b.at, next)
    writeInt32(set, b.at + PARTITION_LEADER_EPOCH_OFFSET, 0)
    const logAppend = logAppendTime >= 0
    const maxTs = logAppend ? logAppendTime : b.maxTimestamp
    const bit = (batchAttributes(set, b.at) & TIMESTAMP_TYPE_MASK) !== 0
    if (bit !== logAppend || batchMaxTimestamp(set, b.at) !== maxTs) {
      setBatchTimestamps(set, b.at, logAppend ? TimestampType.LogAppendTime : TimestampType.CreateTime, maxTs)
    }
    if (maxTs > setMax) setMax = maxTs
    next += b.count
  }
  return setMax
}
