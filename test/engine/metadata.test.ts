/**
 * The metadata store (`.seglog/meta`, a LevelDB) lost, partly restored or damaged: the partition directories
 * are the truth about which partitions exist, topic configs come back from the `topic.json` files beside the
 * data, a directory is only ever removed by an explicit deleteTopic, and a damaged store fails the open with
 * CORRUPT_LOG naming the file — never a crash of the process (the LevelDB binding aborts on some damaged
 * files, so those cases run in child processes: `test/support/meta-child.ts`).
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { type EngineEvent, Seglog } from '../../src/main.js'
import { expectDerivedPartition } from '../support/derived.js'
import { appendDerived, REPO_ROOT } from '../support/engine-child.js'
import type { ExpectedTopic, VerifyResult } from '../support/meta-child.js'
import { mulberry32 } from '../support/random.js'

const ALPHA_CONFIG = { format: 'binary', retentionMs: 3_600_000, segmentBytes: 4096 } as const
const BETA_CONFIG = { format: 'binary', retentionMs: -1, maxMessageBytes: 500_000 } as const

let dir: string
const engines: Seglog[] = []
const scratch: string[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-meta-'))
})

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

async function open(where = dir, events?: EngineEvent[]): Promise<Seglog> {
  const e = await Seglog.open(where, events ? { onEvent: (ev) => events.push(ev) } : {})
  engines.push(e)
  return e
}

async function close(e: Seglog): Promise<void> {
  engines.splice(engines.indexOf(e), 1)
  await e.close()
}

async function openError(where = dir): Promise<SeglogError> {
  try {
    const e = await Seglog.open(where)
    await e.close()
  } catch (err) {
    if (err instanceof SeglogError) return err
    throw err
  }
  throw new Error('open succeeded')
}

const metaDir = (where = dir) => path.join(where, '.seglog', 'meta')
const metaFiles = (where = dir) => fs.readdirSync(metaDir(where))
const partitionDirs = (where = dir) =>
  fs
    .readdirSync(where)
    .filter((n) => n !== '.seglog')
    .sort()

/** Two topics with derived records in several segments, and committed offsets; closed cleanly. */
async function buildBase(where = dir, seed = 0x5e6): Promise<Record<string, ExpectedTopic>> {
  const rng = mulberry32(seed)
  const e = await open(where)
  const { format: fa, ...alpha } = ALPHA_CONFIG
  const { format: fb, ...beta } = BETA_CONFIG
  await e.createTopic('alpha', { partitions: 3, config: { format: fa, ...alpha } })
  await e.createTopic('beta', { partitions: 2, config: { format: fb, ...beta } })
  const expected: Record<string, ExpectedTopic> = {
    alpha: { partitions: 3, config: { ...ALPHA_CONFIG, partitions: 3 }, records: [0, 0, 0] },
    beta: { partitions: 2, config: { ...BETA_CONFIG, partitions: 2 }, records: [0, 0] },
  }
  for (const [name, t] of Object.entries(expected)) {
    for (let p = 0; p < t.partitions; p++) {
      for (let b = 0; b < 4 + Math.floor(rng() * 4); b++) {
        const [, last] = await appendDerived(e, name, p, 10 + Math.floor(rng() * 30), -1)
        t.records[p] = last + 1
      }
    }
  }
  for (let i = 1; i <= 5; i++) {
    await e.offsetStore.commit('g', [
      { topic: 'alpha', partition: 0, offset: i },
      { topic: 'beta', partition: 1, offset: i * 2 },
    ])
  }
  await close(e)
  return expected
}

async function expectIntact(e: Seglog, expected: Record<string, ExpectedTopic>): Promise<void> {
  for (const [name, want] of Object.entries(expected)) {
    const d = e.describeTopic(name)
    expect(d.config).toMatchObject(want.config)
    expect(d.partitions.length).toBe(want.partitions)
    for (let p = 0; p < want.partitions; p++) expect(await expectDerivedPartition(e, name, p)).toBe(want.records[p])
  }
}

/** Every file under `root` with its bytes, for "nothing changed" checks. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string): void => {
    for (const n of fs.readdirSync(d)) {
      const full = path.join(d, n)
      // The lock store holds no data and LevelDB rewrites it at every open; LOG files are LevelDB's diagnostics.
      if (n === 'lock' || n === 'LOCK' || n === 'LOG' || n === 'LOG.old' || n === 'owner.json') continue
      if (fs.statSync(full).isDirectory()) walk(full)
      else out.set(path.relative(root, full), fs.readFileSync(full).toString('base64'))
    }
  }
  walk(root)
  return out
}

function only<T extends EngineEvent['type']>(events: EngineEvent[], type: T): Extract<EngineEvent, { type: T }>[] {
  return events.filter((ev) => ev.type === type) as Extract<EngineEvent, { type: T }>[]
}

// ---- child processes ----

interface ChildRun {
  code: number | null
  signal: NodeJS.Signals | null
  lines: string[]
  stderr: string
}

function runChild(args: string[], timeoutMs = 120_000): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'test/support/meta-child.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
    proc.on('error', reject)
    proc.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, lines: stdout.split('\n').filter((l) => l !== ''), stderr })
    })
  })
}

/** The table file of the store (after a clean close everything is in one). */
function tableFile(where = dir): string {
  const tables = metaFiles(where).filter((n) => n.endsWith('.ldb'))
  expect(tables.length).toBeGreaterThan(0)
  return path.join(metaDir(where), tables.sort().at(-1) as string)
}

describe('Seglog with a lost metadata store', () => {
  it('keeps every topic, its config and every record when the metadata log is deleted after a clean close', async () => {
    const expected = await buildBase()
    const dirsBefore = partitionDirs()
    for (const n of metaFiles()) if (n.endsWith('.log')) fs.rmSync(path.join(metaDir(), n))
    const e = await open()
    expect(e.listTopics()).toEqual(['alpha', 'beta'])
    expect(partitionDirs()).toEqual(dirsBefore)
    await expectIntact(e, expected)
    // A clean close leaves nothing in the log: even the committed offsets survive.
    expect((await e.fetchOffsets('g')).map((o) => o.offset).sort()).toEqual([10, 5])
  })

  it('keeps every topic, its config and every record when the metadata log and CURRENT are deleted', async () => {
    const expected = await buildBase()
    const dirsBefore = partitionDirs()
    for (const n of metaFiles()) if (n.endsWith('.log') || n === 'CURRENT') fs.rmSync(path.join(metaDir(), n))
    const events: EngineEvent[] = []
    const e = await open(dir, events)
    expect(e.listTopics()).toEqual(['alpha', 'beta'])
    expect(partitionDirs()).toEqual(dirsBefore)
    await expectIntact(e, expected)
    const repaired = only(events, 'metadata-repaired')
    expect(repaired.map((ev) => path.basename(ev.path)).sort()).toEqual([expect.stringMatching(/\.log$/), 'CURRENT'])
    await close(e)
    const again: EngineEvent[] = []
    await expectIntact(await open(dir, again), expected)
    expect(only(again, 'metadata-repaired')).toEqual([])
  })

  it('rebuilds every topic from its partition directories when the whole metadata store is deleted', async () => {
    const expected = await buildBase()
    const dirsBefore = partitionDirs()
    fs.rmSync(metaDir(), { recursive: true })
    const events: EngineEvent[] = []
    const e = await open(dir, events)
    expect(e.listTopics()).toEqual(['alpha', 'beta'])
    expect(partitionDirs()).toEqual(dirsBefore)
    await expectIntact(e, expected)
    expect(only(events, 'topic-restored').map((ev) => [ev.topic, ev.partitions])).toEqual([
      ['alpha', 3],
      ['beta', 2],
    ])
    // Committed offsets live only in the store.
    expect(await e.fetchOffsets('g')).toEqual([])
    await close(e)
    const again: EngineEvent[] = []
    await expectIntact(await open(dir, again), expected)
    expect(again.filter((ev) => ev.type !== 'opened')).toEqual([])
  })

  it('comes back with the newer config when an older copy of the metadata store is put back', async () => {
    const expected = await buildBase()
    const old = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-meta-copy-'))
    scratch.push(old)
    fs.cpSync(metaDir(), old, { recursive: true })
    let e = await open()
    await e.alterTopicConfig('alpha', { retentionMs: 7_200_000 })
    await e.createPartitions('beta', 4)
    await close(e)
    fs.rmSync(metaDir(), { recursive: true })
    fs.cpSync(old, metaDir(), { recursive: true })
    const events: EngineEvent[] = []
    e = await open(dir, events)
    expect(e.describeTopic('alpha').config.retentionMs).toBe(7_200_000)
    expect(e.describeTopic('beta').partitions.length).toBe(4)
    expect(only(events, 'topic-restored').map((ev) => ev.topic)).toEqual(['alpha', 'beta'])
    await expectIntact(e, {
      alpha: { ...expected.alpha, config: { ...expected.alpha.config, retentionMs: 7_200_000 } },
      beta: {
        ...expected.beta,
        partitions: 4,
        config: { ...expected.beta.config, partitions: 4 },
        records: [...expected.beta.records, 0, 0],
      },
    })
  })

  it('rebuilds a topic from its sound topic files only: a flipped digit in one is caught by its checksum', async () => {
    const expected = await buildBase()
    fs.rmSync(metaDir(), { recursive: true })
    // 3600000 → 3600008: still valid JSON and in range, so only the checksum can tell.
    for (const p of [0, 1]) {
      const file = path.join(dir, `alpha-${p}`, 'topic.json')
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"retentionMs":3600000', '"retentionMs":3600008'))
    }
    const beta = path.join(dir, 'beta-0', 'topic.json')
    fs.writeFileSync(beta, fs.readFileSync(beta, 'utf8').replace('"partitions":2', '"partitions":7'))
    let events: EngineEvent[] = []
    let e = await open(dir, events)
    await expectIntact(e, expected)
    expect(events.filter((ev) => ev.type === 'unknown-dirs' || ev.type === 'partitions-missing')).toEqual([])
    await close(e)
    // Every topic file of a topic damaged, and its record gone: kept and reported, not guessed.
    fs.rmSync(metaDir(), { recursive: true })
    for (const p of [0, 1]) fs.writeFileSync(path.join(dir, `beta-${p}`, 'topic.json'), '{"version":1,"crc":1}')
    events = []
    e = await open(dir, events)
    expect(e.listTopics()).toEqual(['alpha'])
    expect(only(events, 'unknown-dirs').flatMap((ev) => ev.dirs.map((d) => d.name))).toEqual(['beta-0', 'beta-1'])
    expect(partitionDirs()).toEqual(['alpha-0', 'alpha-1', 'alpha-2', 'beta-0', 'beta-1'])
  })

  it('keeps and reports partition directories the metadata does not know, and never removes them', async () => {
    const expected = await buildBase()
    // A copied-in partition without its topic file, and one past a known topic's partition count.
    fs.cpSync(path.join(dir, 'alpha-0'), path.join(dir, 'stray-0'), { recursive: true })
    fs.rmSync(path.join(dir, 'stray-0', 'topic.json'))
    fs.cpSync(path.join(dir, 'beta-1'), path.join(dir, 'beta-5'), { recursive: true })
    const stray = snapshot(path.join(dir, 'stray-0'))
    for (let round = 0; round < 2; round++) {
      const events: EngineEvent[] = []
      const e = await open(dir, events)
      expect(e.listTopics()).toEqual(['alpha', 'beta'])
      await expectIntact(e, expected)
      const unknown = only(events, 'unknown-dirs').flatMap((ev) => ev.dirs)
      expect(unknown.map((d) => d.name)).toEqual(['beta-5', 'stray-0'])
      expect(unknown[0].reason).toContain('2 partitions')
      await close(e)
      expect(snapshot(path.join(dir, 'stray-0'))).toEqual(stray)
      expect(fs.existsSync(path.join(dir, 'beta-5'))).toBe(true)
    }
  })

  it('adopts the records of a kept directory when a topic of that name is created', async () => {
    const expected = await buildBase()
    fs.cpSync(path.join(dir, 'alpha-0'), path.join(dir, 'stray-0'), { recursive: true })
    fs.rmSync(path.join(dir, 'stray-0', 'topic.json'))
    let e = await open()
    await e.createTopic('stray', { partitions: 2, config: { format: 'binary' } })
    expect(e.offsets('stray', 0).logEndOffset).toBe(expected.alpha.records[0])
    expect(e.offsets('stray', 1).logEndOffset).toBe(0)
    await close(e)
    const events: EngineEvent[] = []
    e = await open(dir, events)
    expect(events.filter((ev) => ev.type !== 'opened')).toEqual([])
    const recs = await e.read('stray', 0, 0, { maxRecords: 3 })
    expect(recs.map((r) => r.offset)).toEqual([0, 1, 2])
  })

  it('deletes a topic with its directories and committed offsets; a re-created topic starts empty', async () => {
    await buildBase()
    let e = await open()
    await e.deleteTopic('alpha')
    expect(partitionDirs()).toEqual(['beta-0', 'beta-1'])
    expect((await e.fetchOffsets('g')).map((o) => o.topic)).toEqual(['beta'])
    await close(e)
    const events: EngineEvent[] = []
    e = await open(dir, events)
    expect(e.listTopics()).toEqual(['beta'])
    expect(events.filter((ev) => ev.type !== 'opened')).toEqual([])
    await e.createTopic('alpha', { partitions: 3, config: { format: 'binary' } })
    for (let p = 0; p < 3; p++) expect(e.offsets('alpha', p)).toEqual({ logStartOffset: 0, logEndOffset: 0 })
    expect((await e.fetchOffsets('g')).map((o) => o.topic)).toEqual(['beta'])
  })

  it('writes a topic file beside the data of every partition, following every config change', async () => {
    await buildBase()
    const e = await open()
    await e.alterTopicConfig('beta', { retentionMs: 5000 })
    await e.createPartitions('beta', 3)
    const files = [0, 1, 2].map((p) => JSON.parse(fs.readFileSync(path.join(dir, `beta-${p}`, 'topic.json'), 'utf8')))
    for (const [p, f] of files.entries()) {
      expect(f).toMatchObject({ version: 1, partition: p, name: 'beta', partitions: 3, format: 'binary' })
      expect(f.overrides).toEqual({ retentionMs: 5000, maxMessageBytes: 500_000 })
      expect(f.id).toMatch(/^[0-9a-f]{32}$/)
      expect(Number.isInteger(f.crc)).toBe(true)
    }
    expect(new Set(files.map((f) => `${f.id}/${f.epoch}`)).size).toBe(1)
  })
})

describe('Seglog with a damaged metadata store', () => {
  it('fails the open with CORRUPT_LOG naming a damaged table file, changes nothing, and opens once it is gone', async () => {
    const expected = await buildBase()
    const table = tableFile()
    const buf = fs.readFileSync(table)
    buf[40] ^= 0x04
    fs.writeFileSync(table, buf)
    const before = snapshot(dir)
    const err = await openError()
    expect(err.code).toBe('CORRUPT_LOG')
    expect(err.path).toBe(fs.realpathSync(table))
    expect(snapshot(dir)).toEqual(before)
    // What the message tells the user to do: remove the damaged file; topics come back from their topic files.
    fs.rmSync(table)
    const events: EngineEvent[] = []
    const e = await open(dir, events)
    await expectIntact(e, expected)
    expect(only(events, 'metadata-repaired').length).toBe(1)
    expect(only(events, 'topic-restored').map((ev) => ev.topic)).toEqual(['alpha', 'beta'])
  })

  it('repairs a garbled CURRENT by naming the sound MANIFEST, and reports it', async () => {
    const expected = await buildBase()
    fs.writeFileSync(path.join(metaDir(), 'CURRENT'), 'MANIF\n')
    const events: EngineEvent[] = []
    const e = await open(dir, events)
    await expectIntact(e, expected)
    expect((await e.fetchOffsets('g')).length).toBe(2)
    expect(only(events, 'metadata-repaired').map((ev) => path.basename(ev.path))).toEqual(['CURRENT'])
    expect(only(events, 'topic-restored')).toEqual([])
  })

  it('fails the open with CORRUPT_LOG naming CURRENT when it is garbled and no MANIFEST is sound', async () => {
    await buildBase()
    fs.writeFileSync(path.join(metaDir(), 'CURRENT'), 'MANIF\n')
    const manifest = path.join(metaDir(), metaFiles().find((n) => n.startsWith('MANIFEST-')) as string)
    const buf = fs.readFileSync(manifest)
    buf[10] ^= 0xff
    fs.writeFileSync(manifest, buf)
    const before = snapshot(dir)
    const err = await openError()
    expect(err.code).toBe('CORRUPT_LOG')
    expect(err.path).toBe(path.join(fs.realpathSync(metaDir()), 'CURRENT'))
    expect(snapshot(dir)).toEqual(before)
  })

  it('recreates a damaged ownership lock store (it holds no data) and reports it', async () => {
    const expected = await buildBase()
    const lockDir = path.join(dir, '.seglog', 'lock')
    fs.writeFileSync(path.join(lockDir, 'CURRENT'), 'garbage')
    const events: EngineEvent[] = []
    const e = await open(dir, events)
    await expectIntact(e, expected)
    expect(only(events, 'metadata-repaired').map((ev) => ev.path)).toEqual([fs.realpathSync(lockDir)])
    // Still the ownership lock: a second open is refused.
    expect((await openError()).code).toBe('ENGINE_LOCKED')
  })

  it('fails the open with CORRUPT_LOG naming a garbled MANIFEST', async () => {
    await buildBase()
    const manifest = path.join(metaDir(), metaFiles().find((n) => n.startsWith('MANIFEST-')) as string)
    const buf = fs.readFileSync(manifest)
    buf[10] ^= 0xff
    fs.writeFileSync(manifest, buf)
    const err = await openError()
    expect(err.code).toBe('CORRUPT_LOG')
    expect(err.path).toBe(fs.realpathSync(manifest))
  })

  /** A store whose write-ahead log holds writes: the writer was killed before it could close. */
  async function crashedBase(): Promise<{ expected: Record<string, ExpectedTopic>; log: string }> {
    const expected = await buildBase()
    const run = await runChild(['crash-after-writes', dir])
    expect(run.lines).toEqual(['done'])
    expect(run.signal).toBe('SIGKILL')
    const logs = metaFiles().filter((n) => n.endsWith('.log'))
    const log = path.join(metaDir(), logs.sort().at(-1) as string)
    expect(fs.statSync(log).size).toBeGreaterThan(1000)
    return { expected, log }
  }

  it('fails the open with CORRUPT_LOG naming the metadata log when a record before its end is damaged', async () => {
    const { log } = await crashedBase()
    const buf = fs.readFileSync(log)
    buf[20] ^= 0x01
    fs.writeFileSync(log, buf)
    const before = snapshot(dir)
    const err = await openError()
    expect(err.code).toBe('CORRUPT_LOG')
    expect(err.path).toBe(fs.realpathSync(log))
    expect(snapshot(dir)).toEqual(before)
  })

  it('cuts a torn last record of the metadata log, reports it, and keeps everything before it', async () => {
    const { expected, log } = await crashedBase()
    fs.truncateSync(log, fs.statSync(log).size - 3)
    const logPath = fs.realpathSync(log)
    const events: EngineEvent[] = []
    const e = await open(dir, events)
    await expectIntact(e, expected)
    expect(e.listTopics()).toEqual(['alpha', 'beta', 'gamma'])
    const repaired = only(events, 'metadata-repaired')
    expect(repaired.map((ev) => ev.path)).toEqual([logPath])
    expect(repaired[0].reason).toContain('cut')
    // The cut record was the last write (gamma's creation, restored from its directory); earlier commits stay.
    expect((await e.fetchOffsets('late')).map((o) => o.offset)).toEqual([20, 20])
  })

  it('answers a stored value that is not a topic record or an offset with CORRUPT_LOG', async () => {
    await buildBase()
    const db = new Level<string, string>(metaDir(), { valueEncoding: 'utf8' })
    await db.put('offset:g\0alpha\x000000000001', '{"offset":"x"}')
    await db.close()
    const e = await open()
    const err = await e.fetchOffsets('g').catch((x: unknown) => x)
    expect((err as SeglogError).code).toBe('CORRUPT_LOG')
    await close(e)
    const db2 = new Level<string, string>(metaDir(), { valueEncoding: 'utf8' })
    await db2.put('topic:alpha', '{"name":"alpha"')
    await db2.close()
    expect((await openError()).code).toBe('CORRUPT_LOG')
  })

  /**
   * One bit of the first entry's key length in a table: the smallest key ('group:g', 7 + 8 bytes) becomes 7 bytes
   * long, and LevelDB asserts that an internal key has at least 8. In a table written by this engine (raw
   * blocks) the length is byte 1; in one written with snappy-compressed blocks (as before), byte 4, inside the
   * first snappy literal (`147 2` = 275 bytes uncompressed, `48` = a 13-byte literal).
   */
  const ABORTING_DAMAGE = {
    'written by this engine': { build: () => buildBase(), at: 1, before: [0, 15] },
    'with snappy-compressed tables, as written before': {
      build: () => legacyStore(),
      at: 4,
      before: [147, 2, 48, 0, 15],
    },
  }

  it.each(Object.keys(ABORTING_DAMAGE))(
    'does not let a table the LevelDB binding aborts on kill the process (a store %s): the open fails with CORRUPT_LOG',
    async (kind) => {
      const { build, at, before } = ABORTING_DAMAGE[kind as keyof typeof ABORTING_DAMAGE]
      await build()
      const table = tableFile()
      const buf = fs.readFileSync(table)
      expect([...buf.subarray(0, before.length)]).toEqual(before)
      buf[at] ^= 0x08
      fs.writeFileSync(table, buf)
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-meta-raw-'))
      scratch.push(copy)
      fs.cpSync(metaDir(), copy, { recursive: true })
      const raw = await runChild(['raw', copy])
      expect(raw.signal).toBe('SIGABRT')
      expect(raw.stderr).toContain('internal_key.size() >= 8')

      const dirs = partitionDirs()
      const opened = await runChild(['open', dir])
      expect(opened.signal).toBe(null)
      expect(opened.code).toBe(0)
      expect(opened.lines).toEqual([`open error CORRUPT_LOG ${fs.realpathSync(table)}`])
      expect(partitionDirs()).toEqual(dirs)
    },
  )

  it('opens a store written before topic ids and topic files existed, and gives every partition its topic file', async () => {
    await legacyStore()
    fs.mkdirSync(path.join(dir, 'alpha-0'))
    const events: EngineEvent[] = []
    const e = await open(dir, events)
    expect(e.listTopics()).toEqual(['alpha'])
    expect(events.filter((ev) => ev.type !== 'opened')).toEqual([])
    expect((await e.fetchOffsets('g')).map((o) => o.offset)).toEqual([1])
    const file = JSON.parse(fs.readFileSync(path.join(dir, 'alpha-0', 'topic.json'), 'utf8'))
    expect(file).toMatchObject({ name: 'alpha', partition: 0, partitions: 1, format: 'binary', createdAt: 1.7e12 })
    await close(e)
    fs.rmSync(metaDir(), { recursive: true })
    expect((await open()).listTopics()).toEqual(['alpha'])
  })
})

/**
 * A metadata store as an earlier seglog wrote it: records without id or epoch, LevelDB's default snappy
 * compression, the data in a table (a reopen turns the log into one). Fixed content, so the bytes are too.
 */
async function legacyStore(): Promise<void> {
  let db = new Level<string, string>(metaDir(), { valueEncoding: 'utf8' })
  await db.open()
  const record = { name: 'alpha', partitions: 1, format: 'binary', overrides: {}, createdAt: 1_700_000_000_000 }
  await db.put('topic:alpha', JSON.stringify(record), { sync: true })
  await db.batch(
    [
      { type: 'put', key: 'group:g', value: JSON.stringify({ groupId: 'g', createdAt: 1_700_000_000_000 }) },
      {
        type: 'put',
        key: 'offset:g\0alpha\x000000000000',
        value: JSON.stringify({ offset: 1, metadata: null, commitTimestamp: 1_700_000_000_000 }),
      },
    ],
    { sync: true },
  )
  await db.close()
  db = new Level<string, string>(metaDir(), { valueEncoding: 'utf8' })
  await db.open()
  await db.close()
}

// ---- fuzz ----

const FUZZ_SEED = Number(process.env.SEGLOG_META_FUZZ_SEED ?? 0x3e7a)
const FUZZ_CASES = Number(process.env.SEGLOG_META_FUZZ_CASES ?? 200)
// SEGLOG_META_FUZZ_REPORT=<file> writes every case (damage, outcome, error path) as JSON.

type Mutation = (rng: () => number, files: string[]) => string

const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]

const MUTATIONS: Mutation[] = [
  (rng, files) => {
    const f = pick(rng, files)
    const buf = fs.readFileSync(f)
    if (buf.length === 0) return `flip (empty ${path.basename(f)})`
    const n = 1 + Math.floor(rng() * 4)
    const at: number[] = []
    for (let i = 0; i < n; i++) {
      const pos = Math.floor(rng() * buf.length)
      buf[pos] ^= 1 << Math.floor(rng() * 8)
      at.push(pos)
    }
    fs.writeFileSync(f, buf)
    return `flip ${path.basename(f)} @${at.join(',')}`
  },
  (rng, files) => {
    const f = pick(rng, files)
    const len = Math.floor(rng() * fs.statSync(f).size)
    fs.truncateSync(f, len)
    return `truncate ${path.basename(f)} to ${len}`
  },
  (rng, files) => {
    const f = pick(rng, files)
    const buf = fs.readFileSync(f)
    const at = Math.floor(rng() * Math.max(1, buf.length))
    const len = 1 + Math.floor(rng() * 64)
    const junk = Buffer.from(Array.from({ length: len }, () => Math.floor(rng() * 256)))
    const zero = rng() < 0.3
    const out = Buffer.concat([buf.subarray(0, at), zero ? Buffer.alloc(len) : junk, buf.subarray(at + len)])
    fs.writeFileSync(f, out)
    return `${zero ? 'zero' : 'garble'} ${path.basename(f)} @${at}+${len}`
  },
  (rng, files) => {
    const f = pick(rng, files)
    fs.rmSync(f)
    return `delete ${path.basename(f)}`
  },
  (rng, files) => {
    const f = pick(rng, files)
    fs.appendFileSync(
      f,
      Buffer.from(Array.from({ length: 1 + Math.floor(rng() * 200) }, () => Math.floor(rng() * 256))),
    )
    return `append to ${path.basename(f)}`
  },
  (rng, files) => {
    const a = pick(rng, files)
    const same = files.filter((f) => path.dirname(f) === path.dirname(a) && f !== a)
    if (same.length === 0) return 'swap (alone)'
    const b = pick(rng, same)
    const [ba, bb] = [fs.readFileSync(a), fs.readFileSync(b)]
    fs.writeFileSync(a, bb)
    fs.writeFileSync(b, ba)
    return `swap ${path.basename(a)} ${path.basename(b)}`
  },
]

function storeFiles(where: string): string[] {
  const out: string[] = []
  for (const sub of ['meta', 'lock']) {
    const d = path.join(where, '.seglog', sub)
    if (!fs.existsSync(d)) continue
    for (const n of fs.readdirSync(d)) if (fs.statSync(path.join(d, n)).isFile()) out.push(path.join(d, n))
  }
  return out
}

describe('Seglog metadata damage fuzz', () => {
  it(`opens every directory with a damaged metadata store with all data intact (or kept and reported), or fails with CORRUPT_LOG; never crashes (seed ${FUZZ_SEED}, ${FUZZ_CASES} cases)`, async () => {
    console.log(`metadata fuzz: seed ${FUZZ_SEED}, ${FUZZ_CASES} cases (SEGLOG_META_FUZZ_SEED / _CASES to change)`)
    const rng = mulberry32(FUZZ_SEED)
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-meta-fuzz-'))
    scratch.push(work)
    const clean = path.join(work, 'base-clean')
    const expectedClean = await buildBase(clean, FUZZ_SEED)
    const crashed = path.join(work, 'base-crashed')
    fs.cpSync(clean, crashed, { recursive: true })
    const run = await runChild(['crash-after-writes', crashed])
    expect(run.signal).toBe('SIGKILL')
    const expectedCrashed = { ...expectedClean, gamma: { partitions: 1, config: { format: 'binary' }, records: [0] } }

    const cases: { dir: string; base: 'clean' | 'crashed'; what: string[] }[] = []
    for (let i = 0; i < FUZZ_CASES; i++) {
      const base = rng() < 0.5 ? 'clean' : 'crashed'
      const caseDir = path.join(work, `case-${i}`)
      fs.cpSync(base === 'clean' ? clean : crashed, caseDir, { recursive: true })
      const what: string[] = []
      for (let m = 0, n = 1 + Math.floor(rng() * 3); m < n; m++) {
        const files = storeFiles(caseDir)
        // Mostly the store itself; sometimes the topic files beside the data too.
        if (rng() < 0.15) {
          const t = fs
            .readdirSync(caseDir)
            .filter((d) => d !== '.seglog')
            .map((d) => path.join(caseDir, d, 'topic.json'))
          files.push(...t.filter((f) => fs.existsSync(f)))
        }
        if (files.length === 0) break
        what.push(pick(rng, MUTATIONS)(rng, files))
      }
      cases.push({ dir: caseDir, base, what })
    }
    const results: VerifyResult[] = []
    for (const base of ['clean', 'crashed'] as const) {
      const mine = cases.filter((c) => c.base === base)
      const planFile = path.join(work, `plan-${base}.json`)
      const topics = base === 'clean' ? expectedClean : expectedCrashed
      fs.writeFileSync(planFile, JSON.stringify({ topics, cases: mine.map((c) => c.dir) }))
      const child = await runChild(['verify', planFile], 600_000)
      const got = child.lines.map((l) => JSON.parse(l) as VerifyResult)
      const dying = mine[got.length]
      expect(
        child.signal,
        `child died on ${dying?.dir} (${dying?.what.join('; ')}): ${child.stderr.slice(0, 500)}`,
      ).toBe(null)
      expect(child.code, child.stderr.slice(0, 500)).toBe(0)
      expect(got.length).toBe(mine.length)
      results.push(...got)
    }
    const tally = { intact: 0, kept: 0, corrupt: 0 }
    const failures: string[] = []
    for (const r of results) {
      const c = cases.find((x) => x.dir === r.dir)
      const label = `${path.basename(r.dir)} (${c?.base}: ${c?.what.join('; ')})`
      if (r.problem !== null) failures.push(`${label}: ${r.problem}`)
      else if (r.outcome === 'error' && r.code !== 'CORRUPT_LOG') failures.push(`${label}: ${r.code}`)
      else if (r.outcome === 'error' && !r.path?.includes(`${path.sep}.seglog${path.sep}`)) {
        failures.push(`${label}: CORRUPT_LOG names ${r.path}`)
      } else tally[r.outcome === 'error' ? 'corrupt' : r.outcome]++
      // Whatever happened, no partition directory was removed.
      const topics = c?.base === 'clean' ? expectedClean : expectedCrashed
      for (const [t, want] of Object.entries(topics)) {
        for (let p = 0; p < want.partitions; p++) {
          if (!fs.existsSync(path.join(r.dir, `${t}-${p}`))) failures.push(`${label}: ${t}-${p} removed`)
        }
      }
    }
    if (process.env.SEGLOG_META_FUZZ_REPORT) {
      const report = results.map((r) => ({ ...r, what: cases.find((c) => c.dir === r.dir)?.what }))
      fs.writeFileSync(process.env.SEGLOG_META_FUZZ_REPORT, JSON.stringify(report, null, 1))
    }
    expect(failures).toEqual([])
    console.log(`metadata fuzz: ${tally.intact} intact, ${tally.kept} kept and reported, ${tally.corrupt} CORRUPT_LOG`)
  }, 900_000)
})
