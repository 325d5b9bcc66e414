/**
 * The data commands of the `seglog` CLI (topics, topic, produce, consume, groups, group) as child processes against
 * directories this test made and checks through the API, their output read through `--json`: topic listings and
 * descriptions equal to `describeTopic`, topic changes seen by the API, produce → consume round trips of keys,
 * values and headers (bytes that are not UTF-8 included), `--from` positions, `--group` commits that a second run
 * continues from, group descriptions equal to `describeGroup` and resets seen by `fetchOffsets`.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'
import { ok, seglog } from '../support/cli-run.js'
import { CLI_ENTRY, killAll, spawnLines } from '../support/wire-harness.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-cli-data-'))
})
afterEach(async () => {
  await killAll()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Opens the directory as its owner for `fn`, then closes it (the CLI needs it free or listening). */
async function withLog<T>(fn: (log: Seglog) => Promise<T>): Promise<T> {
  const log = await Seglog.open(dir)
  try {
    return await fn(log)
  } finally {
    await log.close()
  }
}

const T = 60_000

describe('seglog topics and topic', () => {
  it(
    'lists the topics describeTopic shows, and topic describe --json is describeTopic',
    async () => {
      const expected = await withLog(async (log) => {
        await log.createTopic('orders', { partitions: 3, config: { retentionMs: 3_600_000, segmentBytes: 4096 } })
        await log.createTopic('raw', { config: { format: 'binary', retentionBytes: 1 << 20 } })
        for (let i = 0; i < 120; i++) await log.append('orders', [{ key: `k${i}`, value: { i, pad: 'x'.repeat(150) } }])
        return { orders: log.describeTopic('orders'), raw: log.describeTopic('raw') }
      })
      const list = ok(await seglog(['topics', dir, '--json'])).json()
      expect(list).toEqual(
        [expected.orders, expected.raw].map((d) => ({
          name: d.name,
          partitions: d.partitions.length,
          format: d.config.format,
          cleanupPolicy: d.config.cleanupPolicy,
          retentionMs: d.config.retentionMs,
          retentionBytes: d.config.retentionBytes,
        })),
      )
      const table = ok(await seglog(['topics', dir]))
      expect(table.lines[0]).toMatch(/^TOPIC\s+PARTITIONS\s+FORMAT\s+CLEANUP\s+RETENTION$/)
      expect(table.lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
        ['orders', '3', 'msgpack'],
        ['raw', '1', 'binary'],
      ])
      const described = ok(await seglog(['topic', dir, 'describe', 'orders', '--json'])).json()
      expect(described).toEqual([JSON.parse(JSON.stringify(expected.orders))])
      expect(expected.orders.partitions.some((p) => p.segments > 1)).toBe(true)
      const text = ok(await seglog(['topic', 'describe', dir, 'raw']))
      expect(text.lines[0]).toBe('topic raw: 1 partition, format binary')
      expect(text.stdout).toMatch(/retention\.bytes\s+1048576/)
    },
    T,
  )

  it(
    'creates, alters and deletes topics as the API then sees them (Kafka names and camelCase)',
    async () => {
      const created = ok(
        await seglog([
          'topic',
          dir,
          'create',
          'events',
          '--partitions',
          '2',
          '--config',
          'retention.ms=3600000',
          '--config',
          'cleanupPolicy=compact',
          '--config',
          'seglog.format=json',
          '--json',
        ]),
      ).json()
      expect(created).toEqual([{ topic: 'events', action: 'created', via: 'directory' }])
      await withLog(async (log) => {
        expect(log.describeTopic('events').config).toMatchObject({
          partitions: 2,
          retentionMs: 3_600_000,
          cleanupPolicy: 'compact',
          format: 'json',
        })
      })
      ok(await seglog(['topic', dir, 'alter', 'events', '--config', 'segment.bytes=65536', '--partitions', '4']))
      await withLog(async (log) => {
        const d = log.describeTopic('events')
        expect(d.partitions).toHaveLength(4)
        expect(d.config).toMatchObject({ segmentBytes: 65_536, retentionMs: 3_600_000, cleanupPolicy: 'compact' })
      })
      const deleted = ok(await seglog(['topic', dir, 'delete', 'events']))
      expect(deleted.lines).toEqual(['deleted topic events'])
      await withLog(async (log) => expect(log.listTopics()).toEqual([]))
      const again = await seglog(['topic', dir, 'describe', 'events'])
      expect(again.code).toBe(1)
      expect(again.stderr.trim()).toBe("TOPIC_NOT_FOUND: topic 'events' does not exist")
    },
    T,
  )
})

describe('seglog produce and consume', () => {
  it(
    'round-trips keys, values and headers, bytes that are not UTF-8 and tombstones included',
    async () => {
      await withLog((log) => log.createTopic('bin', { partitions: 2, config: { format: 'binary' } }))
      const odd = Buffer.from([0xff, 0xfe, 0x00, 0x80])
      const input = [
        { key: 'k1', value: 'hello', headers: { h: 'x', rep: ['a', 'b'], none: null } },
        { keyBase64: odd.toString('base64'), valueBase64: odd.toString('base64'), headers: {} },
        { key: 'k3', value: null, headers: {}, partition: 1, timestamp: 1_700_000_000_000 },
        { key: null, value: 'ünïcødé ✓', headersBase64: { raw: odd.toString('base64') } },
      ]
      const produced = ok(
        await seglog(['produce', dir, 'bin', '--input', 'json', '--json'], {
          input: `${input.map((r) => JSON.stringify(r)).join('\n')}\n`,
        }),
      ).json()
      expect(produced[0]).toMatchObject({ topic: 'bin', records: 4, via: 'directory' })
      const out = ok(await seglog(['consume', dir, 'bin', '--json'])).json()
      expect(out).toHaveLength(4)
      const byKey = (o: Record<string, unknown>) => String(o.key === undefined ? o.keyBase64 : o.key)
      const seen = new Map(out.map((o) => [byKey(o), o]))
      expect(seen.get('k1')).toMatchObject({ value: 'hello', headers: { h: 'x', rep: ['a', 'b'], none: null } })
      expect(seen.get(odd.toString('base64'))).toMatchObject({ valueBase64: odd.toString('base64'), headers: {} })
      expect(seen.get('k3')).toMatchObject({ partition: 1, value: null, timestamp: 1_700_000_000_000 })
      expect(seen.get('null')).toMatchObject({
        key: null,
        value: 'ünïcødé ✓',
        headersBase64: { raw: odd.toString('base64') },
      })
      for (const o of out) expect(Object.keys(o).slice(0, 4)).toEqual(['topic', 'partition', 'offset', 'timestamp'])
      // The API reads the same bytes.
      await withLog(async (log) => {
        const all = [...(await log.read('bin', 0, 0)), ...(await log.read('bin', 1, 0))]
        const k2 = all.find((r) => r.key?.equals(odd))
        expect(k2?.value).toEqual(odd)
        expect(all.find((r) => r.key?.toString() === 'k1')?.headers).toEqual({
          h: Buffer.from('x'),
          rep: [Buffer.from('a'), Buffer.from('b')],
          none: null,
        })
      })
      // What consume printed produces the same records again.
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-cli-copy-'))
      try {
        ok(await seglog(['topic', copy, 'create', 'bin', '--partitions', '2', '--config', 'format=binary']))
        ok(
          await seglog(['produce', copy, 'bin', '--input', 'json'], {
            input: `${out.map((o) => JSON.stringify(o)).join('\n')}\n`,
          }),
        )
        const again = ok(await seglog(['consume', copy, 'bin', '--json'])).json()
        expect(again.map((o) => ({ ...o }))).toEqual(out)
      } finally {
        fs.rmSync(copy, { recursive: true, force: true })
      }
    },
    2 * T,
  )

  it(
    'takes text lines with --key-separator into string, msgpack and json topics as the API reads them',
    async () => {
      await withLog(async (log) => {
        await log.createTopic('s', { config: { format: 'string' } })
        await log.createTopic('m', { partitions: 3 })
        await log.createTopic('j', { config: { format: 'json' } })
      })
      ok(await seglog(['produce', dir, 's', '--key-separator', '::'], { input: 'a::one\nb::two::x\nno key here\n' }))
      ok(await seglog(['produce', dir, 'm', '--key-separator', ':'], { input: 'a:1\nb:2\nc:3\nd:4\n' }))
      const bad = await seglog(['produce', dir, 'j'], { input: '{"a":1}\n[1,2]\nnot json\n{"never":true}\n' })
      expect(bad.code).toBe(1)
      expect(bad.stderr.trim()).toBe(
        'INVALID_RECORD: stdin line 3: a json topic holds JSON, and this value is not JSON text',
      )
      const s = ok(await seglog(['consume', dir, 's', '--json'])).json()
      expect(s.map((o) => [o.key, o.value])).toEqual([
        ['a', 'one'],
        ['b', 'two::x'],
        [null, 'no key here'],
      ])
      const m = ok(await seglog(['consume', dir, 'm', '--json'])).json()
      expect(m.map((o) => [o.key, o.value]).sort()).toEqual([
        ['a', '1'],
        ['b', '2'],
        ['c', '3'],
        ['d', '4'],
      ])
      const j = ok(await seglog(['consume', dir, 'j', '--json'])).json()
      expect(j.map((o) => o.value)).toEqual(['{"a":1}', '[1,2]'])
      await withLog(async (log) => {
        // Keys go to the partition Kafka's murmur2 gives them, as for an API append.
        const probe = await log.append('m', [{ key: 'c', value: 'probe' }])
        expect(m.find((o) => o.key === 'c')?.partition).toBe(probe[0].partition)
        expect((await log.read('j', 0, 0)).map((r) => r.value)).toEqual([{ a: 1 }, [1, 2]])
        expect((await log.read('s', 0, 0)).map((r) => r.value)).toEqual(['one', 'two::x', 'no key here'])
      })
    },
    2 * T,
  )

  it(
    'starts at --from @EPOCH_MS (the first record at or after it), latest, or OFFSET of --partition, and stops at --max',
    async () => {
      await withLog(async (log) => {
        await log.createTopic('t', { partitions: 2, config: { format: 'string' } })
        for (let i = 0; i < 10; i++) {
          await log.append('t', [
            { partition: 0, value: `p0-${i}`, timestamp: 1_000_000 + i * 100 },
            { partition: 1, value: `p1-${i}`, timestamp: 1_000_050 + i * 100 },
          ])
        }
      })
      const at = ok(await seglog(['consume', dir, 't', '--from', '@1000420', '--json'])).json()
      expect(at.map((o) => o.value)).toEqual([
        'p0-5',
        'p0-6',
        'p0-7',
        'p0-8',
        'p0-9',
        'p1-4',
        'p1-5',
        'p1-6',
        'p1-7',
        'p1-8',
        'p1-9',
      ])
      expect(ok(await seglog(['consume', dir, 't', '--from', 'latest', '--json'])).lines).toEqual([])
      const off = ok(await seglog(['consume', dir, 't', '--partition', '1', '--from', '7', '--json'])).json()
      expect(off.map((o) => [o.partition, o.offset])).toEqual([
        [1, 7],
        [1, 8],
        [1, 9],
      ])
      const few = ok(await seglog(['consume', dir, 't', '--max', '3', '--json'])).json()
      expect(few.map((o) => o.value)).toEqual(['p0-0', 'p0-1', 'p0-2'])
      const beyond = await seglog(['consume', dir, 't', '--partition', '0', '--from', '11'])
      expect(beyond.code).toBe(1)
      expect(beyond.stderr.trim()).toBe('OFFSET_OUT_OF_RANGE: offset 11 is outside [0, 10] of t-0')
    },
    2 * T,
  )

  it(
    'with --group commits what it printed, so a second run continues where the first stopped',
    async () => {
      await withLog(async (log) => {
        await log.createTopic('t', { partitions: 2, config: { format: 'string' } })
        for (let i = 0; i < 5; i++)
          await log.append('t', [
            { partition: 0, value: `a${i}` },
            { partition: 1, value: `b${i}` },
          ])
      })
      const first = ok(await seglog(['consume', dir, 't', '--group', 'billing', '--max', '7', '--json'])).json()
      expect(first.map((o) => o.value)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1'])
      await withLog(async (log) => {
        expect((await log.fetchOffsets('billing', 't')).map((o) => [o.partition, o.offset])).toEqual([
          [0, 5],
          [1, 2],
        ])
        await log.append('t', [{ partition: 0, value: 'a5' }])
      })
      const second = ok(await seglog(['consume', dir, 't', '--group', 'billing', '--json'])).json()
      expect(second.map((o) => o.value)).toEqual(['a5', 'b2', 'b3', 'b4'])
      expect(ok(await seglog(['consume', dir, 't', '--group', 'billing', '--json'])).lines).toEqual([])
      // Without the group nothing is committed and everything is there.
      expect(ok(await seglog(['consume', dir, 't', '--json'])).lines).toHaveLength(11)
    },
    2 * T,
  )
})

describe('seglog consume --follow', () => {
  it(
    'prints records as the owner appends them, stops after --max, and exits 0 on SIGTERM',
    async () => {
      const log = await Seglog.open(dir)
      try {
        await log.createTopic('t', { config: { format: 'string' } })
        await log.append('t', [{ value: 'before' }])
        const follow = (...extra: string[]) =>
          spawnLines('consume --follow', process.execPath, [
            '--import',
            'tsx',
            CLI_ENTRY,
            'consume',
            dir,
            't',
            '--follow',
            '--json',
            ...extra,
          ])
        const p = follow()
        const bounded = follow('--max', '2')
        await p.waitForLine((l) => l.includes('"before"'), 30_000)
        await bounded.waitForLine((l) => l.includes('"before"'), 30_000)
        await log.append('t', [{ value: 'after' }])
        await p.waitForLine((l) => l.includes('"after"'), 30_000)
        expect((await bounded.waitExit(30_000)).code).toBe(0)
        expect(bounded.lines.map((l) => JSON.parse(l).value)).toEqual(['before', 'after'])
        await log.append('t', [{ value: 'later' }])
        await p.waitForLine((l) => l.includes('"later"'), 30_000)
        const exit = await p.stop('SIGTERM', 30_000)
        expect(exit.code, p.describe()).toBe(0)
        expect(p.lines.map((l) => JSON.parse(l).value)).toEqual(['before', 'after', 'later'])
        expect(p.stderr()).toBe('')
      } finally {
        await log.close()
      }
    },
    2 * T,
  )
})

describe('seglog groups and group', () => {
  it(
    'describes a group as describeGroup does, resets it as fetchOffsets then sees, and deletes it',
    async () => {
      const expected = await withLog(async (log) => {
        await log.createTopic('t', { partitions: 2, config: { format: 'string' } })
        for (let i = 0; i < 6; i++) {
          await log.append('t', [
            { partition: 0, value: `a${i}`, timestamp: 5000 + i },
            { partition: 1, value: `b${i}`, timestamp: 5000 + i },
          ])
        }
        await log.resetOffsets({
          groupId: 'g',
          topic: 't',
          to: {
            offsets: [
              { partition: 0, offset: 2 },
              { partition: 1, offset: 5 },
            ],
          },
        })
        await log.resetOffsets({ groupId: 'other', topic: 't', to: 'latest' })
        return log.describeGroup('g')
      })
      expect(ok(await seglog(['group', dir, 'describe', 'g', '--json'])).json()).toEqual([
        JSON.parse(JSON.stringify(expected)),
      ])
      const table = ok(await seglog(['group', dir, 'describe', 'g']))
      expect(table.lines.slice(1)).toEqual([
        'TOPIC  PARTITION  COMMITTED  LOG END  LAG',
        't      0          2          6        4',
        't      1          5          6        1',
      ])
      expect(ok(await seglog(['groups', dir, '--json'])).json()).toEqual([
        { groupId: 'g', state: 'Empty', members: 0, partitions: 2, lag: 5 },
        { groupId: 'other', state: 'Empty', members: 0, partitions: 2, lag: 0 },
      ])
      const fetch = () => withLog(async (log) => (await log.fetchOffsets('g', 't')).map((o) => [o.partition, o.offset]))
      const reset = ok(await seglog(['group', dir, 'reset', 'g', '--topic', 't', '--to', 'earliest', '--json'])).json()
      expect(reset).toEqual([
        {
          groupId: 'g',
          action: 'reset',
          topic: 't',
          offsets: [
            { partition: 0, offset: 0 },
            { partition: 1, offset: 0 },
          ],
          via: 'directory',
        },
      ])
      expect(await fetch()).toEqual([
        [0, 0],
        [1, 0],
      ])
      ok(await seglog(['group', dir, 'reset', 'g', '--topic', 't', '--to', 'latest']))
      expect(await fetch()).toEqual([
        [0, 6],
        [1, 6],
      ])
      ok(await seglog(['group', 'reset', dir, 'g', '--topic', 't', '--to', '3', '--partition', '1']))
      expect(await fetch()).toEqual([
        [0, 6],
        [1, 3],
      ])
      ok(await seglog(['group', dir, 'reset', 'g', '--topic', 't', '--to', '@5004']))
      expect(await fetch()).toEqual([
        [0, 4],
        [1, 4],
      ])
      const out = await seglog(['group', dir, 'reset', 'g', '--topic', 't', '--to', '9'])
      expect(out.code).toBe(1)
      expect(out.stderr.trim()).toBe('OFFSET_OUT_OF_RANGE: offset 9 is outside [0, 6] of t-0')
      expect(ok(await seglog(['group', dir, 'delete', 'g', '--json'])).json()).toEqual([
        { groupId: 'g', action: 'deleted', via: 'directory' },
      ])
      expect(await fetch()).toEqual([])
      expect(
        ok(await seglog(['groups', dir, '--json']))
          .json()
          .map((g) => g.groupId),
      ).toEqual(['other'])
    },
    2 * T,
  )
})
