/**
 * Partition directories and the topic files beside the data: what the engine trusts about which partitions
 * exist, and how an interrupted topic operation is finished at open.
 *
 * The rule: the data directories are the truth about which partitions exist. A directory is only ever removed
 * by an explicit operation of its own, and only once it carries that operation's name:
 * - `<topic>-<p>` — a partition. Never removed at open: one the metadata does not account for is kept and
 *   reported (`unknown`), not opened.
 * - `<topic>-<p>.<id>-create` — a partition being created (it holds only its topic file). At open: renamed into
 *   place if topic `<id>` is known with partition `<p>` (the creation was committed), removed otherwise.
 * - `<topic>-<p>.<id>-delete` — a partition being deleted (renamed so before the deletion is committed, as Kafka
 *   does). At open: renamed back if topic `<id>` is still known (the deletion was not committed), removed
 *   otherwise.
 * `<id>` is the topic's 32-hex-digit id; the topic part of those two names is shortened to keep the name within
 * 255 bytes (Kafka does the same), which is why they are matched by id.
 *
 * `topic.json` in every partition directory holds the topic record (`{ version: 1, partition, name, id, epoch,
 * partitions, format, overrides, createdAt, crc }`, `crc` the CRC-32C of the JSON of the fields before it),
 * written after the metadata commit of every change (or, for a partition being created, before it, in the
 * `-create` directory). A file that fails its checks is not used. At open, for each topic:
 * - the metadata store's record wins, unless a topic file of the same id has a higher epoch (the store lost
 *   an update): then the file's record is restored;
 * - without a record, the topic is restored from its topic files (the id held by most directories, then the
 *   newest), reported;
 * - directories without a usable topic file and without a record are kept and reported, not adopted:
 *   adopting them with defaults would guess the value format and apply the default 7-day retention, which
 *   could delete the very data being recovered. `createTopic` with the same name adopts them explicitly.
 * Stale or missing topic files of known partitions are rewritten.
 */
import * as nodePath from 'node:path'
import { validateTopicName } from '../config.js'
import { ioError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import { crc32c } from '../segment/crc32c.js'
import { CREATE_DIR_SUFFIX, type DELETE_DIR_SUFFIX, LOG_SUFFIX, TOPIC_FILE } from '../segment/file-names.js'
import { parseTopicRecord, type TopicRecord } from './metadata.js'

export type PendingSuffix = typeof CREATE_DIR_SUFFIX | typeof DELETE_DIR_SUFFIX

const PARTITION_DIR = /^(.+)-(\d+)$/
const PENDING_DIR = /^(.*)-(\d+)\.([0-9a-f]{32})(-create|-delete)$/
const NAME_MAX = 255

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`
}

/** `<topic>-<p>.<id><suffix>`, the topic shortened so that the name fits in 255 bytes. */
export function pendingDirName(topic: string, partition: number, id: string, suffix: PendingSuffix): string {
  const tail = `-${partition}.${id}${suffix}`
  return topic.slice(0, NAME_MAX - tail.length) + tail
}

type ParsedDir =
  | { kind: 'partition'; topic: string; partition: number }
  | { kind: 'pending'; partition: number; id: string; suffix: PendingSuffix }

function canonicalPartition(digits: string): number | null {
  const p = Number(digits)
  return Number.isSafeInteger(p) && String(p) === digits ? p : null
}

export function parseDirName(name: string): ParsedDir | null {
  const pending = PENDING_DIR.exec(name)
  if (pending !== null) {
    const partition = canonicalPartition(pending[2])
    if (partition === null) return null
    return { kind: 'pending', partition, id: pending[3], suffix: pending[4] as PendingSuffix }
  }
  const m = PARTITION_DIR.exec(name)
  if (m === null) return null
  const partition = canonicalPartition(m[2])
  if (partition === null) return null
  try {
    validateTopicName(m[1])
  } catch {
    return null
  }
  return { kind: 'partition', topic: m[1], partition }
}

// ---- topic files ----

export function topicFileContent(record: TopicRecord, partition: number): string {
  const { name, id, epoch, partitions, format, overrides, createdAt } = record
  const body = { version: 1, partition, name, id, epoch, partitions, format, overrides, createdAt }
  return JSON.stringify({ ...body, crc: crcOf(body) })
}

/** CRC-32C of the JSON of a topic file's fields (all but `crc`, in file order). */
function crcOf(body: object): number {
  return crc32c(Buffer.from(JSON.stringify(body)))
}

export type TopicFileRead =
  | { ok: true; record: TopicRecord; partition: number; raw: string }
  | { ok: false; reason: string; raw: string | null }

export const NOT_A_DIR = Symbol('not a directory')

/** The topic file of partition directory `dir`; NOT_A_DIR when `dir` is not a directory. */
export function readTopicFile(fsys: FileSystem, dir: string): TopicFileRead | typeof NOT_A_DIR {
  const path = `${dir}/${TOPIC_FILE}`
  let buf: Buffer | null
  try {
    buf = fsys.readFile(path)
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOTDIR') return NOT_A_DIR
    throw ioError(err, 'read', path)
  }
  if (buf === null) return { ok: false, reason: `no ${TOPIC_FILE}`, raw: null }
  const raw = buf.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(raw)
  } catch {
    return { ok: false, reason: `${TOPIC_FILE} is not JSON`, raw }
  }
  const j = json as { version?: unknown; partition?: unknown; crc?: unknown } | null
  if (j === null || typeof j !== 'object' || j.version !== 1)
    return { ok: false, reason: `${TOPIC_FILE}: bad version`, raw }
  // A flipped digit is valid JSON in range (a retention, a partition count): the checksum catches it. A file
  // without one (written by hand) is taken on its range checks alone.
  if (j.crc !== undefined) {
    const { crc, ...body } = j
    if (crc !== crcOf(body)) return { ok: false, reason: `${TOPIC_FILE}: checksum mismatch`, raw }
  }
  if (!Number.isSafeInteger(j.partition) || (j.partition as number) < 0) {
    return { ok: false, reason: `${TOPIC_FILE}: bad partition`, raw }
  }
  const parsed = parseTopicRecord(json)
  if (typeof parsed === 'string') return { ok: false, reason: `${TOPIC_FILE}: ${parsed}`, raw }
  if (parsed.id === null) return { ok: false, reason: `${TOPIC_FILE}: no id`, raw }
  return { ok: true, record: { ...parsed, id: parsed.id }, partition: j.partition as number, raw }
}

/** Topic files written at once: their fsyncs overlap on the thread pool; each holds a file and a directory fd. */
const WRITE_BATCH = 8

/**
 * Writes the topic file of each `dir` (tmp → fsync → rename → fsync directory), up to WRITE_BATCH at a time
 * so that their fsyncs run together on the thread pool without holding many file descriptors.
 */
export async function writeTopicFiles(
  fsys: FileSystem,
  targets: readonly { dir: string; record: TopicRecord; partition: number }[],
): Promise<void> {
  for (let i = 0; i < targets.length; i += WRITE_BATCH) await writeSome(fsys, targets.slice(i, i + WRITE_BATCH))
}

async function writeSome(
  fsys: FileSystem,
  targets: readonly { dir: string; record: TopicRecord; partition: number }[],
): Promise<void> {
  const pending: { dir: string; handle: ReturnType<FileSystem['open']> }[] = []
  try {
    for (const t of targets) {
      const tmp = `${t.dir}/${TOPIC_FILE}.tmp`
      const data = Buffer.from(topicFileContent(t.record, t.partition))
      const handle = fsys.open(tmp, 'rw')
      pending.push({ dir: t.dir, handle })
      handle.truncate(0)
      handle.write(data, 0, data.length, 0)
    }
    await Promise.all(pending.map((p) => p.handle.sync()))
  } catch (err) {
    throw ioError(err, 'write', `${pending.at(-1)?.dir ?? targets[0]?.dir}/${TOPIC_FILE}`)
  } finally {
    for (const p of pending) {
      try {
        p.handle.close()
      } catch {
        // Closing after a failed write: the error above is what counts.
      }
    }
  }
  try {
    for (const t of targets) fsys.rename(`${t.dir}/${TOPIC_FILE}.tmp`, `${t.dir}/${TOPIC_FILE}`)
    await Promise.all(targets.map((t) => fsys.syncDir(t.dir)))
  } catch (err) {
    throw ioError(err, 'write', `${targets[0]?.dir}/${TOPIC_FILE}`)
  }
}

/** True when a directory holds record data (a non-empty `.log`): never removed as a leftover. */
function holdsRecords(fsys: FileSystem, dir: string): boolean {
  try {
    return fsys.readdir(dir).some((n) => n.includes(LOG_SUFFIX) && fsys.fileSize(`${dir}/${n}`) > 0)
  } catch {
    return true
  }
}

// ---- reconciliation at open ----

export interface UnknownDir {
  name: string
  reason: string
}

export interface DirPlan {
  /** Every known topic after reconciliation, by name. */
  topics: Map<string, TopicRecord>
  /** Records rebuilt from topic files: to write to the metadata store before anything else changes. */
  restored: { record: TopicRecord; reason: string }[]
  /** Leftovers of interrupted operations to finish (names relative to the root). */
  renames: { from: string; to: string }[]
  removals: string[]
  /** Partition-like directories kept and not opened. */
  unknown: UnknownDir[]
  /** Known partitions without a directory: created empty. */
  missing: { topic: string; partitions: number[] }[]
  /** Partition directories whose topic file is missing or stale. */
  staleFiles: { topic: string; partition: number }[]
}

function newer(a: TopicRecord, b: TopicRecord): number {
  return a.createdAt !== b.createdAt ? a.createdAt - b.createdAt : a.epoch - b.epoch
}

/**
 * Works out, without changing anything, what the directories under `root` say about `records` (the metadata
 * store's topics) and what to do about it. See the header for the rules.
 */
export function planTopicDirs(fsys: FileSystem, root: string, records: readonly TopicRecord[]): DirPlan {
  let names: string[]
  try {
    names = fsys.readdir(root)
  } catch (err) {
    throw ioError(err, 'readdir', root)
  }
  const finals = new Map<string, Map<number, { name: string; file: TopicFileRead }>>()
  const pendings: { name: string; partition: number; id: string; suffix: PendingSuffix; file: TopicFileRead }[] = []
  for (const name of names.sort()) {
    const parsed = parseDirName(name)
    if (parsed === null) continue
    const file = readTopicFile(fsys, nodePath.join(root, name))
    if (file === NOT_A_DIR) continue
    if (parsed.kind === 'pending') pendings.push({ name, ...parsed, file })
    else {
      let m = finals.get(parsed.topic)
      if (m === undefined) finals.set(parsed.topic, (m = new Map()))
      m.set(parsed.partition, { name, file })
    }
  }
  const byName = new Map(records.map((r) => [r.name, r]))
  const plan: DirPlan = {
    topics: new Map(),
    restored: [],
    renames: [],
    removals: [],
    unknown: [],
    missing: [],
    staleFiles: [],
  }
  const present = new Map<string, Set<number>>()
  for (const topic of new Set([...byName.keys(), ...finals.keys()])) {
    const rec = byName.get(topic)
    const dirs = finals.get(topic) ?? new Map<number, { name: string; file: TopicFileRead }>()
    const valid: TopicRecord[] = []
    for (const [p, d] of dirs)
      if (d.file.ok && d.file.record.name === topic && d.file.partition === p) valid.push(d.file.record)
    let known: TopicRecord | undefined = rec
    let fromFiles = false
    if (rec !== undefined) {
      const same = valid.filter((r) => r.id === rec.id && r.epoch > rec.epoch).sort((a, b) => b.epoch - a.epoch)[0]
      if (same !== undefined) {
        known = same
        plan.restored.push({
          record: same,
          reason: `the metadata store holds an older description (epoch ${rec.epoch}; ${TOPIC_FILE}: ${same.epoch})`,
        })
      }
    } else if (valid.length > 0) {
      const count = new Map<string, number>()
      for (const r of valid) count.set(r.id, (count.get(r.id) ?? 0) + 1)
      known = valid.sort(
        (a, b) => (count.get(b.id) ?? 0) - (count.get(a.id) ?? 0) || newer(b, a) || b.epoch - a.epoch,
      )[0]
      fromFiles = true
      plan.restored.push({ record: known, reason: 'the metadata store has no record of it' })
    }
    if (known === undefined) {
      for (const d of dirs.values()) {
        plan.unknown.push({ name: d.name, reason: d.file.ok ? `${TOPIC_FILE} names another partition` : d.file.reason })
      }
      continue
    }
    plan.topics.set(topic, known)
    const have = new Set<number>()
    present.set(topic, have)
    for (const [p, d] of dirs) {
      const foreign = fromFiles && d.file.ok && d.file.record.id !== known.id
      if (p >= known.partitions || foreign) {
        plan.unknown.push({
          name: d.name,
          reason: foreign
            ? `${TOPIC_FILE} belongs to another topic '${topic}' (id ${d.file.ok ? d.file.record.id : '?'})`
            : `topic '${topic}' has ${known.partitions} partitions`,
        })
        continue
      }
      have.add(p)
      if (d.file.raw !== topicFileContent(known, p)) plan.staleFiles.push({ topic, partition: p })
    }
  }
  const byId = new Map([...plan.topics.values()].map((r) => [r.id, r]))
  for (const d of pendings) {
    const owner = byId.get(d.id)
    const to = owner === undefined ? null : partitionDirName(owner.name, d.partition)
    const have = owner === undefined ? undefined : present.get(owner.name)
    if (owner !== undefined && to !== null && have !== undefined && d.partition < owner.partitions) {
      if (have.has(d.partition)) {
        plan.unknown.push({ name: d.name, reason: `${to} exists too` })
        continue
      }
      plan.renames.push({ from: d.name, to })
      have.add(d.partition)
      if (d.file.raw !== topicFileContent(owner, d.partition))
        plan.staleFiles.push({ topic: owner.name, partition: d.partition })
    } else if (d.suffix === CREATE_DIR_SUFFIX && holdsRecords(fsys, nodePath.join(root, d.name))) {
      plan.unknown.push({ name: d.name, reason: 'a partition being created holds records' })
    } else {
      plan.removals.push(d.name)
    }
  }
  for (const [topic, record] of plan.topics) {
    const have = present.get(topic) ?? new Set<number>()
    const missing: number[] = []
    for (let p = 0; p < record.partitions; p++) {
      if (!have.has(p)) {
        missing.push(p)
        plan.staleFiles.push({ topic, partition: p })
      }
    }
    if (missing.length > 0) plan.missing.push({ topic, partitions: missing })
  }
  return plan
}

/**
 * Carries out a plan (after the restored records were committed): renames, then removals, then missing
 * directories, then topic files, each step made durable before the next.
 */
export async function applyTopicDirs(fsys: FileSystem, root: string, plan: DirPlan): Promise<void> {
  const at = (name: string) => nodePath.join(root, name)
  try {
    for (const r of plan.renames) fsys.rename(at(r.from), at(r.to))
    if (plan.renames.length > 0) await fsys.syncDir(root)
    for (const name of plan.removals) fsys.rmdir(at(name))
    if (plan.removals.length > 0) await fsys.syncDir(root)
    for (const m of plan.missing) for (const p of m.partitions) fsys.mkdir(at(partitionDirName(m.topic, p)))
    if (plan.missing.length > 0) await fsys.syncDir(root)
  } catch (err) {
    throw ioError(err, 'finish interrupted topic operations in', root)
  }
  await writeTopicFiles(
    fsys,
    plan.staleFiles.map(({ topic, partition }) => ({
      dir: at(partitionDirName(topic, partition)),
      record: plan.topics.get(topic) as TopicRecord,
      partition,
    })),
  )
}
