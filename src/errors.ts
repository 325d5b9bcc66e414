/**
 * The one error class of seglog. Every failure a caller can act on is a `SeglogError` with a stable `code`
 * (see the README's "Errors" table for what to do about each). Codes never change within a major version;
 * messages may. Programmer mistakes (wrong argument types) are plain `TypeError`s and carry no code.
 */

export const ERROR_CODES = [
  'TOPIC_EXISTS',
  'TOPIC_NOT_FOUND',
  'PARTITION_NOT_FOUND',
  'INVALID_TOPIC_NAME',
  'INVALID_CONFIG',
  'INVALID_RECORD',
  'RECORD_TOO_LARGE',
  'OFFSET_OUT_OF_RANGE',
  'CORRUPT_LOG',
  'ENGINE_LOCKED',
  'ENGINE_CLOSED',
  'COMPRESSION_UNSUPPORTED',
  'IO_ERROR',
  'ABORTED',
  'GROUP_NOT_EMPTY',
  'READ_ONLY',
  'INTERNAL',
] as const

export type SeglogErrorCode = (typeof ERROR_CODES)[number]

export interface SeglogErrorDetails {
  cause?: unknown
  /** File the error is about, when there is one. */
  path?: string
  /** Offset the error is about, when there is one. */
  offset?: number
  /** For IO_ERROR: the system error code (`ENOSPC`, `EIO`, ...). */
  errno?: string
}

export class SeglogError extends Error {
  readonly code: SeglogErrorCode
  readonly path: string | undefined
  readonly offset: number | undefined
  readonly errno: string | undefined

  constructor(code: SeglogErrorCode, message: string, details: SeglogErrorDetails = {}) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'SeglogError'
    this.code = code
    this.path = details.path
    this.offset = details.offset
    this.errno = details.errno
  }
}

/** True for a SeglogError, optionally of one code. */
export function isSeglogError(err: unknown, code?: SeglogErrorCode): err is SeglogError {
  return err instanceof SeglogError && (code === undefined || err.code === code)
}

/**
 * Wraps a failure of a file-system call as `IO_ERROR`, keeping the errno (ENOSPC, EIO, ...). A SeglogError
 * passes through unchanged so layers can wrap without double-wrapping.
 */
export function ioError(err: unknown, op: string, path: string): SeglogError {
  if (err instanceof SeglogError) return err
  const errno = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'EIO'
  const why = err instanceof Error ? err.message : String(err)
  return new SeglogError('IO_ERROR', `${op} failed on ${path}: ${why}`, { cause: err, path, errno })
}

/**
 * An internal step could not complete: an invariant of seglog's own state failed (a bug), or a compaction's swap
 * found its partition changed meanwhile (retried inside a few times first). Nothing was changed.
 */
export function internalError(message: string, details: SeglogErrorDetails = {}): SeglogError {
  return new SeglogError('INTERNAL', message, details)
}

export function corruptLog(message: string, path: string, offset?: number): SeglogError {
  return new SeglogError('CORRUPT_LOG', `${path}: ${message}`, { path, offset })
}
