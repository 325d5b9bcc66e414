/**
 * A read-only open beside an owner in another process (test/support/engine-child.ts): live streams follow the
 * owner's `acks: -1` appends across segment rolls, every acknowledged record arrives in order and nothing the owner
 * did not write does (record content is a function of its offset); the owner's files, `.seglog/` included, are
 * unchanged byte for byte and mtime by everything the reader does; a SIGKILLed owner leaves the reader working, and
 * a new owner opens (and appends, which the reader follows) while the reader stays open.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog, type SeglogRecord } from '../../src/main.js'
import { snapshotDir } from '../support/dir-snapshot.js'
import {
  ACKED_PARTITIONS,
  ACKED_TOPIC,
  appendDerived,
  CHURN_TOPIC,
  churnKey,
  type EngineChild,
  keyFor,
  killChildren,
  startEngineChild,
  valueFor,
} from '../support/engine-child.js'

let dir: string
const children: EngineChild[] = []
const logs: Seglog[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-ro-live-'))
})
afterEach(async () => {
  await killChildren(children)
  for (const log of logs.splice(0)) await log.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

function child(args: string[]): EngineChild {
  const c = startEngineChild(args)
  children.push(c)
  return c
}

async function readOnly(): Promise<Seglog> {
  const log = await Seglog.open(dir, { readOnly: true })
  logs.push(log)
  return log
}

/** The highest acknowledged offset per partition, from the child's `ack <p> <first> <last>` lines. */
function acked(c: EngineChild): number[] {
  const max = Array.from({ length: ACKED_PARTITIONS }, () => -1)
  for (const line of c.lines) {
    const m = /^ack (\d+) (\d+) (\d+)$/.exec(line)
    if (m !== null) max[Number(m[1])] = Math.max(max[Number(m[1])], Number(m[3]))
  }
  return max
}

/**
 * Live streams of every partition of the acked topic from the start. Each record must be the next offset with the
 * content the owner writes there; a violation is kept in `problems` (the stream goes on, so the test shows it).
 */
function follow(r: Seglog) {
  const ac = new AbortController()
  const next = Array.from({ length: ACKED_PARTITIONS }, () => 0)
  const problems: string[] = []
  const check = (p: number, rec: SeglogRecord): void => {
    if (rec.offset !== next[p]) problems.push(`partition ${p}: offset ${rec.offset}, expected ${next[p]}`)
    const value = valueFor(ACKED_TOPIC, p, rec.offset)
    if (!Buffer.isBuffer(rec.value) || !rec.value.equals(value) || rec.key?.toString() !== keyFor(p, rec.offset)) {
      problems.push(`partition ${p}: offset ${rec.offset} holds a record the owner did not write there`)
    }
    next[p] = rec.offset + 1
  }
  const done = Array.from({ length: ACKED_PARTITIONS }, async (_, p) => {
    try {
      for await (const rec of r.stream(ACKED_TOPIC, p, { live: true, signal: ac.signal })) check(p, rec)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ABORTED') problems.push(`partition ${p}: ${String(err)}`)
    }
  })
  return {
    next,
    problems,
    async stop() {
      ac.abort()
      await Promise.all(done)
    },
  }
}

async function until(cond: () => boolean, what: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('a read-only open beside an owner in another process', () => {
  it('streams every acknowledged acks -1 record in order, across rolls, and nothing the owner did not write', async () => {
    const owner = child(['append', dir, '11'])
    await owner.waitForLine((l) => l === 'ready')
    const r = await readOnly()
    const f = follow(r)
    // Let the owner append (and roll its 32 KiB segments) while the reader follows.
    await until(
      () => acked(owner).every((a) => a >= 400),
      () => `acks ${acked(owner)}`,
      60_000,
    )
    owner.proc.kill('SIGKILL')
    await owner.exited
    const last = acked(owner)
    await until(
      () => f.next.every((n, p) => n > last[p]),
      () => `the streams at ${f.next}, acknowledged ${last}`,
    )
    await f.stop()
    expect(f.problems).toEqual([])
    expect(r.describeTopic(ACKED_TOPIC).partitions.every((p) => p.segments > 1)).toBe(true)
    // Nothing beyond what the owner wrote: its successor's recovery keeps at least everything the reader saw.
    const successor = await Seglog.open(dir)
    logs.push(successor)
    for (let p = 0; p < ACKED_PARTITIONS; p++) {
      expect(successor.offsets(ACKED_TOPIC, p).logEndOffset).toBeGreaterThanOrEqual(f.next[p])
    }
  }, 120_000)

  it('keeps working after the owner is SIGKILLed, lets a new owner open meanwhile, and follows the new owner', async () => {
    const owner = child(['append', dir, '5'])
    await owner.waitForLine((l) => l === 'ready')
    const r = await readOnly()
    const f = follow(r)
    await until(
      () => acked(owner).every((a) => a >= 50),
      () => `acks ${acked(owner)}`,
      60_000,
    )
    owner.proc.kill('SIGKILL')
    await owner.exited
    const last = acked(owner)
    await until(
      () => f.next.every((n, p) => n > last[p]),
      () => `the streams at ${f.next}, acknowledged ${last}`,
    )
    // The reader still reads, and a new owner opens while it stays open.
    const first = await r.read(ACKED_TOPIC, 0, 0, { maxRecords: 3 })
    expect(first.map((x) => x.offset)).toEqual([0, 1, 2])
    const successor = await Seglog.open(dir)
    logs.push(successor)
    const ends: number[] = []
    for (let p = 0; p < ACKED_PARTITIONS; p++) {
      const [, end] = await appendDerived(successor, ACKED_TOPIC, p, 30, -1)
      ends.push(end)
    }
    await until(
      () => f.next.every((n, p) => n > ends[p]),
      () => `the streams at ${f.next}, the new owner's last offsets ${ends}`,
    )
    await f.stop()
    expect(f.problems).toEqual([])
    for (let p = 0; p < ACKED_PARTITIONS; p++)
      expect(r.offsets(ACKED_TOPIC, p)).toEqual(successor.offsets(ACKED_TOPIC, p))
  }, 120_000)

  it('changes no byte, name or mtime of a directory another process owns, .seglog included', async () => {
    const setup = await Seglog.open(dir)
    await setup.createTopic(ACKED_TOPIC, {
      partitions: ACKED_PARTITIONS,
      config: { format: 'binary', segmentBytes: 4096, indexIntervalBytes: 512 },
    })
    for (let p = 0; p < ACKED_PARTITIONS; p++)
      for (let i = 0; i < 10; i++) await appendDerived(setup, ACKED_TOPIC, p, 8)
    await setup.offsetStore.commit('g', [{ topic: ACKED_TOPIC, partition: 1, offset: 33 }])
    await setup.close()
    const owner = child(['hold', dir])
    const ready = await owner.waitForLine((l) => l.startsWith('ready'))
    const before = snapshotDir(dir)
    expect(Object.keys(before)).toContain(path.join('.seglog', 'owner.json'))
    expect(JSON.parse(fs.readFileSync(path.join(dir, '.seglog', 'owner.json'), 'utf8')).pid).toBe(
      Number(ready.split(' ')[1]),
    )

    const r = await readOnly()
    expect(r.listTopics()).toEqual([ACKED_TOPIC])
    for (let p = 0; p < ACKED_PARTITIONS; p++) {
      const recs = await r.read(ACKED_TOPIC, p, 0, { maxRecords: 1000 })
      expect(recs.map((x) => x.offset)).toEqual(Array.from({ length: 80 }, (_, i) => i))
    }
    expect(r.describeTopic(ACKED_TOPIC).partitions[2].segments).toBeGreaterThan(1)
    expect((await r.fetchOffsets('g')).map((o) => o.offset)).toEqual([33])
    expect((await r.describeGroup('g')).offsets).toEqual([
      { topic: ACKED_TOPIC, partition: 1, committed: 33, logEndOffset: 80, lag: 47 },
    ])
    const f = follow(r)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(f.next).toEqual([80, 80, 80])
    await f.stop()
    await r.close()
    expect(snapshotDir(dir)).toEqual(before)
    expect(owner.proc.exitCode).toBeNull()
  }, 120_000)

  it('reads through an owner compacting and deleting segments under it, with few descriptors, and gets only records the owner wrote', async () => {
    const owner = child(['churn', dir])
    await owner.waitForLine((l) => l === 'ready')
    // 16 descriptors (the least allowed) for ~10 segments and their indexes: segment handles are evicted and reopened by path all the time, the case where a reopen could
    // find the file compaction put under the old name.
    const r = await Seglog.open(dir, { readOnly: true, maxOpenFiles: 16 })
    logs.push(r)
    const churned = () => owner.lines.filter((l) => l.startsWith('churned ')).length
    const problems: string[] = []
    let reads = 0
    let records = 0
    let gaps = 0
    const deadline = Date.now() + 4000
    // Until both things the test is about have happened under the reads, however slow the machine: compaction's
    // gaps were read, and retention moved the log start the reader sees.
    // A refresh that throws is a finding (nothing an owner does in its ordinary course may make it throw): it is
    // recorded with its message, so a rare failure names what the reader met.
    const logStart = (): number => {
      try {
        return r.offsets(CHURN_TOPIC, 0).logStartOffset
      } catch (err) {
        problems.push(`offsets(): ${String(err)}`)
        return -1
      }
    }
    const seen = () => gaps > 0 && logStart() > 0
    while (Date.now() < deadline || churned() < 20 || !seen()) {
      if (Date.now() > deadline + 45_000) {
        throw new Error(
          `the owner churned ${churned()} times, last ${owner.lines.filter((l) => l.startsWith('churned ')).at(-1)}; gaps read ${gaps}, reader's log start ${logStart()}; problems: ${problems.slice(0, 3).join('; ')}`,
        )
      }
      // Reads are synchronous: let the child's output in between.
      await new Promise((resolve) => setImmediate(resolve))
      const logStartOffset = logStart()
      if (logStartOffset < 0) continue
      let got: SeglogRecord[]
      try {
        got = await r.read(CHURN_TOPIC, 0, logStartOffset, { maxRecords: 100_000 })
      } catch (err) {
        // Retention moved the log start past where this read began: a reader starts again from the new start.
        if ((err as { code?: unknown }).code === 'OFFSET_OUT_OF_RANGE') continue
        problems.push(`read from ${logStartOffset}: ${String(err)}`)
        continue
      }
      reads++
      let prev = -1
      for (const rec of got) {
        if (rec.offset <= prev) problems.push(`offset ${rec.offset} after ${prev}`)
        if (prev >= 0 && rec.offset > prev + 1) gaps++
        prev = rec.offset
        const want = valueFor(CHURN_TOPIC, 0, rec.offset)
        if (!Buffer.isBuffer(rec.value) || !rec.value.equals(want) || rec.key?.toString() !== churnKey(rec.offset)) {
          problems.push(`offset ${rec.offset} holds a record the owner did not write there`)
        }
      }
      records += got.length
    }
    expect(problems.slice(0, 5)).toEqual([])
    expect(reads).toBeGreaterThan(20)
    expect(records).toBeGreaterThan(0)
    // Compaction really ran under the reads (its gaps were read), and retention moved the start.
    expect(gaps).toBeGreaterThan(0)
    expect(r.offsets(CHURN_TOPIC, 0).logStartOffset).toBeGreaterThan(0)
  }, 90_000)
})
