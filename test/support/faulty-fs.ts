/**
 * `FaultyFileSystem`: a test `FileSystem` over real files (through `nodeFileSystem`) that logs I/O, injects
 * errno failures and torn writes, and simulates a process crash or a power cut.
 *
 * Power-cut model (only for paths under the root given to the constructor; everything else passes through):
 * - Every file is an inode. Its *durable content* is what the file held at its last `FileHandle.sync()` /
 *   `syncNow()` (read whole through the handle when the sync is issued, committed when it succeeds). A file
 *   created through this FS and never fsynced has empty durable content.
 * - Every directory has a *live* namespace (name -> inode or directory, what is on disk now) and a *durable*
 *   one. `open(…, 'rw')` creating a file, `mkdir`, `rename`, `unlink` and `rmdir` change only the live one;
 *   `syncDir`/`syncDirNow` of a directory copies its live namespace into its durable one (snapshot taken when
 *   the call is issued). A rename across directories changes both. Fsyncing a file does NOT make its name
 *   durable, and syncing a directory does not sync the names inside its subdirectories.
 * - Files and directories already under the root at construction are durable as they are (content included).
 *   Entries created behind this instance's back later are adopted the same way when this instance first meets
 *   them, and are left alone by a power cut if it never did.
 * - `powerCut()` kills the instance (every later call, also on old handles, throws code `ECRASHED`), closes the
 *   real descriptors, then rewrites the disk to its durable state: walking the durable tree from the root,
 *   it deletes known entries that are not durable (a non-durable directory goes with everything in it),
 *   recreates durable names that were renamed or unlinked away, and sets every durable file to its inode's
 *   durable content. With `keepUnsynced: 'random-prefix'`, a file whose live content extends its durable
 *   content keeps the durable bytes plus a random-length (seeded) prefix of the unsynced tail, as a partial
 *   writeback would; any other difference (overwrite inside the durable range, truncation) yields the durable
 *   content. Hard links are not modelled: an inode durable under two names is written as two copies.
 * - `crash()` (or a torn write with `crashAfterTear`) models the *process* dying: the instance is dead the same
 *   way but the disk keeps everything written (the page cache survives). `powerCut()` may still follow it.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as nodePath from 'node:path'
import { type FileHandle, type FileSystem, nodeFileSystem, type OpenMode } from '../../src/io/file-system.js'
import { mulberry32 } from './random.js'

/** Operations `failNext` can fail. `read` covers `FileSystem.readFile` too; `sync`/`syncDir` cover the `Now` forms. */
export type FaultOp =
  | 'open'
  | 'read'
  | 'write'
  | 'sync'
  | 'truncate'
  | 'rename'
  | 'unlink'
  | 'rmdir'
  | 'syncDir'
  | 'mkdir'

export interface FailRule {
  op: FaultOp
  /** Only calls whose path contains this string (or matches this RegExp); for `rename` either path. */
  path?: string | RegExp
  /** The error's `code`; default 'EIO'. */
  errno?: string
  /** How many matching calls fail; default 1 (Infinity for "from now on"). */
  count?: number
  /** Let this many matching calls succeed before failing; default 0. */
  skip?: number
}

export interface TearRule {
  path?: string | RegExp
  /** The torn write puts only its first `atByte` bytes on disk, then throws code 'EIO'. */
  atByte: number
  /** After the tear the instance is dead (code 'ECRASHED'), as a process that died mid-write. */
  crashAfterTear?: boolean
}

export interface PowerCutOptions {
  /** PRNG seed for `keepUnsynced: 'random-prefix'`; default 1. */
  seed?: number
  /** What survives of bytes written after a file's last fsync; default 'none'. */
  keepUnsynced?: 'none' | 'random-prefix'
}

export interface ReadRecord {
  path: string
  position: number
  /** Bytes asked for. */
  length: number
  /** Bytes returned (short at end of file). */
  bytesRead: number
}

export interface WriteRecord {
  path: string
  position: number
  /** Bytes that reached the file (fewer than asked for on a torn write). */
  length: number
}

interface FileNode {
  kind: 'file'
  durable: Buffer
  /** Sequence number of the sync whose snapshot `durable` is; a slower, older fsync never rolls it back. */
  durableSeq?: number
}

interface DirNode {
  kind: 'dir'
  live: Map<string, Node>
  durable: Map<string, Node>
}

type Node = FileNode | DirNode

interface ActiveRule {
  op: FaultOp
  path: string | RegExp | undefined
  errno: string
  remaining: number
  skip: number
  tear?: { atByte: number; crash: boolean }
}

const MESSAGES: Record<string, string> = {
  EIO: 'i/o error',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EEXIST: 'file already exists',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  EBADF: 'bad file descriptor',
  EBUSY: 'resource busy or locked',
  EAGAIN: 'resource temporarily unavailable',
  ENOTDIR: 'not a directory',
  EISDIR: 'illegal operation on a directory',
  ECRASHED: 'simulated crash, this file system instance is dead',
}

/** An error shaped like Node's own fs errors: `code`, `errno` (negative, when the code is a real errno), `syscall`, `path`. */
function errnoError(code: string, syscall: string, path?: string, dest?: string): NodeJS.ErrnoException {
  let message = `${code}: ${MESSAGES[code] ?? 'injected failure'}, ${syscall}`
  if (path !== undefined) message += ` '${path}'`
  if (dest !== undefined) message += ` -> '${dest}'`
  const err: NodeJS.ErrnoException = new Error(message)
  err.code = code
  const errno = (os.constants.errno as Record<string, number | undefined>)[code]
  if (errno !== undefined) err.errno = -errno
  err.syscall = syscall
  if (path !== undefined) err.path = path
  if (dest !== undefined) (err as NodeJS.ErrnoException & { dest?: string }).dest = dest
  return err
}

function newDir(): DirNode {
  return { kind: 'dir', live: new Map(), durable: new Map() }
}

/** Model of what is on disk at `abs` now, all of it durable; undefined for missing paths and non-regular files. */
function scan(abs: string): Node | undefined {
  let st: fs.Stats
  try {
    st = fs.lstatSync(abs)
  } catch {
    return undefined
  }
  if (st.isFile()) return { kind: 'file', durable: fs.readFileSync(abs) }
  if (!st.isDirectory()) return undefined
  const dir = newDir()
  for (const name of fs.readdirSync(abs)) {
    const child = scan(nodePath.join(abs, name))
    if (child) {
      dir.live.set(name, child)
      dir.durable.set(name, child)
    }
  }
  return dir
}

/** Whole content of an open file, read through its handle. */
function readAll(handle: FileHandle): Buffer {
  const size = handle.size()
  const buf = Buffer.alloc(size)
  let done = 0
  while (done < size) {
    const n = handle.read(buf, done, size - done, done)
    if (n === 0) break
    done += n
  }
  return done === size ? buf : buf.subarray(0, done)
}

function lstatOrUndefined(abs: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(abs)
  } catch {
    return undefined
  }
}

function matchesPath(pattern: string | RegExp | undefined, paths: readonly string[]): boolean {
  if (pattern === undefined) return true
  return paths.some((p) => (typeof pattern === 'string' ? p.includes(pattern) : p.search(pattern) !== -1))
}

interface OpenEntry {
  inner: FileHandle
  node: FileNode | undefined
}

export class FaultyFileSystem implements FileSystem {
  /** Absolute root under which the power-cut model applies. */
  readonly root: string
  /** Every successful `FileHandle.read`, in order. */
  readonly reads: ReadRecord[] = []
  /** Every `FileHandle.write` that put bytes on disk (torn ones with the bytes that made it). */
  readonly writes: WriteRecord[] = []
  /** Paths of successful `FileSystem.readFile` calls that found a file. */
  readonly fileReads: string[] = []
  /** Handle paths of successful `sync`/`syncNow` calls. */
  readonly syncs: string[] = []
  /** Directories of successful `syncDir`/`syncDirNow` calls. */
  readonly dirSyncs: string[] = []

  private readonly inner: FileSystem = nodeFileSystem
  private readonly rootNode: DirNode
  private readonly rules: ActiveRule[] = []
  private readonly handles = new Set<OpenEntry>()
  private state: 'alive' | 'crashed' | 'powerCut' = 'alive'

  constructor(rootDir: string) {
    this.root = nodePath.resolve(rootDir)
    const node = scan(this.root)
    this.rootNode = node?.kind === 'dir' ? node : newDir()
  }

  /** True once `crash()`, `powerCut()` or a crashing torn write happened. */
  get dead(): boolean {
    return this.state !== 'alive'
  }

  /** Handles opened through this instance and not closed yet. */
  get openHandleCount(): number {
    return this.handles.size
  }

  /** Bytes returned by `FileHandle.read` calls (those whose path passes `pathFilter`, when given). */
  readBytes(pathFilter?: (path: string) => boolean): number {
    let total = 0
    for (const r of this.reads) if (!pathFilter || pathFilter(r.path)) total += r.bytesRead
    return total
  }

  /** Empties the operation logs (not the injected failures). */
  resetStats(): void {
    this.reads.length = 0
    this.writes.length = 0
    this.fileReads.length = 0
    this.syncs.length = 0
    this.dirSyncs.length = 0
  }

  /** Makes the next matching call(s) throw an errno error; a failing write or truncate changes nothing. */
  failNext(rule: FailRule): void {
    this.rules.push({
      op: rule.op,
      path: rule.path,
      errno: rule.errno ?? 'EIO',
      remaining: rule.count ?? 1,
      skip: rule.skip ?? 0,
    })
  }

  /** The next matching write puts only its first `atByte` bytes on disk, then throws code 'EIO'. */
  tearNextWrite(rule: TearRule): void {
    this.rules.push({
      op: 'write',
      path: rule.path,
      errno: 'EIO',
      remaining: 1,
      skip: 0,
      tear: { atByte: Math.max(0, rule.atByte), crash: rule.crashAfterTear ?? false },
    })
  }

  /** Drops injected failures that have not fired yet. */
  clearFailures(): void {
    this.rules.length = 0
  }

  /** The process dies: the instance is dead (code 'ECRASHED') but the disk keeps everything written. */
  crash(): void {
    this.alive('crash')
    this.die('crashed')
  }

  /** Power loss: the disk is rewritten to its durable state (see the header) and the instance is dead. */
  powerCut(opts: PowerCutOptions = {}): void {
    if (this.state === 'powerCut') throw errnoError('ECRASHED', 'powerCut')
    const keep = opts.keepUnsynced ?? 'none'
    const rng = mulberry32(opts.seed ?? 1)
    const live = keep === 'random-prefix' ? this.liveContents() : new Map<FileNode, Buffer>()
    this.die('powerCut')
    this.restoreDir(this.rootNode, this.root, (node) => {
      const durable = node.durable
      const now = live.get(node)
      if (!now || now.length <= durable.length || !now.subarray(0, durable.length).equals(durable)) return durable
      const extra = Math.floor(rng() * (now.length - durable.length + 1))
      return now.subarray(0, durable.length + extra)
    })
  }

  // ---- FileSystem ----

  open(path: string, mode: OpenMode): FileHandle {
    this.guard('open', 'open', path)
    const under = this.parts(path) !== null
    let node = under ? this.lookup(path) : undefined
    const inner = this.inner.open(path, mode)
    if (under && !node) {
      const parent = this.lookupParent(path)
      if (parent) {
        node = { kind: 'file', durable: Buffer.alloc(0) }
        parent.dir.live.set(parent.name, node)
      }
    }
    const entry: OpenEntry = { inner, node: node?.kind === 'file' ? node : undefined }
    this.handles.add(entry)
    return this.wrap(path, entry)
  }

  exists(path: string): boolean {
    this.alive('access')
    return this.inner.exists(path)
  }

  readdir(dir: string): string[] {
    this.alive('scandir')
    return this.inner.readdir(dir)
  }

  mkdir(dir: string): void {
    this.guard('mkdir', 'mkdir', dir)
    const parts = this.parts(dir)
    if (parts) this.lookup(dir) // adopts the part of the path that already exists
    this.inner.mkdir(dir)
    if (!parts) return
    let node: Node = this.rootNode
    for (const name of parts) {
      if (node.kind !== 'dir') return
      let child = node.live.get(name)
      if (!child) {
        child = newDir()
        node.live.set(name, child)
      }
      node = child
    }
  }

  rename(from: string, to: string): void {
    this.alive('rename')
    const rule = this.fault('rename', [from, to])
    if (rule) throw errnoError(rule.errno, 'rename', from, to)
    const fromUnder = this.parts(from) !== null
    const node = fromUnder ? this.lookup(from) : undefined
    const fromParent = fromUnder ? this.lookupParent(from) : undefined
    this.inner.rename(from, to)
    fromParent?.dir.live.delete(fromParent.name)
    if (this.parts(to) === null) return
    const toParent = this.lookupParent(to)
    if (!toParent) return
    const moved = node ?? scan(nodePath.resolve(to))
    if (moved) toParent.dir.live.set(toParent.name, moved)
    else toParent.dir.live.delete(toParent.name)
  }

  unlink(path: string): void {
    this.guard('unlink', 'unlink', path)
    this.removeEntry(path, () => this.inner.unlink(path))
  }

  rmdir(dir: string): void {
    this.guard('rmdir', 'rmdir', dir)
    this.removeEntry(dir, () => this.inner.rmdir(dir))
  }

  fileSize(path: string): number {
    this.alive('stat')
    return this.inner.fileSize(path)
  }

  readFile(path: string): Buffer | null {
    this.guard('read', 'read', path)
    const data = this.inner.readFile(path)
    if (data) this.fileReads.push(path)
    return data
  }

  syncDir(dir: string): Promise<void> {
    let commit: () => void
    try {
      commit = this.prepareDirSync(dir)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.settle(this.inner.syncDir(dir), commit)
  }

  syncDirNow(dir: string): void {
    const commit = this.prepareDirSync(dir)
    this.inner.syncDirNow(dir)
    commit()
  }

  // ---- internals ----

  private syncSeq = 0

  private wrap(path: string, entry: OpenEntry): FileHandle {
    const { inner, node } = entry
    const prepareSync = (): (() => void) => {
      this.guard('sync', 'fsync', undefined, path)
      const snapshot = node ? readAll(inner) : undefined
      const seq = ++this.syncSeq
      return () => {
        // fsyncs can complete out of order (an async one issued earlier may finish after a later syncNow):
        // what a completed fsync made durable stays durable.
        if (node && snapshot && seq > (node.durableSeq ?? 0)) {
          node.durable = snapshot
          node.durableSeq = seq
        }
        this.syncs.push(path)
      }
    }
    return {
      path,
      read: (buffer, offset, length, position) => {
        this.guard('read', 'read', undefined, path)
        const bytesRead = inner.read(buffer, offset, length, position)
        this.reads.push({ path, position, length, bytesRead })
        return bytesRead
      },
      write: (buffer, offset, length, position) => {
        this.alive('write')
        const rule = this.fault('write', [path])
        if (rule?.tear) {
          const n = Math.min(rule.tear.atByte, length)
          if (n > 0) {
            inner.write(buffer, offset, n, position)
            this.writes.push({ path, position, length: n })
          }
          if (rule.tear.crash) this.die('crashed')
          throw errnoError('EIO', 'write')
        }
        if (rule) throw errnoError(rule.errno, 'write')
        inner.write(buffer, offset, length, position)
        this.writes.push({ path, position, length })
      },
      size: () => {
        this.alive('fstat')
        return inner.size()
      },
      truncate: (length) => {
        this.guard('truncate', 'ftruncate', undefined, path)
        inner.truncate(length)
      },
      sync: () => {
        let commit: () => void
        try {
          commit = prepareSync()
        } catch (err) {
          return Promise.reject(err)
        }
        return this.settle(inner.sync(), commit)
      },
      syncNow: () => {
        const commit = prepareSync()
        inner.syncNow()
        commit()
      },
      close: () => {
        this.alive('close')
        this.handles.delete(entry)
        inner.close()
      },
    }
  }

  /** An async fsync's outcome: commit on success; ECRASHED if the instance died meanwhile (its fd was closed). */
  private settle(pending: Promise<void>, commit: () => void): Promise<void> {
    return pending.then(
      () => {
        this.alive('fsync')
        commit()
      },
      (err: unknown) => {
        this.alive('fsync')
        throw err
      },
    )
  }

  private prepareDirSync(dir: string): () => void {
    this.guard('syncDir', 'fsync', undefined, dir)
    const node = this.parts(dir) !== null ? this.lookup(dir) : undefined
    const snapshot = node?.kind === 'dir' ? new Map(node.live) : undefined
    return () => {
      if (node?.kind === 'dir' && snapshot) node.durable = snapshot
      this.dirSyncs.push(dir)
    }
  }

  private removeEntry(path: string, remove: () => void): void {
    const parts = this.parts(path)
    if (parts) this.lookup(path) // adopt, so an entry created behind our back is restored by a power cut
    const parent = parts && parts.length > 0 ? this.lookupParent(path) : undefined
    remove()
    if (parts && parts.length === 0) this.rootNode.live.clear()
    parent?.dir.live.delete(parent.name)
  }

  /** Throws ECRASHED when dead. */
  private alive(syscall: string): void {
    if (this.state !== 'alive') throw errnoError('ECRASHED', syscall)
  }

  /**
   * Throws ECRASHED when dead, or the injected error when a rule fires. `path` goes into the error message;
   * `matchPath` (default `path`) is what rules match against.
   */
  private guard(op: FaultOp, syscall: string, path?: string, matchPath: string | undefined = path): void {
    this.alive(syscall)
    const rule = this.fault(op, matchPath === undefined ? [] : [matchPath])
    if (rule) throw errnoError(rule.errno, syscall, path)
  }

  /** The rule that fails this call, if any; every matching rule still skipping counts the call. */
  private fault(op: FaultOp, paths: readonly string[]): ActiveRule | undefined {
    let fired: ActiveRule | undefined
    for (const rule of this.rules) {
      if (rule.op !== op || !matchesPath(rule.path, paths)) continue
      if (rule.skip > 0) rule.skip--
      else fired ??= rule
    }
    if (fired && --fired.remaining <= 0) this.rules.splice(this.rules.indexOf(fired), 1)
    return fired
  }

  private die(state: 'crashed' | 'powerCut'): void {
    this.state = state
    for (const entry of this.handles) {
      try {
        entry.inner.close()
      } catch {
        // already gone
      }
    }
    this.handles.clear()
  }

  /** Path components under the root ([] for the root itself), or null when outside it. */
  private parts(path: string): string[] | null {
    const rel = nodePath.relative(this.root, nodePath.resolve(path))
    if (rel === '') return []
    if (rel === '..' || rel.startsWith(`..${nodePath.sep}`) || nodePath.isAbsolute(rel)) return null
    return rel.split(nodePath.sep)
  }

  /** The live node at `path`, adopting (as durable) entries found on disk that the model does not know. */
  private lookup(path: string): Node | undefined {
    const parts = this.parts(path)
    if (!parts) return undefined
    let node: Node = this.rootNode
    let abs = this.root
    for (const name of parts) {
      if (node.kind !== 'dir') return undefined
      abs = nodePath.join(abs, name)
      let child = node.live.get(name)
      if (!child) {
        child = scan(abs)
        if (!child) return undefined
        node.live.set(name, child)
        node.durable.set(name, child)
      }
      node = child
    }
    return node
  }

  private lookupParent(path: string): { dir: DirNode; name: string } | undefined {
    const abs = nodePath.resolve(path)
    const parts = this.parts(abs)
    if (!parts || parts.length === 0) return undefined
    const dir = this.lookup(nodePath.dirname(abs))
    return dir?.kind === 'dir' ? { dir, name: nodePath.basename(abs) } : undefined
  }

  /** Current content of every modelled file: through open handles, then by live path. */
  private liveContents(): Map<FileNode, Buffer> {
    const out = new Map<FileNode, Buffer>()
    for (const { inner, node } of this.handles) {
      if (!node || out.has(node)) continue
      try {
        out.set(node, readAll(inner))
      } catch {
        // unreadable: treat as not extended
      }
    }
    const walk = (dir: DirNode, abs: string): void => {
      for (const [name, child] of dir.live) {
        const p = nodePath.join(abs, name)
        if (child.kind === 'dir') walk(child, p)
        else if (!out.has(child)) {
          try {
            out.set(child, fs.readFileSync(p))
          } catch {
            // gone behind our back
          }
        }
      }
    }
    walk(this.rootNode, this.root)
    return out
  }

  private restoreDir(dir: DirNode, abs: string, content: (node: FileNode) => Buffer): void {
    const st = lstatOrUndefined(abs)
    if (st && !st.isDirectory()) fs.rmSync(abs, { force: true })
    if (!st?.isDirectory()) fs.mkdirSync(abs, { recursive: true })
    for (const name of fs.readdirSync(abs).sort()) {
      // known but not durable: gone; unknown to the model: foreign, left alone
      if (!dir.durable.has(name) && dir.live.has(name))
        fs.rmSync(nodePath.join(abs, name), { recursive: true, force: true })
    }
    const names = [...dir.durable.keys()].sort()
    for (const name of names) {
      const child = dir.durable.get(name)!
      const p = nodePath.join(abs, name)
      if (child.kind === 'dir') {
        this.restoreDir(child, p, content)
        continue
      }
      if (lstatOrUndefined(p)?.isDirectory()) fs.rmSync(p, { recursive: true, force: true })
      fs.writeFileSync(p, content(child))
    }
  }
}
