/**
 * Kafka's gzip (codec id 1): the records section is gzip data with its header (Kafka's `GZIPOutputStream`), one
 * member or several, from node:zlib.
 *
 * The output bound is zlib's `maxOutputLength`: zlib inflates chunk by chunk and stops with ERR_BUFFER_TOO_LARGE
 * as soon as the total passes it, so at most the bound is ever built. Deflate data says nothing about its output
 * size up front; this is the only way to bound it.
 */
import { type BoundedCodec, MAX_BUFFER_BYTES, OutputLimitError } from './limit.js'

/** The zlib functions gzip uses. */
export interface ZlibGzip {
  gzipSync(data: Buffer): Buffer
  gunzipSync(data: Buffer, options?: { maxOutputLength?: number }): Buffer
}

export function gzipCodec(z: ZlibGzip): BoundedCodec {
  return {
    compress: (d) => z.gzipSync(d),
    decompress: (d, maxBytes) => {
      try {
        return z.gunzipSync(d, { maxOutputLength: zlibOutputLimit(maxBytes) })
      } catch (err) {
        throw tooLargeForZlib(err, maxBytes) ?? err
      }
    },
  }
}

/** `maxBytes` as zlib's `maxOutputLength` accepts it (an integer in [1, the Buffer maximum]). */
export function zlibOutputLimit(maxBytes: number): number {
  return Math.max(1, Math.min(MAX_BUFFER_BYTES, maxBytes))
}

/** The OutputLimitError for zlib's "output too large" error, or null for any other error. */
export function tooLargeForZlib(err: unknown, maxBytes: number): OutputLimitError | null {
  if ((err as { code?: unknown } | null)?.code !== 'ERR_BUFFER_TOO_LARGE') return null
  return new OutputLimitError(maxBytes, `the output passes ${maxBytes} bytes, the most allowed`)
}
