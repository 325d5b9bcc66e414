/**
 * Profiles one workload of `partition-log.ts` with the V8 CPU profiler (the one `node --cpu-prof` uses), started
 * and stopped in-process around that workload only, so set-up (e.g. building the 1 M-record log) stays out of it.
 *
 *   npm run build:scripts && node --expose-gc build/bench/profile.js w3 [out.cpuprofile]
 *   node --import tsx bench/cpuprofile-top.ts out.cpuprofile
 *
 * Workloads: w1 (append 1 M in batches of 1,000 + flush, x3), w2 (append 1 + flush, x2,000),
 * w2b (append 100 + flush, x2,000), w3 (sequential read of 1 M, x3), w4 (10,000 random point reads, default
 * maxBytes), w4b (same with maxBytes 1), w5 (clean reopen + read last record, x20).
 */
import * as fs from 'node:fs'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PartitionLog } from '../src/log/partition-log.js'
import { makeRecordData, mulberry32, RecordBuffer } from './common.js'

const N = 1_000_000
const workload = process.argv[2] ?? ''
const out = process.argv[3] ?? `${workload}.cpuprofile`
const WORKLOADS = ['w1', 'w2', 'w2b', 'w3', 'w4', 'w4b', 'w5']
if (!WORKLOADS.includes(workload)) {
  console.error(`usage: bench/profile.ts <${WORKLOADS.join('|')}> [out.cpuprofile]`)
  process.exit(2)
}

const data = makeRecordData()
const root = fs.mkdtempSync(join(tmpdir(), 'seglog-profile-'))

async function build(dir: string, records: number): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir)
  const buf = new RecordBuffer(data, 1000)
  for (let i = 0; i < records; i += 1000) log.append(buf.fill(i))
  await log.flush()
  return log
}

async function run(): Promise<string> {
  switch (workload) {
    case 'w1': {
      for (let r = 0; r < 3; r++) {
        const log = await build(join(root, `w1-${r}`), N)
        await log.close()
      }
      return 'w1: 3 x append 1M'
    }
    case 'w2':
    case 'w2b': {
      const batch = workload === 'w2' ? 1 : 100
      const log = await PartitionLog.open(join(root, 'w2'))
      const buf = new RecordBuffer(data, batch)
      for (let k = 0; k < 2000; k++) {
        log.append(buf.fill(k * batch))
        await log.flush()
      }
      await log.close()
      return `${workload}: 2000 x append ${batch} + flush`
    }
    default:
      break
  }
  return ''
}

async function runOnBuiltLog(log: PartitionLog, dir: string): Promise<string> {
  switch (workload) {
    case 'w3': {
      let sum = 0
      for (let r = 0; r < 3; r++) {
        let next = 0
        while (next < N) {
          const records = log.read(next, { maxRecords: 5000, maxBytes: 1 << 20 })
          for (const rec of records) sum += rec.value!.length
          next = records[records.length - 1].offset + 1
        }
      }
      return `w3: 3 x sequential read (value bytes ${sum})`
    }
    case 'w4':
    case 'w4b': {
      const rand = mulberry32(0x5eed2024)
      const options = workload === 'w4' ? { maxRecords: 1 } : { maxRecords: 1, maxBytes: 1 }
      for (let k = 0; k < 10_000; k++) {
        const o = Math.floor(rand() * N)
        if (log.read(o, options)[0].offset !== o) throw new Error(`bad read at ${o}`)
      }
      return `${workload}: 10,000 point reads`
    }
    default: {
      await log.close()
      for (let k = 0; k < 20; k++) {
        const reopened = await PartitionLog.open(dir)
        reopened.read(reopened.logEndOffset - 1, { maxRecords: 1 })
        await reopened.close()
      }
      return 'w5: 20 x reopen + read last'
    }
  }
}

const session = new Session()
session.connect()
try {
  let prepared: { log: PartitionLog; dir: string } | null = null
  if (['w3', 'w4', 'w4b', 'w5'].includes(workload)) {
    const dir = join(root, 'log')
    prepared = { log: await build(dir, N), dir }
  }
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 100 })
  await session.post('Profiler.start')
  const t0 = performance.now()
  const what = prepared === null ? await run() : await runOnBuiltLog(prepared.log, prepared.dir)
  const ms = performance.now() - t0
  const { profile } = await session.post('Profiler.stop')
  fs.writeFileSync(out, JSON.stringify(profile))
  console.log(`${what}: ${ms.toFixed(0)} ms profiled, written to ${out}`)
  if (prepared !== null && prepared.log.status === 'open') await prepared.log.close()
} finally {
  session.disconnect()
  fs.rmSync(root, { recursive: true, force: true })
}
