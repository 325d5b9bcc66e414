/**
 * Committed group offsets for a read-only open: a snapshot of the owner's metadata store.
 *
 * The offsets live only in the LevelDB under `.seglog/meta`, and LevelDB takes a process lock: a second process
 * cannot open the store, even to read. So the reader copies the store's files (a few KiB to a few MiB) into a
 * temporary directory of its own and opens the copy. The copy is consistent: its tables and MANIFEST are taken
 * only when the listing (names and sizes) is the same before and after copying, so no compaction ran meanwhile;
 * its write-ahead log is a prefix of the owner's, every commit in it whole except perhaps the last one, which the
 * open cuts as it cuts a torn record after a crash (the owner fsyncs each commit before acknowledging it, so what
 * was committed before the copy started is in it). Only the copy is ever written; the owner's files are read.
 *
 * The snapshot is taken on first use (LevelDB is loaded only then) and taken again when the store's listing has
 * changed since (each `offsetStore()` call compares it), so a long-lived reader sees new commits. A directory
 * without a store has no committed offsets. Temporary copies are removed on `close()`, and at process exit for
 * those a reader left open.
 *
 * Concurrency: calls are serialized through one queue (a copy is never taken twice at once).
 */
import * as nodeFs from 'node:fs'
import * as os from 'node:os'
import * as nodePath from 'node:path'
import type { OffsetStore } from '../clients/offset-store.js'
import { ioError, SeglogError } from '../errors.js'
import { type FileSystem, nodeFileSystem } from '../io/file-system.js'
import type { MetadataStore } from './metadata.js'

/** Files of a LevelDB that are not its data: its lock and its human-readable info logs. */
const NOT_DATA = new Set(['LOCK', 'LOG', 'LOG.old'])
/** Attempts at a copy while the owner keeps changing the store's files. */
const COPY_ATTEMPTS = 20

const leftovers = new Set<string>()
let exitHook = false

function removeLater(dir: string): void {
  leftovers.add(dir)
  if (!exitHook) {
    exitHook = true
    process.on('exit', () => {
      for (const d of leftovers) nodeFs.rmSync(d, { recursive: true, force: true })
    })
  }
}

function remove(dir: string): void {
  nodeFs.rmSync(dir, { recursive: true, force: true })
  leftovers.delete(dir)
}

interface Snapshot {
  listing: string
  tmp: string
  store: MetadataStore
  offsets: OffsetStore
}

export class MetaSnapshot {
  private current: Snapshot | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor(
    private readonly fs: FileSystem,
    /** `<dir>/.seglog/meta`. */
    private readonly location: string,
    private readonly clock: () => number,
  ) {}

  /** The committed offsets as of now; null when the directory has no metadata store. */
  offsetStore(): Promise<OffsetStore | null> {
    const run = this.queue.then(() => this.take())
    this.queue = run.catch(() => {})
    return run
  }

  async close(): Promise<void> {
    this.closed = true
    await this.queue
    await this.drop()
  }

  /** Data files of the store and their sizes, as one comparable string; null when there is no store. */
  private listing(): { text: string; files: string[] } | null {
    let names: string[]
    try {
      names = this.fs.readdir(this.location)
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return null
      throw ioError(err, 'readdir', this.location)
    }
    const files = names.filter((n) => !NOT_DATA.has(n)).sort()
    const parts: string[] = []
    for (const name of files) {
      let size: number
      try {
        size = this.fs.fileSize(nodePath.join(this.location, name))
      } catch (err) {
        if ((err as { code?: unknown }).code === 'ENOENT') size = -1
        else throw ioError(err, 'stat', nodePath.join(this.location, name))
      }
      // The write-ahead log's size is left out: it grows with every commit, and a prefix of it is a sound copy.
      parts.push(name.endsWith('.log') ? name : `${name}:${size}`)
    }
    return { text: parts.join('\n'), files }
  }

  private async take(): Promise<OffsetStore | null> {
    if (this.closed) throw new SeglogError('ENGINE_CLOSED', 'the read-only open was closed')
    const listing = this.listing()
    if (listing === null || listing.files.length === 0) {
      await this.drop()
      return null
    }
    const current = this.current
    if (current !== null && current.listing === listing.text && !this.walGrew(current)) return current.offsets
    const next = await this.copy()
    await this.drop()
    this.current = next
    return next.offsets
  }

  /** True when a write-ahead log of the store is longer than in the snapshot (new commits). */
  private walGrew(s: Snapshot): boolean {
    for (const name of this.fs.readdir(this.location)) {
      if (!name.endsWith('.log')) continue
      let size: number
      let copied: number
      try {
        size = this.fs.fileSize(nodePath.join(this.location, name))
        copied = nodeFs.statSync(nodePath.join(s.tmp, 'meta', name)).size
      } catch {
        return true
      }
      if (size !== copied) return true
    }
    return false
  }

  private async copy(): Promise<Snapshot> {
    for (let attempt = 1; ; attempt++) {
      const before = this.listing()
      if (before === null)
        throw ioError(Object.assign(new Error('no such directory'), { code: 'ENOENT' }), 'copy', this.location)
      const tmp = nodeFs.mkdtempSync(nodePath.join(os.tmpdir(), 'seglog-read-only-'))
      removeLater(tmp)
      let complete = true
      try {
        nodeFs.mkdirSync(nodePath.join(tmp, 'meta'))
        // Tables and the MANIFEST first, the write-ahead logs last: commits that land meanwhile are in the copy.
        const order = [
          ...before.files.filter((f) => !f.endsWith('.log')),
          ...before.files.filter((f) => f.endsWith('.log')),
        ]
        for (const name of order) {
          const data = this.fs.readFile(nodePath.join(this.location, name))
          if (data === null) {
            complete = false
            break
          }
          nodeFs.writeFileSync(nodePath.join(tmp, 'meta', name), data)
        }
      } catch (err) {
        remove(tmp)
        throw ioError(err, 'copy metadata store', this.location)
      }
      if (complete && this.listing()?.text === before.text) {
        try {
          // Loaded on the first snapshot: a reader that never asks for group offsets never loads LevelDB.
          const [{ MetadataStore }, { OffsetStore }] = await Promise.all([
            import('./metadata.js'),
            import('../clients/offset-store.js'),
          ])
          const { store } = await MetadataStore.open(tmp, {
            fs: nodeFileSystem,
            lockedMessage: () => `the snapshot of ${this.location} in ${tmp} is in use`,
          })
          return { listing: before.text, tmp, store, offsets: new OffsetStore(store.db, this.clock) }
        } catch (err) {
          remove(tmp)
          throw this.renamed(err, tmp)
        }
      }
      remove(tmp)
      if (attempt >= COPY_ATTEMPTS) {
        throw new SeglogError(
          'IO_ERROR',
          `could not take a consistent copy of ${this.location}: its files kept changing (${attempt} attempts)`,
          { path: this.location, errno: 'EAGAIN' },
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt))
    }
  }

  /** An error about the copy, told about the owner's store instead (its paths are the ones the user knows). */
  private renamed(err: unknown, tmp: string): unknown {
    if (!(err instanceof SeglogError)) return err
    const copyDir = nodePath.join(tmp, 'meta')
    const fix = (s: string | undefined) => s?.split(copyDir).join(this.location)
    const message = fix(err.message)!.replace(/^[A-Z_]+: /, '')
    return new SeglogError(err.code, `${message} (read through a copy of the store)`, {
      cause: err,
      path: fix(err.path),
      offset: err.offset,
      errno: err.errno,
    })
  }

  private async drop(): Promise<void> {
    const s = this.current
    this.current = null
    if (s === null) return
    await s.store.close().catch(() => {})
    remove(s.tmp)
  }
}
