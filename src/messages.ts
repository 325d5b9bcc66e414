/**
 * The checks every message passes before it joins a batch, in one place for `Seglog.append` and the producer
 * (which runs them on each `send` before gathering sends, so one caller's bad message fails only that caller).
 *
 * What a message may hold (anything else is refused, never coerced or silently changed):
 * - the message itself: a non-array object → else TypeError.
 * - `key`: see `normalizeKey` (string, Buffer, Uint8Array, null/undefined) → else TypeError.
 * - `headers`: see `encodeHeaders` → else TypeError (INVALID_RECORD for a lone surrogate).
 * - `partition`: undefined/null (the partitioner chooses) or an integer number → else TypeError. Whether that
 *   partition exists is the topic's to say (PARTITION_NOT_FOUND).
 * - `timestamp`: undefined/null (now), an integer number of ms since the epoch, or the same as a canonical
 *   decimal string (`'1700000000000'`, as KafkaJS passes timestamps; no sign, spaces, leading zeros, exponent or
 *   hex) → else TypeError. The accepted range is [0, 2^53 − 1] (Number.MAX_SAFE_INTEGER, the exact range of a
 *   JS number; Kafka's own is int64 and Kafka producers refuse negative timestamps) → else INVALID_RECORD.
 * - `value`: depends on the topic's format and is checked by `encodeValue` (not here: the producer does not
 *   know the format).
 * Every error message names the message's index in the call.
 */
import { SeglogError } from './errors.js'
import { encodeHeaders, normalizeKey } from './format.js'
import type { BatchRecordInput } from './segment/record-batch.js'

/** The largest timestamp accepted (ms since the epoch): the exact integer range of a JS number. */
export const MAX_TIMESTAMP = Number.MAX_SAFE_INTEGER

/** A checked message: the record the batch encoder takes (its value still to be encoded) and its partition. */
export interface CheckedMessage extends BatchRecordInput {
  key: Buffer | string | null
  /** The explicit partition, or null when the partitioner chooses. */
  partition: number | null
}

const CANONICAL_INTEGER = /^(?:0|-?[1-9][0-9]*)$/

function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x)
  if (typeof x === 'bigint') return `${x}n`
  if (typeof x === 'symbol') return x.toString()
  if (x !== null && typeof x === 'object') return (x as object).constructor?.name ?? 'object'
  return String(x)
}

/**
 * The timestamp of message `index`: `now` when absent, else the given ms (see the module header for what is
 * accepted).
 */
export function checkTimestamp(ts: unknown, index: number, now: number): number {
  if (ts === undefined || ts === null) return now
  let n: number
  if (typeof ts === 'number') n = ts
  else if (typeof ts === 'string' && CANONICAL_INTEGER.test(ts)) n = Number(ts)
  else {
    throw new TypeError(
      `message ${index}: timestamp must be an integer number of ms (or a decimal integer string), got ${show(ts)}`,
    )
  }
  if (!Number.isInteger(n)) {
    throw new TypeError(`message ${index}: timestamp must be an integer number of ms, got ${show(ts)}`)
  }
  if (n < 0 || n > MAX_TIMESTAMP) {
    throw new SeglogError(
      'INVALID_RECORD',
      `message ${index}: timestamp ${show(ts)} is outside the accepted range [0, ${MAX_TIMESTAMP}] ms`,
    )
  }
  return n === 0 ? 0 : n // -0 is stored as 0; the metadata says so too
}

/** Checks message `index` and returns its normalized fields; `now` is the timestamp when it has none. */
export function checkMessage(m: unknown, index: number, now: number): CheckedMessage {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) {
    throw new TypeError(`message ${index} must be an object, got ${show(m)}`)
  }
  const msg = m as { key?: unknown; headers?: unknown; partition?: unknown; timestamp?: unknown }
  const key = normalizeKey(msg.key, index)
  const headers = encodeHeaders(msg.headers, index)
  const timestamp = checkTimestamp(msg.timestamp, index, now)
  const p = msg.partition
  let partition: number | null = null
  if (p !== undefined && p !== null) {
    if (typeof p !== 'number' || !Number.isInteger(p)) {
      throw new TypeError(`message ${index}: partition must be an integer, got ${show(p)}`)
    }
    partition = p
  }
  return { timestamp, key, value: null, headers, partition }
}

/** Runs `checkMessage` on every message of a call (throws for the first bad one); for callers that only check. */
export function checkMessages(messages: readonly unknown[]): void {
  for (let i = 0; i < messages.length; i++) checkMessage(messages[i], i, 0)
}
