/**
 * Entry point of the compaction worker thread (started by `Cleaner` in `cleaner.ts`). It runs one
 * `runCleanJob` (see `rewrite.ts`) per request, strictly one at a time, and answers on the parent port:
 *
 * | message (parent → worker)           | replies (worker → parent)                                         |
 * |-------------------------------------|-------------------------------------------------------------------|
 * | `{ type: 'clean', id, job }`        | zero or more `{ type: 'progress', id, progress }`, then           |
 * |                                     | `{ type: 'done', id, result }` or `{ type: 'error', id, error }`  |
 *
 * Errors cross the thread boundary as plain objects (`SerializedError`); the parent turns them back into
 * SeglogErrors. The worker only reads segment files and writes `.cleaned` files; the swap is the main thread's.
 * It listens only when started as the cleaner (workerData `{ seglogCleaner: true }`), so importing this module
 * anywhere else (e.g. a test runner's own worker thread) does nothing.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { SeglogError } from '../errors.js'
import { type CleanJob, type CleanProgress, type CleanResult, runCleanJob } from './rewrite.js'

export interface SerializedError {
  name: string
  message: string
  code?: string
  path?: string
  offset?: number
  errno?: string
  stack?: string
}

export interface CleanRequest {
  type: 'clean'
  id: number
  job: CleanJob
}

export type CleanReply =
  | { type: 'progress'; id: number; progress: CleanProgress }
  | { type: 'done'; id: number; result: CleanResult }
  | { type: 'error'; id: number; error: SerializedError }

/** workerData that marks a thread as the cleaner. */
export const CLEANER_WORKER_DATA = { seglogCleaner: true } as const

export function serializeError(err: unknown): SerializedError {
  if (err instanceof SeglogError) {
    // SeglogError messages start with "CODE: "; keep the human part only.
    const prefix = `${err.code}: `
    const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message
    return {
      name: err.name,
      message,
      code: err.code,
      path: err.path,
      offset: err.offset,
      errno: err.errno,
      stack: err.stack,
    }
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code
    return {
      name: err.name,
      message: err.message,
      errno: typeof code === 'string' ? code : undefined,
      stack: err.stack,
    }
  }
  return { name: 'Error', message: String(err) }
}

const port = parentPort
const isCleaner = (workerData as { seglogCleaner?: unknown } | null)?.seglogCleaner === true
if (port !== null && isCleaner) {
  port.on('message', (msg: CleanRequest) => {
    if (msg?.type !== 'clean') return
    const { id, job } = msg
    let reply: CleanReply
    try {
      const result = runCleanJob(job, (progress) => port.postMessage({ type: 'progress', id, progress } as CleanReply))
      reply = { type: 'done', id, result }
    } catch (err) {
      reply = { type: 'error', id, error: serializeError(err) }
    }
    port.postMessage(reply)
  })
}
