/**
 * Entry point of the compaction worker thread (started by `Cleaner` in `cleaner.ts`). It does no I/O: it holds
 * one `CleanCore` (`clean-core.ts`) and runs each request on it, strictly in the order received, answering on
 * the parent port:
 *
 * | message (parent → worker)                         | reply (worker → parent)                                  |
 * |---------------------------------------------------|----------------------------------------------------------|
 * | `{ id, op: 'begin' \| 'mapRun' \| 'mapThrough' \| 'filter' \| 'end', arg }` | `{ id, ok: true, value }` or `{ id, ok: false, error }` |
 *
 * The main thread (`rewrite.ts`) reads the segments and writes the `.cleaned` files through its FileSystem and
 * posts batch runs here; the swap is the main thread's too. Errors cross the thread boundary as plain objects
 * (`SerializedError`); the parent turns them back into SeglogErrors. It listens only when started as the
 * cleaner (workerData `{ seglogCleaner: true }`), so importing this module anywhere else (e.g. a test runner's
 * own worker thread) does nothing.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { SeglogError } from '../errors.js'
import { type BatchRun, CleanCore, type CoreBegin } from './clean-core.js'

export interface SerializedError {
  name: string
  message: string
  code?: string
  path?: string
  offset?: number
  errno?: string
  stack?: string
}

export type CoreRequest =
  | { id: number; op: 'begin'; arg: CoreBegin }
  | { id: number; op: 'mapRun'; arg: BatchRun }
  | { id: number; op: 'mapThrough'; arg: number }
  | { id: number; op: 'filter'; arg: BatchRun }
  | { id: number; op: 'end'; arg: null }

export type CoreReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError }

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

function run(core: CleanCore, msg: CoreRequest): unknown {
  switch (msg.op) {
    case 'begin':
      return core.begin(msg.arg)
    case 'mapRun':
      return core.mapRun(msg.arg)
    case 'mapThrough':
      return core.mapThrough(msg.arg)
    case 'filter':
      return core.filter(msg.arg)
    case 'end':
      return core.end()
  }
}

const port = parentPort
const isCleaner = (workerData as { seglogCleaner?: unknown } | null)?.seglogCleaner === true
if (port !== null && isCleaner) {
  const core = new CleanCore()
  port.on('message', (msg: CoreRequest) => {
    let reply: CoreReply
    try {
      reply = { id: msg.id, ok: true, value: run(core, msg) }
    } catch (err) {
      reply = { id: msg.id, ok: false, error: serializeError(err) }
    }
    port.postMessage(reply)
  })
}
