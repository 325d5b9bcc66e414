/**
 * The small file-I/O interface every on-disk structure goes through, so tests can inject faults (fail a
 * write with an errno, tear a write at byte N, drop everything not fsynced as a power cut would).
 *
 * Why mostly synchronous: measured on the target machine (2 cores, Node 20), a 122-byte `fs.readSync` from the
 * page cache takes ~2 µs at p50 while the same read through async `fs.read` takes ~70 µs (thread-pool hop);
 * writes to the page cache are likewise µs-scale. Only fsync is slow (~0.3 ms), so `sync()` is the one
 * asynchronous call: it runs on the libuv pool while the event loop keeps appending, which is what makes group
 * commit possible (many waiters share one fsync).
 *
 * Errors: implementations throw Node's own errors (with `code` = errno); the layers above wrap them as
 * `IO_ERROR`.
 */
import * as fs from 'node:fs'

export interface FileHandle {
  readonly path: string
  /** Reads up to `length` bytes at `position`; returns bytes read (short at end of file). */
  read(buffer: Uint8Array, offset: number, length: number, position: number): number
  /** Writes all `length` bytes at `position` (loops on short writes). */
  write(buffer: Uint8Array, offset: number, length: number, position: number): void
  /** Current file length in bytes. */
  size(): number
  /**
   * What tells this open file from another one later found at the same path (device and inode, from `fstat`).
   * Optional: a layer that reopens files by path (`BoundedFileSystem`) checks it when there is one.
   */
  identity?(): string
  /** Cuts or extends the file to `length` bytes. */
  truncate(length: number): void
  /** fsync (data and metadata) on the thread pool. */
  sync(): Promise<void>
  /** fsync on the calling thread; for close and roll paths where nothing else could run anyway. */
  syncNow(): void
  close(): void
}

export type OpenMode =
  /** read only; the file must exist */
  | 'r'
  /** read and write; created if missing */
  | 'rw'
  /** read and write; the file must exist (ENOENT otherwise, never created) */
  | 'rw-existing'

export interface FileSystem {
  open(path: string, mode: OpenMode): FileHandle
  exists(path: string): boolean
  /** Entry names of a directory (not paths), unsorted. */
  readdir(dir: string): string[]
  /** Creates the directory and its parents if missing. */
  mkdir(dir: string): void
  rename(from: string, to: string): void
  unlink(path: string): void
  /**
   * unlink on the thread pool, for big files: freeing a deleted GB-sized segment's blocks took 0.5–0.8 s on the
   * calling thread here (ext4 with discard). Optional; callers fall back to `unlink`.
   */
  unlinkAsync?(path: string): Promise<void>
  /** Removes a directory and everything in it. */
  rmdir(dir: string): void
  /** Size of a file without opening it. */
  fileSize(path: string): number
  /** Whole small file, or null when it does not exist. */
  readFile(path: string): Buffer | null
  /** fsync of a directory, so created/renamed/deleted names in it survive a power cut. */
  syncDir(dir: string): Promise<void>
  syncDirNow(dir: string): void
  /**
   * Optional: lets a worker thread of this process do its own I/O with an equivalent FileSystem, built there
   * from the returned description and holding at most `maxOpenFiles` descriptors, until `release()` (called
   * once the worker closed everything it opened). Null or absent when this FileSystem cannot be rebuilt in
   * another thread or must see every call itself (a test's fault injector, a wrapper counting calls): the worker
   * then has to go through this very object.
   */
  shareWithWorker?(maxOpenFiles: number): SharedFileSystem | null
}

/** What a worker thread builds its FileSystem from: plain data (structured-clone safe). */
export type FileSystemDescription =
  | { kind: 'node' }
  | { kind: 'bounded'; maxOpenFiles: number; inner: FileSystemDescription }

export interface SharedFileSystem {
  description: FileSystemDescription
  /** Ends the share (idempotent). */
  release(): void
}

class NodeFileHandle implements FileHandle {
  constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  read(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return fs.readSync(this.fd, buffer, offset, length, position)
  }

  identity(): string {
    const st = fs.fstatSync(this.fd)
    return `${st.dev}:${st.ino}`
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): void {
    let done = 0
    while (done < length) {
      done += fs.writeSync(this.fd, buffer, offset + done, length - done, position + done)
    }
  }

  size(): number {
    return fs.fstatSync(this.fd).size
  }

  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length)
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fsync(this.fd, (err) => (err ? reject(err) : resolve())))
  }

  syncNow(): void {
    fs.fsyncSync(this.fd)
  }

  close(): void {
    fs.closeSync(this.fd)
  }
}

function syncDirectory(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(dir, 'r', (err, fd) => {
      if (err) return reject(err)
      fs.fsync(fd, (syncErr) => {
        fs.close(fd, () => (syncErr ? reject(syncErr) : resolve()))
      })
    })
  })
}

/** The real file system, through node:fs. */
export const nodeFileSystem: FileSystem = {
  open(path, mode) {
    const flags = mode === 'r' ? 'r' : mode === 'rw' ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR
    const fd = fs.openSync(path, flags, 0o644)
    return new NodeFileHandle(path, fd)
  },
  exists: (path) => fs.existsSync(path),
  readdir: (dir) => fs.readdirSync(dir),
  mkdir: (dir) => {
    fs.mkdirSync(dir, { recursive: true })
  },
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (path) => fs.unlinkSync(path),
  unlinkAsync: (path) => fs.promises.unlink(path),
  rmdir: (dir) => fs.rmSync(dir, { recursive: true, force: true }),
  fileSize: (path) => fs.statSync(path).size,
  readFile(path) {
    try {
      return fs.readFileSync(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  },
  syncDir: syncDirectory,
  syncDirNow(dir) {
    const fd = fs.openSync(dir, 'r')
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  },
  shareWithWorker: () => ({ description: { kind: 'node' }, release: () => {} }),
}

/**
 * Crash-safe replacement of a small file: write `<path>.tmp`, fsync it, rename over `path`, fsync the
 * directory. After a crash either the old content or the new one is there, never a mix.
 */
export function writeFileAtomic(fsys: FileSystem, dir: string, name: string, data: Uint8Array): void {
  const tmp = `${dir}/${name}.tmp`
  const handle = fsys.open(tmp, 'rw')
  try {
    handle.truncate(0)
    handle.write(data, 0, data.length, 0)
    handle.syncNow()
  } finally {
    handle.close()
  }
  fsys.rename(tmp, `${dir}/${name}`)
  fsys.syncDirNow(dir)
}

/** `writeFileAtomic` with its fsyncs on the thread pool (the same steps, in the same order). */
export async function writeFileAtomicAsync(
  fsys: FileSystem,
  dir: string,
  name: string,
  data: Uint8Array,
): Promise<void> {
  const tmp = `${dir}/${name}.tmp`
  const handle = fsys.open(tmp, 'rw')
  try {
    handle.truncate(0)
    handle.write(data, 0, data.length, 0)
    await handle.sync()
  } finally {
    handle.close()
  }
  fsys.rename(tmp, `${dir}/${name}`)
  await fsys.syncDir(dir)
}
