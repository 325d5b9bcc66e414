/**
 * Entry point of the compaction worker thread (started by `Cleaner` in `cleaner.ts`). It runs one pass
 * (`cleanPass`, `rewrite.ts`) per request, strictly one at a time, I/O included, through the FileSystem the
 * request describes (`worker-fs.ts`: one built here equivalent to the main thread's, or a proxy to it), and
 * answers on the parent port:
 *
 * | message (parent → worker)           | replies (worker → parent)                                         |
 * |-------------------------------------|-------------------------------------------------------------------|
 * | `{ type: 'clean', id, job, fs, stop }` | zero or more `{ type: 'progress', id, progress }`, then        |
 * |                                     | `{ type: 'done', id, result }` or `{ type: 'error', id, error }`  |
 *
 * `stop` is a SharedArrayBuffer: once the parent sets its first Int32 to 1, the pass fails with ABORTED at its
 * next chunk, after closing its files and removing the `.cleaned` files it wrote. Errors cross the thread
 * boundary as plain objects (`SerializedError`); the parent turns them back into SeglogErrors. The swap is the
 * main thread's. It listens only when started as the cleaner (workerData `{ seglogCleaner: true }`), so
 * importing this module anywhere else (e.g. a test runner's own worker thread) does nothing.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { SeglogError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import { type CleanJob, type CleanProgress, type CleanResult, cleanPass } from './rewrite.js'
import { ProxyFileSystem, type WorkerFileSystemSpec, workerFileSystem } from './worker-fs.js'

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
  fs: WorkerFileSystemSpec
  /** Int32 flag: 1 = stop the pass. */
  stop: SharedArrayBuffer
}

export type CleanReply =
  | { type: 'progress'; id: number; progress: CleanProgress }
  | { type: 'done'; id: number; result: CleanResult }
  | { type: 'error'; id: number; error: SerializedError }

/** workerData that marks a thread as the cleaner. */
export const CLEANER_WORKER_DATA = { seglogCleaner: true } as const

function serializeError(err: unknown): SerializedError {
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

async function clean(msg: CleanRequest, post: (reply: CleanReply) => void): Promise<CleanResult> {
  const spec = msg.fs
  const fs: FileSystem =
    spec.kind === 'shared' ? workerFileSystem(spec.description) : new ProxyFileSystem(spec.port, spec.state)
  const stopFlag = new Int32Array(msg.stop)
  const stopped = new SeglogError('ABORTED', `compaction of ${msg.job.dir} was stopped`, { path: msg.job.dir })
  try {
    return await cleanPass(msg.job, {
      fs,
      onProgress: (progress) => post({ type: 'progress', id: msg.id, progress }),
      stop: () => (Atomics.load(stopFlag, 0) !== 0 ? stopped : null),
    })
  } finally {
    if (spec.kind === 'proxy') spec.port.close()
  }
}

const port = parentPort
const isCleaner = (workerData as { seglogCleaner?: unknown } | null)?.seglogCleaner === true
if (port !== null && isCleaner) {
  // One pass at a time, in the order received.
  let tail: Promise<void> = Promise.resolve()
  const post = (reply: CleanReply): void => port.postMessage(reply)
  port.on('message', (msg: CleanRequest) => {
    if (msg?.type !== 'clean') return
    tail = tail.then(() =>
      clean(msg, post).then(
        (result) => post({ type: 'done', id: msg.id, result }),
        (err) => post({ type: 'error', id: msg.id, error: serializeError(err) }),
      ),
    )
  })
}
