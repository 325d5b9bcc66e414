/**
 * The topic listing (src/engine/topic-listing.ts, what `seglog topics` prints) shows what a read-only open lists and
 * describes: the same names, partition counts and configs, on a directory made through the API, on one another
 * process owns, on one left in the middle of a topic operation (a child killed at each of the engine's crash points),
 * and on one whose topic files are damaged or stray; and it changes nothing.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type FileSystem, type ListedTopic, listTopicFiles, nodeFileSystem } from '../../src/internal.js'
import { Seglog } from '../../src/main.js'
import { snapshotDir } from '../support/dir-snapshot.js'
import { type EngineChild, killChildren, startEngineChild } from '../support/engine-child.js'

let dir: string
const children: EngineChild[] = []

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-listing-'))
})
afterEach(async () => {
  await killChildren(children)
  fs.rmSync(dir, { recursive: true, force: true })
})

/** What a read-only open shows of every topic: its name, partition count and config. */
async function readOnlyView(): Promise<ListedTopic[]> {
  const log = await Seglog.open(dir, { readOnly: true })
  try {
    return log.listTopics().map((name) => {
      const d = log.describeTopic(name)
      return { name, partitions: d.partitions.length, config: d.config }
    })
  } finally {
    await log.close()
  }
}

/** Several topics, configs and partition counts, engine defaults recorded, a topic grown, one altered, one deleted. */
async function makeTopics(): Promise<void> {
  const log = await Seglog.open(dir, { defaults: { retentionMs: 86_400_000, segmentBytes: 1 << 20 } })
  try {
    await log.createTopic('orders', { partitions: 3, config: { retentionMs: 3_600_000, segmentBytes: 4096 } })
    await log.createTopic('raw', { config: { format: 'binary', retentionBytes: 1 << 20 } })
    await log.createTopic('state', { partitions: 2, config: { cleanupPolicy: 'compact', format: 'json' } })
    // A topic name ending like a partition suffix: its directories are `v-1-0`, `v-1-1`.
    await log.createTopic('v-1', { partitions: 2, config: { format: 'string' } })
    await log.createTopic('grown', { partitions: 2 })
    await log.createPartitions('grown', 5)
    await log.createTopic('altered')
    await log.alterTopicConfig('altered', { retentionMs: -1, cleanupPolicy: 'compact,delete' })
    await log.createTopic('gone', { partitions: 2 })
    await log.deleteTopic('gone')
    await log.append('orders', [{ partition: 1, key: 'k', value: { n: 1 } }])
  } finally {
    await log.close()
  }
}

const NAMES = ['altered', 'grown', 'orders', 'raw', 'state', 'v-1']

/** Node's file system listing directories backwards (node sorts them; the FileSystem interface does not promise it). */
const backwards: FileSystem = { ...nodeFileSystem, readdir: (d) => nodeFileSystem.readdir(d).reverse() }

describe('the topic listing', () => {
  it('equals a read-only open’s listTopics and describeTopic (names, partitions, configs) and changes nothing', async () => {
    await makeTopics()
    const before = snapshotDir(dir)
    const listed = listTopicFiles(dir)
    expect(listed.map((t) => t.name)).toEqual(NAMES)
    expect(listed).toEqual(await readOnlyView())
    const byName = new Map(listed.map((t) => [t.name, t]))
    expect(byName.get('grown')?.partitions).toBe(5)
    // The owner's defaults (owner.json) under each topic's overrides.
    expect(byName.get('raw')?.config).toMatchObject({ format: 'binary', retentionMs: 86_400_000 })
    expect(byName.get('orders')?.config).toMatchObject({ retentionMs: 3_600_000, segmentBytes: 4096 })
    expect(byName.get('altered')?.config).toMatchObject({ retentionMs: -1, cleanupPolicy: 'compact,delete' })
    // Defaults given by the caller win over the recorded ones, as a reader's own `defaults` do.
    const mine = listTopicFiles(dir, { defaults: { retentionMs: 60_000 } })
    expect(mine.find((t) => t.name === 'raw')?.config.retentionMs).toBe(60_000)
    expect(snapshotDir(dir)).toEqual(before)
  })

  it('equals the read-only view while another process owns the directory', async () => {
    await makeTopics()
    const owner = startEngineChild(['hold', dir])
    children.push(owner)
    await owner.waitForLine((l) => l.startsWith('ready'))
    const listed = listTopicFiles(dir)
    expect(listed.map((t) => t.name)).toEqual(NAMES)
    expect(listed).toEqual(await readOnlyView())
    // The owner that holds the directory now opened it without defaults: owner.json says so, and both follow it.
    expect(listed.find((t) => t.name === 'raw')?.config.retentionMs).toBe(7 * 86_400_000)
  }, 60_000)

  it('equals the read-only view of a directory left mid-operation at every crash point', async () => {
    const points = [
      'createTopic:before-commit',
      'createTopic:after-commit',
      'createTopic:after-rename',
      'deleteTopic:after-rename',
      'deleteTopic:before-commit',
      'deleteTopic:after-commit',
      'deleteTopic:after-partition',
      'alterTopicConfig:before-commit',
      'alterTopicConfig:after-commit',
      'alterTopicConfig:after-file',
      'createPartitions:before-commit',
      'createPartitions:after-commit',
      'createPartitions:after-rename',
    ]
    const pending = new Set<string>()
    for (const point of points) {
      fs.rmSync(dir, { recursive: true, force: true })
      fs.mkdirSync(dir)
      const log = await Seglog.open(dir)
      await log.createTopic('keep', { partitions: 2, config: { format: 'binary' } })
      await log.createTopic('victim', { partitions: 3, config: { retentionMs: 3_600_000, segmentBytes: 4096 } })
      await log.close()
      // The child appends to `keep`, then runs the operation on `victim` (or creates `fresh`) and dies at `point`.
      const child = startEngineChild(['crash', dir, point])
      children.push(child)
      await child.exited.catch(() => {})
      expect(child.proc.signalCode, point).toBe('SIGKILL')
      for (const name of fs.readdirSync(dir)) if (/-(create|delete)$/.test(name)) pending.add(point)
      const listed = listTopicFiles(dir)
      expect(listed.map((t) => t.name)).toContain('keep')
      expect(listed, point).toEqual(await readOnlyView())
      // The lowest partition's record, whatever order the directory is listed in (alterTopicConfig:after-file leaves
      // partition 0's file newer than the others').
      expect(listTopicFiles(dir, { fs: backwards }), point).toEqual(listed)
      // A config change shows once partition 0's file is rewritten (the owner writes it first), not before.
      const victim = listed.find((t) => t.name === 'victim')
      if (point === 'alterTopicConfig:after-commit') expect(victim?.config.retentionMs).toBe(3_600_000)
      if (point === 'alterTopicConfig:after-file') expect(victim?.config.retentionMs).toBe(7_200_000)
    }
    // The states compared include directories mid-creation and mid-deletion.
    expect([...pending]).toEqual(
      expect.arrayContaining(['createTopic:after-commit', 'createTopic:after-rename', 'deleteTopic:after-rename']),
    )
  }, 180_000)

  it('takes the lowest partition with a sound topic file and skips stray entries, as the read-only view does', async () => {
    await makeTopics()
    // orders-0's file damaged (a flipped digit fails its checksum): orders-1's record is the topic's.
    const file = path.join(dir, 'orders-0', 'topic.json')
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"partitions":3', '"partitions":4'))
    // grown-0 holds another partition's file: not its record.
    fs.copyFileSync(path.join(dir, 'grown-1', 'topic.json'), path.join(dir, 'grown-0', 'topic.json'))
    // A file named like a partition, a partition directory without a topic file, a topic file naming another topic.
    fs.writeFileSync(path.join(dir, 'stray-0'), 'not a directory')
    fs.mkdirSync(path.join(dir, 'lost-0'))
    fs.mkdirSync(path.join(dir, 'alias-0'))
    fs.copyFileSync(path.join(dir, 'raw-0', 'topic.json'), path.join(dir, 'alias-0', 'topic.json'))
    const listed = listTopicFiles(dir)
    expect(listed.map((t) => t.name)).toEqual(NAMES)
    expect(listed.find((t) => t.name === 'orders')?.partitions).toBe(3)
    expect(listed).toEqual(await readOnlyView())
    expect(listTopicFiles(dir, { fs: backwards })).toEqual(listed)
    // Every topic file of a topic unusable: the topic is not listed by either.
    fs.rmSync(path.join(dir, 'raw-0', 'topic.json'))
    expect(listTopicFiles(dir).map((t) => t.name)).not.toContain('raw')
    expect(listTopicFiles(dir)).toEqual(await readOnlyView())
  })

  it('fails with IO_ERROR (ENOENT) on a directory that does not exist, creating nothing', () => {
    const missing = path.join(dir, 'missing')
    expect(() => listTopicFiles(missing)).toThrow(expect.objectContaining({ code: 'IO_ERROR', errno: 'ENOENT' }))
    expect(fs.existsSync(missing)).toBe(false)
  })
})
