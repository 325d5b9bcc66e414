/**
 * The CLI on a directory another process owns. Without a listener: every writing command fails with ENGINE_LOCKED
 * naming the owner's pid and how to give it a listener (exit 1, nothing written: the directory is unchanged byte for
 * byte), while the read-only commands work. With a listener (`Seglog.open(dir, { listen })` in a child): the writing
 * commands go through the owner over Kafka's protocol, and what they did is seen by a read-only open. A listener
 * that `owner.json` names but that does not answer counts as none.
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'
import { ok, seglog } from '../support/cli-run.js'
import { snapshotDir } from '../support/dir-snapshot.js'
import { type EngineChild, killChildren, startEngineChild } from '../support/engine-child.js'
import { killAll, startListen } from '../support/wire-harness.js'

let dir: string
const children: EngineChild[] = []
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-cli-owned-'))
  const log = await Seglog.open(dir)
  await log.createTopic('t', { partitions: 2, config: { format: 'string' } })
  for (let i = 0; i < 4; i++) await log.append('t', [{ partition: i % 2, key: `k${i}`, value: `v${i}` }])
  await log.resetOffsets({ groupId: 'g', topic: 't', to: { offsets: [{ partition: 0, offset: 1 }] } })
  await log.close()
})
afterEach(async () => {
  await killChildren(children)
  await killAll()
  fs.rmSync(dir, { recursive: true, force: true })
})

async function hold(): Promise<number> {
  const c = startEngineChild(['hold', dir])
  children.push(c)
  const line = await c.waitForLine((l) => l.startsWith('ready'))
  return Number(line.split(' ')[1])
}

async function readOnly<T>(fn: (log: Seglog) => Promise<T> | T): Promise<T> {
  const log = await Seglog.open(dir, { readOnly: true })
  try {
    return await fn(log)
  } finally {
    await log.close()
  }
}

const WRITES: { name: string; args: () => string[]; input?: string }[] = [
  { name: 'topic create', args: () => ['topic', dir, 'create', 'new', '--partitions', '2'] },
  { name: 'topic alter', args: () => ['topic', dir, 'alter', 't', '--config', 'retention.ms=1000'] },
  { name: 'topic delete', args: () => ['topic', dir, 'delete', 't'] },
  { name: 'produce', args: () => ['produce', dir, 't'], input: 'a\nb\n' },
  { name: 'consume --group', args: () => ['consume', dir, 't', '--group', 'g'] },
  { name: 'group reset', args: () => ['group', dir, 'reset', 'g', '--topic', 't', '--to', 'earliest'] },
  { name: 'group delete', args: () => ['group', dir, 'delete', 'g'] },
]

describe('a directory another process owns without a listener', () => {
  it('refuses every writing command with ENGINE_LOCKED naming the owner pid, exit 1, and writes nothing', async () => {
    const pid = await hold()
    const before = snapshotDir(dir)
    for (const w of WRITES) {
      const r = await seglog(w.args(), { input: w.input })
      expect(r.code, `${w.name}: ${r.stderr}`).toBe(1)
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines, w.name).toHaveLength(1)
      expect(lines[0], w.name).toMatch(/^ENGINE_LOCKED: /)
      expect(lines[0], w.name).toContain(`process ${pid}`)
      expect(lines[0], w.name).toContain('has no listener')
      expect(lines[0], w.name).toContain('listen: { port: 9092 }')
      expect(lines[0], w.name).toContain(`seglog serve ${dir}`)
      expect(r.stdout, w.name).toBe('')
    }
    expect(snapshotDir(dir)).toEqual(before)
  }, 180_000)

  it('serves the read-only commands, changing nothing', async () => {
    await hold()
    const before = snapshotDir(dir)
    expect(
      ok(await seglog(['topics', dir, '--json']))
        .json()
        .map((t) => t.name),
    ).toEqual(['t'])
    expect(ok(await seglog(['topic', dir, 'describe', 't', '--json'])).json()[0]).toMatchObject({ name: 't' })
    expect(
      ok(await seglog(['consume', dir, 't', '--json']))
        .json()
        .map((o) => o.value),
    ).toEqual(['v0', 'v2', 'v1', 'v3'])
    // The members live in the owner, which has no listener to ask: unknown, not Empty.
    expect(ok(await seglog(['groups', dir, '--json'])).json()).toEqual([
      { groupId: 'g', state: 'Unknown', members: null, partitions: 1, lag: 1 },
    ])
    expect(ok(await seglog(['group', dir, 'describe', 'g', '--json'])).json()[0]).toMatchObject({
      state: 'Unknown',
      membersKnown: false,
      offsets: [{ topic: 't', partition: 0, committed: 1, logEndOffset: 2, lag: 1 }],
    })
    const table = ok(await seglog(['group', dir, 'describe', 'g'])).stdout
    expect(table).toMatch(/members unknown: the directory is owned by process \d+, which has no listener/)
    expect(snapshotDir(dir)).toEqual(before)
  }, 120_000)

  it('counts a listener that owner.json names but that does not answer as none', async () => {
    await hold()
    const free = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo
        s.close(() => resolve(port))
      })
    })
    const file = path.join(dir, '.seglog', 'owner.json')
    const owner = JSON.parse(fs.readFileSync(file, 'utf8'))
    fs.writeFileSync(file, JSON.stringify({ ...owner, listener: { host: '127.0.0.1', port: free } }))
    const r = await seglog(['topic', dir, 'create', 'x'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      new RegExp(
        `^ENGINE_LOCKED: .*its listener 127\\.0\\.0\\.1:${free} \\(in \\.seglog/owner\\.json\\) does not answer`,
      ),
    )
    await readOnly((log) => expect(log.listTopics()).toEqual(['t']))
  }, 60_000)
})

describe('a directory another process owns with a listener', () => {
  it('shows the owner’s in-process group members and their assignment, asked of its listener', async () => {
    const served = await startListen(dir, 30_000, { group: 'live', topic: 't' })
    const d = ok(await seglog(['group', dir, 'describe', 'live', '--json'])).json()[0] as {
      members: { assignment: { topic: string; partition: number }[] }[]
    }
    expect(d).toMatchObject({ groupId: 'live', state: 'Stable' })
    expect(d).not.toHaveProperty('membersKnown')
    expect(d.members).toHaveLength(1)
    expect(d.members[0].assignment.map((a) => `${a.topic}-${a.partition}`).sort()).toEqual(['t-0', 't-1'])
    const groups = ok(await seglog(['groups', dir, '--json'])).json()
    expect(groups).toEqual([
      { groupId: 'g', state: 'Empty', members: 0, partitions: 1, lag: 1 },
      expect.objectContaining({ groupId: 'live', state: 'Stable', members: 1 }),
    ])
    const table = ok(await seglog(['group', dir, 'describe', 'live'])).stdout
    expect(table).toContain('group live: Stable, 1 member')
    expect(served.proc.done()).toBe(false)
  }, 120_000)

  it('does every writing command through the owner, as a read-only open then sees', async () => {
    const served = await startListen(dir)
    const ownerPid = served.proc.proc.pid
    const created = ok(
      await seglog(['topic', dir, 'create', 'x', '--partitions', '2', '--config', 'retention.ms=3600000', '--json']),
    ).json()
    expect(created).toEqual([{ topic: 'x', action: 'created', via: 'listener' }])
    await readOnly((log) => {
      expect(log.describeTopic('x').config).toMatchObject({ partitions: 2, retentionMs: 3_600_000, format: 'msgpack' })
    })
    ok(await seglog(['topic', dir, 'alter', 'x', '--config', 'segment.bytes=65536', '--partitions', '3']))
    await readOnly((log) => {
      const d = log.describeTopic('x')
      expect(d.partitions).toHaveLength(3)
      expect(d.config).toMatchObject({ segmentBytes: 65_536, retentionMs: 3_600_000 })
    })
    const input = [
      { key: 'k', value: 'hello', headers: { h: 'x' } },
      { key: 'k', value: 'again', headers: {} },
      { key: null, value: 'no key', partition: 2 },
    ]
    const produced = ok(
      await seglog(['produce', dir, 'x', '--input', 'json', '--json'], {
        input: input.map((r) => JSON.stringify(r)).join('\n'),
      }),
    ).json()
    expect(produced[0]).toMatchObject({ topic: 'x', records: 3, via: 'listener' })
    const read = await readOnly(async (log) => {
      const all = []
      for (let p = 0; p < 3; p++) all.push(...(await log.read('x', p, 0)))
      return all.map((r) => [r.key?.toString() ?? null, r.value, r.partition])
    })
    expect(read.map(([k, v]) => `${k}=${v}`).sort()).toEqual(['k=again', 'k=hello', 'null=no key'])
    expect(read.find(([, v]) => v === 'no key')?.[2]).toBe(2)
    const first = ok(await seglog(['consume', dir, 'x', '--group', 'gx', '--max', '2', '--json'])).json()
    expect(first).toHaveLength(2)
    const rest = ok(await seglog(['consume', dir, 'x', '--group', 'gx', '--json'])).json()
    expect([...first, ...rest].map((o) => o.value).sort()).toEqual(['again', 'hello', 'no key'])
    await readOnly(async (log) => expect((await log.fetchOffsets('gx', 'x')).length).toBeGreaterThan(0))
    ok(await seglog(['group', dir, 'reset', 'g', '--topic', 't', '--to', 'latest']))
    await readOnly(async (log) =>
      expect((await log.fetchOffsets('g', 't')).map((o) => [o.partition, o.offset])).toEqual([
        [0, 2],
        [1, 2],
      ]),
    )
    ok(await seglog(['group', dir, 'reset', 'g', '--topic', 't', '--to', '1', '--partition', '1']))
    await readOnly(async (log) =>
      expect((await log.fetchOffsets('g', 't')).find((o) => o.partition === 1)?.offset).toBe(1),
    )
    expect(ok(await seglog(['group', dir, 'delete', 'gx', '--json'])).json()).toEqual([
      { groupId: 'gx', action: 'deleted', via: 'listener' },
    ])
    await readOnly(async (log) => expect(await log.fetchOffsets('gx')).toEqual([]))
    ok(await seglog(['topic', dir, 'delete', 'x']))
    await readOnly((log) => expect(log.listTopics()).toEqual(['t']))
    // The owner did all of it: still the same process, still running.
    expect(JSON.parse(fs.readFileSync(path.join(dir, '.seglog', 'owner.json'), 'utf8')).pid).toBe(ownerPid)
    expect(served.proc.done()).toBe(false)
  }, 240_000)
})
