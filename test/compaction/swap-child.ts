/**
 * Child process of `swap-crash.test.ts`: runs one compaction pass over an existing partition directory and
 * SIGKILLs itself at a chosen point, so the parent can check what `PartitionLog.open` recovers.
 *
 * Run as `node --import tsx test/compaction/swap-child.ts <dir> <point> <now>`, where point is one of
 * `CRASH_POINTS`: 'worker:writing' (killed when the worker reports its first cleaned segment written, while it goes
 * on writing the next ones) or one of the swap steps of `PartitionLog.replaceSegments`. Prints `finished` if it
 * was not killed (a test failure).
 */
import * as nodePath from 'node:path'
import { pathToFileURL } from 'node:url'
import { Cleaner } from '../../src/compaction/cleaner.js'
import { type CompactionConfig, compactPartition } from '../../src/compaction/compactor.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import { SMALL_LOG } from './support.js'

export const CRASH_POINTS = [
  'worker:writing',
  'swap:after-cleaned-to-swap',
  'swap:after-old-deleted',
  'swap:after-swap-to-final',
] as const

export const CHILD_COMPACTION_CONFIG: CompactionConfig = {
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  deleteRetentionMs: 1000,
}

async function main(dir: string, point: string, now: number): Promise<void> {
  const log = await PartitionLog.open(dir, { config: SMALL_LOG })
  const cleaner = new Cleaner()
  const die = (): never => {
    process.kill(process.pid, 'SIGKILL')
    throw new Error('unreachable')
  }
  await compactPartition(log, CHILD_COMPACTION_CONFIG, {
    now,
    cleaner,
    crashPoint: (p) => {
      if (p === point) die()
    },
    onProgress: (p) => {
      if (point === 'worker:writing' && p.stage === 'group-written') die()
    },
  })
  process.stdout.write('finished\n')
  await cleaner.close()
  await log.close()
}

const invokedAs = process.argv[1]
if (invokedAs !== undefined && import.meta.url === pathToFileURL(nodePath.resolve(invokedAs)).href) {
  const [dir, point, now] = process.argv.slice(2)
  main(dir, point, Number(now)).catch((err: unknown) => {
    process.stderr.write(`swap-child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  })
}
