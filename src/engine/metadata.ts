/**
 * The engine's metadata store: a LevelDB (`level`) under `<dir>/.seglog/meta`, holding topic records and
 * committed consumer offsets (src/clients/offset-store.ts).
 *
 * Ownership lock: a second LevelDB, `<dir>/.seglog/lock`, that never holds a key. LevelDB takes an OS lock on
 * its `LOCK` file, which the kernel releases the moment the owning process dies (SIGKILL included), so no stale
 * lock ever needs manual cleanup. It is separate from the store so that the store's files can be checked, cut
 * and repaired while the directory is already owned: nothing here touches `meta/` without holding the lock. A
 * damaged lock store is recreated (it holds nothing), keeping its `LOCK` file.
 *
 * Opening checks every file LevelDB would read first (src/engine/metadata-check.ts), because the binding aborts the
 * process on some damaged files and silently drops damaged log records on others:
 * - damage to a file LevelDB needs → CORRUPT_LOG naming the file; nothing is changed;
 * - a torn last record of the write-ahead log (a crash during a write) → cut, reported;
 * - CURRENT missing or garbled while a sound MANIFEST with all its tables is there → CURRENT names it, reported;
 * - other missing files (the MANIFEST, a table) while every present file is sound → LevelDB's own RepairDB
 *   rebuilds the store from the tables and logs that are there, reported; a missing write-ahead log → reported.
 * A clean close flushes the write-ahead log into a (checksummed) table, so after one, losing `*.log` loses
 * nothing. Topic records are also kept beside the data (`topic.json`, src/engine/topic-dirs.ts), so the engine rebuilds
 * any it loses; committed offsets exist only here.
 *
 * Keys (UTF-8):
 * | key              | value (JSON)                                                                   |
 * |------------------|--------------------------------------------------------------------------------|
 * | `topic:<name>`   | `{ name, id, epoch, partitions, format, overrides, createdAt }`                |
 * | `offset:…`, `group:…` | committed offsets and known groups (src/clients/offset-store.ts)                  |
 * | `state:clean`    | `{ closedAt }`: the last close closed every partition cleanly (`putCleanMark`)    |
 *
 * Every write is `sync: true`, so a metadata change is the durable commit point of the operation it belongs to
 * (see the crash order in `topics.ts`). Records written before topics had an `id` and `epoch` get them when
 * first listed (and are written back).
 *
 * Caveat handled by the caller: LevelDB's lock is a POSIX fcntl lock, which is per process, and LevelDB closes
 * its lock fd when a second open in the same process fails — which releases the first owner's lock. The engine
 * therefore refuses a second in-process open of the same real path *before* it reaches LevelDB.
 */
import { randomUUID } from 'node:crypto'
import type { Level } from 'level'
import { type TopicConfig, type ValueFormatName, validateTopicConfig, validateTopicName } from '../config.js'
import { corruptLog, ioError, SeglogError } from '../errors.js'
import { type FileSystem, writeFileAtomic } from '../io/file-system.js'
import type { inspectStore } from './metadata-check.js'

export interface TopicRecord {
  name: string
  /** Unique per incarnation of the name: a deleted and re-created topic gets a new one (Kafka's topic id). */
  id: string
  /** Bumped by every change of the record; where two descriptions of a topic disagree, the newer one wins. */
  epoch: number
  partitions: number
  format: ValueFormatName
  /** Config given at creation or by alterTopicConfig (engine defaults fill the rest at open). */
  overrides: Partial<TopicConfig>
  createdAt: number
}

/** Something the open found and repaired in the store, for an engine event. */
export interface MetadataRepair {
  path: string
  reason: string
}

/** The clean-close mark (see `takeCleanMark`). */
const CLEAN_KEY = 'state:clean'
const TOPIC_PREFIX = 'topic:'

/** In Node `level` is classic-level; these two of its methods are missing from `level`'s universal typings. */
type ClassicLevel = { repair(location: string): Promise<void> }

/**
 * `level`, loaded on the first open of a store: its native binding costs tens of milliseconds to load, which a
 * process that never opens a store (a read-only open listing topics, the CLI's startup) does not pay.
 */
let LevelClass: typeof Level | null = null
async function levelClass(): Promise<typeof Level> {
  LevelClass ??= (await import('level')).Level
  return LevelClass
}
type Compactable = { compactRange(start: string, end: string): Promise<void> }
const FORMATS: readonly string[] = ['msgpack', 'json', 'string', 'binary']
export const TOPIC_ID = /^[0-9a-f]{32}$/

export function newTopicId(): string {
  return randomUUID().replace(/-/g, '')
}

/**
 * Checks an untrusted topic description (a LevelDB value, a topic file) and returns it normalized, or a
 * sentence saying what is wrong. `id` and `epoch` may be missing (records written before they existed).
 */
export function parseTopicRecord(raw: unknown): (Omit<TopicRecord, 'id'> & { id: string | null }) | string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'not an object'
  const r = raw as Record<string, unknown>
  try {
    validateTopicName(r.name)
  } catch {
    return `name ${JSON.stringify(r.name)} is not a topic name`
  }
  if (r.id !== undefined && (typeof r.id !== 'string' || !TOPIC_ID.test(r.id))) return 'id is not 32 hex digits'
  if (r.epoch !== undefined && (!Number.isSafeInteger(r.epoch) || (r.epoch as number) < 0)) return 'bad epoch'
  if (!Number.isSafeInteger(r.partitions) || (r.partitions as number) < 1 || (r.partitions as number) > 100_000) {
    return `partitions ${JSON.stringify(r.partitions)} out of range`
  }
  if (typeof r.format !== 'string' || !FORMATS.includes(r.format)) return `format ${JSON.stringify(r.format)}`
  if (typeof r.createdAt !== 'number' || !Number.isFinite(r.createdAt)) return 'bad createdAt'
  let overrides: Partial<TopicConfig>
  try {
    overrides = validateTopicConfig(r.overrides ?? {})
  } catch (err) {
    return `overrides: ${(err as Error).message}`
  }
  if (overrides.partitions !== undefined || overrides.format !== undefined) return 'overrides hold partitions/format'
  return {
    name: r.name as string,
    id: (r.id as string | undefined) ?? null,
    epoch: (r.epoch as number | undefined) ?? 0,
    partitions: r.partitions as number,
    format: r.format as ValueFormatName,
    overrides,
    createdAt: r.createdAt,
  }
}

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } }
  const cause = typeof e?.cause?.code === 'string' ? e.cause.code : undefined
  return cause ?? (typeof e?.code === 'string' ? e.code : undefined)
}

/** A LevelDB failure as a SeglogError: corruption is CORRUPT_LOG (naming the file LevelDB names), the rest IO_ERROR. */
export function levelError(err: unknown, op: string, location: string): SeglogError {
  if (err instanceof SeglogError) return err
  const code = codeOf(err)
  if (code === 'LEVEL_CORRUPTION') {
    const why = ((err as { cause?: Error }).cause ?? (err as Error)).message ?? String(err)
    const file = /(\/\S+?\.(?:ldb|sst|log)|\/\S*MANIFEST-\d+)/.exec(why)?.[1]
    return corruptLog(`${op}: ${why} (LevelDB metadata store)`, file ?? location)
  }
  return ioError(err, op, location)
}

export class MetadataStore {
  private constructor(
    readonly db: Level<string, string>,
    private readonly lock: Level<string, string>,
  ) {}

  get location(): string {
    return this.db.location
  }

  /**
   * Takes the ownership lock (`<metaDir>/lock`; ENGINE_LOCKED when another process holds it), checks the store
   * at `<metaDir>/meta` (CORRUPT_LOG naming a damaged file), applies the safe repairs and opens it.
   */
  static async open(
    metaDir: string,
    options: { fs: FileSystem; lockedMessage: () => string },
  ): Promise<{ store: MetadataStore; repairs: MetadataRepair[] }> {
    const lockLocation = `${metaDir}/lock`
    const location = `${metaDir}/meta`
    const Level = await levelClass()
    const { lock, repairs: lockRepairs } = await MetadataStore.takeLock(options.fs, lockLocation, options.lockedMessage)
    try {
      const repairs = [...lockRepairs, ...(await MetadataStore.prepare(options.fs, location))]
      // maxOpenFiles: LevelDB's default (1000) would eat the whole fd budget of a process under ulimit -n 1024.
      // compression off: the store is small, and raw blocks are what the open checks read without decoding.
      const db = new Level<string, string>(location, { valueEncoding: 'utf8', maxOpenFiles: 64, compression: false })
      try {
        await db.open()
      } catch (err) {
        if (codeOf(err) === 'LEVEL_LOCKED') {
          throw new SeglogError('ENGINE_LOCKED', options.lockedMessage(), { cause: err, path: location })
        }
        throw levelError(err, 'open metadata store', location)
      }
      return { store: new MetadataStore(db, lock), repairs }
    } catch (err) {
      await lock.close().catch(() => {})
      throw err
    }
  }

  /**
   * Opens the lock store, which takes the ownership lock. LevelDB takes the lock before it reads anything, so
   * any failure other than LEVEL_LOCKED means nobody held the lock: the store (which holds no data) was damaged.
   * Then everything in it but `LOCK` is removed and it is opened again, fresh. `LOCK` itself is never removed:
   * the OS lock is on that file, so a process that took it meanwhile keeps it, and this second open then gets
   * ENGINE_LOCKED like any other.
   */
  private static async takeLock(
    fsys: FileSystem,
    location: string,
    lockedMessage: () => string,
  ): Promise<{ lock: Level<string, string>; repairs: MetadataRepair[] }> {
    const Level = await levelClass()
    const attempt = async (): Promise<Level<string, string>> => {
      const lock = new Level<string, string>(location, { valueEncoding: 'utf8', maxOpenFiles: 16 })
      try {
        await lock.open()
        return lock
      } catch (err) {
        if (codeOf(err) === 'LEVEL_LOCKED') {
          throw new SeglogError('ENGINE_LOCKED', lockedMessage(), { cause: err, path: location })
        }
        throw err
      }
    }
    try {
      return { lock: await attempt(), repairs: [] }
    } catch (err) {
      if (err instanceof SeglogError) throw err
      const why = ((err as { cause?: Error }).cause ?? (err as Error))?.message ?? String(err)
      try {
        for (const name of fsys.readdir(location)) if (name !== 'LOCK') fsys.rmdir(`${location}/${name}`)
      } catch {
        throw levelError(err, 'open ownership lock store', location)
      }
      let lock: Level<string, string>
      try {
        lock = await attempt()
      } catch (again) {
        throw levelError(again, 'open ownership lock store', location)
      }
      return {
        lock,
        repairs: [{ path: location, reason: `ownership lock store recreated (it holds no data): ${why}` }],
      }
    }
  }

  /** Checks the store's files (owning the directory) and applies the repairs that lose nothing acknowledged. */
  private static async prepare(fsys: FileSystem, location: string): Promise<MetadataRepair[]> {
    // Loaded with the store, like `level`: parsing topic records (read-only opens) needs neither.
    const check = await import('./metadata-check.js')
    let inspection: ReturnType<typeof inspectStore>
    try {
      inspection = check.inspectStore(fsys, location)
    } catch (err) {
      throw ioError(err, 'check metadata store', location)
    }
    const repairs: MetadataRepair[] = []
    for (const cut of inspection.cuts) {
      try {
        const h = fsys.open(cut.path, 'rw')
        try {
          h.truncate(cut.length)
          h.syncNow()
        } finally {
          h.close()
        }
      } catch (err) {
        throw ioError(err, 'cut torn metadata log', cut.path)
      }
      repairs.push({
        path: cut.path,
        reason: `write-ahead log cut to ${cut.length} bytes (${cut.reason}): the write a crash interrupted is dropped`,
      })
    }
    if (inspection.current !== null) {
      try {
        writeFileAtomic(fsys, location, 'CURRENT', Buffer.from(`${inspection.current}\n`))
      } catch (err) {
        throw ioError(err, 'write', `${location}/CURRENT`)
      }
      repairs.push({
        path: `${location}/CURRENT`,
        reason: `CURRENT was missing or named no MANIFEST: now names ${inspection.current}, which is sound with all its tables`,
      })
    }
    if (inspection.state === 'missing-files') {
      try {
        await ((await levelClass()) as unknown as ClassicLevel).repair(location)
      } catch (err) {
        throw levelError(err, 'repair metadata store', location)
      }
      repairs.push({
        path: location,
        reason:
          `missing ${inspection.missing.join(', ')}: rebuilt by LevelDB's repair from the tables and logs present ` +
          '(what only the missing files held is lost; topics are restored from their topic files)',
      })
    } else if (inspection.missing.length > 0) {
      repairs.push({
        path: `${location}/${inspection.missing.join(', ')}`,
        reason:
          'write-ahead log missing: writes since the store was last opened are lost (none after a clean close; ' +
          'topics are restored from their topic files)',
      })
    }
    return repairs
  }

  /**
   * Every topic record. A value that fails its checks is CORRUPT_LOG (LevelDB checksums its files, so only a
   * bug or a hand edit gets one there). Records without an id get one, written back.
   */
  async listTopics(): Promise<TopicRecord[]> {
    const out: TopicRecord[] = []
    const upgraded: TopicRecord[] = []
    try {
      for await (const [key, value] of this.db.iterator({ gte: TOPIC_PREFIX, lt: `${TOPIC_PREFIX}\xff` })) {
        let raw: unknown
        try {
          raw = JSON.parse(value)
        } catch {
          raw = null
        }
        const parsed = parseTopicRecord(raw)
        if (typeof parsed === 'string' || TOPIC_PREFIX + parsed.name !== key) {
          const why = typeof parsed === 'string' ? parsed : `it names topic '${parsed.name}'`
          throw corruptLog(`record '${key}' of the metadata store is invalid: ${why}`, this.db.location)
        }
        const record = { ...parsed, id: parsed.id ?? newTopicId() }
        if (parsed.id === null) upgraded.push(record)
        out.push(record)
      }
    } catch (err) {
      throw levelError(err, 'read metadata', this.db.location)
    }
    if (upgraded.length > 0) await this.putTopics(upgraded)
    return out
  }

  async putTopic(record: TopicRecord): Promise<void> {
    await this.putTopics([record])
  }

  /** Writes several topic records in one atomic, durable batch. */
  async putTopics(records: readonly TopicRecord[]): Promise<void> {
    const ops = records.map((r) => ({ type: 'put' as const, key: TOPIC_PREFIX + r.name, value: JSON.stringify(r) }))
    try {
      await this.db.batch(ops, { sync: true })
    } catch (err) {
      throw levelError(err, 'write metadata', this.db.location)
    }
  }

  /** Deletes a topic record and the given keys (its committed offsets) in one atomic, durable batch. */
  async deleteTopic(name: string, alsoDelete: readonly string[] = []): Promise<void> {
    const ops = [TOPIC_PREFIX + name, ...alsoDelete].map((key) => ({ type: 'del' as const, key }))
    try {
      await this.db.batch(ops, { sync: true })
    } catch (err) {
      throw levelError(err, 'write metadata', this.db.location)
    }
  }

  /**
   * True when the previous owner's close closed every partition cleanly; the mark is deleted (durably) before this
   * returns, so a crash of this owner is never taken for a clean close. The engine then opens partitions on first
   * use (see `OwnedPartition` in topics.ts).
   */
  async takeCleanMark(): Promise<boolean> {
    try {
      if ((await this.db.get(CLEAN_KEY)) === undefined) return false
      await this.db.del(CLEAN_KEY, { sync: true })
      return true
    } catch (err) {
      throw levelError(err, 'read metadata', this.db.location)
    }
  }

  /** Records that every partition was closed cleanly (the last write of a close). */
  async putCleanMark(): Promise<void> {
    try {
      await this.db.put(CLEAN_KEY, JSON.stringify({ closedAt: Date.now() }), { sync: true })
    } catch (err) {
      throw levelError(err, 'write metadata', this.db.location)
    }
  }

  /**
   * Flushes the write-ahead log into a table (a compaction of the memtable only: the key range given overlaps
   * no table), so that a cleanly closed store keeps everything in checksummed tables; then closes it and
   * releases the lock.
   */
  async close(): Promise<void> {
    try {
      await (this.db as unknown as Compactable).compactRange('\x00', '\x00').catch(() => {})
      await this.db.close()
    } finally {
      await this.lock.close()
    }
  }
}
