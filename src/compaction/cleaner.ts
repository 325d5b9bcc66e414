/**
 * Cleaner: runs compaction passes (`rewrite.ts`) on ONE worker thread (`cleaner-worker.ts`), I/O included, so
 * neither the heavy decoding nor the copies of whole segments in and out of the page cache run on the main
 * thread, where appends and reads are served. The pass's file operations still go through the FileSystem given
 * in `run`'s options (the engine's own, so fault injection and the descriptor bound reach them): the worker
 * builds an equivalent FileSystem from its description (a BoundedFileSystem lends it a few of its descriptors
 * meanwhile), or, when that FileSystem cannot be rebuilt in another thread (a test's fault injector), goes
 * through the object itself by a synchronous proxy (`worker-fs.ts`).
 *
 * - Jobs run one at a time, in call order. The worker starts on the first job and is kept for the next ones;
 *   it is `unref()`ed while idle (an idle cleaner never keeps the process alive) and `ref()`ed while a job runs.
 * - `signal` aborts a job: the worker is told to stop (a shared flag it checks between chunks), closes its files
 *   and removes its `.cleaned` files, and the job rejects with ABORTED once it has; the worker stays for the
 *   next job. One that does not answer within STOP_GRACE_MS is terminated (Node closes the descriptors a worker
 *   opened when it ends) and the next job starts a fresh one.
 * - A job that fails in the worker rejects with the worker's SeglogError (CORRUPT_LOG, IO_ERROR with the errno,
 *   ABORTED when a source went away, COMPRESSION_UNSUPPORTED ...), rebuilt on this side; a worker that dies
 *   rejects with IO_ERROR.
 * - The pass removes the `.cleaned` files it wrote when it fails; the caller owns any other leftovers
 *   (`compactor.ts` removes them).
 *
 * Loading the worker: from compiled `dist/` the worker is `cleaner-worker.js` next to this file. When running from
 * TypeScript sources (this module's URL ends with `.ts`: vitest, tsx), Node 20 does not apply `execArgv: ['--import',
 * 'tsx']` to a worker's entry module (nodejs/node#47747: ERR_UNKNOWN_FILE_EXTENSION), so the worker is started from a
 * two-line bootstrap that registers tsx's ESM hooks in the worker (`tsx/esm/api` `register()`) and then imports
 * `cleaner-worker.ts`. This costs ~1 s of start-up once per worker, in development only. (tsx's package.json is
 * loaded with `require`, so this module opens no file itself.)
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { MessageChannel, Worker } from 'node:worker_threads'
import { SeglogError, type SeglogErrorCode } from '../errors.js'
import { type FileSystem, nodeFileSystem } from '../io/file-system.js'
import { CLEANER_WORKER_DATA, type CleanReply, type CleanRequest, type SerializedError } from './cleaner-worker.js'
import type { CleanJob, CleanProgress, CleanResult } from './rewrite.js'
import { serveFileSystem, WORKER_MAX_OPEN_FILES, type WorkerFileSystemSpec } from './worker-fs.js'

export interface CleanerRunOptions {
  signal?: AbortSignal
  onProgress?: (progress: CleanProgress) => void
  /** Where the pass's file operations go. Default: the real file system. */
  fs?: FileSystem
}

/** How long a stopped job's worker may take to answer before it is terminated. */
const STOP_GRACE_MS = 5000

const KNOWN_CODES = new Set<string>([
  'INTERNAL',
  'CORRUPT_LOG',
  'IO_ERROR',
  'ABORTED',
  'COMPRESSION_UNSUPPORTED',
  'INVALID_CONFIG',
  'ENGINE_CLOSED',
])

/** Turns a worker's serialized error back into a SeglogError (IO_ERROR when it carried no known code). */
function deserializeError(e: SerializedError, dir: string): SeglogError {
  if (e.code !== undefined && KNOWN_CODES.has(e.code)) {
    const err = new SeglogError(e.code as SeglogErrorCode, e.message, {
      path: e.path,
      offset: e.offset,
      errno: e.errno,
    })
    if (e.stack) err.stack = `${err.stack}\n--- in the compaction worker:\n${e.stack}`
    return err
  }
  const err = new SeglogError('IO_ERROR', `compaction of ${dir} failed in the worker: ${e.name}: ${e.message}`, {
    path: e.path ?? dir,
    errno: e.errno ?? 'EIO',
  })
  if (e.stack) err.stack = `${err.stack}\n--- in the compaction worker:\n${e.stack}`
  return err
}

/** File URL of tsx's ESM API (its `import` export; the `require` build cannot register ESM hooks when imported). */
function tsxEsmApiUrl(from: string): string {
  const require = createRequire(from)
  const pkgPath = require.resolve('tsx/package.json')
  const pkg = require('tsx/package.json') as {
    exports?: Record<string, { import?: string | { default?: string } }>
  }
  const entry = pkg.exports?.['./esm/api']?.import
  const file = typeof entry === 'string' ? entry : entry?.default
  if (file === undefined) throw new Error(`cannot find tsx's ESM API in ${pkgPath}`)
  return pathToFileURL(join(dirname(pkgPath), file)).href
}

function startWorker(): Worker {
  const here = import.meta.url
  if (here.endsWith('.ts')) {
    const workerUrl = new URL('./cleaner-worker.ts', here).href
    const tsxApi = tsxEsmApiUrl(here)
    const bootstrap =
      `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); ` +
      `return import(${JSON.stringify(workerUrl)}) })`
    return new Worker(bootstrap, { eval: true, workerData: CLEANER_WORKER_DATA })
  }
  return new Worker(new URL('./cleaner-worker.js', here), { workerData: CLEANER_WORKER_DATA })
}

export class Cleaner {
  private worker: Worker | null = null
  private tail: Promise<unknown> = Promise.resolve()
  private nextId = 1
  private closed = false
  /** Stops the running job (terminating the worker), when there is one. */
  private stopCurrent: ((reason: SeglogError) => void) | null = null

  /** True while a worker thread exists (running a job or idle). */
  get hasWorker(): boolean {
    return this.worker !== null
  }

  /** Runs `job` after the jobs already queued; resolves with its result. */
  run(job: CleanJob, options: CleanerRunOptions = {}): Promise<CleanResult> {
    const p = this.tail.then(() => this.runNow(job, options))
    this.tail = p.catch(() => {})
    return p
  }

  private async runNow(job: CleanJob, options: CleanerRunOptions): Promise<CleanResult> {
    if (this.closed) throw new SeglogError('ENGINE_CLOSED', 'the cleaner is closed')
    const { signal, onProgress } = options
    if (signal?.aborted) throw aborted(job.dir, signal)
    let worker = this.worker
    if (worker === null) {
      worker = startWorker()
      this.worker = worker
    }
    const w = worker
    const fsys = options.fs ?? nodeFileSystem
    const share = fsys.shareWithWorker?.(WORKER_MAX_OPEN_FILES) ?? null
    let server: { close(): void } | null = null
    let spec: WorkerFileSystemSpec
    const transfer: MessageChannel['port2'][] = []
    if (share !== null) spec = { kind: 'shared', description: share.description }
    else {
      const channel = new MessageChannel()
      const state = new SharedArrayBuffer(4)
      server = serveFileSystem(fsys, channel.port1, state)
      spec = { kind: 'proxy', port: channel.port2, state }
      transfer.push(channel.port2)
    }
    const stopFlag = new Int32Array(new SharedArrayBuffer(4))
    const id = this.nextId++
    w.ref()
    let onMessage: (msg: CleanReply) => void = () => {}
    let onError: (err: Error) => void = () => {}
    let onExit: (code: number) => void = () => {}
    let onAbort: () => void = () => {}
    let grace: NodeJS.Timeout | null = null
    try {
      return await new Promise<CleanResult>((resolve, reject) => {
        /** Why the job was stopped (abort, close); it wins over whatever the worker answers. */
        let stopReason: SeglogError | null = null
        onMessage = (msg) => {
          if (msg?.id !== id) return
          if (msg.type === 'progress') {
            try {
              onProgress?.(msg.progress)
            } catch {
              // a failing progress callback must not break the job
            }
          } else if (stopReason !== null) reject(stopReason)
          else if (msg.type === 'done') resolve(msg.result)
          else reject(deserializeError(msg.error, job.dir))
        }
        onError = (err) => {
          if (this.worker === w) this.worker = null
          reject(
            stopReason ??
              new SeglogError('IO_ERROR', `compaction worker for ${job.dir} failed: ${err.message}`, {
                cause: err,
                path: job.dir,
                errno: 'EIO',
              }),
          )
        }
        onExit = (code) => {
          if (this.worker === w) this.worker = null
          reject(
            stopReason ??
              new SeglogError('IO_ERROR', `compaction worker for ${job.dir} exited with code ${code}`, {
                path: job.dir,
                errno: 'EIO',
              }),
          )
        }
        const stop = (reason: SeglogError): void => {
          if (stopReason !== null) return
          stopReason = reason
          Atomics.store(stopFlag, 0, 1)
          grace = setTimeout(() => {
            if (this.worker === w) this.worker = null
            w.terminate().catch(() => {})
          }, STOP_GRACE_MS)
        }
        onAbort = () => stop(aborted(job.dir, signal))
        this.stopCurrent = stop
        w.on('message', onMessage)
        w.on('error', onError)
        w.on('exit', onExit)
        signal?.addEventListener('abort', onAbort, { once: true })
        const request: CleanRequest = { type: 'clean', id, job, fs: spec, stop: stopFlag.buffer as SharedArrayBuffer }
        w.postMessage(request, transfer)
      })
    } finally {
      if (grace !== null) clearTimeout(grace)
      w.off('message', onMessage)
      w.off('error', onError)
      w.off('exit', onExit)
      signal?.removeEventListener('abort', onAbort)
      this.stopCurrent = null
      server?.close()
      share?.release()
      if (this.worker === w) w.unref()
    }
  }

  /** Stops the running job (ABORTED), rejects queued ones (ENGINE_CLOSED) and terminates the worker. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.stopCurrent?.(new SeglogError('ABORTED', 'compaction stopped: the cleaner was closed'))
    await this.tail
    const w = this.worker
    this.worker = null
    if (w !== null) await w.terminate()
  }
}

function aborted(dir: string, signal: AbortSignal | undefined): SeglogError {
  const why = signal?.reason instanceof Error ? `: ${signal.reason.message}` : ''
  return new SeglogError('ABORTED', `compaction of ${dir} was aborted${why}`, { cause: signal?.reason })
}

let shared: Cleaner | null = null

/** A process-wide cleaner (one worker thread, idle-unref'd), created on first use. */
export function sharedCleaner(): Cleaner {
  shared ??= new Cleaner()
  return shared
}
