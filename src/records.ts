/**
 * The shared words of the engine and its clients: what a caller appends (`Message`), what a read returns
 * (`SeglogRecord`), what an append resolves with (`RecordMetadata`) and the `acks` levels. Types only, plus the
 * one check of an `acks` value. No state: any module may import it, from any call.
 */
import { describeValue } from './check.js'
import type { RecordHeaders } from './format.js'

export type { HeaderValue, RecordHeaders } from './format.js'

/** -1: resolve after fsync; 1: after the write reached the OS; 0: like 1 in this implementation. */
export type Acks = -1 | 0 | 1

/** One header value as given: a string (written as UTF-8), bytes, or null/undefined (a header with a null value). */
export type HeaderInput = string | Buffer | Uint8Array | null | undefined

/** Headers as given (KafkaJS's shape): an array writes one header per element, in order (a repeated key). */
export type MessageHeaders = Record<string, HeaderInput | HeaderInput[]>

export interface Message {
  key?: string | Buffer | Uint8Array | null
  /** Encoded per the topic's format; null/undefined is a tombstone. */
  value?: unknown
  headers?: MessageHeaders | null
  /** Explicit partition (an integer); else by key (murmur2), else sticky. */
  partition?: number | null
  /**
   * Milliseconds since the epoch, an integer in [0, 2^53 − 1], or the same as a canonical decimal string (as
   * KafkaJS passes it). Default: now.
   */
  timestamp?: number | string | null
}

export interface AppendOptions {
  acks?: Acks
}

export interface RecordMetadata {
  partition: number
  offset: number
  timestamp: number
}

export interface SeglogRecord<V = unknown> {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: Buffer | null
  value: V
  /**
   * Per key: its value (a Buffer, or null for a null value), or an array of all its values, in order, when the
   * key occurs more than once (KafkaJS's shape).
   */
  headers: RecordHeaders
}

/** `acks` checked: -1, 0 or 1, else a TypeError naming the value. */
export function checkAcks(acks: unknown): Acks {
  if (acks !== -1 && acks !== 0 && acks !== 1)
    throw new TypeError(`acks must be -1, 0 or 1, got ${describeValue(acks)}`)
  return acks
}
