/**
 * seglog against the embedded stores a Node user would pick instead, and against raw fs (the limit of the method):
 * workloads W1–W5 through each store's public API, each (store, workload) phase in its own child process.
 *
 *   npm run build && npm run build:scripts && node build/bench/peers.js [--entry dist|build] [--stores seglog,raw,lmdb,sqlite]
 *
 * seglog is loaded through the package entry (`exports` of package.json: dist/main.js, so `npm run build` first;
 * `--entry build` uses build/src/main.js, compiled by build:scripts from the same sources). The peers, lmdb and
 * better-sqlite3@12, are not dependencies of seglog: they live in bench/peers/ (own package.json and lock) and
 * are installed there with `npm ci --prefix bench/peers` when missing; a peer that cannot be installed or loaded is
 * reported and skipped. How each store is used: the header of peers-child.ts.
 *
 * Records: 16-byte key + 100-byte value, 1,000 distinct slots of seeded random bytes (the same bytes in every
 * process), record i = slot i % 1000. Per run (2 runs; stores in alternating order, reversed in the second run):
 *   W1  append N records in batches of 1,000, durable once at the end (records/s)
 *   W2  durable append of 1 record (+ fsync), 2,000 iterations after 20 warm-up, in a fresh store (p50/p99 ms)
 *   W3  sequential read of W1's data in chunks of 1,000 (records/s)
 *   W4  10,000 point reads at offsets from mulberry32(0x5eed2024) (p50/p99 µs)
 *   W5  open in a fresh process + read the last record (ms; median of 11 processes, the clock starts after import)
 * and: the cold `import()` of each store's module in a fresh `node` (median of 10 per run, against the import of
 * an empty module); seglog on 1,000 partitions of one record each (open, open + read last, close with no writes,
 * close after one append to every partition; 5 fresh processes each per run); peak RSS of every phase (the
 * child's `process.resourceUsage().maxRSS`).
 * Prints a table (ranges over the runs), the ratios seglog / best peer and seglog / raw next to issue 13's
 * targets, then one JSON line with every figure. Temp data in a `mkdtemp` dir under os.tmpdir(), removed at the end.
 * Environment (quick trials only): SEGLOG_BENCH_RECORDS (default 1000000, a multiple of 1000), SEGLOG_BENCH_RUNS
 * (default 2), SEGLOG_BENCH_PHASE_TIMEOUT_S (default 300 per million records, at least 120).
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fmtNum, median, printTable, sig } from './common.js'
import {
  MANY_PARTITIONS,
  PEER_PACKAGES,
  type Phase,
  type PhaseRequest,
  type PhaseResult,
  packageEntry,
  packageVersion,
  RESULT_PREFIX,
  STORES,
  type StoreName,
  W2_ITERATIONS,
  W2_WARMUP,
  W4_READS,
  W4_SEED,
} from './peers-shared.js'

const N = Number(process.env.SEGLOG_BENCH_RECORDS ?? 1_000_000)
const RUNS = Number(process.env.SEGLOG_BENCH_RUNS ?? 2)
const W5_REPS = 11
const IMPORT_REPS = 10
const MANY_REPS = 5
const PHASE_TIMEOUT_MS =
  1000 * Number(process.env.SEGLOG_BENCH_PHASE_TIMEOUT_S ?? Math.max(120, Math.ceil((300 * N) / 1e6)))
const INSTALL_TIMEOUT_MS = 20 * 60_000

if (!Number.isInteger(N) || N < 1000 || N % 1000 !== 0) throw new Error('SEGLOG_BENCH_RECORDS: a multiple of 1000')
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('SEGLOG_BENCH_RUNS: a positive integer')

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '../..')
const peersPackage = join(repo, 'bench', 'peers', 'package.json')
const childScript = join(here, 'peers-child.js')

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const PEERS = ['lmdb', 'sqlite'] as const satisfies readonly StoreName[]
const LABEL: Record<StoreName, string> = { seglog: 'seglog', raw: 'raw fs', lmdb: 'lmdb', sqlite: 'better-sqlite3' }

// ------------------------------------------------------------------------------------------------ set-up

/** The seglog entry: the package's own `exports` (dist/main.js), or build/src/main.js with `--entry build`. */
function seglogEntry(): string {
  const which = arg('entry') ?? 'dist'
  if (which === 'build') return pathToFileURL(join(repo, 'build', 'src', 'main.js')).href
  if (which !== 'dist') throw new Error(`--entry dist|build, got ${which}`)
  const entry = packageEntry(null, join(repo, 'package.json'))
  const file = fileURLToPath(entry)
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build first (or pass --entry build)`)
  const built = fs.statSync(file).mtimeMs
  const newer = fs
    .readdirSync(join(repo, 'src'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && fs.statSync(join(e.parentPath, e.name)).mtimeMs > built)
  if (newer.length > 0) {
    console.log(`WARNING: ${newer.length} file(s) in src/ are newer than dist/main.js: run npm run build first`)
  }
  return entry
}

/** Installs bench/peers when a peer is missing; returns the peers that load, and why the others do not. */
function preparePeers(wanted: readonly StoreName[]): { ok: StoreName[]; skipped: Record<string, string> } {
  const skipped: Record<string, string> = {}
  const peers = PEERS.filter((p) => wanted.includes(p))
  if (peers.some((p) => packageVersion(PEER_PACKAGES[p]!, peersPackage) === null)) {
    console.log('Installing the peers: npm ci --prefix bench/peers (better-sqlite3 compiles with node-gyp: minutes)')
    const r = spawnSync('npm', ['ci', '--prefix', dirname(peersPackage), '--no-audit', '--no-fund'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: INSTALL_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    })
    if (r.status !== 0) console.log(`npm ci --prefix bench/peers failed (status ${r.status}, ${r.error ?? ''})`)
  }
  const ok: StoreName[] = []
  for (const p of peers) {
    const name = PEER_PACKAGES[p]!
    if (packageVersion(name, peersPackage) === null) {
      skipped[p] = `${name} is not installed in bench/peers/node_modules`
      continue
    }
    // Load it (and, for better-sqlite3, its native addon, which loads at the first `new Database`) in a child.
    const url = packageEntry(name, peersPackage)
    const code =
      p === 'sqlite'
        ? `const m = await import(${JSON.stringify(url)}); new m.default(':memory:').close()`
        : `await import(${JSON.stringify(url)})`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 })
    if (r.status === 0) ok.push(p)
    else skipped[p] = `${name} does not load: ${(r.stderr || String(r.error)).trim().split('\n').slice(0, 3).join(' ')}`
  }
  return { ok, skipped }
}

// ------------------------------------------------------------------------------------------------ children

type Outcome = PhaseResult | { error: string }

function isError(o: Outcome | undefined): o is { error: string } {
  return o !== undefined && 'error' in o
}

function runChild(request: PhaseRequest): Outcome {
  const r = spawnSync(process.execPath, [childScript, JSON.stringify(request)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: PHASE_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
  })
  const line = r.stdout?.split('\n').find((l) => l.startsWith(RESULT_PREFIX))
  if (r.status === 0 && line !== undefined) return JSON.parse(line.slice(RESULT_PREFIX.length)) as PhaseResult
  const why =
    r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT'
      ? `timed out after ${PHASE_TIMEOUT_MS / 1000} s`
      : `exit ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').slice(-4).join(' | ')}`
  console.log(`  ! ${request.store} ${request.phase}: ${why}`)
  return { error: why }
}

/** Wall and in-process time of `import(url)` in a fresh node (sqlite: + loading its native addon). */
function timeImport(url: string, nativeInit: boolean): { importMs: number; wallMs: number } | { error: string } {
  const init = nativeInit ? "; new m.default(':memory:').close()" : ''
  const code =
    `const t0 = performance.now(); const m = await import(${JSON.stringify(url)})${init}; ` +
    'process.stdout.write(String(performance.now() - t0))'
  const t0 = performance.now()
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 })
  const wallMs = performance.now() - t0
  if (r.status !== 0) return { error: (r.stderr || String(r.error)).trim().split('\n')[0] }
  return { importMs: Number(r.stdout), wallMs }
}

// ------------------------------------------------------------------------------------------------ run

interface RunResult {
  order: StoreName[]
  phases: Partial<Record<StoreName, Partial<Record<Phase, Outcome>>>>
  /** W5 per store: one outcome per fresh process */
  w5: Partial<Record<StoreName, Outcome[]>>
  /** import times per target (store name, or 'empty' for the baseline) */
  imports: Record<string, { importMs: number; wallMs: number }[]>
  importErrors: Record<string, string>
  many: { open: Outcome[]; write: Outcome[] } | null
}

async function main(): Promise<void> {
  const started = performance.now()
  const loadStart = os.loadavg()
  const wanted = (arg('stores')?.split(',') ?? [...STORES]) as StoreName[]
  for (const s of wanted) if (!STORES.includes(s)) throw new Error(`--stores: unknown store ${s}`)
  const entry = seglogEntry()
  const { ok: peersOk, skipped } = preparePeers(wanted)
  const stores = STORES.filter((s) => wanted.includes(s) && (!PEERS.includes(s as never) || peersOk.includes(s)))
  const versions = {
    node: process.version,
    lmdb: packageVersion('lmdb', peersPackage),
    'better-sqlite3': packageVersion('better-sqlite3', peersPackage),
  }
  const root = fs.mkdtempSync(join(os.tmpdir(), 'seglog-bench-peers-'))
  const cleanup = (): void => fs.rmSync(root, { recursive: true, force: true })
  process.on('SIGINT', () => {
    cleanup()
    process.exit(130)
  })
  console.log(
    `seglog vs peers — node ${process.version}, ${N.toLocaleString('en-US')} records (16 B key + 100 B value), ` +
      `${RUNS} runs, a child process per phase; load average ${loadStart.map((l) => l.toFixed(2)).join(' ')}`,
  )
  console.log(`seglog entry ${entry}; peers: lmdb ${versions.lmdb}, better-sqlite3 ${versions['better-sqlite3']}`)
  for (const [p, why] of Object.entries(skipped)) console.log(`SKIPPED ${p}: ${why}`)
  console.log(`data in ${root}`)

  const emptyModule = join(root, 'empty.mjs')
  fs.writeFileSync(emptyModule, '')
  const importTargets: { name: string; url: string; nativeInit: boolean }[] = [
    { name: 'empty', url: pathToFileURL(emptyModule).href, nativeInit: false },
  ]
  if (stores.includes('seglog')) importTargets.push({ name: 'seglog', url: entry, nativeInit: false })
  for (const p of PEERS) {
    if (stores.includes(p))
      importTargets.push({ name: p, url: packageEntry(PEER_PACKAGES[p]!, peersPackage), nativeInit: p === 'sqlite' })
  }

  const runs: RunResult[] = []
  try {
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? [...stores] : [...stores].reverse()
      const runDir = join(root, `run${run}`)
      const result: RunResult = { order, phases: {}, w5: {}, imports: {}, importErrors: {}, many: null }
      runs.push(result)
      const request = (store: StoreName, phase: Phase, dir: string): PhaseRequest => ({
        store,
        phase,
        dir,
        records: N,
        seglogEntry: entry,
        peersPackage,
      })
      const phase = (store: StoreName, p: Phase, dir = join(runDir, store)): Outcome => {
        const o = runChild(request(store, p, dir))
        result.phases[store] ??= {}
        result.phases[store]![p] = o
        return o
      }
      console.log(`run ${run + 1}/${RUNS}: ${order.join(', ')}`)
      for (const s of order) phase(s, 'w1')
      for (const s of order) {
        phase(s, 'w2', join(runDir, `${s}-w2`))
        fs.rmSync(join(runDir, `${s}-w2`), { recursive: true, force: true })
      }
      const loaded = order.filter((s) => !isError(result.phases[s]?.w1))
      for (const s of loaded) phase(s, 'w3')
      for (const s of loaded) phase(s, 'w4')
      for (let k = 0; k < W5_REPS; k++) {
        for (const s of loaded) {
          result.w5[s] ??= []
          result.w5[s]!.push(runChild(request(s, 'w5', join(runDir, s))))
        }
      }
      console.log(`  W1–W5 done (${sig((performance.now() - started) / 1000, 3)} s)`)
      for (let k = 0; k < IMPORT_REPS; k++) {
        for (const t of importTargets) {
          const r = timeImport(t.url, t.nativeInit)
          if ('error' in r) result.importErrors[t.name] = r.error
          else (result.imports[t.name] ??= []).push(r)
        }
      }
      if (stores.includes('seglog')) {
        const dir = join(runDir, 'many')
        const built = runChild(request('seglog', 'many-build', dir))
        if (!isError(built)) {
          result.many = { open: [], write: [] }
          for (let k = 0; k < MANY_REPS; k++) {
            result.many.open.push(runChild(request('seglog', 'many-open', dir)))
            result.many.write.push(runChild(request('seglog', 'many-write', dir)))
          }
        }
      }
      fs.rmSync(runDir, { recursive: true, force: true })
      console.log(`  run ${run + 1} done (${sig((performance.now() - started) / 1000, 3)} s)`)
    }
  } finally {
    cleanup()
  }
  report(runs, stores, skipped, versions, entry, loadStart, started)
}

// ------------------------------------------------------------------------------------------------ report

type Better = 'higher' | 'lower'

/** One figure of one store in one run, or undefined when that phase failed or did not run. */
type Pick = (run: RunResult, s: StoreName) => number | undefined

const fromPhase =
  (p: Phase, field: keyof PhaseResult): Pick =>
  (run, s) => {
    const o = run.phases[s]?.[p]
    if (o === undefined || isError(o)) return undefined
    const v = o[field]
    return typeof v === 'number' ? v : undefined
  }

const medianOf = (outcomes: Outcome[] | undefined, field: keyof PhaseResult): number | undefined => {
  const xs = (outcomes ?? []).filter((o): o is PhaseResult => !isError(o)).map((o) => o[field] as number)
  return xs.length === 0 ? undefined : median(xs)
}

interface Metric {
  label: string
  unit: string
  better: Better
  pick: Pick
  /** target text, and a check of the per-run ratios (vs best peer, vs raw) */
  target?: string
  met?: (vsPeer: number | undefined, vsRaw: number | undefined, seglog: number | undefined) => boolean | undefined
}

function range(xs: (number | undefined)[], digits = 3): string {
  const ys = xs.filter((x): x is number => x !== undefined && Number.isFinite(x))
  if (ys.length === 0) return '—'
  const lo = Math.min(...ys)
  const hi = Math.max(...ys)
  const f = (x: number) => fmtNum(x, digits)
  return f(lo) === f(hi) ? f(lo) : `${f(lo)}–${f(hi)}`
}

function report(
  runs: RunResult[],
  stores: StoreName[],
  skipped: Record<string, string>,
  versions: Record<string, string | null>,
  entry: string,
  loadStart: number[],
  started: number,
): void {
  const peers = PEERS.filter((p) => stores.includes(p))
  const w5: Pick = (run, s) => medianOf(run.w5[s], 'ms')
  const w5open: Pick = (run, s) => medianOf(run.w5[s], 'openMs')
  const imp: Pick = (run, s) => {
    const xs = run.imports[s]
    return xs === undefined ? undefined : median(xs.map((x) => x.importMs))
  }
  const metrics: Metric[] = [
    {
      label: `W1 append ${fmtNum(N)}, batches of 1,000, durable at the end`,
      unit: 'rec/s',
      better: 'higher',
      pick: fromPhase('w1', 'recordsPerSec'),
      target: '>= 3x peer, >= 0.6x raw',
      met: (p, r) => (p === undefined || r === undefined ? undefined : p >= 3 && r >= 0.6),
    },
    {
      label: 'W2 durable append of 1 record',
      unit: 'p50 ms',
      better: 'lower',
      pick: fromPhase('w2', 'p50'),
      target: '<= 1x peer, <= 1.2x raw',
      met: (p, r) => (p === undefined || r === undefined ? undefined : p <= 1 && r <= 1.2),
    },
    { label: '', unit: 'p99 ms', better: 'lower', pick: fromPhase('w2', 'p99') },
    {
      label: 'W3 sequential read, chunks of 1,000',
      unit: 'rec/s',
      better: 'higher',
      pick: fromPhase('w3', 'recordsPerSec'),
      target: '>= 3x peer, >= 0.6x raw',
      met: (p, r) => (p === undefined || r === undefined ? undefined : p >= 3 && r >= 0.6),
    },
    {
      label: `W4 ${fmtNum(W4_READS)} random point reads`,
      unit: 'p50 µs',
      better: 'lower',
      pick: fromPhase('w4', 'p50'),
      target: '<= 1x lmdb',
      met: (p) => (p === undefined ? undefined : p <= 1),
    },
    {
      label: '',
      unit: 'p99 µs',
      better: 'lower',
      pick: fromPhase('w4', 'p99'),
      target: '<= 3x lmdb',
      met: (p) => (p === undefined ? undefined : p <= 3),
    },
    {
      label: `W5 fresh process: open + read last (median of ${W5_REPS})`,
      unit: 'ms',
      better: 'lower',
      pick: w5,
      target: '<= 1x lmdb',
      met: (p) => (p === undefined ? undefined : p <= 1),
    },
    { label: '  of which open', unit: 'ms', better: 'lower', pick: w5open },
    {
      label: `cold import() in a fresh node (median of ${IMPORT_REPS})`,
      unit: 'ms',
      better: 'lower',
      pick: (run, s) => (s === 'raw' ? imp(run, 'empty' as StoreName) : imp(run, s)),
      target: 'seglog <= 25 ms',
      met: (_p, _r, v) => (v === undefined ? undefined : v <= 25),
    },
    {
      label: 'disk after W1',
      unit: 'MB',
      better: 'lower',
      pick: (run, s) => scale(fromPhase('w1', 'diskBytes')(run, s)),
    },
  ]
  const ratio = (m: Metric, run: RunResult, against: 'peer' | 'raw' | 'lmdb'): number | undefined => {
    const s = m.pick(run, 'seglog')
    let other: number | undefined
    if (against === 'raw') other = m.pick(run, 'raw')
    else {
      const xs = (against === 'lmdb' ? peers.filter((p) => p === 'lmdb') : peers)
        .map((p) => m.pick(run, p))
        .filter((x): x is number => x !== undefined)
      if (xs.length > 0) other = m.better === 'higher' ? Math.max(...xs) : Math.min(...xs)
    }
    return s === undefined || other === undefined || other === 0 ? undefined : s / other
  }
  const bestPeer = (m: Metric, run: RunResult): string => {
    let best: StoreName | undefined
    for (const p of peers) {
      const v = m.pick(run, p)
      if (v === undefined) continue
      const b = best === undefined ? undefined : m.pick(run, best)
      if (b === undefined || (m.better === 'higher' ? v > b : v < b)) best = p
    }
    return best === undefined ? '' : LABEL[best]
  }
  const rows: string[][] = []
  const ratios: Record<
    string,
    { vsBestPeer: (number | undefined)[]; vsRaw: (number | undefined)[]; bestPeer: string[] }
  > = {}
  for (const m of metrics) {
    const isImport = m.label.startsWith('cold import')
    const isLmdbTarget = m.target?.includes('lmdb') === true
    const vsPeer = runs.map((run) => (m.unit === 'MB' ? undefined : ratio(m, run, isLmdbTarget ? 'lmdb' : 'peer')))
    const isDisk = m.unit === 'MB'
    const vsRaw = isImport || isDisk ? runs.map(() => undefined) : runs.map((run) => ratio(m, run, 'raw'))
    const seglog = runs.map((run) => m.pick(run, 'seglog'))
    const verdicts = runs.map((_, r) => m.met?.(vsPeer[r], vsRaw[r], seglog[r]))
    const known = verdicts.filter((v): v is boolean => v !== undefined)
    const met =
      m.met === undefined || known.length === 0
        ? ''
        : known.every((v) => v)
          ? 'yes'
          : known.some((v) => v)
            ? 'mixed'
            : 'NO'
    const key = `${m.label || rows[rows.length - 1]?.[0] || ''} ${m.unit}`.trim()
    ratios[key] = {
      vsBestPeer: vsPeer.map((x) => x && sig(x, 3)),
      vsRaw: vsRaw.map((x) => x && sig(x, 3)),
      bestPeer: runs.map((run) => (m.unit === 'MB' ? '' : bestPeer(m, run))),
    }
    rows.push([
      m.label,
      m.unit,
      ...STORES.map((s) => (stores.includes(s) ? range(runs.map((run) => m.pick(run, s))) : 'skipped')),
      [...new Set(ratios[key].bestPeer)].filter((x) => x !== '').join('/'),
      range(vsPeer, 3),
      range(vsRaw, 3),
      m.target ?? '',
      met,
    ])
  }
  console.log('')
  printTable(
    ['workload', 'metric', ...STORES.map((s) => LABEL[s]), 'best peer', 'seglog/peer', 'seglog/raw', 'target', 'met'],
    rows,
  )
  console.log(
    'Cells: min–max over the runs (each run: the phase in its own process). Ratios per run, then min–max: ' +
      'seglog / the best peer of that run (W4, W5: / lmdb, as the targets say) and seglog / raw; above 1 is ' +
      'faster for rec/s, slower for ms/µs. Import row: the raw column is the import of an empty module in the ' +
      'same kind of fresh node; better-sqlite3 includes loading its native addon (its first `new Database`). ' +
      'W5 raw fs has no index to open: a scan of every frame length to the last frame.',
  )
  console.log(`W2: ${W2_ITERATIONS} iterations after ${W2_WARMUP} warm-up; W4 seed 0x${W4_SEED.toString(16)}`)

  // seglog at 1,000 partitions
  if (runs.some((r) => r.many !== null)) {
    const many = (f: (r: RunResult) => number | undefined) => range(runs.map(f))
    const m = (r: RunResult, which: 'open' | 'write', field: keyof PhaseResult) =>
      r.many === null ? undefined : medianOf(r.many[which], field)
    console.log(
      `\nseglog, ${MANY_PARTITIONS} partitions of 1 record each (fresh process each, median of ${MANY_REPS}):`,
    )
    printTable(
      ['', 'ms', 'target'],
      [
        ['open', many((r) => m(r, 'open', 'openMs')), '<= 15 ms'],
        ['W5: open + read last record of the last partition', many((r) => m(r, 'open', 'ms')), ''],
        ['close, no writes', many((r) => m(r, 'open', 'closeMs')), '<= 50 ms'],
        [
          `close after one append to each of the ${MANY_PARTITIONS} (acks 1)`,
          many((r) => m(r, 'write', 'closeMs')),
          'fsyncs only the dirty',
        ],
      ],
    )
  }

  // peak RSS per phase
  const rssPhases: [string, Pick][] = [
    ['w1', fromPhase('w1', 'maxRssMB')],
    ['w2', fromPhase('w2', 'maxRssMB')],
    ['w3', fromPhase('w3', 'maxRssMB')],
    ['w4', fromPhase('w4', 'maxRssMB')],
    ['w5', (run, s) => medianOf(run.w5[s], 'maxRssMB')],
  ]
  console.log("\nPeak RSS per phase, MB (the child's maxRSS; W5: median over its processes):")
  printTable(
    ['phase', ...stores.map((s) => LABEL[s])],
    rssPhases.map(([name, pick]) => [name, ...stores.map((s) => range(runs.map((run) => pick(run, s))))]),
  )
  const manyRss = runs
    .flatMap((r) => (r.many === null ? [] : [...r.many.open, ...r.many.write]))
    .filter((o): o is PhaseResult => !isError(o))
  if (manyRss.length > 0)
    console.log(`seglog ${MANY_PARTITIONS}-partition phases: peak RSS ${range(manyRss.map((o) => o.maxRssMB))} MB`)
  for (const [p, why] of Object.entries(skipped)) console.log(`SKIPPED ${p}: ${why}`)
  for (const run of runs)
    for (const [t, e] of Object.entries(run.importErrors)) console.log(`import of ${t} failed: ${e}`)
  const loadEnd = os.loadavg()
  const elapsed = sig((performance.now() - started) / 1000, 3)
  console.log(
    `load average at start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}; elapsed ${elapsed} s\n`,
  )

  const strip = (o: Outcome): unknown =>
    isError(o) ? o : Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? sig(v) : v]))
  console.log(
    JSON.stringify({
      bench: 'seglog-peers',
      versions,
      seglogEntry: entry,
      records: N,
      keyBytes: 16,
      valueBytes: 100,
      runs: runs.map((r) => ({
        order: r.order,
        phases: Object.fromEntries(
          Object.entries(r.phases).map(([s, ph]) => [
            s,
            Object.fromEntries(Object.entries(ph ?? {}).map(([p, o]) => [p, strip(o!)])),
          ]),
        ),
        w5: Object.fromEntries(Object.entries(r.w5).map(([s, os]) => [s, (os ?? []).map(strip)])),
        w5MedianMs: Object.fromEntries(stores.map((s) => [s, sig(medianOf(r.w5[s], 'ms') ?? Number.NaN)])),
        importMs: Object.fromEntries(Object.entries(r.imports).map(([t, xs]) => [t, xs.map((x) => sig(x.importMs))])),
        importWallMs: Object.fromEntries(Object.entries(r.imports).map(([t, xs]) => [t, xs.map((x) => sig(x.wallMs))])),
        importMedianMs: Object.fromEntries(
          Object.entries(r.imports).map(([t, xs]) => [t, sig(median(xs.map((x) => x.importMs)))]),
        ),
        many: r.many === null ? null : { open: r.many.open.map(strip), write: r.many.write.map(strip) },
      })),
      ratios,
      units: { w1: 'rec/s', w2: 'ms', w3: 'rec/s', w4: 'us', w5: 'ms', import: 'ms', rss: 'MB (1e6 bytes)' },
      w2: { iterations: W2_ITERATIONS, warmup: W2_WARMUP },
      w4: { reads: W4_READS, seed: W4_SEED },
      w5Reps: W5_REPS,
      importReps: IMPORT_REPS,
      manyPartitions: MANY_PARTITIONS,
      manyReps: MANY_REPS,
      skipped,
      loadAverage: { start: loadStart, end: loadEnd },
      elapsedSeconds: elapsed,
    }),
  )
}

function scale(bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : bytes / 1e6
}

await main()
