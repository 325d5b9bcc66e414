/**
 * The FileSystem the cleaner's worker thread (`cleaner-worker.ts`) does a pass's I/O through, made from the one
 * the pass was given on the main thread (`cleaner.ts`):
 *
 * - **Shared**, when that FileSystem can be rebuilt in another thread (`FileSystem.shareWithWorker`: the real one,
 *   a BoundedFileSystem over it, which then lends the worker `WORKER_MAX_OPEN_FILES` of its descriptors): the
 *   worker builds an equivalent one from the description (`workerFileSystem`) and does every read, write and
 *   fsync of the pass on its own thread.
 * - **Proxied**, for any other FileSystem (a test's fault injector, a wrapper counting calls): each call of the
 *   worker's `ProxyFileSystem` is posted to the main thread, where `serveFileSystem` runs it on that very object,
 *   and the worker blocks (`Atomics.wait`) until the answer is posted. So fault injection (ENOSPC, EIO, a power
 *   cut) reaches every compaction file operation, in the order the pass makes them. One thread hop per call:
 *   meant for tests, not for speed.
 *
 * Why the worker does its own I/O (measured with `bench/compaction.ts`, L scenario, 2-core machine, medians of
 * interleaved runs): with the pass's reads and writes on the main thread through the engine's FileSystem object
 * (the worker doing only the CPU part), durable appends during a pass had p99 4.25x the idle p99 (2.08 vs
 * 0.53 ms, 8 runs); with the I/O on the worker's thread, 1.35x (0.91 vs 0.70 ms, 16 runs), and the pass's main-
 * thread GC fell from 157 to 32 ms. The main thread's share had been the copies of the whole log in and out of
 * the page cache, the structured-clone copies to the worker and their garbage. Moving those copies onto the
 * thread pool (async reads, buffers transferred) did not help in trials: the main thread then waited inside the
 * read calls (~0.5 s of a 12 s pass in a CPU profile), the worker filling the other core.
 *
 * Protocol of the proxy: the worker posts `{ op, args }` on its end of a MessageChannel and waits on
 * `state[0]`; the main thread runs the call, posts `{ ok, value }` or `{ ok: false, error }` (an errno error as
 * plain data) and sets `state[0]` = 1 with a notify; the worker then takes the answer with
 * `receiveMessageOnPort`. Calls are strictly one at a time. Data crosses as copies (transferred, never shared).
 * Handles are numbered on the main side; `close()` of the server closes the ones the worker left open.
 */
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads'
import { BoundedFileSystem } from '../io/bounded-fs.js'
import {
  type FileHandle,
  type FileSystem,
  type FileSystemDescription,
  nodeFileSystem,
  type OpenMode,
} from '../io/file-system.js'

/** Descriptors a pass in the worker may hold at once: a source `.log`, the `.log.cleaned`, one index being written. */
export const WORKER_MAX_OPEN_FILES = 4

/** How the worker gets its FileSystem for one job (plain data plus a transferable port). */
export type WorkerFileSystemSpec =
  | { kind: 'shared'; description: FileSystemDescription }
  | { kind: 'proxy'; port: MessagePort; state: SharedArrayBuffer }

/** The FileSystem a description stands for, built in this thread. */
export function workerFileSystem(d: FileSystemDescription): FileSystem {
  switch (d.kind) {
    case 'node':
      return nodeFileSystem
    case 'bounded':
      return new BoundedFileSystem(workerFileSystem(d.inner), { maxOpenFiles: d.maxOpenFiles })
  }
}

type HandleOp = 'read' | 'write' | 'size' | 'truncate' | 'sync' | 'syncNow' | 'close'
type FsOp =
  | 'open'
  | 'exists'
  | 'readdir'
  | 'mkdir'
  | 'rename'
  | 'unlink'
  | 'rmdir'
  | 'fileSize'
  | 'readFile'
  | 'syncDir'
  | 'syncDirNow'

interface ProxyRequest {
  op: FsOp | HandleOp
  /** Handle number for handle operations. */
  handle?: number
  args: unknown[]
}

/** An errno error as plain data. */
interface ErrnoData {
  message: string
  code?: string
  errno?: number
  syscall?: string
  path?: string
  dest?: string
}

type ProxyReply = { ok: true; value: unknown } | { ok: false; error: ErrnoData }

function toErrnoData(err: unknown): ErrnoData {
  if (!(err instanceof Error)) return { message: String(err) }
  const e = err as NodeJS.ErrnoException & { dest?: string }
  return {
    message: e.message,
    code: typeof e.code === 'string' ? e.code : undefined,
    errno: e.errno,
    syscall: e.syscall,
    path: e.path,
    dest: e.dest,
  }
}

function fromErrnoData(d: ErrnoData): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException & { dest?: string } = new Error(d.message)
  if (d.code !== undefined) err.code = d.code
  if (d.errno !== undefined) err.errno = d.errno
  if (d.syscall !== undefined) err.syscall = d.syscall
  if (d.path !== undefined) err.path = d.path
  if (d.dest !== undefined) err.dest = d.dest
  return err
}

/** A copy of `buffer[offset, offset + length)` in an ArrayBuffer of its own (to transfer). */
function copyOf(buffer: Uint8Array, offset: number, length: number): Uint8Array {
  return new Uint8Array(buffer.subarray(offset, offset + length))
}

/** Worker side: a FileSystem whose every call runs on the main thread's object (see the module header). */
export class ProxyFileSystem implements FileSystem {
  private readonly state: Int32Array

  constructor(
    private readonly port: MessagePort,
    state: SharedArrayBuffer,
  ) {
    this.state = new Int32Array(state)
  }

  /** @internal */
  call(request: ProxyRequest, transfer: ArrayBuffer[] = []): unknown {
    Atomics.store(this.state, 0, 0)
    this.port.postMessage(request, transfer)
    Atomics.wait(this.state, 0, 0)
    const got = receiveMessageOnPort(this.port)
    if (got === undefined) throw new Error(`the main thread did not answer the file-system call ${request.op}`)
    const reply = got.message as ProxyReply
    if (!reply.ok) throw fromErrnoData(reply.error)
    return reply.value
  }

  open(path: string, mode: OpenMode): FileHandle {
    return new ProxyHandle(this, this.call({ op: 'open', args: [path, mode] }) as number, path)
  }
  exists(path: string): boolean {
    return this.call({ op: 'exists', args: [path] }) as boolean
  }
  readdir(dir: string): string[] {
    return this.call({ op: 'readdir', args: [dir] }) as string[]
  }
  mkdir(dir: string): void {
    this.call({ op: 'mkdir', args: [dir] })
  }
  rename(from: string, to: string): void {
    this.call({ op: 'rename', args: [from, to] })
  }
  unlink(path: string): void {
    this.call({ op: 'unlink', args: [path] })
  }
  rmdir(dir: string): void {
    this.call({ op: 'rmdir', args: [dir] })
  }
  fileSize(path: string): number {
    return this.call({ op: 'fileSize', args: [path] }) as number
  }
  readFile(path: string): Buffer | null {
    const data = this.call({ op: 'readFile', args: [path] }) as Uint8Array | null
    return data === null ? null : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  }
  syncDir(dir: string): Promise<void> {
    return new Promise((resolve) => resolve(void this.call({ op: 'syncDir', args: [dir] })))
  }
  syncDirNow(dir: string): void {
    this.call({ op: 'syncDirNow', args: [dir] })
  }
}

class ProxyHandle implements FileHandle {
  constructor(
    private readonly fs: ProxyFileSystem,
    private readonly id: number,
    readonly path: string,
  ) {}

  read(buffer: Uint8Array, offset: number, length: number, position: number): number {
    const data = this.fs.call({ op: 'read', handle: this.id, args: [length, position] }) as Uint8Array
    buffer.set(data, offset)
    return data.length
  }
  write(buffer: Uint8Array, offset: number, length: number, position: number): void {
    const data = copyOf(buffer, offset, length)
    this.fs.call({ op: 'write', handle: this.id, args: [data, position] }, [data.buffer as ArrayBuffer])
  }
  size(): number {
    return this.fs.call({ op: 'size', handle: this.id, args: [] }) as number
  }
  truncate(length: number): void {
    this.fs.call({ op: 'truncate', handle: this.id, args: [length] })
  }
  sync(): Promise<void> {
    return new Promise((resolve) => resolve(void this.fs.call({ op: 'sync', handle: this.id, args: [] })))
  }
  syncNow(): void {
    this.fs.call({ op: 'syncNow', handle: this.id, args: [] })
  }
  close(): void {
    this.fs.call({ op: 'close', handle: this.id, args: [] })
  }
}

/**
 * Main side of the proxy: answers `port`'s calls with `fsys` until `close()`, which also closes every handle the
 * worker left open (a worker stopped mid-pass).
 */
export function serveFileSystem(fsys: FileSystem, port: MessagePort, state: SharedArrayBuffer): { close(): void } {
  const flag = new Int32Array(state)
  const handles = new Map<number, FileHandle>()
  let nextHandle = 1
  const handle = (id: number | undefined): FileHandle => {
    const h = id === undefined ? undefined : handles.get(id)
    if (h === undefined)
      throw Object.assign(new Error(`EBADF: bad file descriptor (proxy handle ${id})`), { code: 'EBADF' })
    return h
  }
  const run = async (req: ProxyRequest): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> => {
    const a = req.args
    switch (req.op) {
      case 'open': {
        const h = fsys.open(a[0] as string, a[1] as OpenMode)
        const id = nextHandle++
        handles.set(id, h)
        return { value: id }
      }
      case 'exists':
        return { value: fsys.exists(a[0] as string) }
      case 'readdir':
        return { value: fsys.readdir(a[0] as string) }
      case 'mkdir':
        return { value: fsys.mkdir(a[0] as string) }
      case 'rename':
        return { value: fsys.rename(a[0] as string, a[1] as string) }
      case 'unlink':
        return { value: fsys.unlink(a[0] as string) }
      case 'rmdir':
        return { value: fsys.rmdir(a[0] as string) }
      case 'fileSize':
        return { value: fsys.fileSize(a[0] as string) }
      case 'readFile': {
        const data = fsys.readFile(a[0] as string)
        if (data === null) return { value: null }
        const copy = copyOf(data, 0, data.length)
        return { value: copy, transfer: [copy.buffer as ArrayBuffer] }
      }
      case 'syncDir':
        return { value: await fsys.syncDir(a[0] as string) }
      case 'syncDirNow':
        return { value: fsys.syncDirNow(a[0] as string) }
      case 'read': {
        const buf = new Uint8Array(a[0] as number)
        const n = handle(req.handle).read(buf, 0, buf.length, a[1] as number)
        const data = n === buf.length ? buf : copyOf(buf, 0, n)
        return { value: data, transfer: [data.buffer as ArrayBuffer] }
      }
      case 'write': {
        const data = a[0] as Uint8Array
        return { value: handle(req.handle).write(data, 0, data.length, a[1] as number) }
      }
      case 'size':
        return { value: handle(req.handle).size() }
      case 'truncate':
        return { value: handle(req.handle).truncate(a[0] as number) }
      case 'sync':
        return { value: await handle(req.handle).sync() }
      case 'syncNow':
        return { value: handle(req.handle).syncNow() }
      case 'close': {
        const h = handle(req.handle)
        handles.delete(req.handle as number)
        return { value: h.close() }
      }
    }
  }
  const answer = (reply: ProxyReply, transfer: ArrayBuffer[] = []): void => {
    port.postMessage(reply, transfer)
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
  }
  port.on('message', (req: ProxyRequest) => {
    run(req).then(
      (r) => answer({ ok: true, value: r.value }, r.transfer),
      (err) => answer({ ok: false, error: toErrnoData(err) }),
    )
  })
  return {
    close: () => {
      port.close()
      for (const h of handles.values()) {
        try {
          h.close()
        } catch {
          // the worker's pass failed or stopped; nothing more to do with it
        }
      }
      handles.clear()
    },
  }
}
