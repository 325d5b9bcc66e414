/**
 * Open and close, diagnostic: what a fresh process pays to import seglog, open a directory, close it (after no
 * writes and after writing one partition), and open + read the last record of a 1 M-record partition (W5 through
 * the public API). Every figure is measured inside its own fresh child process (`node <script>`), timed with
 * `performance.now()` around the call only; the median of `--runs` children is reported.
 *
 *   npm run build:scripts && node build/bench/open-close.js [--runs 7] [--partitions 1,100,1000] [--no-w5]
 *                                                           [--entry dist/main.js]
 *
 * - import: `await import(entry)` against `await import(<an empty module>)` in the same run.
 * - open / close clean: a directory of one topic of P partitions (binary values, one record each), closed
 *   cleanly; the child imports seglog (not timed), then times `Seglog.open(dir)` and, with nothing written,
 *   `close()`. A child that sees a `recovered` event fails the run (the previous close was not clean).
 * - close after 1 write: the same, with one `append` (acks 1) to partition 0 before the timed `close()`.
 * - W5: `Seglog.open` + `read(topic, 0, logEnd - 1, { maxRecords: 1 })` on a partition of 1 M records
 *   (16-byte keys, 100-byte values, batches of 1,000), alone and as partition 0 of a topic of 1,000 partitions
 *   (the others one record each).
 *
 * The entry defaults to the package entry compiled next to this script (build/src/main.js); `--entry
 * dist/main.js` times the built package. Peers (lmdb, better-sqlite3) are in `peers.ts`: this script is for
 * diagnosis. Data lives in a fresh temp dir, removed at the end. Prints a table, then one JSON line.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { makeRecordData, median, printTable, sig } from './common.js'

type SeglogModule = typeof import('../src/main.js')

const W5_RECORDS = 1_000_000
const W5_BATCH = 1000

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback
}

/** The child scripts: each prints one JSON line of timings (ms). */
const CHILD_IMPORT = `
const t0 = performance.now()
await import(process.argv[2])
console.log(JSON.stringify({ importMs: performance.now() - t0 }))
`
const CHILD_OPEN_CLOSE = `
const [, , entry, dir, topic, write] = process.argv
const { Seglog } = await import(entry)
let recovered = 0
const onEvent = (e) => { if (e.type === 'recovered') recovered++ }
const t0 = performance.now()
const log = await Seglog.open(dir, { onEvent })
const t1 = performance.now()
if (write === 'write') await log.append(topic, [{ partition: 0, value: Buffer.from('x') }], { acks: 1 })
const t2 = performance.now()
await log.close()
const t3 = performance.now()
console.log(JSON.stringify({ openMs: t1 - t0, closeMs: t3 - t2, recovered }))
`
const CHILD_W5 = `
const [, , entry, dir, topic] = process.argv
const { Seglog } = await import(entry)
let recovered = 0
const onEvent = (e) => { if (e.type === 'recovered') recovered++ }
const t0 = performance.now()
const log = await Seglog.open(dir, { onEvent })
const end = log.offsets(topic, 0).logEndOffset
const recs = await log.read(topic, 0, end - 1, { maxRecords: 1 })
const t1 = performance.now()
if (recs.length !== 1 || recs[0].offset !== end - 1) throw new Error('read the wrong record: ' + recs[0]?.offset)
await log.close()
console.log(JSON.stringify({ w5Ms: t1 - t0, recovered, end }))
`

/** Runs `script args` in `runs` fresh children (after one warm-up that fills the page cache); their JSON lines. */
function children(script: string, args: string[], runs: number): Record<string, number>[] {
  const out: Record<string, number>[] = []
  for (let i = -1; i < runs; i++) {
    const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`child ${script} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number>
    if ((result.recovered ?? 0) > 0) throw new Error(`child ${args.join(' ')} ran recovery: the close was not clean`)
    if (i >= 0) out.push(result)
  }
  return out
}

const med = (rows: Record<string, number>[], key: string): number => sig(median(rows.map((r) => r[key])), 3)
const spread = (rows: Record<string, number>[], key: string): string => {
  const v = rows.map((r) => r[key])
  return `${sig(Math.min(...v), 3)}–${sig(Math.max(...v), 3)}`
}

/** One topic `t` of `partitions` partitions, one binary record each, closed cleanly. */
async function makeDir(seglog: SeglogModule, dir: string, partitions: number, bigFirst: boolean): Promise<void> {
  const log = await seglog.Seglog.open(dir)
  await log.createTopic('t', { partitions, config: { format: 'binary' } })
  await log.append(
    't',
    Array.from({ length: partitions }, (_, p) => ({ partition: p, value: Buffer.from(`p${p}`) })),
  )
  if (bigFirst) {
    const data = makeRecordData()
    const batch = Array.from({ length: W5_BATCH }, (_, j) => ({
      partition: 0,
      key: data.keys[j],
      value: data.values[j],
    }))
    for (let i = 1; i < W5_RECORDS; i += W5_BATCH) {
      await log.append('t', i + W5_BATCH > W5_RECORDS ? batch.slice(0, W5_RECORDS - i) : batch, { acks: 1 })
    }
  }
  await log.close()
}

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const entry = path.resolve(arg('entry', path.join(here, '../src/main.js')))
  if (!fs.existsSync(entry)) throw new Error(`no entry at ${entry}: run npm run build:scripts (or pass --entry)`)
  const entryUrl = pathToFileURL(entry).href
  const runs = Number(arg('runs', '7'))
  const counts = arg('partitions', '1,100,1000').split(',').map(Number)
  const w5 = !process.argv.includes('--no-w5')
  const seglog = (await import(entryUrl)) as SeglogModule
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-bench-open-'))
  try {
    const script = (name: string, text: string): string => {
      const file = path.join(root, name)
      fs.writeFileSync(file, text)
      return file
    }
    const importScript = script('import.mjs', CHILD_IMPORT)
    const openScript = script('open-close.mjs', CHILD_OPEN_CLOSE)
    const w5Script = script('w5.mjs', CHILD_W5)
    const empty = pathToFileURL(script('empty.mjs', 'export {}\n')).href
    console.log(`seglog open/close — node ${process.version}, ${runs} child processes per figure, ${entry}`)
    console.log(
      `load average at start: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    )

    const seglogImport = children(importScript, [entryUrl], runs)
    const emptyImport = children(importScript, [empty], runs)
    printTable(
      ['cold import', 'median ms', 'min–max ms'],
      [
        ['seglog', String(med(seglogImport, 'importMs')), spread(seglogImport, 'importMs')],
        ['empty module', String(med(emptyImport, 'importMs')), spread(emptyImport, 'importMs')],
      ],
    )
    console.log('')

    const rows: string[][] = []
    const perCount: Record<string, unknown>[] = []
    for (const p of counts) {
      const dir = path.join(root, `p${p}`)
      await makeDir(seglog, dir, p, false)
      const clean = children(openScript, [entryUrl, dir, 't', 'none'], runs)
      const written = children(openScript, [entryUrl, dir, 't', 'write'], runs)
      rows.push([
        String(p),
        String(med(clean, 'openMs')),
        String(med(clean, 'closeMs')),
        String(med(written, 'closeMs')),
        spread(clean, 'openMs'),
        spread(clean, 'closeMs'),
      ])
      perCount.push({
        partitions: p,
        openMs: med(clean, 'openMs'),
        closeCleanMs: med(clean, 'closeMs'),
        closeAfterWriteMs: med(written, 'closeMs'),
      })
      fs.rmSync(dir, { recursive: true, force: true })
    }
    printTable(
      ['partitions', 'open ms', 'close ms (no writes)', 'close ms (1 write)', 'open min–max', 'close min–max'],
      rows,
    )
    console.log('targets at 1,000 partitions: open <= 15 ms, close after no writes <= 50 ms')

    const w5Rows: Record<string, unknown>[] = []
    if (w5) {
      console.log('')
      const table: string[][] = []
      for (const p of [1, 1000]) {
        const dir = path.join(root, `w5-${p}`)
        await makeDir(seglog, dir, p, true)
        const r = children(w5Script, [entryUrl, dir, 't'], runs)
        table.push([`1 M records, ${p} partition${p === 1 ? '' : 's'}`, String(med(r, 'w5Ms')), spread(r, 'w5Ms')])
        w5Rows.push({ partitions: p, records: W5_RECORDS, w5Ms: med(r, 'w5Ms') })
        fs.rmSync(dir, { recursive: true, force: true })
      }
      printTable(['W5 open + read last (public API)', 'median ms', 'min–max ms'], table)
    }
    console.log(
      `load average at end: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    )
    console.log(
      JSON.stringify({
        bench: 'open-close',
        node: process.version,
        runs,
        importMs: { seglog: med(seglogImport, 'importMs'), emptyModule: med(emptyImport, 'importMs') },
        openClose: perCount,
        w5: w5Rows,
      }),
    )
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

await main()
