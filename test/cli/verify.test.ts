/**
 * `seglog verify` as users run it: the CLI in a child process on a directory this test made through the API
 * (several topics, segments that rolled, a compacted topic after a compaction pass, a compressed topic). A clean
 * directory exits 0, is left byte for byte and mtime for mtime as it was, and opens and reads back everything that
 * was appended. Each kind of damage (a flipped byte in a batch, a truncated index, a wrong file name, a garbage
 * tail) exits 1 with a report naming the file and the position/offset of the damage; bad usage exits 2.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'
import { CLI_ENTRY, killAll, runToEnd } from '../support/wire-harness.js'

let root: string
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-cli-verify-'))
})
afterEach(async () => {
  await killAll()
  fs.rmSync(root, { recursive: true, force: true })
})

function cli(...args: string[]) {
  return runToEnd('seglog', process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], { timeoutMs: 60_000 })
}

const SEGMENT = { segmentBytes: 4096, indexIntervalBytes: 300 }

/** What each partition should read back: offset → [key, value]. */
type Expected = Map<string, Map<number, [string | null, string | null]>>

async function makeDirectory(dir: string): Promise<Expected> {
  const log = await Seglog.open(dir)
  await log.createTopic('plain', { partitions: 2, config: { format: 'string', ...SEGMENT } })
  await log.createTopic('kv', { config: { format: 'string', cleanupPolicy: 'compact', ...SEGMENT } })
  await log.createTopic('zipped', { config: { format: 'string', compressionType: 'snappy', ...SEGMENT } })
  const expected: Expected = new Map([
    ['plain-0', new Map()],
    ['plain-1', new Map()],
    ['zipped-0', new Map()],
  ])
  for (let i = 0; i < 120; i++) {
    for (const p of [0, 1]) {
      const value = `plain ${i} ${'.'.repeat(i % 30)}`
      await log.append('plain', [{ key: `p${i}`, value, partition: p }])
      expected.get(`plain-${p}`)!.set(i, [`p${i}`, value])
    }
    const batch = [0, 1].map((j) => ({ key: `z${i}-${j}`, value: `zipped ${i}/${j} ${'abc'.repeat(i % 20)}` }))
    await log.append('zipped', batch)
    for (const [j, r] of batch.entries()) expected.get('zipped-0')!.set(2 * i + j, [r.key, r.value])
    await log.append('kv', [{ key: `k${i % 10}`, value: i % 23 === 22 ? null : `kv ${i}` }])
  }
  await log.compact('kv')
  await log.close()

  // The compacted topic keeps the latest record of each key below its active segment: what the engine reads.
  const check = await Seglog.open(dir)
  try {
    const records = await check.read('kv', 0, 0, { maxRecords: 100_000, maxBytes: 64 << 20 })
    expect(records.length).toBeLessThan(120)
    expected.set('kv-0', new Map(records.map((r) => [r.offset, [r.key?.toString() ?? null, r.value as string | null]])))
  } finally {
    await check.close()
  }
  return expected
}

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.set(p, `${fs.statSync(p).mtimeMs} ${fs.readFileSync(p).toString('base64')}`)
    }
  }
  walk(dir)
  return out
}

async function verifyJson(target: string) {
  const r = await cli('verify', target, '--json')
  const lines = r.lines.map((l) => JSON.parse(l) as Record<string, unknown> & { type: string })
  return { code: r.code, stderr: r.stderr, lines, problems: lines.filter((l) => l.type === 'problem') }
}

const logsOf = (pdir: string): string[] =>
  fs
    .readdirSync(pdir)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .map((f) => path.join(pdir, f))

/** Batch positions of a .log (by walking the length fields), for aiming damage. */
function batchPositions(file: string): { position: number; size: number; baseOffset: number }[] {
  const b = fs.readFileSync(file)
  const out: { position: number; size: number; baseOffset: number }[] = []
  for (let pos = 0; pos + 61 <= b.length; ) {
    const size = b.readInt32BE(pos + 8) + 12
    out.push({ position: pos, size, baseOffset: Number(b.readBigInt64BE(pos)) })
    pos += size
  }
  return out
}

describe('seglog verify', () => {
  it('exits 0 on a clean directory, changes nothing, and the directory opens and reads back everything', async () => {
    const dir = path.join(root, 'data')
    const expected = await makeDirectory(dir)
    expect(logsOf(path.join(dir, 'plain-0')).length).toBeGreaterThan(2)
    const before = snapshot(dir)
    const { code, lines, problems, stderr } = await verifyJson(dir)
    expect(code, stderr).toBe(0)
    expect(problems).toEqual([])
    const summary = lines.at(-1)!
    expect(summary).toMatchObject({ type: 'summary', partitions: 4, problems: 0, clean: true })
    expect(summary.records).toBe([...expected.values()].reduce((s, m) => s + m.size, 0))
    expect(snapshot(dir)).toEqual(before)

    const human = await cli('verify', path.join(dir, 'kv-0'))
    expect(human.code).toBe(0)
    expect(human.lines.at(-1)).toMatch(/^verified 1 partition\(s\), \d+ segment\(s\), .*: no damage$/)

    const log = await Seglog.open(dir)
    try {
      for (const [tp, want] of expected) {
        const at = tp.lastIndexOf('-')
        const records = await log.read(tp.slice(0, at), Number(tp.slice(at + 1)), 0, {
          maxRecords: 100_000,
          maxBytes: 64 << 20,
        })
        expect(
          records.map((r) => [r.offset, r.key?.toString() ?? null, r.value]),
          tp,
        ).toEqual([...want].map(([o, [k, v]]) => [o, k, v]))
      }
    } finally {
      await log.close()
    }
  }, 120_000)

  it('names the file and position of a flipped byte, a truncated index, a wrong file name and a garbage tail (exit 1)', async () => {
    const clean = path.join(root, 'clean')
    await makeDirectory(clean)
    const damaged = (name: string): string => {
      const d = path.join(root, name)
      fs.cpSync(clean, d, { recursive: true })
      return d
    }

    // A flipped byte inside the records of the third batch of plain-0's first segment: its CRC fails.
    const flipped = damaged('flipped')
    const log0 = logsOf(path.join(flipped, 'plain-0'))[0]
    const victim = batchPositions(log0)[2]
    const bytes = fs.readFileSync(log0)
    bytes[victim.position + victim.size - 2] ^= 0x20
    fs.writeFileSync(log0, bytes)

    // A truncated offset index: 3 bytes of its last entry cut.
    const truncated = damaged('truncated')
    const index = logsOf(path.join(truncated, 'plain-1'))[0].replace(/\.log$/, '.index')
    const indexLength = fs.statSync(index).size
    expect(indexLength).toBeGreaterThan(16)
    fs.truncateSync(index, indexLength - 3)

    // A wrong file name: zipped-0's second segment (and its indexes) renamed 7 offsets above its base.
    const renamed = damaged('renamed')
    const second = logsOf(path.join(renamed, 'zipped-0'))[1]
    const base = Number(path.basename(second).slice(0, 20))
    const wrong = path.join(path.dirname(second), `${String(base + 7).padStart(20, '0')}.log`)
    for (const suffix of ['.log', '.index', '.timeindex']) {
      const from = second.replace(/\.log$/, suffix)
      if (fs.existsSync(from)) fs.renameSync(from, wrong.replace(/\.log$/, suffix))
    }

    // A garbage tail after the last batch of kv-0's active segment.
    const tail = damaged('tail')
    const last = logsOf(path.join(tail, 'kv-0')).at(-1)!
    const tailAt = fs.statSync(last).size
    fs.appendFileSync(last, Buffer.from('0123456789abcdef0123456789abcdef'))

    const before = snapshot(root)
    const cases = [
      { dir: flipped, file: log0, position: victim.position, offset: victim.baseOffset, message: /CRC mismatch/ },
      {
        dir: truncated,
        file: index,
        position: indexLength - 8,
        message: /truncated: length \d+ is not a multiple of 8/,
      },
      { dir: renamed, file: wrong, position: 0, offset: base, message: /file name says base offset \d+/ },
      { dir: tail, file: last, position: tailAt, message: /unreadable/ },
    ]
    for (const c of cases) {
      const { code, problems, stderr } = await verifyJson(c.dir)
      expect(code, `${c.dir}: ${stderr}`).toBe(1)
      expect(problems, c.dir).toHaveLength(1)
      expect(problems[0]).toMatchObject({
        file: c.file,
        position: c.position,
        ...(c.offset === undefined ? {} : { offset: c.offset }),
      })
      expect(problems[0].message).toMatch(c.message)
      const human = await cli('verify', c.dir)
      expect(human.code).toBe(1)
      expect(human.lines.some((l) => l.startsWith(`${c.file}: position ${c.position}`))).toBe(true)
    }

    // All four at once: four problems, one per damaged file.
    const all = path.join(root, 'all')
    fs.mkdirSync(all)
    for (const [c, tp] of [
      [flipped, 'plain-0'],
      [truncated, 'plain-1'],
      [renamed, 'zipped-0'],
      [tail, 'kv-0'],
    ] as const) {
      fs.cpSync(path.join(c, tp), path.join(all, tp), { recursive: true })
    }
    const { code, problems } = await verifyJson(all)
    expect(code).toBe(1)
    expect(problems.map((p) => path.relative(all, p.file as string)).sort()).toEqual(
      cases.map((c) => path.relative(c.dir, c.file)).sort(),
    )
    // verify read every damaged file and wrote none.
    for (const [p, v] of before) expect(snapshot(root).get(p), p).toBe(v)
  }, 180_000)

  it('notes a compaction in progress and a stranger file without calling them damage', async () => {
    const dir = path.join(root, 'data')
    await makeDirectory(dir)
    const pdir = path.join(dir, 'kv-0')
    fs.copyFileSync(logsOf(pdir)[0], `${logsOf(pdir)[0]}.cleaned`)
    fs.writeFileSync(path.join(pdir, 'README.txt'), 'mine')
    const { code, lines } = await verifyJson(dir)
    expect(code).toBe(0)
    const notes = lines.filter((l) => l.type === 'note').map((l) => path.basename(l.file as string))
    expect(notes.sort()).toEqual([`${path.basename(logsOf(pdir)[0])}.cleaned`, 'README.txt'])
  }, 120_000)

  it('exits 2 with a one-line message and the usage on bad usage', async () => {
    fs.writeFileSync(path.join(root, 'file.txt'), 'x')
    for (const args of [[], [path.join(root, 'missing')], [path.join(root, 'file.txt')], [root, '--records'], [root]]) {
      const r = await cli('verify', ...args)
      expect(r.code, `verify ${args.join(' ')}: ${r.stderr}`).toBe(2)
      const err = r.stderr.trim().split('\n')
      expect(err).toHaveLength(2)
      expect(err[0]).toMatch(/^seglog verify: /)
      expect(err[1]).toBe('usage: seglog verify <dir> [--json]')
    }
    const help = await cli('verify', '--help')
    expect(help.code).toBe(0)
    expect(help.lines[0]).toBe('usage: seglog verify <dir> [--json]')
  }, 60_000)
})
