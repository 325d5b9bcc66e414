/**
 * The engine's option and event types: what `Seglog.open` accepts, what `onEvent` receives, the lifecycle states.
 * Types only, plus the symbol of the test hooks.
 *
 * Test hooks (a fault-injecting file system, a crash-point callback) are not public options: they ride on the
 * options object under `TEST_HOOKS`, a symbol exported from `src/internal.ts` only, and the member is marked
 * `@internal` so the published declarations do not show it.
 */
import type { CompactionResult } from '../compaction/compactor.js'
import type { Codec } from '../compression.js'
import type { TopicConfig } from '../config.js'
import type { SeglogError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import type { LogEvent } from '../log/partition-log.js'
import type { Acks } from '../records.js'
import type { RetentionResult } from '../retention/retention.js'

/** @internal the key of the test hooks in `SeglogOptions`. */
export const TEST_HOOKS: unique symbol = Symbol('seglog.testHooks')

/** @internal what tests may inject into an engine. */
export interface TestHooks {
  /** File-system layer (tests inject faults here). */
  fs?: FileSystem
  /** Called at named points of metadata operations (crash tests kill the process there). */
  crashPoint?: (point: string) => void
  /**
   * Background verification of opened logs (default: on, but off when `fs` is injected, so that its reads do not
   * take the faults a test injects for the reads it makes).
   */
  verifyInBackground?: boolean
}

/** Where and how `Seglog.listen` (or the `listen` open option) serves Kafka's wire protocol. */
export interface ListenOptions {
  /** TCP port; 0 picks any free port (see `address()`). */
  port: number
  /** Interface to bind; default '127.0.0.1' (loopback). Another one is bound only when named here. */
  host?: string
  /** Largest request accepted (Kafka's socket.request.max.bytes); default 100 MiB. */
  maxRequestBytes?: number
  /** Idle connections are closed after this (Kafka's connections.max.idle.ms); default 10 minutes. */
  idleMs?: number
}

export interface SeglogOptions {
  /** Engine-wide topic defaults (validated like topic config). */
  defaults?: Partial<TopicConfig>
  /** Default `acks` for appends. -1 (fsync before resolving) unless set. */
  acks?: Acks
  /** Bound on open file descriptors used by partition files (default 512). */
  maxOpenFiles?: number
  /** Wall clock in ms (for tests). */
  clock?: () => number
  /** Receives recovery reports, rolls, segment deletions, background flush failures. */
  onEvent?: (event: EngineEvent) => void
  /** Extra compression codecs (`lz4`, `snappy`, or replacements). */
  codecs?: Partial<Record<'gzip' | 'snappy' | 'lz4' | 'zstd', Codec>>
  /** How often background retention runs (Kafka's log.retention.check.interval.ms). Default 300,000; 0 = never. */
  retentionCheckIntervalMs?: number
  /** How often the cleaner looks for compactable partitions (Kafka's log.cleaner.backoff.ms). Default 15,000; 0 = never. */
  cleanerBackoffMs?: number
  /** Memory budget of the compaction offset map (Kafka's log.cleaner.dedupe.buffer.size). Default 16 MiB. */
  cleanerMapBytes?: number
  /** Start serving Kafka's wire protocol once open (see `Seglog.listen`); the open fails if the listener does. */
  listen?: ListenOptions
  /** Wire clients create unknown topics on Metadata and Produce (format `binary`, the engine defaults). Default true. */
  autoCreateTopics?: boolean
  /**
   * Open without taking ownership and without writing anything, while another process may own the directory (or
   * nobody does): topics, configs, reads, live streams following the owner's appends, committed group offsets. Every
   * writing method throws READ_ONLY. Cannot be combined with `listen`.
   */
  readOnly?: boolean
  /** @internal test hooks (see the module header). */
  [TEST_HOOKS]?: TestHooks
}

export type EngineEvent =
  | (LogEvent & { topic: string; partition: number })
  | { type: 'flush-failed'; topic: string; partition: number; error: SeglogError }
  /** The metadata store's files needed a repair that loses nothing acknowledged, or something was missing. */
  | { type: 'metadata-repaired'; path: string; reason: string }
  /** A topic record rebuilt from the partition directories' topic files (the store had none, or an older one). */
  | { type: 'topic-restored'; topic: string; partitions: number; reason: string }
  /** Partition directories kept but not opened: the metadata does not account for them (never removed). */
  | { type: 'unknown-dirs'; dirs: { name: string; reason: string }[] }
  /** Partitions of a known topic without a directory: created empty. */
  | { type: 'partitions-missing'; topic: string; partitions: number[] }
  /** Leftovers of interrupted createTopic/createPartitions/deleteTopic calls finished at open. */
  | { type: 'interrupted-operations'; removed: string[]; renamed: { from: string; to: string }[] }
  /**
   * Undoing a failed metadata operation failed too (the call rejected with the first error): what was left, and
   * why. The next open finishes the cleanup.
   */
  | { type: 'rollback-failed'; operation: string; path: string; error: SeglogError }
  | ({ type: 'retention'; topic: string; partition: number; durationMs: number } & RetentionResult)
  | { type: 'retention-failed'; topic: string; partition: number; error: SeglogError }
  | ({ type: 'compaction'; topic: string; partition: number } & Omit<CompactionResult, 'plan'>)
  | { type: 'compaction-failed'; topic: string; partition: number; error: SeglogError }

export type EngineStatus = 'opening' | 'open' | 'closing' | 'closed'
