/**
 * The bound on a decompression's output. Every built-in codec takes the most bytes its caller accepts and refuses
 * more without building them first (each module in src/codecs/ says how); it throws `OutputLimitError`, which the
 * registry reports as its own error kind, so that callers tell "too big for here" from "not this codec's data".
 */
import { constants } from 'node:buffer'

/** The most bytes one Buffer can hold here: the bound when the caller names none. */
export const MAX_BUFFER_BYTES: number = constants.MAX_LENGTH

/** A codec whose decompression is bounded: `decompress` throws OutputLimitError rather than return more than `maxBytes`. */
export interface BoundedCodec {
  compress(data: Buffer): Buffer
  decompress(data: Buffer, maxBytes: number): Buffer
}

/** Decompressed output would pass `limit` bytes (or needs more memory than that to be built). */
export class OutputLimitError extends Error {
  constructor(
    readonly limit: number,
    message: string,
  ) {
    super(message)
    this.name = 'OutputLimitError'
  }
}

/** Throws OutputLimitError when `bytes` (what the data says or is known to decompress to) is above `limit`. */
export function checkBound(bytes: number, limit: number, what: string): void {
  if (bytes > limit) throw new OutputLimitError(limit, `${what} ${bytes} bytes, more than the ${limit} allowed`)
}
