/**
 * What the engine's rooms share: the open engine's environment (`EngineContext`) and the in-memory state of a
 * topic and of a partition. Types only.
 *
 * Ownership of the state: the topic registry (`topics.ts`) creates, replaces and retires `TopicState` and
 * `PartitionState`; the append path owns a partition's `flushTimer`; the reads room owns its `waiters`. Everything
 * runs on one event loop, so a room may read another's fields but writes only its own.
 */
import type { CodecRegistry } from '../compression.js'
import type { TopicConfig } from '../config.js'
import type { FileSystem } from '../io/file-system.js'
import type { PartitionLog } from '../log/partition-log.js'
import type { StickyPartitioner } from '../partitioner.js'
import type { TopicRecord } from './metadata.js'
import type { EngineEvent } from './options.js'

/** The environment of one open engine, handed to each room by the facade. */
export interface EngineContext {
  /** The directory as given to `open`, and its real path (what ownership is about). */
  readonly dir: string
  readonly realDir: string
  /** Every file operation goes through this (bounded, possibly fault-injecting in tests). */
  readonly fs: FileSystem
  /** The checked clock (ms). */
  readonly clock: () => number
  readonly onEvent: (event: EngineEvent) => void
  readonly codecs: CodecRegistry
  /** CRC-check opened logs' batches in idle slices off the read path (`BatchCache.verifyInBackground`). */
  readonly verifyInBackground: boolean
  /** True while the engine is `open` (not opening, closing or closed). */
  isOpen(): boolean
  /** Throws ENGINE_CLOSED unless the engine is open. */
  assertOpen(): void
  /** Registers work that `close()` must wait for. */
  track<T>(work: Promise<T>): Promise<T>
}

export interface PartitionState {
  readonly topic: TopicState
  readonly index: number
  /** The partition's directory. */
  readonly dir: string
  /**
   * The partition's log, opened on first use where the open defers it (it then throws what the open throws:
   * CORRUPT_LOG, IO_ERROR; the next use tries again).
   */
  readonly log: PartitionLog
  /** The log if it was opened, else null: what close, flush and config changes touch. */
  readonly opened: PartitionLog | null
  /** Wake-ups of callers waiting for an append past their offset (reads room). */
  readonly waiters: Set<() => void>
  /** The pending background fsync of acks 0/1 appends (append room). */
  flushTimer: NodeJS.Timeout | null
}

export interface TopicState {
  record: TopicRecord
  config: TopicConfig
  partitions: PartitionState[]
  sticky: StickyPartitioner
}
