/**
 * `BoundedFileSystem`: a `FileSystem` wrapper that caps how many OS file descriptors its handles hold at once.
 *
 * Why: an engine may host thousands of partitions, each with an open segment file and two index files, while
 * the process runs under `ulimit -n 1024` (a common default). One fd per open file then ends in EMFILE, a
 * complaint users of similar stores keep filing (hypercore/corestore keeping one fd per core, LevelDB's
 * `max_open_files`, Kafka's "Too many open files" with many partitions). So `open()` hands out *virtual*
 * handles, and only the most recently used `maxOpenFiles` of them hold a real (inner) handle; the others are
 * reopened transparently, by path, when next used.
 *
 * What it does:
 * - `open(path, mode)` opens the inner handle at once (so ENOENT/EACCES surface at `open()` exactly as with the
 *   inner FS, and mode 'rw' creates the file right away) and puts it in an LRU; from then on the inner handle may
 *   be closed (evicted) whenever the LRU needs room, and is reopened lazily, with the original mode, by the next
 *   call on the virtual handle. All positional I/O, `size()` and `truncate()` behave the same after a reopen:
 *   the state lives in the file, not the fd.
 * - `sync()`/`syncNow()` after an eviction fsync a freshly opened fd. On Linux that is enough: fsync flushes the
 *   inode's dirty pages whichever fd wrote them, and (since 4.16) a writeback error nobody has seen yet is
 *   reported to the next fsync even on an fd opened after the error. Closing an fd never discards dirty data.
 *   Other systems are not promised the same.
 * - The FS tracks names changed *through it*: `rename` (of a file, or of a directory containing open files)
 *   moves the virtual handles of that path, so reopens go to the new path; `unlink`, `rmdir` and a rename
 *   *onto* the path of an open file make those handles dead (their inner fd is closed; every later call throws
 *   code ENOENT), so a reopen with 'rw' can never silently recreate a deleted file. Names changed behind its back
 *   (another process, another FileSystem) are not tracked; but with `sameFileOnReopen` (and inner handles that
 *   have `identity()`), a reopen that finds another file at the path (not the one evicted) makes the handle dead
 *   the same way (a read-only open whose owner's compaction replaced a segment under its name must not read the
 *   new file at the old one's positions). One fstat per eviction and per reopen, so only when asked for.
 * - Unlike a raw fd, a dead handle does not keep reading the unlinked inode: it fails deterministically, not
 *   "until it happens to be evicted". `close()` on a dead handle succeeds (close-then-unlink and
 *   unlink-then-close both work); after `close()` every call, including a second `close()`, throws code EBADF.
 * - If the inner `open` fails with EMFILE/ENFILE (other code in the process uses fds too), half of the cached
 *   inner handles are closed and the open is retried once. The same retry wraps the delegated calls that open
 *   an fd transiently (`readdir`, `readFile`, `syncDir`, `syncDirNow`). Every other FileSystem method is
 *   delegated to `inner` as is.
 *
 * Invariants:
 * - `openCount` (inner handles open) = `lru.size + pinned.size` <= `maxOpenFiles` − the descriptors lent to
 *   worker threads (`shareWithWorker`), except while every cached handle is pinned (see below) and a
 *   *synchronous* call needs one more fd.
 * - A virtual handle is in at most one of `lru` (inner open, not pinned) and `pinned` (inner open, at least one
 *   async fsync in flight); its `inner` is non-null iff it is in one of them.
 * - `byPath` holds exactly the virtual handles that are neither closed nor dead, under their current path key.
 *
 * Concurrency: JavaScript is single-threaded and every FileHandle call but `sync()` is synchronous, so the LRU
 * needs no locks. The one hazard is an async `sync()`: its fsync runs on the thread pool, and closing its fd
 * meanwhile could make the fsync hit a closed (or, worse, reused) descriptor. So an in-flight `sync()` *pins*
 * its inner handle (pins are counted: several syncs may overlap on one handle); eviction skips pinned handles,
 * and a `close()`/unlink of a pinned handle defers the inner close until the last pin drops. When every cached
 * handle is pinned, an async `sync()` that needs a new fd waits for a pin to drop (cannot deadlock: each pin is
 * an fsync already running, which always settles), while a synchronous call cannot wait and temporarily exceeds
 * the limit instead; the excess is evicted as soon as pins drop.
 *
 * Costs: an access is O(1) (a Map delete + set moves the handle to the most-recent end; skipped when it already
 * is there); eviction pops the oldest entry. `rename`/`unlink`/`rmdir` scan the distinct open paths.
 */
import * as nodePath from 'node:path'
import type { FileHandle, FileSystem, OpenMode, SharedFileSystem } from './file-system.js'

export interface BoundedFileSystemOptions {
  /** Most inner handles (OS file descriptors) kept open at once; an integer >= 4. */
  maxOpenFiles: number
  /**
   * Check on every reopen that the file at the path is the one evicted (`FileHandle.identity`): for a file system
   * whose files another process may replace (a read-only open beside an owner). Default false: an owner's files
   * change only through it, and the check costs an fstat per eviction and per reopen.
   */
  sameFileOnReopen?: boolean
}

export interface BoundedFileSystemStats {
  /** Inner `open` calls that succeeded (first opens and reopens). */
  opens: number
  /** Inner handles closed to make room (LRU evictions, including the EMFILE/ENFILE purge). */
  evictions: number
}

type HandleState = 'open' | 'closed' | 'dead'

const MESSAGES: Record<string, string> = {
  EBADF: 'bad file descriptor',
  ENOENT: 'no such file or directory',
}

/** An error shaped like Node's own fs errors (`code`, `syscall`, `path`). */
function errnoError(code: 'EBADF' | 'ENOENT', syscall: string, path: string, why: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${MESSAGES[code]}, ${syscall} '${path}' (${why})`)
  err.code = code
  err.errno = code === 'EBADF' ? -9 : -2
  err.syscall = syscall
  err.path = path
  return err
}

function isFdExhaustion(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'EMFILE' || code === 'ENFILE'
}

class VirtualHandle implements FileHandle {
  /** Inner handle while cached; null while evicted (and once closed or dead, after the last pin drops). */
  inner: FileHandle | null = null
  /** Async fsyncs in flight on `inner`. */
  pins = 0
  state: HandleState = 'open'
  /** Normalized path, the key in `byPath`. */
  key: string
  /** A failure of closing the inner handle on eviction, reported by the next call. */
  evictError: unknown = undefined
  /** The evicted file's `identity()`, checked against the file a reopen finds at the path. */
  evictedIdentity: string | undefined = undefined
  /** Why the handle is dead (for the ENOENT message). */
  deathReason = ''
  private currentPath: string

  constructor(
    private readonly owner: BoundedFileSystem,
    path: string,
    readonly mode: OpenMode,
  ) {
    this.currentPath = path
    this.key = nodePath.resolve(path)
  }

  /** Current path: follows renames made through the owning FS. */
  get path(): string {
    return this.currentPath
  }

  /** @internal */
  moveTo(path: string, key: string): void {
    this.currentPath = path
    this.key = key
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return this.owner.acquire(this, 'read').read(buffer, offset, length, position)
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): void {
    this.owner.acquire(this, 'write').write(buffer, offset, length, position)
  }

  size(): number {
    return this.owner.acquire(this, 'fstat').size()
  }

  truncate(length: number): void {
    this.owner.acquire(this, 'ftruncate').truncate(length)
  }

  sync(): Promise<void> {
    return this.owner.syncHandle(this)
  }

  syncNow(): void {
    this.owner.acquire(this, 'fsync').syncNow()
  }

  close(): void {
    this.owner.closeHandle(this)
  }
}

export class BoundedFileSystem implements FileSystem {
  readonly maxOpenFiles: number
  private readonly sameFileOnReopen: boolean
  /** Cached, unpinned handles; insertion order = least recently used first. */
  private readonly lru = new Map<VirtualHandle, true>()
  /** Handles with an inner handle open and at least one async fsync in flight. */
  private readonly pinned = new Set<VirtualHandle>()
  /** Live (neither closed nor dead) virtual handles by normalized path. */
  private readonly byPath = new Map<string, Set<VirtualHandle>>()
  /** Async syncs waiting for a free fd while every cached handle is pinned. */
  private readonly slotWaiters: Array<() => void> = []
  /** Most recently used handle, so repeated calls on one handle skip the Map re-insertion. */
  private mru: VirtualHandle | null = null
  private opens = 0
  private evictions = 0
  /** Descriptors lent to worker threads (`shareWithWorker`): this FS keeps `openCount` below the rest. */
  private reserved = 0

  constructor(
    private readonly inner: FileSystem,
    options: BoundedFileSystemOptions,
  ) {
    if (typeof inner !== 'object' || inner === null) throw new TypeError('inner must be a FileSystem')
    const max = (options as Partial<BoundedFileSystemOptions> | undefined)?.maxOpenFiles
    if (typeof max !== 'number' || !Number.isInteger(max)) {
      throw new TypeError(`maxOpenFiles must be an integer, got ${String(max)}`)
    }
    if (max < 4) throw new RangeError(`maxOpenFiles must be >= 4, got ${max}`)
    this.maxOpenFiles = max
    this.sameFileOnReopen = options.sameFileOnReopen === true
  }

  /** Inner handles (OS file descriptors, over the node FS) currently open. */
  get openCount(): number {
    return this.lru.size + this.pinned.size
  }

  get stats(): BoundedFileSystemStats {
    return { opens: this.opens, evictions: this.evictions }
  }

  open(path: string, mode: OpenMode): FileHandle {
    const vh = new VirtualHandle(this, path, mode)
    this.makeRoom()
    vh.inner = this.openInner(path, mode)
    this.lru.set(vh, true)
    this.mru = vh
    let set = this.byPath.get(vh.key)
    if (!set) this.byPath.set(vh.key, (set = new Set()))
    set.add(vh)
    return vh
  }

  exists(path: string): boolean {
    return this.inner.exists(path)
  }

  readdir(dir: string): string[] {
    return this.retryOnExhaustion(() => this.inner.readdir(dir))
  }

  mkdir(dir: string): void {
    this.inner.mkdir(dir)
  }

  rename(from: string, to: string): void {
    this.inner.rename(from, to)
    const fromKey = nodePath.resolve(from)
    const toKey = nodePath.resolve(to)
    if (fromKey === toKey) return
    // Whatever was at `to` is replaced: its open handles are dead (a file, or a directory replaced by one).
    for (const key of this.keysAtOrUnder(toKey)) this.killPath(key, 'replaced by a rename')
    for (const key of this.keysAtOrUnder(fromKey)) {
      const set = this.byPath.get(key)!
      this.byPath.delete(key)
      const newKey = key === fromKey ? toKey : nodePath.join(toKey, nodePath.relative(fromKey, key))
      const newPath = key === fromKey ? to : nodePath.join(to, nodePath.relative(fromKey, key))
      for (const vh of set) vh.moveTo(newPath, newKey)
      const target = this.byPath.get(newKey)
      if (target) for (const vh of set) target.add(vh)
      else this.byPath.set(newKey, set)
    }
  }

  unlink(path: string): void {
    this.inner.unlink(path)
    this.killPath(nodePath.resolve(path), 'unlinked')
  }

  async unlinkAsync(path: string): Promise<void> {
    // Handles die first: nothing may reopen (and recreate) the file while the unlink runs on the pool.
    this.killPath(nodePath.resolve(path), 'unlinked')
    if (this.inner.unlinkAsync) await this.inner.unlinkAsync(path)
    else this.inner.unlink(path)
  }

  rmdir(dir: string): void {
    this.inner.rmdir(dir)
    for (const key of this.keysAtOrUnder(nodePath.resolve(dir))) this.killPath(key, 'removed with its directory')
  }

  fileSize(path: string): number {
    return this.inner.fileSize(path)
  }

  readFile(path: string): Buffer | null {
    return this.retryOnExhaustion(() => this.inner.readFile(path))
  }

  async syncDir(dir: string): Promise<void> {
    try {
      await this.inner.syncDir(dir)
    } catch (err) {
      if (!isFdExhaustion(err)) throw err
      this.purge()
      await this.inner.syncDir(dir)
    }
  }

  syncDirNow(dir: string): void {
    this.retryOnExhaustion(() => this.inner.syncDirNow(dir))
  }

  /**
   * Lends `maxOpenFiles` of this FS's descriptors to a worker thread, which builds its own bounded FS over an
   * equivalent inner one: until `release()`, this FS keeps at most `this.maxOpenFiles - maxOpenFiles` open, so
   * both together stay within the bound. Null when the inner FS cannot be shared, or when fewer than 4 would
   * be left here.
   */
  shareWithWorker(maxOpenFiles: number): SharedFileSystem | null {
    if (this.maxOpenFiles - this.reserved - maxOpenFiles < 4) return null
    const inner = this.inner.shareWithWorker?.(maxOpenFiles) ?? null
    if (inner === null) return null
    this.reserved += maxOpenFiles
    while (this.openCount > this.capacity && this.lru.size > 0) this.evictOldest()
    let released = false
    return {
      description: { kind: 'bounded', maxOpenFiles, inner: inner.description },
      release: () => {
        if (released) return
        released = true
        this.reserved -= maxOpenFiles
        inner.release()
        for (let i = 0; i < maxOpenFiles; i++) this.wakeOne()
      },
    }
  }

  // ---- internals used by VirtualHandle ----

  /** The inner handle of `vh`, reopened if evicted; marks it most recently used. @internal */
  acquire(vh: VirtualHandle, syscall: string): FileHandle {
    if (vh.state === 'closed') throw errnoError('EBADF', syscall, vh.path, 'handle closed')
    if (vh.state === 'dead')
      throw errnoError('ENOENT', syscall, vh.path, `file ${vh.deathReason} through this FileSystem`)
    if (vh.evictError !== undefined) {
      const err = vh.evictError
      vh.evictError = undefined
      throw err
    }
    if (vh.inner) {
      if (vh.pins === 0 && this.mru !== vh) {
        this.lru.delete(vh)
        this.lru.set(vh, true)
        this.mru = vh
      }
      return vh.inner
    }
    this.makeRoom()
    const inner = this.openInner(vh.path, vh.mode)
    const was = vh.evictedIdentity
    vh.evictedIdentity = undefined
    if (was !== undefined && inner.identity !== undefined) {
      let now: string | undefined
      try {
        now = inner.identity()
      } catch {}
      if (now !== was) {
        // Another process replaced the file under its name (a read-only open's owner compacting): reading the new
        // file at the old one's positions would be reading the wrong file. The handle is dead, as after a rename.
        try {
          inner.close()
        } catch {}
        this.killHandle(vh, 'replaced under its name by another process')
        throw errnoError('ENOENT', syscall, vh.path, `file ${vh.deathReason}`)
      }
    }
    vh.inner = inner
    this.lru.set(vh, true)
    this.mru = vh
    return inner
  }

  /** @internal */
  async syncHandle(vh: VirtualHandle): Promise<void> {
    while (vh.state === 'open' && vh.inner === null && this.lru.size === 0 && this.pinned.size >= this.capacity) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve))
    }
    let inner: FileHandle
    try {
      inner = this.acquire(vh, 'fsync')
    } catch (err) {
      // We may have been woken for a slot we are not using: pass the wake-up on, so no waiter is stranded.
      this.wakeOne()
      throw err
    }
    this.pin(vh)
    try {
      await inner.sync()
    } finally {
      this.unpin(vh)
    }
  }

  /** @internal */
  closeHandle(vh: VirtualHandle): void {
    if (vh.state === 'closed') throw errnoError('EBADF', 'close', vh.path, 'handle already closed')
    const wasOpen = vh.state === 'open'
    vh.state = 'closed'
    vh.evictError = undefined
    if (wasOpen) this.forget(vh)
    if (vh.inner && vh.pins === 0) {
      const inner = vh.inner
      this.uncache(vh)
      inner.close()
    }
    // Pinned: the inner handle is closed when the last in-flight fsync settles (see unpin).
  }

  // ---- LRU ----

  private pin(vh: VirtualHandle): void {
    if (vh.pins++ === 0) {
      this.lru.delete(vh)
      if (this.mru === vh) this.mru = null
      this.pinned.add(vh)
    }
  }

  private unpin(vh: VirtualHandle): void {
    if (--vh.pins > 0) return
    this.pinned.delete(vh)
    if (vh.state === 'open') {
      this.lru.set(vh, true)
      this.mru = vh
    } else {
      // Closed or unlinked while the fsync ran: the deferred close.
      const inner = vh.inner!
      vh.inner = null
      try {
        inner.close()
      } catch {
        // nobody left to tell; the handle is gone already
      }
    }
    // Give back what a synchronous call borrowed while everything was pinned.
    while (this.openCount > this.capacity && this.lru.size > 0) this.evictOldest()
    this.wakeOne()
  }

  private wakeOne(): void {
    this.slotWaiters.shift()?.()
  }

  /** Inner handles this FS may hold: the bound minus what is lent to workers. */
  private get capacity(): number {
    return this.maxOpenFiles - this.reserved
  }

  /** Evicts until one more inner handle fits; exceeds the limit when everything cached is pinned. */
  private makeRoom(): void {
    while (this.openCount >= this.capacity && this.lru.size > 0) this.evictOldest()
  }

  private evictOldest(): void {
    const vh = this.lru.keys().next().value as VirtualHandle
    const inner = vh.inner!
    this.uncache(vh)
    this.evictions++
    if (this.sameFileOnReopen && inner.identity !== undefined) {
      try {
        vh.evictedIdentity = inner.identity()
      } catch {}
    }
    try {
      inner.close()
    } catch (err) {
      vh.evictError = err
    }
  }

  /** Drops an unpinned handle's inner handle from the cache (the caller closes it). */
  private uncache(vh: VirtualHandle): void {
    this.lru.delete(vh)
    if (this.mru === vh) this.mru = null
    vh.inner = null
  }

  /** Closes half of the cached inner handles (rounded up), after EMFILE/ENFILE. */
  private purge(): void {
    let n = Math.ceil(this.openCount / 2)
    while (n-- > 0 && this.lru.size > 0) this.evictOldest()
  }

  private openInner(path: string, mode: OpenMode): FileHandle {
    let handle: FileHandle
    try {
      handle = this.inner.open(path, mode)
    } catch (err) {
      if (!isFdExhaustion(err)) throw err
      this.purge()
      handle = this.inner.open(path, mode)
    }
    this.opens++
    return handle
  }

  private retryOnExhaustion<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      if (!isFdExhaustion(err)) throw err
      this.purge()
      return fn()
    }
  }

  // ---- path bookkeeping ----

  /** Keys of live handles at `key` or below it (when it is a directory). */
  private keysAtOrUnder(key: string): string[] {
    const prefix = key.endsWith(nodePath.sep) ? key : key + nodePath.sep
    const out: string[] = []
    for (const k of this.byPath.keys()) if (k === key || k.startsWith(prefix)) out.push(k)
    return out
  }

  /** Makes every live handle at `key` dead and releases its inner handle (deferred while pinned). */
  private killPath(key: string, why: string): void {
    const set = this.byPath.get(key)
    if (!set) return
    this.byPath.delete(key)
    for (const vh of set) {
      vh.state = 'dead'
      vh.deathReason = why
      vh.evictError = undefined
      if (vh.inner && vh.pins === 0) {
        const inner = vh.inner
        this.uncache(vh)
        try {
          inner.close()
        } catch {
          // the file is gone; a failed close of its fd changes nothing for the caller
        }
      }
    }
  }

  /** Makes one evicted handle dead (its file was replaced behind this FS's back). */
  private killHandle(vh: VirtualHandle, why: string): void {
    vh.state = 'dead'
    vh.deathReason = why
    this.forget(vh)
  }

  private forget(vh: VirtualHandle): void {
    const set = this.byPath.get(vh.key)
    if (!set) return
    set.delete(vh)
    if (set.size === 0) this.byPath.delete(vh.key)
  }
}
