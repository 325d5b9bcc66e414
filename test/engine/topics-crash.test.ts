/**
 * Crash atomicity of metadata operations: for every `crashPoint` the engine exposes, a child process
 * (`test/support/engine-child.ts crash`) performs the operation and SIGKILLs itself at that point. Reopened, the
 * directory holds either the old state or the new one, never a mix: topics with all their partitions (readable,
 * appendable) or none and no leftover directory; the old config or the new one; the old partition count or the
 * new one. Records of the other topics (written before the operation, also in the dying process) are intact, and
 * the engine opens a second time cleanly (no recovery, nothing left to finish) in the same state. Each point runs
 * twice: with the metadata store as the crash left it, and with `.seglog/meta` deleted after the crash (the
 * partition directories and their topic files alone must then give the old or the new state).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TEST_HOOKS } from '../../src/internal.js'
import { type EngineEvent, Seglog } from '../../src/main.js'
import { expectDerivedPartition } from '../support/derived.js'
import { appendDerived, startEngineChild, valueFor } from '../support/engine-child.js'
import { codeOf } from '../support/errors.js'
import { mulberry32 } from '../support/random.js'

/** Fixed seed for the record counts of the set-up; printed so a failure can be replayed. */
const SEED = 0xc4a5
const OLD_CONFIG = { retentionMs: 3_600_000, segmentBytes: 4096 }
/** What the child's alterTopicConfig sets (keep in sync with `engine-child.ts`). */
const NEW_CONFIG = { retentionMs: 7_200_000, segmentBytes: 8192 }
const VICTIM_PARTITIONS = 3
/** What the child's createPartitions grows `victim` to, and createTopic gives `fresh`. */
const GROWN_PARTITIONS = 6
const FRESH_PARTITIONS = 4

type Outcome = 'old' | 'new'

/**
 * Every crash point the engine calls, with the state the documented commit point (the metadata write) implies,
 * and the state when the whole metadata store is lost after the crash too (then only the directory names and
 * topic files say what happened: a commit the store took with it is undone unless a directory shows it).
 */
const POINTS: [string, Outcome, Outcome][] = [
  ['createTopic:before-commit', 'old', 'old'],
  ['createTopic:after-commit', 'new', 'old'],
  ['createTopic:after-rename', 'new', 'new'],
  ['deleteTopic:after-rename', 'old', 'old'],
  ['deleteTopic:before-commit', 'old', 'new'],
  ['deleteTopic:after-commit', 'new', 'new'],
  ['deleteTopic:after-partition', 'new', 'new'],
  ['alterTopicConfig:before-commit', 'old', 'old'],
  ['alterTopicConfig:after-commit', 'new', 'old'],
  ['alterTopicConfig:after-file', 'new', 'new'],
  ['createPartitions:before-commit', 'old', 'old'],
  ['createPartitions:after-commit', 'new', 'old'],
  ['createPartitions:after-rename', 'new', 'new'],
]

let dir: string
const engines: Seglog[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
})

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

async function open(events?: EngineEvent[]): Promise<Seglog> {
  const e = await Seglog.open(dir, events ? { onEvent: (ev) => events.push(ev) } : {})
  engines.push(e)
  return e
}

async function close(e: Seglog): Promise<void> {
  await e.close()
  engines.splice(engines.indexOf(e), 1)
}

/** Partition directories of `topic`, sorted by partition. */
function dirsOf(topic: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.startsWith(`${topic}-`) && /^\d+$/.test(n.slice(topic.length + 1)))
    .sort((a, b) => Number(a.slice(topic.length + 1)) - Number(b.slice(topic.length + 1)))
}

const expectedDirs = (topic: string, n: number) => Array.from({ length: n }, (_, p) => `${topic}-${p}`)

/** Every record of the partition, checked against what `appendDerived` writes; returns the log end offset. */
const checkDerived = expectDerivedPartition

/** Writes `keep` (2 partitions) and `victim` (3 partitions, several segments each) with derived records. */
async function setUp(rng: () => number): Promise<{ keep: number[]; victim: number[] }> {
  const e = await open()
  await e.createTopic('keep', { partitions: 2, config: { format: 'binary', segmentBytes: 4096 } })
  await e.createTopic('victim', { partitions: VICTIM_PARTITIONS, config: { format: 'binary', ...OLD_CONFIG } })
  const counts = { keep: [0, 0], victim: [0, 0, 0] }
  for (const topic of ['keep', 'victim'] as const) {
    for (let p = 0; p < counts[topic].length; p++) {
      const batches = 5 + Math.floor(rng() * 6)
      for (let b = 0; b < batches; b++) {
        const [, last] = await appendDerived(e, topic, p, 20 + Math.floor(rng() * 30), b % 2 === 0 ? -1 : 1)
        counts[topic][p] = last + 1
      }
    }
  }
  expect(e.describeTopic('victim').partitions.every((p) => p.segments > 1)).toBe(true)
  await close(e)
  return counts
}

/**
 * Checks the state the operation of `point` left, without changing anything: throws when it is neither the old
 * state nor the new one, and says which it is.
 */
async function stateAfter(
  e: Seglog,
  point: string,
  setUpCounts: { keep: number[]; victim: number[] },
  keepAcked: number[],
): Promise<Outcome> {
  // The bystander topic: everything from the set-up plus what the dying child acknowledged (acks -1 and 1).
  expect(e.describeTopic('keep').partitions.length).toBe(2)
  expect(dirsOf('keep')).toEqual(expectedDirs('keep', 2))
  for (let p = 0; p < 2; p++) {
    const end = await checkDerived(e, 'keep', p)
    expect(end).toBeGreaterThan(Math.max(setUpCounts.keep[p] - 1, keepAcked[p]))
  }
  expect(e.describeTopic('keep').config).toMatchObject({ format: 'binary', segmentBytes: 4096, partitions: 2 })
  const victimIntact = async (partitions: number): Promise<void> => {
    const d = e.describeTopic('victim')
    expect(d.partitions.map((p) => p.partition)).toEqual(Array.from({ length: partitions }, (_, p) => p))
    expect(d.config.partitions).toBe(partitions)
    expect(d.config.format).toBe('binary')
    if (!point.startsWith('alterTopicConfig')) expect(d.config).toMatchObject(OLD_CONFIG)
    expect(dirsOf('victim')).toEqual(expectedDirs('victim', partitions))
    for (let p = 0; p < VICTIM_PARTITIONS; p++) expect(await checkDerived(e, 'victim', p)).toBe(setUpCounts.victim[p])
    for (let p = VICTIM_PARTITIONS; p < partitions; p++) {
      expect(e.offsets('victim', p)).toEqual({ logStartOffset: 0, logEndOffset: 0 })
      expect(await e.read('victim', p, 0)).toEqual([])
    }
  }
  const op = point.slice(0, point.indexOf(':'))
  switch (op) {
    case 'createTopic': {
      await victimIntact(VICTIM_PARTITIONS)
      if (!e.listTopics().includes('fresh')) {
        expect(e.listTopics()).toEqual(['keep', 'victim'])
        expect(dirsOf('fresh')).toEqual([])
        expect(await codeOf(() => e.describeTopic('fresh'))).toBe('TOPIC_NOT_FOUND')
        return 'old'
      }
      const d = e.describeTopic('fresh')
      expect(d.config.format).toBe('binary')
      expect(d.partitions.length).toBe(FRESH_PARTITIONS)
      expect(dirsOf('fresh')).toEqual(expectedDirs('fresh', FRESH_PARTITIONS))
      for (let p = 0; p < FRESH_PARTITIONS; p++) await checkDerived(e, 'fresh', p)
      return 'new'
    }
    case 'deleteTopic': {
      if (!e.listTopics().includes('victim')) {
        expect(e.listTopics()).toEqual(['keep'])
        expect(dirsOf('victim')).toEqual([])
        expect(await codeOf(() => e.describeTopic('victim'))).toBe('TOPIC_NOT_FOUND')
        expect(await codeOf(() => e.read('victim', 0, 0))).toBe('TOPIC_NOT_FOUND')
        return 'new'
      }
      await victimIntact(VICTIM_PARTITIONS)
      return 'old'
    }
    case 'alterTopicConfig': {
      await victimIntact(VICTIM_PARTITIONS)
      const { config } = e.describeTopic('victim')
      const now = { retentionMs: config.retentionMs, segmentBytes: config.segmentBytes }
      expect([OLD_CONFIG, NEW_CONFIG]).toContainEqual(now)
      expect(config.format).toBe('binary')
      return now.retentionMs === OLD_CONFIG.retentionMs ? 'old' : 'new'
    }
    case 'createPartitions': {
      const n = e.describeTopic('victim').partitions.length
      expect([VICTIM_PARTITIONS, GROWN_PARTITIONS]).toContain(n)
      await victimIntact(n)
      return n === VICTIM_PARTITIONS ? 'old' : 'new'
    }
    default:
      throw new Error(`no check for ${point}`)
  }
}

/** Proves the state is usable: appends to every partition involved, and re-creates what is absent. */
async function useIt(e: Seglog, point: string, outcome: Outcome): Promise<void> {
  const appendEverywhere = async (topic: string): Promise<void> => {
    const n = e.describeTopic(topic).partitions.length
    for (let p = 0; p < n; p++) {
      const [first] = await appendDerived(e, topic, p, 2, -1)
      const recs = await e.read(topic, p, first)
      expect(recs.map((r) => r.offset)).toEqual([first, first + 1])
      expect((recs[1].value as Buffer).equals(valueFor(topic, p, first + 1))).toBe(true)
    }
  }
  await appendEverywhere('keep')
  const op = point.slice(0, point.indexOf(':'))
  if (op === 'createTopic') {
    if (outcome === 'old') await e.createTopic('fresh', { partitions: FRESH_PARTITIONS, config: { format: 'binary' } })
    await appendEverywhere('fresh')
  } else if (op === 'deleteTopic' && outcome === 'new') {
    // Nothing of the deleted topic comes back under its name.
    await e.createTopic('victim', { partitions: VICTIM_PARTITIONS, config: { format: 'binary' } })
    for (let p = 0; p < VICTIM_PARTITIONS; p++) expect(e.offsets('victim', p).logEndOffset).toBe(0)
    await appendEverywhere('victim')
  } else {
    await appendEverywhere('victim')
  }
  if (op === 'createPartitions' && outcome === 'old') {
    await e.createPartitions('victim', GROWN_PARTITIONS)
    await appendEverywhere('victim')
  }
}

describe('Seglog crash points of metadata operations', () => {
  it('exposes exactly the crash points this test covers', async () => {
    const seen = new Set<string>()
    const e = await Seglog.open(dir, { [TEST_HOOKS]: { crashPoint: (p) => seen.add(p) } })
    engines.push(e)
    await e.createTopic('a', { partitions: 2 })
    await e.alterTopicConfig('a', { retentionMs: 5000 })
    await e.createPartitions('a', 3)
    await e.deleteTopic('a')
    expect([...seen].sort()).toEqual(POINTS.map(([p]) => p).sort())
  })

  const cases = POINTS.flatMap(([point, kept, lost]) => [
    [point, kept, 'kept'],
    [point, lost, 'lost'],
  ]) as [string, Outcome, 'kept' | 'lost'][]

  it.each(cases)(
    'leaves the old state or the new one, never half, when killed at %s (expected: %s; metadata store %s)',
    async (point, expected, store) => {
      const seed = SEED + POINTS.findIndex(([p]) => p === point)
      console.log(`${point}: seed ${seed}`)
      const counts = await setUp(mulberry32(seed))

      const c = startEngineChild(['crash', dir, point])
      const exit = await c.exited
      expect(c.stderr()).toBe('')
      expect(c.lines).toContain(`crash ${point}`)
      expect(c.lines).not.toContain('survived')
      expect(exit.signal).toBe('SIGKILL')
      const keepAcked = [-1, -1]
      for (const line of c.lines) {
        const [word, topic, p, , last] = line.split(' ')
        if (word === 'ack' && topic === 'keep') keepAcked[Number(p)] = Number(last)
      }
      expect(keepAcked.every((o, p) => o >= counts.keep[p])).toBe(true)
      if (store === 'lost') fs.rmSync(path.join(dir, '.seglog', 'meta'), { recursive: true, force: true })

      const firstEvents: EngineEvent[] = []
      const first = await open(firstEvents)
      const outcome = await stateAfter(first, point, counts, keepAcked)
      expect(outcome).toBe(expected)
      // Whatever the first open finished belonged to the operation, never to the bystander.
      const finished = firstEvents.flatMap((ev) =>
        ev.type === 'interrupted-operations' ? [...ev.removed, ...ev.renamed.map((r) => r.from)] : [],
      )
      for (const name of finished) expect(name).toMatch(/^(fresh|victim)-\d+\.[0-9a-f]{32}-(create|delete)$/)
      const problems = firstEvents.filter((ev) => ev.type === 'unknown-dirs' || ev.type === 'partitions-missing')
      expect(problems).toEqual([])
      const restored = firstEvents.flatMap((ev) => (ev.type === 'topic-restored' ? [ev.topic] : []))
      if (store === 'kept') expect(restored).toEqual([])
      else expect(restored).toContain('keep')
      await close(first)

      const secondEvents: EngineEvent[] = []
      const second = await open(secondEvents)
      expect(secondEvents.filter((ev) => ev.type !== 'opened')).toEqual([])
      expect(await stateAfter(second, point, counts, keepAcked)).toBe(outcome)
      await useIt(second, point, outcome)
      await close(second)

      // After all that, one more open is clean too.
      const thirdEvents: EngineEvent[] = []
      const third = await open(thirdEvents)
      expect(thirdEvents.filter((ev) => ev.type !== 'opened')).toEqual([])
      expect(fs.readdirSync(dir).filter((n) => n !== '.seglog' && !/^(keep|victim|fresh)-\d+$/.test(n))).toEqual([])
      await close(third)
    },
  )
})
