/**
 * `waitPast` with a `WaitCancel` (the consumer's cheap stand-in for an AbortSignal): the wait ends on an append
 * (`wake`), on `cancel()`, or at once when the log end is already past the offset; a canceller serves one wait at a
 * time, and a wait that ended leaves nothing behind (no waiter on the partition, no wait for `cancel` to end).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EngineContext, PartitionState } from '../../src/engine/context.js'
import { WaitCancel, waitPast, wake } from '../../src/engine/reads.js'
import { SeglogError } from '../../src/errors.js'
import { PartitionLog } from '../../src/log/partition-log.js'

let dir: string
let log: PartitionLog
let p: PartitionState
const ctx = { isOpen: () => true } as unknown as EngineContext

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-reads-'))
  log = await PartitionLog.open(dir)
  p = { log, waiters: new Set<() => void>() } as unknown as PartitionState
})
afterEach(async () => {
  await log.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

/** 'resolved' when `promise` has settled after a few turns of the event loop, else 'pending'. */
async function state(promise: Promise<void>): Promise<'resolved' | 'pending'> {
  let settled = false
  void promise.then(() => {
    settled = true
  })
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r))
  return settled ? 'resolved' : 'pending'
}

function appendOne(): void {
  log.append([{ timestamp: 1, key: null, value: Buffer.from('x') }])
  wake(p)
}

describe('waitPast with a WaitCancel', () => {
  it('waits at the log end until an append wakes it, then leaves no waiter and nothing for cancel to end', async () => {
    const cancel = new WaitCancel()
    const wait = waitPast(ctx, p, 0, cancel)
    expect(await state(wait)).toBe('pending')
    expect(p.waiters.size).toBe(1)
    appendOne()
    expect(await state(wait)).toBe('resolved')
    expect(p.waiters.size).toBe(0)
    expect(cancel.current).toBe(null)
  })

  it('ends the wait in progress on cancel(), removing its waiter from the partition', async () => {
    const cancel = new WaitCancel()
    const wait = waitPast(ctx, p, 0, cancel)
    expect(await state(wait)).toBe('pending')
    cancel.cancel()
    expect(await state(wait)).toBe('resolved')
    expect(p.waiters.size).toBe(0)
    expect(cancel.current).toBe(null)
  })

  it('does nothing on a cancel() with no wait in progress: the next wait still waits for an append', async () => {
    const cancel = new WaitCancel()
    cancel.cancel()
    const wait = waitPast(ctx, p, 0, cancel)
    expect(await state(wait)).toBe('pending')
    appendOne()
    expect(await state(wait)).toBe('resolved')
  })

  it('ends the previous wait when the same canceller starts a new one, and cancels only the newest', async () => {
    const cancel = new WaitCancel()
    const first = waitPast(ctx, p, 0, cancel)
    const second = waitPast(ctx, p, 0, cancel)
    expect(await state(first)).toBe('resolved')
    expect(await state(second)).toBe('pending')
    expect(p.waiters.size).toBe(1)
    cancel.cancel()
    expect(await state(second)).toBe('resolved')
    expect(p.waiters.size).toBe(0)
  })

  it('resolves at once, registering nothing, when the log end is already past the offset', async () => {
    appendOne()
    const cancel = new WaitCancel()
    const wait = waitPast(ctx, p, 0, cancel)
    expect(p.waiters.size).toBe(0)
    expect(cancel.current).toBe(null)
    expect(await state(wait)).toBe('resolved')
  })

  it('resolves at once, registering nothing, when the partition cannot be opened (its first use failed)', async () => {
    const failing = {
      waiters: new Set<() => void>(),
      get log(): PartitionLog {
        throw new SeglogError('IO_ERROR', 'open failed')
      },
    } as unknown as PartitionState
    for (const signal of [new WaitCancel(), new AbortController().signal, undefined]) {
      const wait = waitPast(ctx, failing, 0, signal)
      expect(failing.waiters.size).toBe(0)
      expect(await state(wait)).toBe('resolved')
    }
  })
})
