/**
 * The file system of a read-only open: every file operation of the engine goes through a `FileSystem` that can only
 * read. Opening for writing, creating, renaming, removing, truncating, writing and fsyncing throw READ_ONLY, so a
 * code path that would change the directory fails loudly instead of changing it. The storage layers are opened in
 * their read-only mode and never ask for those; this is the guarantee behind that.
 *
 * `fileIdentity` tells two files at one path apart (device, inode, birth time), through `node:fs` `stat`: the
 * `FileSystem` interface has no call for it, and a read-only log needs it to notice a segment its owner replaced
 * under the same name (compaction's swap). It reads metadata only.
 */
import * as nodeFs from 'node:fs'
import { SeglogError } from '../errors.js'
import type { FileHandle, FileSystem, OpenMode } from '../io/file-system.js'

function refused(op: string, path: string): SeglogError {
  return new SeglogError('READ_ONLY', `a read-only open never changes files: ${op} of ${path} refused`, { path })
}

function readOnlyHandle(inner: FileHandle): FileHandle {
  return {
    get path() {
      return inner.path
    },
    read: (buffer, offset, length, position) => inner.read(buffer, offset, length, position),
    size: () => inner.size(),
    ...(inner.identity ? { identity: () => inner.identity!() } : {}),
    close: () => inner.close(),
    write: () => {
      throw refused('write', inner.path)
    },
    truncate: () => {
      throw refused('truncate', inner.path)
    },
    sync: () => Promise.reject(refused('fsync', inner.path)),
    syncNow: () => {
      throw refused('fsync', inner.path)
    },
  }
}

/** `inner`, restricted to reading (see the header). */
export function readOnlyFileSystem(inner: FileSystem): FileSystem {
  return {
    open(path: string, mode: OpenMode): FileHandle {
      if (mode !== 'r') throw refused(`open for writing (${mode})`, path)
      return readOnlyHandle(inner.open(path, 'r'))
    },
    exists: (path) => inner.exists(path),
    readdir: (dir) => inner.readdir(dir),
    fileSize: (path) => inner.fileSize(path),
    readFile: (path) => inner.readFile(path),
    mkdir: (dir) => {
      throw refused('mkdir', dir)
    },
    rename: (from) => {
      throw refused('rename', from)
    },
    unlink: (path) => {
      throw refused('unlink', path)
    },
    rmdir: (dir) => {
      throw refused('rmdir', dir)
    },
    syncDir: (dir) => Promise.reject(refused('fsync', dir)),
    syncDirNow: (dir) => {
      throw refused('fsync', dir)
    },
  }
}

/** Device, inode and birth time of the file at `path`, or null when there is none. */
export function fileIdentity(path: string): string | null {
  try {
    const st = nodeFs.statSync(path, { throwIfNoEntry: false })
    return st === undefined ? null : `${st.dev}:${st.ino}:${st.birthtimeMs}`
  } catch {
    return null
  }
}

/** The inode and modification time of a directory (its entries change its mtime), or null. */
export function dirStamp(path: string): { stamp: string; mtimeMs: number } | null {
  try {
    const st = nodeFs.statSync(path, { throwIfNoEntry: false })
    return st === undefined ? null : { stamp: `${st.dev}:${st.ino}:${st.mtimeMs}`, mtimeMs: st.mtimeMs }
  } catch {
    return null
  }
}
