/**
 * Every file name seglog writes inside a partition directory, in one place: the crash protocol starts here. It
 * lives in the segment layer, the lowest one that names files, so the log (recovery), compaction, retention and
 * the engine all import it downwards.
 *
 * Segment files are named by their base offset, printed as a 20-digit zero-padded decimal so that `ls` order is
 * offset order (Kafka's `LogFileUtils`):
 *
 * | suffix        | what                                                                        | on open (recovery)                         |
 * |---------------|-----------------------------------------------------------------------------|--------------------------------------------|
 * | `.log`        | record batches (RecordBatch v2)                                             | loaded; tail CRC-scanned if unclean        |
 * | `.index`      | sparse offset index                                                         | checked against the log; rebuilt if wrong  |
 * | `.timeindex`  | sparse time index                                                           | checked against the log; rebuilt if wrong  |
 * | `X.cleaned`   | compaction output being written (X = one of the three above)                | deleted (the operation is abandoned)       |
 * | `X.swap`      | compaction output complete, replacing older segments                        | swap finished (old files removed, renamed) |
 * | `X.deleted`   | segment file scheduled for deletion (readers may still hold it); `X.N.deleted` for a later generation of the same name | deleted |
 * | `*.tmp`       | a small file being replaced atomically (tmp → fsync → rename → fsync dir)   | deleted                                    |
 * | `partition.state` | partition checkpoint: log start offset, recovery point, clean-shutdown data | read; missing or unreadable → full recovery |
 * | `cleaner.checkpoint` | compaction checkpoint: first dirty offset (src/compaction/checkpoint.ts) | read by the compactor; missing → start at the log start |
 * | `topic.json`  | the topic's config, to rebuild lost metadata (src/engine/topic-dirs.ts)             | read by the engine, not by the log          |
 *
 * Partition directories themselves (engine level, src/engine/topic-dirs.ts): `<topic>-<p>` is a partition; a
 * `<topic>-<p>.<id>-create` directory is one being created (renamed into place once the topic is committed) and
 * `<topic>-<p>.<id>-delete` one being deleted (renamed first, removed once the deletion is committed).
 *
 * Temporary suffixes are appended after the normal one (`00000000000000000000.log.cleaned`), as Kafka does, so
 * the base offset always parses from everything before the first `.`.
 */

export const LOG_SUFFIX = '.log'
export const INDEX_SUFFIX = '.index'
export const TIME_INDEX_SUFFIX = '.timeindex'
export const CLEANED_SUFFIX = '.cleaned'
export const SWAP_SUFFIX = '.swap'
export const DELETED_SUFFIX = '.deleted'
export const TMP_SUFFIX = '.tmp'
export const STATE_FILE = 'partition.state'
/** Written by src/compaction/checkpoint.ts. */
export const CLEANER_CHECKPOINT = 'cleaner.checkpoint'
/** Written by the engine (src/engine/topic-dirs.ts). */
export const TOPIC_FILE = 'topic.json'
export const CREATE_DIR_SUFFIX = '-create'
export const DELETE_DIR_SUFFIX = '-delete'

export const SEGMENT_SUFFIXES = [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] as const
export const TEMP_SUFFIXES = [CLEANED_SUFFIX, SWAP_SUFFIX, DELETED_SUFFIX] as const

export type SegmentSuffix = (typeof SEGMENT_SUFFIXES)[number]
export type TempSuffix = (typeof TEMP_SUFFIXES)[number]

/** 20-digit zero-padded decimal of a base offset. */
export function offsetPrefix(offset: number): string {
  return String(offset).padStart(20, '0')
}

export function segmentFileName(baseOffset: number, suffix: SegmentSuffix): string {
  return offsetPrefix(baseOffset) + suffix
}

export interface ParsedFileName {
  baseOffset: number
  suffix: SegmentSuffix
  /** `.cleaned`, `.swap` or `.deleted` when present. */
  temp: TempSuffix | null
}

const SEGMENT_NAME = /^(\d{20})(\.log|\.index|\.timeindex)(\.cleaned|\.swap|\.deleted)?$/

/** Parses a segment-related file name; null for anything else (state files, tmp files, strangers). */
export function parseSegmentFileName(name: string): ParsedFileName | null {
  const m = SEGMENT_NAME.exec(name)
  if (!m) return null
  const baseOffset = Number(m[1])
  if (!Number.isSafeInteger(baseOffset)) return null
  return { baseOffset, suffix: m[2] as SegmentSuffix, temp: (m[3] as TempSuffix | undefined) ?? null }
}
