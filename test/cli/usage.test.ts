/**
 * Bad usage of the data commands (unknown command, option or action, a missing argument, a bad offset or position,
 * a bad `--config`, `--acks`, `--partitions` or `--max`) exits 2 with a one-line message and the command's usage,
 * never a stack trace, and changes nothing; `--help` prints the usage and the details and exits 0. The progress
 * line of a long consume shows on a terminal's stderr while stdout goes to a file, and not otherwise.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'
import { seglog } from '../support/cli-run.js'
import { snapshotDir } from '../support/dir-snapshot.js'
import { CLI_ENTRY, REPO_ROOT } from '../support/wire-harness.js'

let dir: string
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-cli-usage-'))
  const log = await Seglog.open(dir)
  await log.createTopic('t', { partitions: 2, config: { format: 'string' } })
  await log.append(
    't',
    Array.from({ length: 3000 }, (_, i) => ({ partition: i % 2, value: `value ${i}` })),
  )
  await log.close()
})
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const USAGE: Record<string, string> = {
  topics: 'usage: seglog topics <dir> [--json]',
  topic:
    'usage: seglog topic <dir> create|describe|alter|delete <name> [--partitions N] [--config key=value]... [--json]',
  produce:
    'usage: seglog produce <dir> <topic> [--partition N] [--key-separator S] [--input text|json] [--acks -1|1|0] [--json]',
  consume:
    'usage: seglog consume <dir> <topic> [--partition N] [--from earliest|latest|OFFSET|@EPOCH_MS] [--max N] [--follow] [--group G] [--json]',
  groups: 'usage: seglog groups <dir> [--json]',
  group:
    'usage: seglog group <dir> describe|reset|delete <id> [--topic T] [--partition N] [--to earliest|latest|OFFSET|@EPOCH_MS] [--json]',
}

describe('bad usage', () => {
  const cases: { args: (d: string) => string[]; message: string }[] = [
    { args: (d) => ['topics', d, '--bogus'], message: 'seglog topics: unknown option --bogus' },
    { args: () => ['topics'], message: 'seglog topics: the directory is missing' },
    { args: (d) => ['topics', d, 'extra'], message: 'seglog topics: unexpected argument "extra"' },
    { args: (d) => ['consume', d], message: 'seglog consume: the topic is missing' },
    {
      args: (d) => ['consume', d, 't', '--from', '-5'],
      message: 'seglog consume: --from must be earliest, latest, OFFSET or @EPOCH_MS, got "-5"',
    },
    {
      args: (d) => ['consume', d, 't', '--from', '@soon'],
      message: 'seglog consume: --from must be earliest, latest, OFFSET or @EPOCH_MS, got "@soon"',
    },
    {
      args: (d) => ['consume', d, 't', '--from', '3'],
      message: 'seglog consume: --from OFFSET is an offset of one partition: give --partition too',
    },
    { args: (d) => ['consume', d, 't', '--max', '0'], message: 'seglog consume: --max must be an integer >= 1, got 0' },
    { args: (d) => ['consume', d, 't', '--from'], message: 'seglog consume: --from needs a value' },
    {
      args: (d) => ['topic', d, 'create', 'x', '--config', 'retention.ms=soon'],
      message:
        'seglog topic: --config retention.ms=soon: retentionMs must be an integer in [-1, Number.MAX_SAFE_INTEGER] (-1 = forever), got "soon"',
    },
    {
      args: (d) => ['topic', d, 'create', 'x', '--config', 'retension.ms=5'],
      message: 'seglog topic: --config: unknown topic setting "retension.ms"',
    },
    {
      args: (d) => ['topic', d, 'create', 'x', '--config', 'cleanup.policy'],
      message: 'seglog topic: --config needs name=value, got "cleanup.policy"',
    },
    {
      args: (d) => ['topic', d, 'create', 'x', '--partitions', '0'],
      message: 'seglog topic: --partitions must be an integer in [1, 100000], got 0',
    },
    {
      args: (d) => ['topic', d, 'rename', 'x'],
      message: 'seglog topic: unknown action "rename" (create, describe, alter, delete)',
    },
    { args: (d) => ['topic', d, 'create'], message: 'seglog topic: the topic name is missing' },
    {
      args: (d) => ['topic', d, 'alter', 't'],
      message: 'seglog topic: alter needs --config name=value or --partitions N',
    },
    { args: (d) => ['produce', d, 't', '--acks', '2'], message: 'seglog produce: --acks must be -1, 1 or 0, got 2' },
    {
      args: (d) => ['produce', d, 't', '--input', 'xml'],
      message: 'seglog produce: --input must be text or json, got xml',
    },
    {
      args: (d) => ['group', d, 'reset', 'g', '--topic', 't', '--to', 'tomorrow'],
      message: 'seglog group: --to must be earliest, latest, OFFSET or @EPOCH_MS, got "tomorrow"',
    },
    { args: (d) => ['group', d, 'reset', 'g', '--to', 'earliest'], message: 'seglog group: reset needs --topic T' },
    { args: (d) => ['group', d, 'describe'], message: 'seglog group: the group id is missing' },
  ]
  it('exits 2 with the message and the usage line, no stack trace, nothing changed', async () => {
    const before = snapshotDir(dir)
    for (const c of cases) {
      const args = c.args(dir)
      const r = await seglog(args)
      const lines = r.stderr.trimEnd().split('\n')
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(lines, args.join(' ')).toEqual([c.message, USAGE[args[0]]])
      expect(r.stdout, args.join(' ')).toBe('')
    }
    expect(snapshotDir(dir)).toEqual(before)
    expect(fs.existsSync(path.join(dir, 'x-0'))).toBe(false)
  }, 300_000)

  it('answers an unknown command with its name and the list of commands', async () => {
    const r = await seglog(['frobnicate', dir])
    expect(r.code).toBe(2)
    const lines = r.stderr.split('\n')
    expect(lines[0]).toBe('seglog: unknown command "frobnicate"')
    for (const name of Object.keys(USAGE)) expect(r.stderr).toContain(USAGE[name].replace('usage: ', ''))
    expect(r.stderr).not.toMatch(/\n\s+at /)
  }, 60_000)

  it('prints the usage and the details for --help, exit 0', async () => {
    for (const name of Object.keys(USAGE)) {
      const r = await seglog([name, '--help'])
      expect(r.code, name).toBe(0)
      expect(r.lines[0], name).toBe(USAGE[name])
      expect(r.lines.length, name).toBeGreaterThan(4)
      expect(r.stderr, name).toBe('')
    }
  }, 180_000)
})

describe('the progress line', () => {
  it('shows on a terminal stderr while stdout goes to a file, and is erased; without a terminal there is none', async () => {
    const out = path.join(dir, '..', `${path.basename(dir)}-out.jsonl`)
    try {
      // `script` gives the command a terminal; the shell sends stdout to the file, stderr stays on the terminal.
      const cmd = `${process.execPath} --import tsx ${CLI_ENTRY} consume ${dir} t --json > ${out}`
      const terminal = execFileSync('script', ['-qec', cmd, '/dev/null'], { cwd: REPO_ROOT, encoding: 'utf8' })
      expect(terminal).toMatch(/\rconsumed \d+ records of 3000 \(\d+%\), \d+ records\/s/)
      expect(terminal.endsWith('\r\x1b[K')).toBe(true)
      expect(fs.readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(3000)
      const piped = await seglog(['consume', dir, 't', '--json'])
      expect(piped.code).toBe(0)
      expect(piped.stderr).toBe('')
      expect(piped.lines).toHaveLength(3000)
    } finally {
      fs.rmSync(out, { force: true })
    }
  }, 120_000)
})
