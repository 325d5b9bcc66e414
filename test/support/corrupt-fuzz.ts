/**
 * The corrupt-directory fuzz: a closed seglog directory is built once through the public API (`Seglog.open`,
 * `createTopic` with small segments, a compacted topic that was compacted, a gzip topic), then, case by case, a
 * copy of one of its partitions is damaged and opened:
 *
 * - bit flips anywhere in a `.log` file, and in batch headers in particular (the base offset is outside the CRC);
 * - truncation, garbage (same length, other length, appended) in every file kind: `.log`, `.index`, `.timeindex`,
 *   `partition.state`, `cleaner.checkpoint`;
 * - deleted index files, index files swapped between segments or copied from another, a deleted middle `.log`;
 * - `partition.state` and `cleaner.checkpoint` bit flips, field edits (out of range, wrong type), deletion.
 *
 * Every case must end in one of three ways: `intact` (it opens, and every record returned by reads and every
 * offsetForTimestamp answer is what the pristine copy returns), `typed-error` (a SeglogError, and every answer that
 * was given is still right), or `repaired` (the open reported what it repaired or could not read: a `recovered`,
 * `corruption-detected`, `state-repaired` or `segments-deleted` event; every record returned is the one written at
 * its offset). Anything else is a failure: a wrong record, an offset skipped without a report, a wrong timestamp
 * lookup, another kind of error, a partition directory gone, a case that does not finish. Hangs and process
 * aborts are caught by the parent that runs `fuzz-corrupt-cli.ts` as a child process. The one exception is
 * counted apart and listed, not hidden: `knownUndetectable`, a base offset shifted inside a compaction gap.
 *
 * Most cases open the damaged partition directory with `PartitionLog` (fast); every `engineEvery`-th case copies
 * the whole directory and opens it with `Seglog.open`, reading through the engine. File I/O of the opened logs
 * goes through a file system whose fsyncs do nothing: durability is not under test here, and it keeps a case at
 * a few milliseconds. Damage to `.seglog/meta` (the metadata store) is not part of this fuzz.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { CodecRegistry } from '../../src/compression.js'
import type { TopicConfig } from '../../src/config.js'
import { SeglogError } from '../../src/errors.js'
import { TEST_HOOKS } from '../../src/internal.js'
import { type FileSystem, nodeFileSystem } from '../../src/io/file-system.js'
import { type LogConfig, type LogEvent, PartitionLog } from '../../src/log/partition-log.js'
import { Seglog } from '../../src/main.js'
import { batchesOf, flipBit, restoreTree, segmentBases } from './damage.js'
import { mulberry32 } from './random.js'

export type Outcome = 'intact' | 'typed-error' | 'repaired'

export interface FuzzFailure {
  caseIndex: number
  seed: number
  mutation: string
  problem: string
}

export interface FuzzSummary {
  seed: number
  cases: number
  outcomes: Record<Outcome, number>
  /**
   * Cases whose wrong answer comes from the one damage no check can see (`knownUndetectable`): a flipped base
   * offset in a compacted segment that leaves the batch strictly inside the compaction gap around it.
   */
  undetectable: FuzzFailure[]
  /** Outcome counts per mutation kind. */
  byMutation: Record<string, Record<Outcome, number>>
  failures: FuzzFailure[]
  durationMs: number
}

export interface FuzzOptions {
  cases: number
  seed: number
  /** Directory for the template and the case copies (created, removed at the end). */
  workDir: string
  /** Every n-th case opens the whole directory with Seglog.open (0 = never). Default 12. */
  engineEvery?: number
  /** Told before each case runs (the CLI prints it, so a hang names its case). */
  onCase?: (index: number, description: string) => void
  /** Run only this case (to reproduce a failure); its damaged copy is kept under `workDir/case`. */
  only?: number
}

const TS0 = 1_700_000_000_000
const SEGMENT: Partial<TopicConfig> = { segmentBytes: 4096, indexIntervalBytes: 256, format: 'binary' }
const REPORTS = new Set(['recovered', 'corruption-detected', 'state-repaired', 'segments-deleted'])

/** fsync calls do nothing: the fuzz is about what damaged files read as, not about durability. */
const noSyncFs: FileSystem = {
  ...nodeFileSystem,
  open(p, mode) {
    const h = nodeFileSystem.open(p, mode)
    return {
      path: h.path,
      read: (b, o, l, pos) => h.read(b, o, l, pos),
      write: (b, o, l, pos) => h.write(b, o, l, pos),
      size: () => h.size(),
      truncate: (n) => h.truncate(n),
      sync: async () => {},
      syncNow: () => {},
      close: () => h.close(),
    }
  },
  syncDir: async () => {},
  syncDirNow: () => {},
}

interface Written {
  key: string | null
  value: string | null
  timestamp: number
}

interface PartitionTruth {
  topic: string
  partition: number
  dirName: string
  config: Partial<LogConfig>
  /** Everything ever appended, by offset (compaction removes records, never changes them). */
  written: Map<number, Written>
  /** What a clean reopen of the pristine copy returns. */
  visible: number[]
  logStartOffset: number
  logEndOffset: number
}

interface Template {
  dir: string
  partitions: PartitionTruth[]
}

const TOPICS: { name: string; partitions: number; config: Partial<TopicConfig>; records: number; keys: number }[] = [
  { name: 'plain', partitions: 2, config: SEGMENT, records: 160, keys: 0 },
  {
    name: 'keyed',
    partitions: 1,
    config: { ...SEGMENT, cleanupPolicy: 'compact', minCleanableDirtyRatio: 0.01 },
    records: 320,
    keys: 25,
  },
  { name: 'zipped', partitions: 1, config: { ...SEGMENT, compressionType: 'gzip' }, records: 160, keys: 0 },
]

function logConfigOf(config: Partial<TopicConfig>): Partial<LogConfig> {
  return { segmentBytes: config.segmentBytes, indexIntervalBytes: config.indexIntervalBytes, fileDeleteDelayMs: 0 }
}

/** Builds the closed template directory through the public API and reads back what it holds. */
async function buildTemplate(dir: string, rng: () => number): Promise<Template> {
  const db = await Seglog.open(dir, { cleanerBackoffMs: 0, retentionCheckIntervalMs: 0 })
  const partitions: PartitionTruth[] = []
  let ts = TS0
  for (const t of TOPICS) {
    await db.createTopic(t.name, { partitions: t.partitions, config: t.config })
    for (let p = 0; p < t.partitions; p++) {
      const written = new Map<number, Written>()
      const appendSome = async (count: number): Promise<void> => {
        let left = count
        while (left > 0) {
          const n = Math.min(left, 1 + Math.floor(rng() * 6))
          const batch: Written[] = []
          for (let i = 0; i < n; i++) {
            ts += 1 + Math.floor(rng() * 3)
            const key = t.keys > 0 ? `k${Math.floor(rng() * t.keys)}` : rng() < 0.3 ? null : `u${ts}`
            const value =
              t.keys > 0 && rng() < 0.05 ? null : `${t.name}-${p}-${ts}-${'x'.repeat(Math.floor(rng() * 40))}`
            batch.push({ key, value, timestamp: ts })
          }
          const meta = await db.append(
            t.name,
            batch.map((w) => ({
              partition: p,
              key: w.key,
              value: w.value === null ? null : Buffer.from(w.value),
              timestamp: w.timestamp,
            })),
          )
          for (const [i, m] of meta.entries()) written.set(m.offset, batch[i])
          left -= n
        }
      }
      await appendSome(t.records)
      if (t.config.cleanupPolicy === 'compact') {
        await db.compact(t.name)
        await appendSome(Math.floor(t.records / 5))
      }
      partitions.push({
        topic: t.name,
        partition: p,
        dirName: `${t.name}-${p}`,
        config: logConfigOf(t.config),
        written,
        visible: [],
        logStartOffset: 0,
        logEndOffset: 0,
      })
    }
  }
  await db.close()
  const codecs = new CodecRegistry()
  for (const pt of partitions) {
    const log = await PartitionLog.open(path.join(dir, pt.dirName), {
      config: pt.config,
      fs: noSyncFs,
      decompress: codecs.decompressor,
    })
    pt.logStartOffset = log.logStartOffset
    pt.logEndOffset = log.logEndOffset
    for (let from = log.logStartOffset; from < log.logEndOffset; ) {
      const got = log.read(from, { maxRecords: 1000, maxBytes: 1 << 24 })
      if (got.length === 0) break
      for (const r of got) pt.visible.push(r.offset)
      from = got[got.length - 1].offset + 1
    }
    await log.close()
    if (pt.visible.length < 50)
      throw new Error(`template partition ${pt.dirName} holds only ${pt.visible.length} records`)
  }
  return { dir, partitions }
}

// ---- mutations ----

interface Mutation {
  name: string
  /**
   * Damages the partition directory `d`; returns a description with the seeded details, and the log start offset
   * a hand edit set when it is one the log could have written (then it is the truth, not damage).
   */
  apply(d: string, rng: () => number, pt: PartitionTruth): string | { description: string; logStartOffset: number }
}

const pick = <T>(rng: () => number, items: readonly T[]): T => items[Math.floor(rng() * items.length)]
const files = (d: string, suffix: string): string[] =>
  fs
    .readdirSync(d)
    .filter((n) => n.endsWith(suffix))
    .sort()
const randomBytes = (rng: () => number, n: number): Buffer => {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256)
  return b
}
const KINDS = ['.log', '.index', '.timeindex', 'partition.state', 'cleaner.checkpoint'] as const

/** A file of the given kind in `d`, or null when there is none. */
function fileOfKind(d: string, kind: string, rng: () => number): string | null {
  const names = kind.startsWith('.') ? files(d, kind) : fs.existsSync(path.join(d, kind)) ? [kind] : []
  return names.length === 0 ? null : path.join(d, pick(rng, names))
}

const MUTATIONS: Mutation[] = [
  {
    name: 'log bit flip',
    apply(d, rng, _pt) {
      const f = fileOfKind(d, '.log', rng)
      const size = f === null ? 0 : fs.statSync(f).size
      if (f === null || size === 0) return 'no .log to flip'
      const pos = Math.floor(rng() * size)
      const bit = Math.floor(rng() * 8)
      flipBit(f, pos, bit)
      return `${path.basename(f)} byte ${pos} bit ${bit}`
    },
  },
  {
    name: 'batch header bit flip',
    apply(d, rng, _pt) {
      const f = fileOfKind(d, '.log', rng)
      const batches = f === null ? [] : batchesOf(f)
      if (f === null || batches.length === 0) return 'no batch to flip'
      const b = pick(rng, batches)
      // Mostly the base offset (outside the CRC), else anywhere in the 61-byte header.
      const at = rng() < 0.6 ? Math.floor(rng() * 8) : Math.floor(rng() * 61)
      const bit = Math.floor(rng() * 8)
      flipBit(f, b.position + at, bit)
      return `${path.basename(f)} batch at ${b.position} header byte ${at} bit ${bit}`
    },
  },
  {
    name: 'truncation',
    apply(d, rng, _pt) {
      const kind = pick(rng, KINDS)
      const f = fileOfKind(d, kind, rng)
      if (f === null) return `no ${kind} to truncate`
      const size = fs.statSync(f).size
      const to = rng() < 0.2 ? 0 : Math.floor(rng() * size)
      fs.truncateSync(f, to)
      return `${path.basename(f)} truncated ${size} → ${to}`
    },
  },
  {
    name: 'garbage',
    apply(d, rng, _pt) {
      const kind = pick(rng, KINDS)
      const f = fileOfKind(d, kind, rng)
      if (f === null) return `no ${kind} to overwrite`
      const size = fs.statSync(f).size
      const how = pick(rng, ['whole', 'resized', 'appended', 'burst'] as const)
      if (how === 'whole') fs.writeFileSync(f, randomBytes(rng, size))
      else if (how === 'resized') fs.writeFileSync(f, randomBytes(rng, Math.floor(rng() * (size + 64))))
      else if (how === 'appended') fs.appendFileSync(f, randomBytes(rng, 1 + Math.floor(rng() * 100)))
      else {
        const n = 1 + Math.floor(rng() * 16)
        const at = Math.floor(rng() * Math.max(1, size - n))
        const fd = fs.openSync(f, 'r+')
        fs.writeSync(fd, randomBytes(rng, n), 0, n, at)
        fs.closeSync(fd)
      }
      return `${path.basename(f)} garbage (${how})`
    },
  },
  {
    name: 'index deleted',
    apply(d, rng, _pt) {
      const bases = segmentBases(d)
      const which = pick(rng, ['.index', '.timeindex', 'both', 'all'] as const)
      const victims = which === 'all' ? bases : [pick(rng, bases)]
      for (const b of victims) {
        const prefix = String(b).padStart(20, '0')
        if (which !== '.timeindex') fs.rmSync(path.join(d, `${prefix}.index`), { force: true })
        if (which !== '.index') fs.rmSync(path.join(d, `${prefix}.timeindex`), { force: true })
      }
      return `${which} of ${which === 'all' ? 'every segment' : victims[0]} deleted`
    },
  },
  {
    name: 'index swapped',
    apply(d, rng, _pt) {
      const bases = segmentBases(d)
      if (bases.length < 2) return 'one segment only'
      const i = Math.floor(rng() * bases.length)
      let j = Math.floor(rng() * (bases.length - 1))
      if (j >= i) j++
      const kindA = pick(rng, ['.index', '.timeindex'] as const)
      const kindB = rng() < 0.8 ? kindA : kindA === '.index' ? '.timeindex' : '.index'
      const a = path.join(d, String(bases[i]).padStart(20, '0') + kindA)
      const b = path.join(d, String(bases[j]).padStart(20, '0') + kindB)
      const copyOnly = rng() < 0.3
      if (!fs.existsSync(a) || !fs.existsSync(b)) return `${kindA}/${kindB} of ${bases[i]}/${bases[j]} missing`
      if (copyOnly) fs.copyFileSync(b, a)
      else {
        const tmp = `${a}.tmp-swap`
        fs.renameSync(a, tmp)
        fs.renameSync(b, a)
        fs.renameSync(tmp, b)
      }
      return `${copyOnly ? 'copied' : 'swapped'} ${kindB} of ${bases[j]} ${copyOnly ? 'over' : 'with'} ${kindA} of ${bases[i]}`
    },
  },
  {
    name: 'middle log deleted',
    apply(d, rng, _pt) {
      const bases = segmentBases(d)
      if (bases.length < 3) return 'too few segments'
      const b = bases[1 + Math.floor(rng() * (bases.length - 2))]
      fs.rmSync(path.join(d, `${String(b).padStart(20, '0')}.log`))
      return `segment ${b} .log deleted`
    },
  },
  {
    name: 'checkpoint damage',
    apply(d, rng, pt) {
      const name = pick(rng, ['partition.state', 'cleaner.checkpoint'] as const)
      const f = path.join(d, name)
      if (!fs.existsSync(f)) return `no ${name}`
      const how = pick(rng, ['bit flip', 'field', 'deleted'] as const)
      if (how === 'deleted') fs.rmSync(f)
      else if (how === 'bit flip') {
        const size = fs.statSync(f).size
        flipBit(f, Math.floor(rng() * size), Math.floor(rng() * 8))
      } else {
        const state = JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>
        // A hand edit: without the checksum, so each field is checked on its own.
        delete state.crc
        const target =
          state.clean !== null && typeof state.clean === 'object' && rng() < 0.5
            ? (state.clean as Record<string, unknown>)
            : state
        const field = pick(rng, Object.keys(target))
        const current = target[field]
        const values = [
          -1,
          0,
          1.5,
          2 ** 53,
          2 ** 53 - 1,
          1e300,
          '7',
          null,
          true,
          [],
          typeof current === 'number' ? current + 1 : 3,
          typeof current === 'number' ? current - 1 : 2,
          typeof current === 'number' ? current * 2 + 7 : 11,
        ]
        const value = pick(rng, values)
        target[field] = value
        fs.writeFileSync(f, JSON.stringify(state))
        const description = `${name} ${target === state ? '' : 'clean.'}${field} = ${JSON.stringify(value)}`
        // A log start inside the log is what deleteRecords writes: a legitimate state, not damage.
        const legit =
          name === 'partition.state' &&
          target === state &&
          field === 'logStartOffset' &&
          typeof value === 'number' &&
          Number.isSafeInteger(value) &&
          value >= pt.logStartOffset &&
          value <= pt.logEndOffset
        return legit ? { description, logStartOffset: value } : description
      }
      return `${name} ${how}`
    },
  },
]

// ---- checking a case ----

interface ViewRecord {
  offset: number
  timestamp: number
  key: string | null
  value: string | null
}

/** What a case reads through: a PartitionLog, or the engine's API for one partition. */
interface View {
  offsets(): { logStartOffset: number; logEndOffset: number }
  read(from: number, max: number): ViewRecord[] | Promise<ViewRecord[]>
  offsetForTimestamp(ts: number): number | null | Promise<number | null>
  append(): { offset: number; written: Written } | Promise<{ offset: number; written: Written }>
}

class CaseFailure extends Error {}

function fail(problem: string): never {
  throw new CaseFailure(problem)
}

/** Runs the reads and lookups of one case; returns whether any SeglogError was met. */
async function checkView(view: View, pt: PartitionTruth, reported: () => boolean): Promise<boolean> {
  let typed = false
  const attempt = async <T>(fn: () => T | Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> => {
    try {
      return { ok: true, value: await fn() }
    } catch (err) {
      if (err instanceof SeglogError) {
        typed = true
        return { ok: false }
      }
      fail(`non-SeglogError thrown: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    }
  }
  const { logStartOffset: start, logEndOffset: end } = view.offsets()
  if (!reported() && (start !== pt.logStartOffset || end !== pt.logEndOffset)) {
    fail(
      `offsets [${start}, ${end}) differ from the pristine [${pt.logStartOffset}, ${pt.logEndOffset}) without a report`,
    )
  }
  /** Records appended by this case (they may reuse offsets a repair cut). */
  const appendedHere = new Map<number, Written>()
  const checkRecord = (r: { offset: number; timestamp: number; key: string | null; value: string | null }): void => {
    const w = appendedHere.get(r.offset) ?? pt.written.get(r.offset)
    if (w === undefined) fail(`read returned offset ${r.offset}, which was never written`)
    if (w.key !== r.key || w.value !== r.value || w.timestamp !== r.timestamp) {
      fail(
        `offset ${r.offset} reads (${r.key}, ${r.value?.slice(0, 24)}, ${r.timestamp}), written (${w.key}, ${w.value?.slice(0, 24)}, ${w.timestamp})`,
      )
    }
  }
  /** The first pristine-visible offset >= o. */
  const visibleFrom = (o: number): number | undefined => pt.visible.find((v) => v >= o)

  // Sequential reads from the log start; on an error, go on after the offset that failed.
  let from = start
  for (let guard = 0; from < end && guard < pt.visible.length + 50; guard++) {
    const res = await attempt(() => view.read(from, 40))
    if (!res.ok) {
      const next = visibleFrom(from + 1)
      if (next === undefined) break
      from = next
      continue
    }
    const got = res.value
    if (got.length === 0) fail(`read(${from}) returned nothing below the log end ${end}`)
    let prev = from - 1
    for (const r of got) {
      checkRecord(r)
      if (r.offset <= prev) fail(`read(${from}) returned offset ${r.offset} after ${prev}`)
      if (!reported()) {
        const want = visibleFrom(prev + 1)
        if (r.offset !== want) fail(`read(${from}) returned offset ${r.offset} where ${want} is, without a report`)
      }
      prev = r.offset
    }
    from = prev + 1
  }
  // Point reads at random pristine offsets (exercise index lookups rather than the sequential hint).
  for (let k = 0; k < 8; k++) {
    const o = pt.visible[(k * 7919) % pt.visible.length]
    if (o < start || o >= end) continue
    const res = await attempt(() => view.read(o, 1))
    if (res.ok) {
      const r = res.value[0]
      if (r === undefined) fail(`read(${o}) returned nothing`)
      checkRecord(r)
      if (!reported() && r.offset !== o) fail(`read(${o}) returned offset ${r.offset} without a report`)
    }
  }
  // Timestamp lookups: a record's own timestamp, and one just below it.
  for (let k = 0; k < 10; k++) {
    const o = pt.visible[(k * 104_729) % pt.visible.length]
    const w = pt.written.get(o) as Written
    for (const ts of [w.timestamp, w.timestamp - 1]) {
      const res = await attempt(() => view.offsetForTimestamp(ts))
      if (!res.ok) continue
      const found = res.value
      const want = pt.visible.find((v) => v >= start && (pt.written.get(v) as Written).timestamp >= ts) ?? null
      if (!reported() && found !== want)
        fail(`offsetForTimestamp(${ts}) = ${found}, pristine ${want}, without a report`)
      if (found !== null) {
        const fw = pt.written.get(found)
        if (fw === undefined || fw.timestamp < ts) fail(`offsetForTimestamp(${ts}) = ${found}, a record before it`)
      }
    }
  }
  // An append lands at the log end and reads back.
  const appended = await attempt(() => view.append())
  if (appended.ok) {
    const { offset, written } = appended.value
    appendedHere.set(offset, written)
    const res = await attempt(() => view.read(offset, 1))
    if (res.ok) {
      const r = res.value[0]
      if (r === undefined || r.offset !== offset || r.value !== written.value) {
        fail(`the record appended at ${offset} reads back as ${r?.offset} ${r?.value?.slice(0, 20)}`)
      }
    }
  }
  return typed
}

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('latin1'))

async function runPartitionCase(d: string, pt: PartitionTruth, codecs: CodecRegistry): Promise<Outcome> {
  const events: LogEvent[] = []
  const reported = (): boolean => events.some((e) => REPORTS.has(e.type))
  let log: PartitionLog
  try {
    log = await PartitionLog.open(d, {
      config: pt.config,
      fs: noSyncFs,
      decompress: codecs.decompressor,
      onEvent: (e) => events.push(e),
    })
  } catch (err) {
    if (err instanceof SeglogError) return 'typed-error'
    fail(`open threw a non-SeglogError: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  }
  let typed: boolean
  try {
    typed = await checkView(
      {
        offsets: () => ({ logStartOffset: log.logStartOffset, logEndOffset: log.logEndOffset }),
        read: (from, max) =>
          log.read(from, { maxRecords: max, maxBytes: 1 << 20 }).map((r) => ({
            offset: r.offset,
            timestamp: r.timestamp,
            key: text(r.key),
            value: text(r.value),
          })),
        offsetForTimestamp: (ts) => log.offsetForTimestamp(ts),
        append: () => {
          const written: Written = { key: 'fuzz', value: 'appended-after-open', timestamp: TS0 + 10_000_000 }
          const info = log.append([
            { key: Buffer.from('fuzz'), value: Buffer.from(written.value as string), timestamp: written.timestamp },
          ])
          return { offset: info.baseOffset, written }
        },
      },
      pt,
      reported,
    )
  } finally {
    await log.close().catch((err: unknown) => {
      if (!(err instanceof SeglogError)) fail(`close threw a non-SeglogError: ${String(err)}`)
    })
  }
  return reported() ? 'repaired' : typed ? 'typed-error' : 'intact'
}

async function runEngineCase(d: string, target: PartitionTruth, template: Template): Promise<Outcome> {
  const events: { type: string; topic?: string; partition?: number }[] = []
  const reported = (): boolean =>
    events.some((e) => REPORTS.has(e.type) && e.topic === target.topic && e.partition === target.partition)
  let db: Seglog
  try {
    db = await Seglog.open(d, {
      [TEST_HOOKS]: { fs: noSyncFs },
      cleanerBackoffMs: 0,
      retentionCheckIntervalMs: 0,
      onEvent: (e) => events.push(e as { type: string }),
    })
  } catch (err) {
    if (err instanceof SeglogError) return 'typed-error'
    fail(`Seglog.open threw a non-SeglogError: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  }
  let typed = false
  try {
    for (const pt of template.partitions) {
      if (!fs.existsSync(path.join(d, pt.dirName))) fail(`partition directory ${pt.dirName} is gone after open`)
      const mine = pt === target
      typed =
        (await checkView(
          {
            offsets: () => db.offsets(pt.topic, pt.partition),
            read: async (from, max) =>
              (
                await db.read(pt.topic, pt.partition, from, { maxRecords: max })
              ).map((r) => ({
                offset: r.offset,
                timestamp: r.timestamp,
                key: text(r.key),
                value: r.value === null ? null : text(r.value as Buffer),
              })),
            offsetForTimestamp: (ts) => db.offsetForTimestamp(pt.topic, pt.partition, ts),
            append: async () => {
              const written: Written = {
                key: 'fuzz',
                value: `engine-append-${pt.dirName}`,
                timestamp: TS0 + 20_000_000,
              }
              const [meta] = await db.append(pt.topic, [
                {
                  partition: pt.partition,
                  key: 'fuzz',
                  value: Buffer.from(written.value as string),
                  timestamp: written.timestamp,
                },
              ])
              return { offset: meta.offset, written }
            },
          },
          pt,
          // Other partitions were not damaged: they must read exactly as before.
          mine ? reported : () => false,
        )) || typed
    }
  } finally {
    await db.close().catch((err: unknown) => {
      if (!(err instanceof SeglogError)) fail(`close threw a non-SeglogError: ${String(err)}`)
    })
  }
  return reported() ? 'repaired' : typed ? 'typed-error' : 'intact'
}

/**
 * True when the only difference between the pristine partition directory and the damaged one is in bytes 0–7 (the
 * base offset, outside the CRC) of one batch (not the last) of a compacted segment, and the damaged batch still
 * lies strictly between the batch before it (or the segment's base offset) and the batch after it: a compaction gap of the right size hides the shift from
 * every check the format allows (Kafka's has the same blind spot). Everything else wrong is a failure.
 */
function knownUndetectable(pristine: string, damaged: string): boolean {
  const state = JSON.parse(fs.readFileSync(path.join(pristine, 'partition.state'), 'utf8')) as {
    compactedEnd?: number | null
  }
  const compactedEnd = state.compactedEnd ?? Number.POSITIVE_INFINITY
  const changed: string[] = []
  for (const name of fs.readdirSync(pristine)) {
    const bPath = path.join(damaged, name)
    if (!fs.existsSync(bPath)) return false
    if (!fs.readFileSync(path.join(pristine, name)).equals(fs.readFileSync(bPath))) changed.push(name)
  }
  if (changed.length !== 1 || !/^\d{20}\.log$/.test(changed[0])) return false
  if (Number(changed[0].slice(0, 20)) >= compactedEnd) return false
  const before = fs.readFileSync(path.join(pristine, changed[0]))
  const after = fs.readFileSync(path.join(damaged, changed[0]))
  if (before.length !== after.length) return false
  const batches = batchesOf(path.join(pristine, changed[0]))
  const differs = (from: number, to: number): boolean => !before.subarray(from, to).equals(after.subarray(from, to))
  const k = batches.findIndex((b) => differs(b.position, b.position + 8))
  // The segment's last batch must end right before the next segment: a shift there is always seen.
  if (k < 0 || k >= batches.length - 1) return false
  const at = batches[k].position
  if (differs(0, at) || differs(at + 8, before.length)) return false
  const shifted = after.readBigInt64BE(at)
  const span = BigInt(batches[k].lastOffset - batches[k].baseOffset)
  // Before the first batch, the gap runs from the segment's own base offset.
  const prevLast = k === 0 ? BigInt(Number(changed[0].slice(0, 20)) - 1) : BigInt(batches[k - 1].lastOffset)
  return shifted > prevLast && shifted + span < BigInt(batches[k + 1].baseOffset)
}

/** The truth of a partition whose log start was legitimately moved to `start`. */
function withLogStart(pt: PartitionTruth, start: number): PartitionTruth {
  return { ...pt, logStartOffset: start, visible: pt.visible.filter((o) => o >= start) }
}

/** Runs `options.cases` seeded cases against one template (see the module header). */
export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now()
  const { cases, seed, workDir } = options
  const engineEvery = options.engineEvery ?? 12
  fs.mkdirSync(workDir, { recursive: true })
  const template = await buildTemplate(path.join(workDir, 'template'), mulberry32(seed))
  const codecs = new CodecRegistry()
  const summary: FuzzSummary = {
    seed,
    cases,
    outcomes: { intact: 0, 'typed-error': 0, repaired: 0 },
    undetectable: [],
    byMutation: {},
    failures: [],
    durationMs: 0,
  }
  const caseDir = path.join(workDir, 'case')
  try {
    for (let i = options.only ?? 0; i < (options.only === undefined ? cases : options.only + 1); i++) {
      const caseSeed = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0
      const rng = mulberry32(caseSeed)
      const mutation = pick(rng, MUTATIONS)
      const target = pick(rng, template.partitions)
      const engine = engineEvery > 0 && i % engineEvery === engineEvery - 1
      let description = ''
      let blindSpot = false
      try {
        // One working copy per kind, put back to the template's content before each case.
        const work = engine ? path.join(caseDir, 'engine') : path.join(caseDir, target.dirName)
        restoreTree(engine ? template.dir : path.join(template.dir, target.dirName), work)
        const partDir = engine ? path.join(work, target.dirName) : work
        const applied = mutation.apply(partDir, rng, target)
        const what = typeof applied === 'string' ? applied : applied.description
        // Judged before the open, which may rewrite files.
        blindSpot = knownUndetectable(path.join(template.dir, target.dirName), partDir)
        description = `${engine ? 'engine' : 'log'} ${target.dirName} ${mutation.name}: ${what}`
        options.onCase?.(i, description)
        const truth = typeof applied === 'string' ? target : withLogStart(target, applied.logStartOffset)
        const outcome = engine
          ? await runEngineCase(work, truth, {
              ...template,
              partitions: template.partitions.map((p) => (p === target ? truth : p)),
            })
          : await runPartitionCase(partDir, truth, codecs)
        summary.outcomes[outcome]++
        summary.byMutation[mutation.name] ??= { intact: 0, 'typed-error': 0, repaired: 0 }
        summary.byMutation[mutation.name][outcome]++
      } catch (err) {
        const problem =
          err instanceof CaseFailure ? err.message : `harness error: ${err instanceof Error ? err.stack : String(err)}`
        ;(err instanceof CaseFailure && blindSpot ? summary.undetectable : summary.failures).push({
          caseIndex: i,
          seed: caseSeed,
          mutation: description,
          problem,
        })
      }
    }
  } finally {
    if (options.only === undefined) fs.rmSync(workDir, { recursive: true, force: true })
  }
  summary.durationMs = Math.round(performance.now() - started)
  return summary
}
