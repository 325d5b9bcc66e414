/**
 * Cleaner: runs compaction passes (`rewrite.ts`) with their CPU work (decoding, CRC checks, the offset map,
 * filtering and rebuilding batches: `clean-core.ts`) on ONE worker thread (`cleaner-worker.ts`), so the heavy
 * part never blocks appends or reads on the main thread. The pass's file I/O stays on the main thread, through
 * the FileSystem given in `run`'s options (the engine's own, so fault injection and the descriptor bound reach
 * it): the worker thread could not be handed that object, and it needs none (see `rewrite.ts`).
 *
 * - Jobs run one at a time, in call order. The worker starts on the first job and is kept for the next ones;
 *   it is `unref()`ed while idle (an idle cleaner never keeps the process alive) and `ref()`ed while a job runs.
 * - `signal` aborts a job: the worker is terminated, every request in flight rejects, and the job rejects with
 *   ABORTED at its next step; the next job starts a fresh worker.
 * - A job that fails inside the worker rejects with the worker's SeglogError (CORRUPT_LOG, COMPRESSION_UNSUPPORTED
 *   ...), rebuilt on this side; one that fails on this side (IO_ERROR with the errno, ABORTED when a source went
 *   away) rejects with that error; a worker that dies rejects with IO_ERROR.
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
import { Worker } from 'node:worker_threads'
import { SeglogError, type SeglogErrorCode } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import type { BatchRun, CoreBegin, CoreEnd, FilterReply, MapReply } from './clean-core.js'
import { CLEANER_WORKER_DATA, type CoreReply, type CoreRequest, type SerializedError } from './cleaner-worker.js'
import { type CleanCpu, type CleanJob, type CleanProgress, type CleanResult, cleanPass } from './rewrite.js'

export interface CleanerRunOptions {
  signal?: AbortSignal
  onProgress?: (progress: CleanProgress) => void
  /** Where the pass's file operations go. Default: the real file system. */
  fs?: FileSystem
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
    w.ref()
    const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: SeglogError) => void }>()
    let failure: SeglogError | null = null
    const failAll = (err: SeglogError): void => {
      failure ??= err
      for (const c of calls.values()) c.reject(err)
      calls.clear()
    }
    const onMessage = (msg: CoreReply): void => {
      const c = calls.get(msg?.id)
      if (c === undefined) return
      calls.delete(msg.id)
      if (msg.ok) c.resolve(msg.value)
      else c.reject(deserializeError(msg.error, job.dir))
    }
    const onError = (err: Error): void => {
      if (this.worker === w) this.worker = null
      failAll(
        new SeglogError('IO_ERROR', `compaction worker for ${job.dir} failed: ${err.message}`, {
          cause: err,
          path: job.dir,
          errno: 'EIO',
        }),
      )
    }
    const onExit = (code: number): void => {
      if (this.worker === w) this.worker = null
      failAll(
        new SeglogError('IO_ERROR', `compaction worker for ${job.dir} exited with code ${code}`, {
          path: job.dir,
          errno: 'EIO',
        }),
      )
    }
    const stop = (reason: SeglogError): void => {
      if (failure !== null) return
      if (this.worker === w) this.worker = null
      failAll(reason)
      w.terminate().catch(() => {})
    }
    const onAbort = (): void => stop(aborted(job.dir, signal))
    const call = <T>(request: Omit<CoreRequest, 'id'>): Promise<T> => {
      if (failure !== null) return Promise.reject(failure)
      const id = this.nextId++
      return new Promise<T>((resolve, reject) => {
        calls.set(id, { resolve: resolve as (v: unknown) => void, reject })
        w.postMessage({ ...request, id } as CoreRequest)
      })
    }
    const cpu: CleanCpu = {
      begin: (arg: CoreBegin) => call<void>({ op: 'begin', arg }),
      mapRun: (arg: BatchRun) => call<MapReply>({ op: 'mapRun', arg }),
      mapThrough: (arg: number) => call<void>({ op: 'mapThrough', arg }),
      filter: (arg: BatchRun) => call<FilterReply>({ op: 'filter', arg }),
      end: () => call<CoreEnd>({ op: 'end', arg: null }),
    }
    this.stopCurrent = stop
    w.on('message', onMessage)
    w.on('error', onError)
    w.on('exit', onExit)
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const result = await cleanPass(job, cpu, {
        fs: options.fs,
        onProgress: (p) => {
          try {
            onProgress?.(p)
          } catch {
            // a failing progress callback must not break the job
          }
        },
      })
      // A stop that came after the last reply still wins: the caller asked for the job to end.
      if (failure !== null) throw failure
      return result
    } catch (err) {
      throw failure ?? err
    } finally {
      w.off('message', onMessage)
      w.off('error', onError)
      w.off('exit', onExit)
      signal?.removeEventListener('abort', onAbort)
      this.stopCurrent = null
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
