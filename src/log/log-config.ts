/**
 * A partition log's storage settings and Kafka's defaults for them. A leaf module (it imports nothing), so the
 * topic config table (src/config.ts) can build on these numbers without loading the log itself.
 */

export interface LogConfig {
  /** Roll before an append that would push the active segment past this size. */
  segmentBytes: number
  /** Roll when the active segment's records span more than this (record timestamps, as Kafka). */
  segmentMs: number
  /** Bytes between sparse index entries. */
  indexIntervalBytes: number
  /** Maximum size of each index file; a full index rolls the segment. */
  segmentIndexBytes: number
  /** Largest batch accepted. */
  maxMessageBytes: number
  /** Delay before a segment renamed `.deleted` is removed. */
  fileDeleteDelayMs: number
}

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  indexIntervalBytes: 4096,
  segmentIndexBytes: 10 * 1024 * 1024,
  maxMessageBytes: 1_048_588,
  fileDeleteDelayMs: 60_000,
})
