/**
 * Reopen scaling: W5 (clean close, then `PartitionLog.open` + read the last record; median of 20) on a log of
 * 1 M records and on the same log grown to 10 M. A clean reopen should not read segment bodies, so the two
 * figures should be about equal.
 *
 *   npm run bench:reopen     (compiles into build/, then node --expose-gc build/bench/reopen-scaling.js)
 *
 * Records as in `partition-log.ts` (16-byte key, 100-byte value), batches of 1,000, default config except
 * segmentBytes = 128 MiB (so 10 M records make ~10 segments). Needs ~1.3 GB of disk under os.tmpdir(): skipped
 * when less than 5 GB is free. The data directory is removed at the end.
 */
import * as fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type LogConfig, PartitionLog } from '../src/log/partition-log.js'
import { fmtNum, gc, makeRecordData, median, peakRssMB, printTable, RecordBuffer, sig } from './common.js'

const SMALL = 1_000_000
const LARGE = 10_000_000
const BATCH = 1000
/** Flush every this many records while building, so dirty pages do not pile up. */
const FLUSH_EVERY = 1_000_000
const REPS = 20
const MIN_FREE_BYTES = 5e9
const config: Partial<LogConfig> = { segmentBytes: 128 * 1024 * 1024 }

interface ReopenResult {
  records: number
  segments: number
  logBytes: number
  medianMs: number
  runsMs: number[]
}

const data = makeRecordData()
const buf = new RecordBuffer(data, BATCH)

/** Opens the log, appends records [from, to) in batches, flushes and closes it cleanly. Returns seconds. */
async function grow(dir: string, from: number, to: number): Promise<number> {
  const log = await PartitionLog.open(dir, { config })
  if (log.logEndOffset !== from) throw new Error(`log end ${log.logEndOffset}, expected ${from}`)
  const t0 = performance.now()
  for (let i = from; i < to; i += BATCH) {
    log.append(buf.fill(i))
    if ((i + BATCH) % FLUSH_EVERY === 0) await log.flush()
  }
  await log.flush()
  const seconds = (performance.now() - t0) / 1000
  await log.close()
  return seconds
}

/** W5 on a cleanly closed log: open + read(logEnd - 1, {maxRecords: 1}), REPS times. */
async function measureReopen(dir: string, expectedEnd: number): Promise<ReopenResult> {
  const runs: number[] = []
  let segments = 0
  let logBytes = 0
  for (let k = 0; k < REPS; k++) {
    gc()
    let recovered = false
    const t0 = performance.now()
    const log = await PartitionLog.open(dir, {
      config,
      onEvent: (e) => {
        if (e.type === 'recovered') recovered = true
      },
    })
    const end = log.logEndOffset
    const records = log.read(end - 1, { maxRecords: 1 })
    const t = performance.now() - t0
    if (recovered) throw new Error('reopen ran recovery: the previous close was not clean')
    if (end !== expectedEnd || records.length !== 1 || records[0].offset !== end - 1) {
      throw new Error(`unexpected log end ${end} / last record ${records[0]?.offset}`)
    }
    segments = log.segmentInfos().length
    logBytes = log.sizeInBytes
    runs.push(t)
    await log.close()
  }
  return { records: expectedEnd, segments, logBytes, medianMs: sig(median(runs)), runsMs: runs.map((t) => sig(t)) }
}

async function main(): Promise<void> {
  const base = tmpdir()
  const stat = fs.statfsSync(base)
  const free = stat.bavail * stat.bsize
  if (free < MIN_FREE_BYTES) {
    console.log(`reopen-scaling: skipped, only ${(free / 1e9).toFixed(1)} GB free under ${base} (needs 5 GB)`)
    return
  }
  const root = fs.mkdtempSync(join(base, 'seglog-reopen-'))
  try {
    const dir = join(root, 'log')
    console.log(`seglog reopen scaling — node ${process.version}, segmentBytes 128 MiB, data in ${root}`)
    const buildSmall = await grow(dir, 0, SMALL)
    console.log(`  built ${SMALL.toLocaleString('en-US')} records in ${sig(buildSmall, 3)} s`)
    const small = await measureReopen(dir, SMALL)
    const buildLarge = await grow(dir, SMALL, LARGE)
    console.log(`  grew to ${LARGE.toLocaleString('en-US')} records in ${sig(buildLarge, 3)} s`)
    const large = await measureReopen(dir, LARGE)
    const ratio = sig(large.medianMs / small.medianMs, 3)

    console.log('')
    printTable(
      ['log', 'segments', 'log MB', 'W5 median ms', 'min ms', 'max ms'],
      [small, large].map((r) => [
        `${r.records / 1e6}M records`,
        String(r.segments),
        fmtNum(r.logBytes / 1e6),
        fmtNum(r.medianMs),
        fmtNum(Math.min(...r.runsMs)),
        fmtNum(Math.max(...r.runsMs)),
      ]),
    )
    console.log(`ratio 10M / 1M: ${ratio}x (target: W5 <= 15 ms at both sizes)`)
    console.log(`runs 1M (ms): ${small.runsMs.join(' ')}`)
    console.log(`runs 10M (ms): ${large.runsMs.join(' ')}`)
    const peak = sig(peakRssMB())
    console.log(`peak RSS ${peak} MB\n`)
    console.log(
      JSON.stringify({
        bench: 'seglog-reopen-scaling',
        node: process.version,
        segmentBytes: config.segmentBytes,
        reps: REPS,
        small,
        large,
        ratio,
        buildSeconds: { small: sig(buildSmall), grow: sig(buildLarge) },
        peakRssMB: peak,
      }),
    )
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

await main()
