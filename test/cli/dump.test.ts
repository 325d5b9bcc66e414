/**
 * `seglog dump` as users run it: the CLI in a child process (`node --import tsx src/cli/main.ts dump …`) on a
 * directory this test made through the API. Its `--json --records` output must equal the batches and records the
 * test appended (offsets, counts, timestamps, codec, positions, CRC, isValid), and kafkajs's own RecordBatch
 * decoder, fed the same files, must read the same batches and records (an independent oracle; CRC-32C from
 * kafkajs's implementation too). Damage shows as isValid false or a problem line; bad usage exits 2.
 */
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'
import { CLI_ENTRY, killAll, runToEnd } from '../support/wire-harness.js'

const require = createRequire(import.meta.url)
const KafkaJsDecoder = require('kafkajs/src/protocol/decoder')
const kafkaJsDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  firstOffset: string
  lastOffsetDelta: number
  maxTimestamp: string
  timestampType: number
  records: {
    offset: string
    timestamp: string
    key: Buffer | null
    value: Buffer | null
    headers: Record<string, Buffer>
  }[]
}>
const kafkaJsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-cli-dump-'))
})
afterEach(async () => {
  await killAll()
  fs.rmSync(dir, { recursive: true, force: true })
})

function cli(...args: string[]) {
  return runToEnd('seglog', process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], { timeoutMs: 60_000 })
}

const T0 = 1_700_000_000_000

interface AppendedBatch {
  baseOffset: number
  records: {
    offset: number
    timestamp: number
    key: string | null
    value: string | null
    headers: Record<string, string>
  }[]
}

/** Appends 40 batches of 1–3 records (keys, a tombstone-like null value, headers) and returns what was appended. */
async function fill(topic: string, compressionType: 'none' | 'gzip' | 'snappy'): Promise<AppendedBatch[]> {
  const log = await Seglog.open(dir)
  await log.createTopic(topic, {
    config: { format: 'binary', segmentBytes: 2048, indexIntervalBytes: 150, compressionType },
  })
  const batches: AppendedBatch[] = []
  let offset = 0
  for (let i = 0; i < 40; i++) {
    const n = 1 + (i % 3)
    const records = Array.from({ length: n }, (_, j) => ({
      offset: offset + j,
      timestamp: T0 + i * 10 + (n - 1 - j),
      key: j === 1 ? null : `k-${i}-${j}`,
      value: i % 7 === 3 && j === 0 ? null : `value ${i}.${j} ${'x'.repeat(i)}`,
      headers: j === 0 ? { h: `header-${i}` } : ({} as Record<string, string>),
    }))
    await log.append(
      topic,
      records.map((r) => ({
        key: r.key,
        value: r.value === null ? null : Buffer.from(r.value),
        timestamp: r.timestamp,
        headers: r.headers,
        partition: 0,
      })),
    )
    batches.push({ baseOffset: offset, records })
    offset += n
  }
  await log.close()
  return batches
}

type Line = Record<string, unknown> & { type: string; file: string }

async function dumpJson(...args: string[]): Promise<Line[]> {
  const r = await cli('dump', ...args, '--json')
  expect(r.code, r.stderr).toBe(0)
  return r.lines.map((l) => JSON.parse(l) as Line)
}

function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.set(p, `${fs.statSync(p).mtimeMs} ${fs.readFileSync(p).toString('base64')}`)
    }
  }
  walk(root)
  return out
}

describe('seglog dump', () => {
  it.each([
    ['none', 'none'],
    ['gzip', 'gzip'],
  ] as const)(
    'prints exactly the batches and records appended (%s), as kafkajs reads the same files',
    async (_, codec) => {
      const appended = await fill('t', codec)
      const pdir = path.join(dir, 't-0')
      const before = snapshot(dir)
      const lines = await dumpJson(pdir, '--records')
      expect(snapshot(dir)).toEqual(before)

      const logs = fs
        .readdirSync(pdir)
        .filter((f) => f.endsWith('.log'))
        .sort()
      expect(logs.length).toBeGreaterThan(2)
      expect(lines.filter((l) => l.type === 'file').map((l) => path.basename(l.file))).toEqual(
        fs
          .readdirSync(pdir)
          .filter((f) => /^\d{20}\.(log|index|timeindex)$/.test(f))
          .sort((a, b) => a.slice(0, 20).localeCompare(b.slice(0, 20)) || order(a) - order(b)),
      )
      expect(lines.some((l) => l.type === 'problem')).toBe(false)

      const batches = lines.filter((l) => l.type === 'batch')
      expect(
        batches.map((b) => [b.baseOffset, b.lastOffset, b.count, b.maxTimestamp, b.codec, b.isValid, b.magic]),
      ).toEqual(
        appended.map((a) => [
          a.baseOffset,
          a.baseOffset + a.records.length - 1,
          a.records.length,
          Math.max(...a.records.map((r) => r.timestamp)),
          codec,
          true,
          2,
        ]),
      )
      const records = lines.filter((l) => l.type === 'record')
      expect(records.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers])).toEqual(
        appended.flatMap((a) => a.records.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers])),
      )

      // Positions tile each file; CRCs and records as kafkajs computes and decodes them from the file bytes.
      for (const name of logs) {
        const file = path.join(pdir, name)
        const bytes = fs.readFileSync(file)
        const mine = batches.filter((b) => b.file === file)
        let pos = 0
        for (const b of mine) {
          expect(b.position).toBe(pos)
          const size = b.size as number
          const slice = bytes.subarray(pos, pos + size)
          expect(b.crc).toBe(kafkaJsCrc32C(slice.subarray(21)))
          const theirs = await kafkaJsDecodeBatch(new KafkaJsDecoder(slice))
          expect([theirs.firstOffset, theirs.lastOffsetDelta, theirs.maxTimestamp, theirs.timestampType]).toEqual([
            String(b.baseOffset),
            (b.lastOffset as number) - (b.baseOffset as number),
            String(b.maxTimestamp),
            0,
          ])
          const dumped = records.filter(
            (r) => (r.offset as number) >= (b.baseOffset as number) && (r.offset as number) <= (b.lastOffset as number),
          )
          expect(
            theirs.records.map((r) => [
              Number(r.offset),
              Number(r.timestamp),
              r.key?.toString() ?? null,
              r.value?.toString() ?? null,
              Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.toString()])),
            ]),
          ).toEqual(dumped.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers]))
          pos += size
        }
        expect(pos).toBe(bytes.length)
      }

      // Index entries name batch starts by their last offset; time index entries the batch that first reached them.
      const entries = lines.filter((l) => l.type === 'index')
      expect(entries.length).toBeGreaterThan(0)
      for (const e of entries) {
        const log = e.file.replace(/\.index$/, '.log')
        const b = batches.find((x) => x.file === log && x.position === e.position)
        expect(b?.lastOffset, `${e.file} entry ${e.offset}`).toBe(e.offset)
      }
      const times = lines.filter((l) => l.type === 'timeindex')
      expect(times.length).toBeGreaterThan(0)
      for (const e of times) {
        const b = batches.find((x) => x.lastOffset === e.offset)
        expect(b?.maxTimestamp).toBe(e.timestamp)
      }
    },
  )

  it('prints one file alone, in Kafka’s DumpLogSegments words without --json', async () => {
    const appended = await fill('t', 'snappy')
    const log = path.join(dir, 't-0', '00000000000000000000.log')
    const r = await cli('dump', log, '--records')
    expect(r.code, r.stderr).toBe(0)
    expect(r.lines[0]).toBe(`Dumping ${log}`)
    expect(r.lines[1]).toBe('Log starting offset: 0')
    const first = appended[0]
    expect(r.lines[2]).toMatch(
      new RegExp(
        `^baseOffset: 0 lastOffset: 0 count: 1 baseSequence: -1 lastSequence: -1 producerId: -1 producerEpoch: -1 ` +
          `partitionLeaderEpoch: 0 isTransactional: false isControl: false deleteHorizonMs: none position: 0 ` +
          `CreateTime: ${first.records[0].timestamp} size: \\d+ magic: 2 compresscodec: snappy crc: \\d+ isvalid: true$`,
      ),
    )
    expect(r.lines[3]).toBe(
      `| offset: 0 CreateTime: ${T0} keySize: 5 valueSize: 10 headerKeys: [h] key: k-0-0 payload: value 0.0 `,
    )
    const index = path.join(dir, 't-0', '00000000000000000000.timeindex')
    const t = await cli('dump', index)
    expect(t.code).toBe(0)
    expect(t.lines[0]).toBe(`Dumping ${index}`)
    expect(t.lines.slice(1).every((l) => /^timestamp: \d+ offset: \d+$/.test(l))).toBe(true)
  })

  it('shows a batch whose CRC fails as isValid false and goes on, and a garbage tail as a problem at its position', async () => {
    await fill('t', 'none')
    const log = path.join(dir, 't-0', '00000000000000000000.log')
    const clean = (await dumpJson(log)).filter((l) => l.type === 'batch')
    const victim = clean[2]
    const bytes = fs.readFileSync(log)
    bytes[(victim.position as number) + (victim.size as number) - 3] ^= 0x01
    const size = bytes.length
    fs.writeFileSync(log, Buffer.concat([bytes, Buffer.from('not a batch at all, just garbage')]))
    const lines = await dumpJson(log)
    const batches = lines.filter((l) => l.type === 'batch')
    expect(batches.map((b) => b.isValid)).toEqual(clean.map((b) => b !== victim))
    expect(batches[2].problem).toMatch(/CRC mismatch/)
    const problems = lines.filter((l) => l.type === 'problem')
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatchObject({ file: log, position: size })
  })

  it('exits 2 with a one-line message and the usage for a missing or wrong argument, never a stack trace', async () => {
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello')
    for (const args of [
      [],
      [path.join(dir, 'nope')],
      [path.join(dir, 'notes.txt')],
      [dir, '--bogus'],
      [dir, 'extra'],
      [dir],
    ]) {
      const r = await cli('dump', ...args)
      expect(r.code, `dump ${args.join(' ')}`).toBe(2)
      const err = r.stderr.trim().split('\n')
      expect(err).toHaveLength(2)
      expect(err[0]).toMatch(/^seglog dump: /)
      expect(err[1]).toBe('usage: seglog dump <file or partition dir> [--records] [--json]')
      expect(r.stdout).toBe('')
    }
    const help = await cli('--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('seglog dump <file or partition dir>')
    expect(help.stdout).toContain('seglog verify <dir>')
  })
})

function order(name: string): number {
  return name.endsWith('.log') ? 0 : name.endsWith('.index') ? 1 : 2
}
