/**
 * After a clean close of the whole engine, `open` opens no partition: each opens (and checks itself) on first use,
 * and `close` touches only the partitions that were used. After a crash, or when a partition did not close
 * cleanly, `open` opens and recovers every partition itself, as before.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TEST_HOOKS } from '../../src/internal.js'
import { type EngineEvent, Seglog, type SeglogError } from '../../src/main.js'
import { ACKED_PARTITIONS, ACKED_TOPIC, type EngineChild, startEngineChild, valueFor } from '../support/engine-child.js'
import { FaultyFileSystem } from '../support/faulty-fs.js'

let dir: string
const children: EngineChild[] = []

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-lazy-open-')))
})

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
    await c.exited.catch(() => {})
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

const PARTITIONS = 3

/** Topic t of PARTITIONS partitions, record `v<p>` in each, closed cleanly. */
async function makeDir(): Promise<void> {
  const e = await Seglog.open(dir)
  await e.createTopic('t', { partitions: PARTITIONS, config: { format: 'string', segmentBytes: 1024 } })
  await e.append(
    't',
    Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: `v${p}` })),
  )
  await e.close()
}

async function openTraced(events: EngineEvent[]): Promise<{ e: Seglog; ffs: FaultyFileSystem }> {
  const ffs = new FaultyFileSystem(dir)
  const e = await Seglog.open(dir, { [TEST_HOOKS]: { fs: ffs }, onEvent: (ev) => events.push(ev) })
  return { e, ffs }
}

const openedPartitions = (events: EngineEvent[]): number[] =>
  events.flatMap((ev) => (ev.type === 'opened' || ev.type === 'recovered' ? [ev.partition] : [])).sort()

/** Every file under the partition directories of t, with its bytes and mtime. */
function partitionFiles(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const d of fs.readdirSync(dir).filter((n) => n.startsWith('t-'))) {
    for (const f of fs.readdirSync(path.join(dir, d))) {
      const at = path.join(dir, d, f)
      const st = fs.statSync(at)
      out[path.join(d, f)] = `${st.mtimeMs} ${fs.readFileSync(at).toString('hex')}`
    }
  }
  return out
}

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<SeglogError> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return err as SeglogError
  }
  throw new Error('expected a rejection')
}

describe('Seglog open after a clean close', () => {
  it('opens no partition until it is used, then only that one, and the close leaves the others untouched', async () => {
    await makeDir()
    const events: EngineEvent[] = []
    const { e, ffs } = await openTraced(events)
    expect(openedPartitions(events)).toEqual([])
    expect(ffs.openHandleCount).toBe(0)
    expect(ffs.fileReads.filter((f) => f.endsWith('partition.state'))).toEqual([])
    expect(e.listTopics()).toEqual(['t'])
    await e.flush()
    expect(openedPartitions(events)).toEqual([])

    expect(e.offsets('t', 1)).toEqual({ logStartOffset: 0, logEndOffset: 1 })
    expect(openedPartitions(events)).toEqual([1])
    const before = partitionFiles()
    await e.append('t', [{ partition: 1, value: 'w1' }], { acks: -1 })
    expect((await e.read('t', 1, 0)).map((r) => r.value)).toEqual(['v1', 'w1'])
    expect(openedPartitions(events)).toEqual([1])
    await e.close()
    const after = partitionFiles()
    for (const [name, content] of Object.entries(before)) {
      if (!name.startsWith('t-1')) expect(after[name], name).toBe(content)
    }

    // The partitions left alone still open from their own clean marks, the used one from its new one.
    const again: EngineEvent[] = []
    const e2 = await Seglog.open(dir, { onEvent: (ev) => again.push(ev) })
    for (let p = 0; p < PARTITIONS; p++) {
      expect((await e2.read('t', p, 0)).map((r) => r.value)).toEqual(p === 1 ? ['v1', 'w1'] : [`v${p}`])
    }
    expect(again.filter((ev) => ev.type === 'recovered')).toEqual([])
    expect(openedPartitions(again)).toEqual([0, 1, 2])
    await e2.close()
  })

  it('opens a partition on its first use with the topic config in effect then', async () => {
    await makeDir()
    const e = await Seglog.open(dir)
    await e.alterTopicConfig('t', { segmentBytes: 100_000 })
    // With the 1 KiB segments of the creation, ten appends of 200 bytes would roll several segments.
    for (let i = 0; i < 10; i++) await e.append('t', [{ partition: 2, value: 'x'.repeat(200) }])
    expect(e.describeTopic('t').partitions[2].segments).toBe(1)
    await e.close()
  })

  it('fails the first use of a partition whose open fails with its typed error, and opens it at the next use', async () => {
    await makeDir()
    const events: EngineEvent[] = []
    const { e, ffs } = await openTraced(events)
    ffs.failNext({ op: 'open', path: /t-0[/\\][^/\\]+\.log$/, errno: 'EACCES' })
    const err = await rejection(e.read('t', 0, 0))
    expect(err.code).toBe('IO_ERROR')
    expect(err.errno).toBe('EACCES')
    expect(err.path).toContain(path.join(dir, 't-0'))
    // It was the partition's open that failed.
    expect(openedPartitions(events)).toEqual([])
    // The other partitions are unaffected, and the failed one opens at its next use.
    expect((await e.read('t', 1, 0)).map((r) => r.value)).toEqual(['v1'])
    expect((await e.read('t', 0, 0)).map((r) => r.value)).toEqual(['v0'])
    await e.append('t', [{ partition: 0, value: 'w0' }], { acks: -1 })
    await e.close()
    const again = await Seglog.open(dir)
    expect((await again.read('t', 0, 0)).map((r) => r.value)).toEqual(['v0', 'w0'])
    await again.close()
  })

  it('applies retention to partitions not used since the open, letting the event loop run while it opens them', async () => {
    const many = 300
    const e = await Seglog.open(dir)
    await e.createTopic('old', {
      partitions: many,
      config: { format: 'string', segmentBytes: 128, retentionMs: 60_000 },
    })
    // Two old records per partition, each in its own segment (a batch of one is over half of a 128-byte segment);
    // time retention deletes both (the active segment too, as Kafka rolls it).
    for (let i = 0; i < 2; i++) {
      await e.append(
        'old',
        Array.from({ length: many }, (_, p) => ({ partition: p, value: 'x'.repeat(40), timestamp: 1000 + i })),
      )
    }
    await e.close()
    const events: EngineEvent[] = []
    const again = await Seglog.open(dir, { onEvent: (ev) => events.push(ev) })
    expect(openedPartitions(events)).toEqual([])
    let turns = 0
    let running = true
    const spin = () => {
      if (!running) return
      turns++
      setImmediate(spin)
    }
    setImmediate(spin)
    const done = await again.runRetention()
    running = false
    expect(done.map((r) => r.partition).sort((a, b) => a - b)).toEqual(Array.from({ length: many }, (_, p) => p))
    expect(done.filter((r) => r.segmentsDeleted !== 2 || r.logStartOffset !== 2)).toEqual([])
    expect(turns).toBeGreaterThan(0)
    expect(again.offsets('old', 7)).toEqual({ logStartOffset: 2, logEndOffset: 2 })
    await again.close()
  })

  it('deletes a topic whose partitions were never opened without recreating their directories', async () => {
    await makeDir()
    const e = await Seglog.open(dir)
    await e.deleteTopic('t')
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('t-'))).toEqual([])
    expect(e.listTopics()).toEqual([])
    await e.close()
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('t-'))).toEqual([])
  })
})

describe('Seglog open after a close that was not clean', () => {
  it('opens and recovers every partition in open after the owner was killed, the mark of the clean close before it gone', async () => {
    // A clean close first: the killed owner opened after it, so only the mark's deletion tells the crash.
    const setup = await Seglog.open(dir)
    await setup.createTopic(ACKED_TOPIC, { partitions: ACKED_PARTITIONS, config: { format: 'binary' } })
    await setup.close()
    const owner = startEngineChild(['append', dir, '7'])
    children.push(owner)
    await owner.waitForLine((l) => l.startsWith('ack '))
    owner.proc.kill('SIGKILL')
    await owner.exited
    const acked = owner.lines.filter((l) => l.startsWith('ack ')).map((l) => l.split(' ').map(Number))

    const events: EngineEvent[] = []
    const e = await Seglog.open(dir, { onEvent: (ev) => events.push(ev) })
    expect(openedPartitions(events)).toEqual([0, 1, 2])
    for (const [, p, , last] of acked) {
      const recs = await e.read(ACKED_TOPIC, p, last, { maxRecords: 1 })
      expect(recs[0].value).toEqual(valueFor(ACKED_TOPIC, p, last))
    }
    await e.close()
  })

  it('opens every partition in open when one of them could not close cleanly (a failed fsync)', async () => {
    await makeDir()
    const ffs = new FaultyFileSystem(dir)
    const e = await Seglog.open(dir, { [TEST_HOOKS]: { fs: ffs } })
    ffs.failNext({ op: 'sync', path: /t-0[/\\][^/\\]+\.log$/ })
    expect((await rejection(e.append('t', [{ partition: 0, value: 'unsure' }], { acks: -1 }))).code).toBe('IO_ERROR')
    await e.close()
    const events: EngineEvent[] = []
    const again = await Seglog.open(dir, { onEvent: (ev) => events.push(ev) })
    expect(openedPartitions(events)).toEqual([0, 1, 2])
    await again.close()
  })
})
