/**
 * Cleaner: runs compaction jobs (`rewrite.ts`) on ONE worker thread (`cleaner-worker.ts`), so the heavy rewrite
 * never blocks appends or reads on the main thread.
 *
 * - Jobs run one at a time, in call order. The worker starts on the first job and is kept for the next ones;
 *   it is `unref()`ed while idle (an idle cleaner never keeps the process alive) and `ref()`ed while a job runs.
 * - `signal` aborts a job: the worker is terminated (`terminate()` resolves once the thread has stopped, so no
 *   write is in flight afterwards) and the job rejects with ABORTED; the next job starts a fresh worker.
 * - A job that fails inside the worker rejects with the worker's SeglogError (CORRUPT_LOG, IO_ERROR, ABORTED,
 *   COMPRESSION_UNSUPPORTED ...), rebuilt on this side; a worker that dies rejects with IO_ERROR.
 * - The caller owns the directory's `.cleaned` leftovers after a failure or an abort (`compactor.ts` removes them).
 *
 * Loading the worker: from compiled `dist/` the worker is `cleaner-worker.js` next to this file. When running from
 * TypeScript sources (this module's URL ends with `.ts`: vitest, tsx), Node 20 does not apply `execArgv: ['--import',
 * 'tsx']` to a worker's entry module (nodejs/node#47747: ERR_UNKNOWN_FILE_EXTENSION), so the worker is started from a
 * two-line bootstrap that registers tsx's ESM hooks in the worker (`tsx/esm/api` `register()`) and then imports
 * `cleaner-worker.ts`. This costs ~1 s of start-up once per worker, in development only.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { SeglogError, type SeglogErrorCode } from '../errors.js'
import { CLEANER_WORKER_DATA, type CleanReply, type CleanRequest, type SerializedError } from './cleaner-worker.js'
import type { CleanJob, CleanProgress, CleanResult } from './rewrite.js'

export interface CleanerRunOptions {
  signal?: AbortSignal
  onProgress?: (progress: CleanProgress) => void
}

const KNOWN_CODES = new Set<string>([
  'CORRUPT_LOG',
  'IO_ERROR',
  'ABORTED',
  'COMPRESSION_UNSUPPORTED',
  'INVALID_CONFIG',
  'ENGINE_CLOSED',
])

/** Turns a worker's serialized error back into a SeglogError (IO_ERROR when it carried no known code). */
export function deserializeError(e: SerializedError, dir: string): SeglogError {
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
  const pkgPath = createRequire(from).resolve('tsx/package.json')
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {
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

  private runNow(job: CleanJob, options: CleanerRunOptions): Promise<CleanResult> {
    if (this.closed) return Promise.reject(new SeglogError('ENGINE_CLOSED', 'the cleaner is closed'))
    const { signal, onProgress } = options
    if (signal?.aborted) return Promise.reject(aborted(job.dir, signal))
    let worker = this.worker
    if (worker === null) {
      worker = startWorker()
      this.worker = worker
    }
    const w = worker
    w.ref()
    const id = this.nextId++
    return new Promise<CleanResult>((resolve, reject) => {
      let settled = false
      const finish = (): void => {
        settled = true
        w.off('message', onMessage)
        w.off('error', onError)
        w.off('exit', onExit)
        signal?.removeEventListener('abort', onAbort)
        this.stopCurrent = null
        if (this.worker === w) w.unref()
      }
      const onMessage = (msg: CleanReply): void => {
        if (settled || msg?.id !== id) return
        if (msg.type === 'progress') {
          try {
            onProgress?.(msg.progress)
          } catch {
            // a failing progress callback must not break the job
          }
          return
        }
        finish()
        if (msg.type === 'done') resolve(msg.result)
        else reject(deserializeError(msg.error, job.dir))
      }
      const onError = (err: Error): void => {
        if (settled) return
        this.worker = null
        finish()
        reject(
          new SeglogError('IO_ERROR', `compaction worker for ${job.dir} failed: ${err.message}`, {
            cause: err,
            path: job.dir,
            errno: 'EIO',
          }),
        )
      }
      const onExit = (code: number): void => {
        if (settled) return
        this.worker = null
        finish()
        reject(
          new SeglogError('IO_ERROR', `compaction worker for ${job.dir} exited with code ${code}`, {
            path: job.dir,
            errno: 'EIO',
          }),
        )
      }
      const stop = (reason: SeglogError): void => {
        if (settled) return
        this.worker = null
        finish()
        w.terminate().then(
          () => reject(reason),
          () => reject(reason),
        )
      }
      const onAbort = (): void => stop(aborted(job.dir, signal))
      this.stopCurrent = stop
      w.on('message', onMessage)
      w.on('error', onError)
      w.on('exit', onExit)
      signal?.addEventListener('abort', onAbort, { once: true })
      const request: CleanRequest = { type: 'clean', id, job }
      w.postMessage(request)
    })
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
