import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fsyncGate } from '../../src/log/fsync-gate.js'
import { PartitionLog } from '../../src/log/partition-log.js'
import type { BatchRecordInput } from '../../src/segment/record-batch.js'
import { FaultyFileSystem } from '../support/faulty-fs.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-gate-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

function rec(i: number): BatchRecordInput {
  return { key: Buffer.from(`k${i}`), value: Buffer.from(`value ${i}`), timestamp: 1_700_000_000_000 + i }
}

describe('fsync rounds through the gate (group commit)', () => {
  it('gives 256 appenders that each append and await flush in a loop one fsync round per step, not two', async () => {
    const log = await PartitionLog.open(dir)
    const appenders = 256
    const steps = 8
    const before = log.fsyncRoundCount
    let next = 0
    await Promise.all(
      Array.from({ length: appenders }, async () => {
        for (let s = 0; s < steps; s++) {
          log.append([rec(next++)])
          await log.flush()
        }
      }),
    )
    const rounds = log.fsyncRoundCount - before
    // All waiters of one round resume in one burst and append again: the next round must carry all of them.
    // Starting a round at the first flush of a turn gave ~2 rounds per step (127.5 appends per fsync).
    expect(rounds).toBeLessThanOrEqual(steps + 1)
    expect(log.recoveryPoint).toBe(appenders * steps)
    await log.close()
    const again = await PartitionLog.open(dir)
    expect(again.logEndOffset).toBe(appenders * steps)
    await again.close()
  })

  it('runs a lone waiter’s round on the calling thread, and a turn with two waiters on the pool', async () => {
    const log = await PartitionLog.open(dir)
    // Warm the moving average of fsync times (a slow first fsync would switch the lone path off).
    for (let i = 0; i < 3; i++) {
      log.append([rec(i)])
      await log.flush()
    }
    if (fsyncGate.fsyncAverageMs > 1) {
      // A slow disk: the rule keeps fsyncs off the event loop, which is what it must do there.
      const onPool = fsyncGate.stats.onPool
      log.append([rec(3)])
      await log.flush()
      expect(fsyncGate.stats.onPool).toBe(onPool + 1)
      await log.close()
      return
    }
    const onThread = fsyncGate.stats.onThread
    const onPool = fsyncGate.stats.onPool
    log.append([rec(3)])
    await log.flush()
    expect(fsyncGate.stats.onThread).toBe(onThread + 1)
    expect(log.recoveryPoint).toBe(4)
    log.append([rec(4)])
    const a = log.flush()
    log.append([rec(5)])
    const b = log.flush()
    await Promise.all([a, b])
    expect(fsyncGate.stats.onPool).toBe(onPool + 1)
    expect(fsyncGate.stats.onThread).toBe(onThread + 1)
    expect(log.recoveryPoint).toBe(6)
    await log.close()
  })

  it('fsyncs on the calling thread what a lone waiter appended, so a power cut right after keeps it', async () => {
    const ffs = new FaultyFileSystem(dir)
    const log = await PartitionLog.open(dir, { fs: ffs })
    for (let i = 0; i < 5; i++) {
      log.append([rec(i)])
      await log.flush()
    }
    ffs.powerCut()
    const again = await PartitionLog.open(dir, { fs: new FaultyFileSystem(dir) })
    expect(again.logEndOffset).toBe(5)
    expect(again.read(0, { maxRecords: 10 }).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4])
    await again.close()
  })

  it('rejects the waiter of a failed lone fsync with IO_ERROR and refuses appends until reopened', async () => {
    const ffs = new FaultyFileSystem(dir)
    const log = await PartitionLog.open(dir, { fs: ffs })
    log.append([rec(0)])
    await log.flush()
    ffs.failNext({ op: 'sync', path: '.log', errno: 'EIO' })
    log.append([rec(1)])
    const err = await log.flush().then(
      () => null,
      (e: unknown) => e,
    )
    expect((err as { code?: string }).code).toBe('IO_ERROR')
    expect(() => log.append([rec(2)])).toThrow(expect.objectContaining({ code: 'IO_ERROR' }))
    await expect(log.flush()).rejects.toMatchObject({ code: 'IO_ERROR' })
    await log.close().catch(() => {})
  })
})
