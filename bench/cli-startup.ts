/**
 * CLI startup: the wall time of `seglog topics <dir>` on a directory of 1,000 partitions (10 topics of 100, one
 * record each, by default), process start to exit, import included: each run is a fresh `node <cli> topics <dir>` child. Target:
 * <= 150 ms. A bare `node -e 0` is measured the same way in the same run, as the floor any command pays.
 *
 *   npm run build:scripts && node build/bench/cli-startup.js [--runs 21] [--topics 10] [--entry path/to/cli/main.js]
 *     [--against path/to/other/cli/main.js]
 *
 * `--topics N` spreads the 1,000 partitions over N topics (default 10 of 100; 1000 gives topics of one partition,
 * the layout with the most topic files to read).
 *
 * The entry defaults to the CLI compiled next to this script (build/src/cli/main.js); `--entry dist/cli/main.js`
 * times the built package instead. `--against` times a second CLI (another build, e.g. of the previous commit) on
 * the same directory, its runs paired with the entry's (one of each in turn, so the machine's load falls on both
 * alike). The directory is made in a fresh temp dir and removed at the end. Prints a table, then one JSON line with
 * every figure.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Seglog } from '../src/main.js'
import { median, percentile, printTable } from './common.js'

const TOTAL_PARTITIONS = 1000
const TARGET_MS = 150

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback
}

/**
 * Wall times in ms of `runs` runs of each command (`node ...args`), taken in turn (one of each per round), after 2
 * warm-up rounds that fill the page cache.
 */
function time(commands: string[][], runs: number): number[][] {
  const out = commands.map((): number[] => [])
  for (let i = -2; i < runs; i++) {
    for (const [c, args] of commands.entries()) {
      const started = performance.now()
      const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      const ms = performance.now() - started
      if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`)
      if (i >= 0) out[c].push(ms)
    }
  }
  return out
}

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const entry = path.resolve(arg('entry', path.join(here, '../src/cli/main.js')))
  const against = process.argv.includes('--against') ? path.resolve(arg('against', '')) : null
  const runs = Number(arg('runs', '21'))
  const TOPICS = Number(arg('topics', '10'))
  const PARTITIONS = Math.ceil(TOTAL_PARTITIONS / TOPICS)
  if (!fs.existsSync(entry)) throw new Error(`no CLI at ${entry}: run npm run build:scripts (or pass --entry)`)
  if (against !== null && !fs.existsSync(against)) throw new Error(`no CLI at ${against} (--against)`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-bench-cli-'))
  try {
    const log = await Seglog.open(dir)
    for (let t = 0; t < TOPICS; t++) {
      await log.createTopic(`topic${t}`, { partitions: PARTITIONS })
      await log.append(
        `topic${t}`,
        Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, value: { t, p } })),
      )
    }
    await log.close()
    for (const cli of against === null ? [entry] : [entry, against]) {
      const check = spawnSync(process.execPath, [cli, 'topics', dir, '--json'], { encoding: 'utf8' })
      const listed = check.stdout
        .trim()
        .split('\n')
        .filter((l) => l !== '').length
      if (check.status !== 0 || listed !== TOPICS)
        throw new Error(`${cli} topics listed ${listed} topics: ${check.stderr}`)
    }
    const commands = [
      [entry, 'topics', dir],
      ['-e', '0'],
    ]
    if (against !== null) commands.push([against, 'topics', dir])
    const [cli, bare, other] = time(commands, runs)
    const row = (name: string, s: number[]) => [
      name,
      Math.min(...s).toFixed(0),
      median(s).toFixed(0),
      percentile(s, 90).toFixed(0),
    ]
    console.log(`seglog topics on ${TOPICS * PARTITIONS} partitions (${TOPICS} topics), ${runs} runs, ${entry}`)
    const rows = [row('seglog topics <dir>', cli), row('node -e 0', bare)]
    if (other !== undefined) rows.push(row(`--against ${against}`, other))
    printTable(['command', 'min ms', 'median ms', 'p90 ms'], rows)
    const verdict = median(cli) <= TARGET_MS ? '✓' : '✗'
    console.log(
      `target: median <= ${TARGET_MS} ms ${verdict} (above a bare node start: ${(median(cli) - median(bare)).toFixed(0)} ms)`,
    )
    console.log(
      JSON.stringify({
        bench: 'cli-startup',
        partitions: TOPICS * PARTITIONS,
        runs,
        topicsMs: { min: Math.min(...cli), median: median(cli), p90: percentile(cli, 90) },
        bareNodeMs: { min: Math.min(...bare), median: median(bare), p90: percentile(bare, 90) },
        ...(other === undefined
          ? {}
          : { againstMs: { min: Math.min(...other), median: median(other), p90: percentile(other, 90) } }),
      }),
    )
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

await main()
