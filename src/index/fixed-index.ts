/**
 * Machinery shared by the offset index (`.index`) and the time index (`.timeindex`): a file of fixed-size,
 * big-endian entries, mirrored in memory. Subclasses define only the entry layout (decode, lookups, checks).
 *
 * The file is NOT preallocated (unlike Kafka's mmapped indexes): its length is always `entries × entrySize`, and
 * each entry is written at `entries × entrySize` as it is added. So Kafka's "trim to valid size at roll/close" is
 * implicit here; nothing is ever past the last entry. Capacity is `maxEntries = floor(maxIndexBytes / entrySize)`,
 * enforced in memory only.
 *
 * In memory: the subclass keeps the entries in growable typed arrays (doubling), filled by ONE read of the whole
 * file at construction (`fs.readFile`; missing file = empty index). Lookups never touch the disk. The file handle
 * is opened lazily, read-write, on the first write or truncation; an index used only for lookups never opens one.
 *
 * No checksum: an index is a cache of its log. The segment checks it against the log on every open (lengths and end
 * entries, read with `IndexFileProbe`, without loading the file) and rebuilds it from the log after an unclean
 * shutdown or when a check or a lookup finds it wrong. `sanityCheck()` catches gross damage (odd length,
 * out-of-order entries) when the file is loaded; the segment rebuilds on CORRUPT_LOG.
 *
 * Memory-only (`memoryOnly`, for read-only opens): the file is read once and never written, truncated or synced;
 * every change stays in memory. A file another process is appending to may end in a partial entry: it is ignored.
 *
 * Concurrency: single writer, the owning segment; not safe for concurrent mutation (e.g. `close()` while a
 * `sync()` is in flight).
 */
import { corruptLog, ioError, type SeglogError } from '../errors.js'
import type { FileHandle, FileSystem } from '../io/file-system.js'

export interface IndexOptions {
  /** Run `sanityCheck()` right after loading; an insane file then throws CORRUPT_LOG (the segment rebuilds it). */
  check?: boolean
  /**
   * Never touch the file after loading it: entries added, truncated or reset change the index in memory only (a
   * read-only open of a directory another process may own and write). A trailing partial entry (a writer half-way
   * through it) is ignored instead of failing the sanity check.
   */
  memoryOnly?: boolean
}

/** Largest relative offset an entry can hold (int32). */
export const MAX_RELATIVE_OFFSET = 0x7fffffff

const MIN_CAPACITY = 16

/**
 * Read-only access to a few entries of an index file without loading it: what the open-time check of a segment
 * needs (length, first and last entries, a binary search), so a clean open never reads whole index files.
 */
export class IndexFileProbe {
  /** File length in bytes. */
  readonly length: number
  private readonly handle: FileHandle
  private readonly entrySize: number
  private readonly scratch: Buffer

  private constructor(handle: FileHandle, entrySize: number, length: number) {
    this.handle = handle
    this.entrySize = entrySize
    this.length = length
    this.scratch = Buffer.alloc(entrySize)
  }

  /** Opens `path` read-only; null when it does not exist. I/O failures are IO_ERROR. */
  static open(fsys: FileSystem, path: string, entrySize: number): IndexFileProbe | null {
    let handle: FileHandle
    try {
      handle = fsys.open(path, 'r')
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return null
      throw ioError(err, 'open index', path)
    }
    try {
      return new IndexFileProbe(handle, entrySize, handle.size())
    } catch (err) {
      handle.close()
      throw ioError(err, 'stat index', path)
    }
  }

  /** Whole entries in the file (a trailing partial entry is not counted). */
  get entries(): number {
    return Math.floor(this.length / this.entrySize)
  }

  /** The bytes of entry `i` (a scratch buffer, valid until the next call). */
  entry(i: number): Buffer {
    return this.entriesAt(i, 1, this.scratch)
  }

  /** The bytes of entries [i, i + n), in one read, into a new buffer. */
  entriesAt(i: number, n: number, into: Buffer = Buffer.alloc(n * this.entrySize)): Buffer {
    const length = n * this.entrySize
    let read: number
    try {
      read = this.handle.read(into, 0, length, i * this.entrySize)
    } catch (err) {
      throw ioError(err, 'read index', this.handle.path)
    }
    if (read < length) {
      throw corruptLog(`index entries ${i}..${i + n - 1} are short (${read} of ${length} bytes)`, this.handle.path)
    }
    return into
  }

  close(): void {
    try {
      this.handle.close()
    } catch {
      // read-only handle: nothing to lose
    }
  }
}

export abstract class FixedIndex {
  readonly baseOffset: number
  protected readonly fsys: FileSystem
  protected readonly entrySize: number
  /** 'offset index' or 'time index', for messages. */
  protected readonly kind: string
  /** Scratch buffer holding the one entry being appended. */
  protected readonly entryBuf: Buffer
  /** Entries in memory, always equal to the entries in the file. */
  protected count = 0
  private readonly max: number
  private filePath: string
  private handle: FileHandle | null = null
  /** File length as far as this writer knows (pessimistic after a failed write). */
  private fileLength = 0
  /** Written or truncated since the last fsync. */
  private dirty = false
  /** Slots allocated in the subclass's arrays. */
  private capacity = 0
  /** The file is only read, once (`IndexOptions.memoryOnly`). */
  private memoryOnly = false

  protected constructor(
    fsys: FileSystem,
    path: string,
    baseOffset: number,
    maxIndexBytes: number,
    entrySize: number,
    kind: string,
  ) {
    if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) {
      throw new TypeError(`baseOffset must be a non-negative safe integer, got ${baseOffset}`)
    }
    if (!Number.isSafeInteger(maxIndexBytes) || maxIndexBytes < 0) {
      throw new TypeError(`maxIndexBytes must be a non-negative safe integer, got ${maxIndexBytes}`)
    }
    this.fsys = fsys
    this.filePath = path
    this.baseOffset = baseOffset
    this.entrySize = entrySize
    this.kind = kind
    this.max = Math.floor(maxIndexBytes / entrySize)
    this.entryBuf = Buffer.alloc(entrySize)
  }

  /** Subclass hook: make the arrays hold at least `capacity` slots, keeping the first `count` entries. */
  protected abstract grow(capacity: number): void
  /** Subclass hook: decode the entry at `buf[at..at+entrySize)` into slot `slot` of the arrays. */
  protected abstract decodeEntry(buf: Buffer, at: number, slot: number): void
  /** Subclass hook: absolute offset of entry `slot` (offsets are non-decreasing in both indexes). */
  protected abstract offsetAt(slot: number): number
  /** Subclass hook: throw CORRUPT_LOG if the in-memory entries break the index's ordering rules. */
  protected abstract checkEntries(): void

  /**
   * Loads the file (one read), then sanity-checks it when asked. Called at the end of the subclass constructor,
   * once its arrays exist. A trailing partial entry is ignored (but fails `sanityCheck`).
   */
  protected load(options: IndexOptions): void {
    this.memoryOnly = options.memoryOnly === true
    let data: Buffer | null
    try {
      data = this.fsys.readFile(this.filePath)
    } catch (err) {
      throw ioError(err, `read ${this.kind}`, this.filePath)
    }
    if (data !== null) {
      const n = Math.floor(data.length / this.entrySize)
      this.fileLength = this.memoryOnly ? n * this.entrySize : data.length
      this.reserve(n)
      for (let i = 0; i < n; i++) this.decodeEntry(data, i * this.entrySize, i)
      this.count = n
    }
    if (options.check) this.sanityCheck()
  }

  get path(): string {
    return this.filePath
  }

  get entries(): number {
    return this.count
  }

  get maxEntries(): number {
    return this.max
  }

  isFull(): boolean {
    return this.count >= this.max
  }

  /** Drops every entry whose offset is >= `offset`, in memory and in the file. */
  truncateTo(offset: number): void {
    let lo = 0
    let hi = this.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.offsetAt(mid) < offset) lo = mid + 1
      else hi = mid
    }
    this.truncateToEntries(lo)
  }

  /** Keeps the first `n` entries (no-op for n >= entries, except trimming a partial trailing entry). */
  truncateToEntries(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`entry count must be a non-negative integer, got ${n}`)
    if (n < this.count) this.count = n
    const length = this.count * this.entrySize
    if (this.memoryOnly) this.fileLength = Math.min(this.fileLength, length)
    else if (this.fileLength > length) {
      const handle = this.writable()
      try {
        handle.truncate(length)
      } catch (err) {
        throw ioError(err, `truncate ${this.kind}`, this.filePath)
      }
      this.fileLength = length
      this.dirty = true
    }
  }

  /** Zero entries, file truncated to 0 bytes (used when rebuilding from the log). */
  reset(): void {
    this.truncateToEntries(0)
  }

  /** Throws CORRUPT_LOG naming the file if its length or entries are not what this writer could have produced. */
  sanityCheck(): void {
    if (this.fileLength % this.entrySize !== 0) {
      throw this.corrupt(`length ${this.fileLength} is not a multiple of the ${this.entrySize}-byte entry size`)
    }
    this.checkEntries()
  }

  /** fsync on the calling thread if the file changed since the last sync; no-op otherwise. */
  syncNow(): void {
    if (!this.dirty) return
    const handle = this.writable()
    try {
      handle.syncNow()
    } catch (err) {
      throw ioError(err, `fsync ${this.kind}`, this.filePath)
    }
    this.dirty = false
  }

  /** fsync on the thread pool if the file changed since the last sync; no-op otherwise. */
  async sync(): Promise<void> {
    if (!this.dirty) return
    const handle = this.writable()
    const path = this.filePath
    // Cleared before the fsync: a write that lands meanwhile sets it again and is covered by the next sync.
    this.dirty = false
    try {
      await handle.sync()
    } catch (err) {
      this.dirty = true
      throw ioError(err, `fsync ${this.kind}`, path)
    }
  }

  /**
   * Releases the file handle. The file is already trimmed (never preallocated). The index stays usable: a later
   * write or a sync of unsynced data reopens the file.
   */
  close(): void {
    const handle = this.handle
    if (handle === null) return
    this.handle = null
    try {
      handle.close()
    } catch (err) {
      throw ioError(err, `close ${this.kind}`, this.filePath)
    }
  }

  /** Closes and unlinks the file if it exists; the index is then empty. */
  deleteFile(): void {
    this.assertFileWritable()
    this.close()
    try {
      if (this.fsys.exists(this.filePath)) this.fsys.unlink(this.filePath)
    } catch (err) {
      throw ioError(err, `delete ${this.kind}`, this.filePath)
    }
    this.count = 0
    this.fileLength = 0
    this.dirty = false
  }

  /** Closes the handle, renames the file (if it exists) and goes on under the new path. */
  renameTo(newPath: string): void {
    this.assertFileWritable()
    this.close()
    try {
      if (this.fsys.exists(this.filePath)) this.fsys.rename(this.filePath, newPath)
    } catch (err) {
      throw ioError(err, `rename ${this.kind} to ${newPath}`, this.filePath)
    }
    this.filePath = newPath
  }

  /** Writes `entryBuf` as entry number `entries`, then adds it to memory by decoding the same bytes. */
  protected appendEntry(): void {
    const at = this.count * this.entrySize
    if (!this.memoryOnly) {
      const handle = this.writable()
      try {
        handle.write(this.entryBuf, 0, this.entrySize, at)
      } catch (err) {
        // Part of the entry may have landed: the next append overwrites it, a truncation trims it.
        this.fileLength = Math.max(this.fileLength, at + this.entrySize)
        this.dirty = true
        throw ioError(err, `write ${this.kind}`, this.filePath)
      }
      this.dirty = true
    }
    this.fileLength = at + this.entrySize
    this.reserve(this.count + 1)
    this.decodeEntry(this.entryBuf, 0, this.count)
    this.count++
  }

  protected corrupt(message: string, offset?: number): SeglogError {
    return corruptLog(`${this.kind} ${this.filePath}: ${message}`, this.filePath, offset)
  }

  private reserve(n: number): void {
    if (n <= this.capacity) return
    const capacity = Math.max(MIN_CAPACITY, this.capacity * 2, n)
    this.grow(capacity)
    this.capacity = capacity
  }

  /** A memory-only index never changes its file: reaching a file operation is a bug in the caller. */
  private assertFileWritable(): void {
    if (this.memoryOnly) throw new Error(`${this.kind} ${this.filePath} is memory-only: its file is never written`)
  }

  /** The read-write handle, opened on first use; trims anything past the last entry on open. */
  private writable(): FileHandle {
    if (this.handle !== null) return this.handle
    this.assertFileWritable()
    let handle: FileHandle
    try {
      handle = this.fsys.open(this.filePath, 'rw')
    } catch (err) {
      throw ioError(err, `open ${this.kind}`, this.filePath)
    }
    try {
      const length = this.count * this.entrySize
      const actual = handle.size()
      if (actual > length) {
        handle.truncate(length)
        this.dirty = true
      }
      this.fileLength = Math.min(actual, length)
    } catch (err) {
      try {
        handle.close()
      } catch {
        // already failing; the first error is the one to report
      }
      throw ioError(err, `open ${this.kind}`, this.filePath)
    }
    this.handle = handle
    return handle
  }
}
