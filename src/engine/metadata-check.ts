/**
 * Checks the files of the metadata LevelDB before the binding opens them.
 *
 * Why: the LevelDB inside `classic-level` (1.20, built with assertions on) trusts its table files. It reads
 * them without verifying block checksums (classic-level exposes neither `paranoid_checks` nor
 * `verify_checksums`), so one flipped bit in a `.ldb` is served as data, and a flip that makes a stored key
 * shorter than 8 bytes kills the process with SIGABRT (`ExtractUserKey: Assertion internal_key.size() >= 8`)
 * the first time the key is compared. A damaged snappy length makes it allocate whatever the bytes say. Its
 * write-ahead log reader, without `paranoid_checks`, drops records that fail their checksum and goes on, so a
 * damaged `.log` loses committed writes silently. No JS code can catch an abort, so the files are checked here
 * first, with the checks `paranoid_checks` + `verify_checksums` would make, plus the structure the binding
 * would trip over.
 *
 * Formats (LevelDB's `doc/log_format.md` and `doc/table_format.md`):
 * - CURRENT: `MANIFEST-<number>\n`.
 * - Log files (`MANIFEST-*`, `<n>.log`): 32 KiB blocks of records `crc u32 LE | length u16 LE | type u8 |
 *   payload`; crc = masked CRC-32C of type + payload; types FULL=1, FIRST=2, MIDDLE=3, LAST=4; a block tail
 *   shorter than a header is zero padding. MANIFEST records are VersionEdits; `.log` records are WriteBatches.
 * - Tables (`<n>.ldb`, `<n>.sst`): blocks, each followed by `type u8 | masked crc u32 LE` (crc over the block
 *   and the type byte; type 0 = raw, 1 = snappy), then a 48-byte footer: metaindex handle, index handle
 *   (varint64 offset + size each), padding, magic `0xdb4775248b80fb57` (LE).
 *
 * What a check returns (`inspectStore`): the store is new (no LevelDB files), sound, or sound but missing files
 * (repairable by LevelDB's own RepairDB, since every file that is there passed its checks), plus the torn tails
 * of write-ahead logs to cut, the MANIFEST to name in a lost or garbled CURRENT, and the findings to report. Any
 * other damage throws CORRUPT_LOG naming the file.
 *
 * The rule for write-ahead logs: damage confined to the last record (a record cut short at the end of the
 * file, a last record that fails its checksum, a zero-filled tail) is what a crash during a write leaves, and
 * every write is fsynced before it is acknowledged, so only an unacknowledged write can be there: it is cut and
 * reported. Damage followed by a valid record is damage to acknowledged data: CORRUPT_LOG.
 */
import { corruptLog } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import { crc32c } from '../segment/crc32c.js'

const BLOCK_SIZE = 32768
const HEADER_SIZE = 7
/** Record types; 3 is MIDDLE (a fragment continuing a FIRST). */
const FULL = 1
const FIRST = 2
const LAST = 4
const MASK_DELTA = 0xa282ead8
const FOOTER_SIZE = 48
const BLOCK_TRAILER = 5
const TABLE_MAGIC_LO = 0x8b80fb57
const TABLE_MAGIC_HI = 0xdb477524
const NUM_LEVELS = 7
/** LevelDB's internal keys are the user key followed by an 8-byte sequence number and type. */
const INTERNAL_KEY_TRAILER = 8

/** Thrown inside the parsers; turned into CORRUPT_LOG naming the file at the top. */
class Damage extends Error {}

function unmask(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0
  return ((rot >>> 17) | (rot << 15)) >>> 0
}

class Reader {
  pos: number
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start
  }

  get left(): number {
    return this.end - this.pos
  }

  byte(): number {
    if (this.pos >= this.end) throw new Damage('truncated')
    return this.buf[this.pos++]
  }

  /** A varint up to 64 bits; values past 2^53 are damage (LevelDB numbers never get there). */
  varint(what: string, bits = 64): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < Math.ceil(bits / 7); i++) {
      if (this.pos >= this.end) throw new Damage(`truncated ${what}`)
      const b = this.buf[this.pos++]
      result += (b & 0x7f) * scale
      if (b < 0x80) {
        if (!Number.isSafeInteger(result) || result >= 2 ** bits) throw new Damage(`${what} out of range`)
        return result
      }
      scale *= 128
    }
    throw new Damage(`bad varint (${what})`)
  }

  bytes(n: number, what: string): Uint8Array {
    if (n > this.left) throw new Damage(`${what} runs past its end`)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  lengthPrefixed(what: string): Uint8Array {
    return this.bytes(this.varint(`${what} length`, 32), what)
  }

  fixed32(at: number): number {
    const b = this.buf
    return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0
  }
}

// ---- log files ----

export interface LogDamage {
  /** Byte position of the first bad record. */
  offset: number
  reason: string
  /**
   * True when the file just ends early (a record cut short, a zero-filled tail), which LevelDB itself reads as
   * the end of the log; false for a record that is there but fails its checks.
   */
  cut: boolean
}

export interface LogRead {
  records: Uint8Array[]
  /** Where the valid part ends (the length to cut a torn tail to). */
  validEnd: number
  /** Damage confined to the end of the file (nothing valid after it), or null. */
  tail: LogDamage | null
}

interface Physical {
  type: number
  payload: Uint8Array
  end: number
}

interface Bad {
  reason: string
  cut: boolean
}

/** The physical record at `pos`, or why it is not one. */
function physicalAt(buf: Uint8Array, pos: number): Physical | Bad {
  const blockLeft = BLOCK_SIZE - (pos % BLOCK_SIZE)
  if (buf.length - pos < HEADER_SIZE) return { reason: 'record header cut short at end of file', cut: true }
  const length = buf[pos + 4] | (buf[pos + 5] << 8)
  const type = buf[pos + 6]
  if (type === 0 && length === 0) return { reason: 'zero-filled record header', cut: true }
  if (pos + HEADER_SIZE + length > buf.length) return { reason: 'record cut short at end of file', cut: true }
  if (HEADER_SIZE + length > blockLeft) {
    return { reason: `record length ${length} runs past its 32 KiB block`, cut: false }
  }
  const stored = (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0
  if (crc32c(buf, pos + 6, pos + HEADER_SIZE + length) !== unmask(stored)) {
    return { reason: 'record checksum mismatch', cut: false }
  }
  if (type < FULL || type > LAST) return { reason: `unknown record type ${type}`, cut: false }
  return { type, payload: buf.subarray(pos + HEADER_SIZE, pos + HEADER_SIZE + length), end: pos + HEADER_SIZE + length }
}

/**
 * True when a record that passes its checksum starts after `from`: anywhere in the rest of `from`'s block (the
 * damage may hide where the next record starts), or at the start of any later block (the writer starts a
 * fragment at every block boundary, so anything written later shows there).
 */
function validRecordAfter(buf: Uint8Array, from: number): boolean {
  const plausible = (q: number): boolean => {
    const blockLeft = BLOCK_SIZE - (q % BLOCK_SIZE)
    if (blockLeft < HEADER_SIZE || q + HEADER_SIZE > buf.length) return false
    const type = buf[q + 6]
    if (type < FULL || type > LAST) return false
    const length = buf[q + 4] | (buf[q + 5] << 8)
    if (HEADER_SIZE + length > blockLeft || q + HEADER_SIZE + length > buf.length) return false
    return 'payload' in physicalAt(buf, q)
  }
  const blockEnd = from - (from % BLOCK_SIZE) + BLOCK_SIZE
  for (let q = from; q < Math.min(blockEnd, buf.length); q++) if (plausible(q)) return true
  for (let b = blockEnd; b < buf.length; b += BLOCK_SIZE) if (plausible(b)) return true
  return false
}

/**
 * Reads a LevelDB log file strictly: logical records in order, and where the valid part ends. Damage with a
 * valid record anywhere after it throws Damage; damage at the end is returned as `tail`.
 */
export function readLogFile(buf: Uint8Array): LogRead {
  const records: Uint8Array[] = []
  let pos = 0
  let pending: Uint8Array[] | null = null
  let pendingStart = 0
  let validEnd = 0
  while (pos < buf.length) {
    const blockLeft = BLOCK_SIZE - (pos % BLOCK_SIZE)
    if (blockLeft < HEADER_SIZE) {
      pos += Math.min(blockLeft, buf.length - pos)
      if (pending === null) validEnd = pos
      continue
    }
    const rec = physicalAt(buf, pos)
    if (!('payload' in rec)) {
      if (validRecordAfter(buf, pos + 1)) {
        throw new Damage(`${rec.reason} at byte ${pos}, with valid records after it`)
      }
      const offset = pending === null ? pos : pendingStart
      return { records, validEnd, tail: { offset, reason: rec.reason, cut: rec.cut } }
    }
    if (rec.type === FULL || rec.type === FIRST) {
      if (pending !== null) throw new Damage(`record at byte ${pendingStart} has no last fragment`)
      if (rec.type === FULL) records.push(rec.payload)
      else {
        pending = [rec.payload]
        pendingStart = pos
      }
    } else {
      if (pending === null) throw new Damage(`fragment at byte ${pos} continues no record`)
      pending.push(rec.payload)
      if (rec.type === LAST) {
        records.push(Buffer.concat(pending))
        pending = null
      }
    }
    pos = rec.end
    if (pending === null) validEnd = pos
  }
  if (pending !== null) {
    return { records, validEnd, tail: { offset: pendingStart, reason: 'last record has no last fragment', cut: true } }
  }
  return { records, validEnd, tail: null }
}

/** Checks a WriteBatch (a `.log` record): 12-byte header (sequence, count), then `count` puts/deletes. */
function checkWriteBatch(rec: Uint8Array): void {
  if (rec.length < 12) throw new Damage(`write batch of ${rec.length} bytes (header is 12)`)
  const r = new Reader(rec, 12)
  const count = r.fixed32(8)
  let n = 0
  while (r.left > 0) {
    const tag = r.byte()
    if (tag === 1) {
      r.lengthPrefixed('key')
      r.lengthPrefixed('value')
    } else if (tag === 0) {
      r.lengthPrefixed('key')
    } else {
      throw new Damage(`write batch entry with tag ${tag}`)
    }
    n++
  }
  if (n !== count) throw new Damage(`write batch holds ${n} entries, its header says ${count}`)
}

// ---- MANIFEST ----

export interface ManifestState {
  logNumber: number
  prevLogNumber: number
  /** Live table files: number → size in bytes. */
  tables: Map<number, number>
}

function internalKey(r: Reader, what: string): void {
  const key = r.lengthPrefixed(what)
  if (key.length < INTERNAL_KEY_TRAILER) throw new Damage(`${what} of ${key.length} bytes (at least 8)`)
}

function level(r: Reader): number {
  const l = r.varint('level', 32)
  if (l >= NUM_LEVELS) throw new Damage(`level ${l}`)
  return l
}

/** Applies every VersionEdit of a MANIFEST, as LevelDB's VersionSet::Recover does. */
export function replayManifest(records: Uint8Array[]): ManifestState {
  let logNumber: number | null = null
  let prevLogNumber = 0
  let nextFile: number | null = null
  let lastSequence: number | null = null
  const files = new Map<string, { number: number; size: number }>()
  for (const rec of records) {
    const r = new Reader(rec)
    while (r.left > 0) {
      const tag = r.varint('tag', 32)
      switch (tag) {
        case 1:
          r.lengthPrefixed('comparator name')
          break
        case 2:
          logNumber = r.varint('log number')
          break
        case 3:
          nextFile = r.varint('next file number')
          break
        case 4:
          lastSequence = r.varint('last sequence')
          break
        case 5:
          level(r)
          internalKey(r, 'compaction pointer')
          break
        case 6: {
          const l = level(r)
          files.delete(`${l}:${r.varint('deleted file')}`)
          break
        }
        case 7: {
          const l = level(r)
          const number = r.varint('file number')
          const size = r.varint('file size')
          internalKey(r, 'smallest key')
          internalKey(r, 'largest key')
          files.set(`${l}:${number}`, { number, size })
          break
        }
        case 9:
          prevLogNumber = r.varint('previous log number')
          break
        default:
          throw new Damage(`unknown VersionEdit tag ${tag}`)
      }
    }
  }
  if (nextFile === null) throw new Damage('no next-file entry')
  if (logNumber === null) throw new Damage('no log-number entry')
  if (lastSequence === null) throw new Damage('no last-sequence entry')
  const tables = new Map<number, number>()
  for (const f of files.values()) tables.set(f.number, f.size)
  return { logNumber, prevLogNumber, tables }
}

// ---- tables ----

/** Snappy raw-format decompression with every bound checked. */
function unsnappy(src: Uint8Array): Uint8Array {
  const r = new Reader(src)
  const length = r.varint('uncompressed length', 32)
  // A valid stream expands at most ~21x (a 3-byte copy yields 64 bytes).
  if (length > src.length * 22 + 64) throw new Damage(`snappy length ${length} impossible for ${src.length} bytes`)
  const out = new Uint8Array(length)
  let o = 0
  while (r.left > 0) {
    const tag = r.byte()
    const kind = tag & 3
    if (kind === 0) {
      let len = tag >>> 2
      if (len >= 60) {
        const extra = len - 59
        len = 0
        for (let i = 0; i < extra; i++) len += r.byte() * 256 ** i
      }
      len += 1
      const lit = r.bytes(len, 'snappy literal')
      if (o + len > length) throw new Damage('snappy literal past the uncompressed length')
      out.set(lit, o)
      o += len
      continue
    }
    let len: number
    let offset: number
    if (kind === 1) {
      len = ((tag >>> 2) & 7) + 4
      offset = ((tag >>> 5) << 8) | r.byte()
    } else if (kind === 2) {
      len = (tag >>> 2) + 1
      offset = r.byte() | (r.byte() << 8)
    } else {
      len = (tag >>> 2) + 1
      offset = (r.byte() | (r.byte() << 8) | (r.byte() << 16) | (r.byte() << 24)) >>> 0
    }
    if (offset === 0 || offset > o || o + len > length) throw new Damage('snappy copy out of range')
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset]
  }
  if (o !== length) throw new Damage(`snappy stream yields ${o} bytes, its header says ${length}`)
  return out
}

interface Handle {
  offset: number
  size: number
}

function handleOf(r: Reader, what: string): Handle {
  return { offset: r.varint(`${what} offset`), size: r.varint(`${what} size`) }
}

/** The contents of the block at `h` after its checksum and type check (decompressed). */
function readBlock(file: Uint8Array, fileSize: number, h: Handle, what: string): Uint8Array {
  if (h.offset + h.size + BLOCK_TRAILER > fileSize) throw new Damage(`${what} block runs past the end of the table`)
  const end = h.offset + h.size
  const type = file[end]
  const stored = new Reader(file).fixed32(end + 1)
  if (crc32c(file, h.offset, end + 1) !== unmask(stored)) throw new Damage(`${what} block checksum mismatch`)
  const raw = file.subarray(h.offset, end)
  if (type === 0) return raw
  if (type === 1) return unsnappy(raw)
  throw new Damage(`${what} block of type ${type}`)
}

/** Entries of a table block (key, value), checking its restart array and every entry's bounds. */
function blockEntries(block: Uint8Array, what: string, internalKeys: boolean): [Uint8Array, Uint8Array][] {
  if (block.length < 4) throw new Damage(`${what} block of ${block.length} bytes`)
  const r = new Reader(block)
  const restarts = r.fixed32(block.length - 4)
  if (restarts > (block.length - 4) / 4) throw new Damage(`${what} block claims ${restarts} restart points`)
  const limit = block.length - (1 + restarts) * 4
  for (let i = 0; i < restarts; i++) {
    if (r.fixed32(limit + i * 4) >= Math.max(limit, 1)) throw new Damage(`${what} block restart point out of range`)
  }
  const entries: [Uint8Array, Uint8Array][] = []
  const body = new Reader(block, 0, limit)
  let prev: Uint8Array = new Uint8Array(0)
  while (body.left > 0) {
    const shared = body.varint('shared key length', 32)
    const unshared = body.varint('key length', 32)
    const valueLength = body.varint('value length', 32)
    if (shared > prev.length)
      throw new Damage(`${what} block entry shares ${shared} bytes of a ${prev.length}-byte key`)
    const rest = body.bytes(unshared, `${what} block key`)
    const key = new Uint8Array(shared + unshared)
    key.set(prev.subarray(0, shared))
    key.set(rest, shared)
    if (internalKeys && key.length < INTERNAL_KEY_TRAILER) {
      throw new Damage(`${what} block holds a key of ${key.length} bytes (at least 8)`)
    }
    entries.push([key, body.bytes(valueLength, `${what} block value`)])
    prev = key
  }
  return entries
}

/** Checks a table file of `size` bytes (the size the MANIFEST records, or the file's own). */
export function checkTable(file: Uint8Array, size: number): void {
  if (file.length < size) throw new Damage(`table of ${file.length} bytes, ${size} expected`)
  if (size < FOOTER_SIZE) throw new Damage(`table of ${size} bytes has no footer`)
  const r = new Reader(file, size - FOOTER_SIZE, size)
  if (r.fixed32(size - 8) !== TABLE_MAGIC_LO || r.fixed32(size - 4) !== TABLE_MAGIC_HI) {
    throw new Damage('not a table (bad magic number)')
  }
  const metaHandle = handleOf(r, 'metaindex')
  const indexHandle = handleOf(r, 'index')
  for (const [, value] of blockEntries(readBlock(file, size, metaHandle, 'metaindex'), 'metaindex', false)) {
    readBlock(file, size, handleOf(new Reader(value), 'meta'), 'filter')
  }
  for (const [, value] of blockEntries(readBlock(file, size, indexHandle, 'index'), 'index', true)) {
    const h = handleOf(new Reader(value), 'data')
    blockEntries(readBlock(file, size, h, 'data'), 'data', true)
  }
}

// ---- the store ----

export type StoreState = 'new' | 'sound' | 'missing-files'

export interface StoreInspection {
  state: StoreState
  /** Torn write-ahead-log tails to cut before LevelDB reads them. */
  cuts: { path: string; length: number; reason: string }[]
  /** Files the store needs that are gone (CURRENT, the MANIFEST, live tables, the live log). */
  missing: string[]
  /** When CURRENT is lost or garbled: the MANIFEST to name in it instead (sound, with all its tables). */
  current: string | null
}

const TABLE_NAME = /^(\d+)\.(ldb|sst)$/
const LOG_NAME = /^(\d+)\.log$/
const MANIFEST_NAME = /^MANIFEST-(\d+)$/

function read(fsys: FileSystem, path: string): Buffer | null {
  // readFile throws for errors other than ENOENT; the caller turns those into IO_ERROR.
  return fsys.readFile(path)
}

function check<T>(path: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof Damage) throw corruptLog(`${err.message} (LevelDB metadata file)`, path)
    throw err
  }
}

/**
 * Inspects the LevelDB at `location` without changing it. Throws CORRUPT_LOG naming the first damaged file.
 * Must run while the caller owns the directory: another owner's files may be mid-write.
 */
export function inspectStore(fsys: FileSystem, location: string): StoreInspection {
  let names: string[]
  try {
    names = fsys.readdir(location)
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return { state: 'new', cuts: [], missing: [], current: null }
    throw err
  }
  const tables = new Map<number, string>()
  const logs = new Map<number, string>()
  const manifests: string[] = []
  for (const name of names) {
    let m = TABLE_NAME.exec(name)
    if (m) tables.set(Number(m[1]), name)
    else if ((m = LOG_NAME.exec(name))) logs.set(Number(m[1]), name)
    else if (MANIFEST_NAME.test(name)) manifests.push(name)
  }
  const hasCurrent = names.includes('CURRENT')
  if (!hasCurrent && tables.size === 0 && logs.size === 0 && manifests.length === 0) {
    return { state: 'new', cuts: [], missing: [], current: null }
  }
  const cuts: StoreInspection['cuts'] = []
  const missing: string[] = []
  const checked = new Set<string>()
  const checkLog = (number: number): void => {
    const path = `${location}/${logs.get(number)}`
    if (checked.has(path)) return
    checked.add(path)
    const buf = read(fsys, path)
    if (buf === null) return
    const log = check(path, () => readLogFile(buf))
    check(path, () => {
      for (const rec of log.records) checkWriteBatch(rec)
    })
    if (log.tail !== null) {
      cuts.push({ path, length: log.validEnd, reason: `${log.tail.reason} at byte ${log.tail.offset}` })
    }
  }
  const checkTableFile = (number: number, size: number | null): void => {
    const path = `${location}/${tables.get(number)}`
    const buf = read(fsys, path)
    if (buf === null) return
    // Checked once per size read: RepairDB reads a table at its file size, LevelDB at the MANIFEST's.
    const key = `${path}@${size ?? buf.length}`
    if (checked.has(key)) return
    checked.add(key)
    check(path, () => checkTable(buf, size ?? buf.length))
  }

  const replay = (name: string): ManifestState | null => {
    const path = `${location}/${name}`
    const manifest = read(fsys, path)
    if (manifest === null) return null
    return check(path, () => {
      const log = readLogFile(manifest)
      // LevelDB itself accepts an edit cut short at the end of its MANIFEST, but no failed check.
      if (log.tail !== null && !log.tail.cut) throw new Damage(`${log.tail.reason} at byte ${log.tail.offset}`)
      return replayManifest(log.records)
    })
  }
  /** Checks what `state` needs; the tables it names that are gone. */
  const checkLive = (state: ManifestState): string[] => {
    const gone: string[] = []
    for (const [number, size] of state.tables) {
      if (!tables.has(number)) gone.push(`${String(number).padStart(6, '0')}.ldb`)
      else checkTableFile(number, size)
    }
    for (const n of logs.keys()) if (n >= state.logNumber || n === state.prevLogNumber) checkLog(n)
    return gone
  }
  const sound = (state: ManifestState, current: string | null): StoreInspection => {
    // The log LevelDB writes to is created before the MANIFEST names it: gone means deleted.
    if (!logs.has(state.logNumber)) missing.push(`${String(state.logNumber).padStart(6, '0')}.log`)
    return { state: 'sound', cuts, missing, current }
  }
  /**
   * CURRENT lost or garbled: the newest MANIFEST that is sound and whose tables are all there describes the
   * store exactly (LevelDB points CURRENT at a MANIFEST only once it is complete; a newer complete one is an
   * open that did not get to switch), so naming it in CURRENT loses nothing.
   */
  const newestSoundManifest = (): { name: string; state: ManifestState } | null => {
    const byNumber = manifests.sort((a, b) => Number(b.slice(9)) - Number(a.slice(9)))
    for (const name of byNumber) {
      let state: ManifestState | null
      try {
        state = replay(name)
      } catch {
        continue
      }
      if (state !== null && [...state.tables.keys()].every((n) => tables.has(n))) return { name, state }
    }
    return null
  }

  const currentPath = `${location}/CURRENT`
  const current = hasCurrent ? read(fsys, currentPath) : null
  const named = current === null ? null : /^(MANIFEST-\d+)\n$/.exec(current.toString('latin1'))
  const state = named === null ? null : replay(named[1])
  if (state !== null) {
    missing.push(...checkLive(state))
    if (missing.length === 0) return sound(state, null)
  } else {
    const adopt = newestSoundManifest()
    if (adopt !== null) {
      checkLive(adopt.state)
      return sound(adopt.state, adopt.name)
    }
    if (current !== null && named === null) {
      throw corruptLog(
        'does not name a MANIFEST file, and no MANIFEST can replace it (LevelDB metadata file)',
        currentPath,
      )
    }
    missing.push(named?.[1] ?? 'CURRENT')
  }
  // Missing files: RepairDB rebuilds the store from every table and log present, so all of them must be sound.
  for (const number of tables.keys()) checkTableFile(number, null)
  for (const number of logs.keys()) checkLog(number)
  return { state: 'missing-files', cuts, missing, current: null }
}
