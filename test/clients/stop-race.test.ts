/**
 * consumer.stop() / disconnect() at every point of a handler's life — before the first message, while a handler
 * runs, right after the last available handler resolved (in the same microtask chain), from inside a handler —
 * with eachMessage and eachBatch, 1 and 2 partitions, and under overlapping subscriptions. stop() must always
 * return, commit exactly what was handled, and start no message after it was called. Then the async iterator:
 * `for await (const m of consumer)` must end after `break`, after stop() inside or outside the loop, and on close.
 *
 * A pending stop() is detected by racing it against a timer (STOP_MS), so a hang fails the test with a message
 * instead of a vitest timeout.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Consumer, RunOptions } from '../../src/clients/consumer.js'
import { Seglog } from '../../src/main.js'
import { mulberry32 } from '../support/random.js'

/** Far longer than any stop takes here (a few ms), short enough to report a hang quickly. */
const STOP_MS = 3000

let dir: string
let log: Seglog
let groupCounter = 0
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-stop-'))
  log = await Seglog.open(dir)
})
afterEach(async () => {
  // A hung consumer would make close() wait for its stop forever: bound it so the next test still runs.
  await Promise.race([log.close().catch(() => {}), new Promise((r) => setTimeout(r, STOP_MS))])
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Resolves 'settled' if `p` settles within `ms`, else 'pending'. */
async function within(p: Promise<unknown>, ms = STOP_MS): Promise<'settled' | 'pending'> {
  let timer: NodeJS.Timeout | undefined
  const result = await Promise.race([
    p.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'pending'>((r) => {
      timer = setTimeout(() => r('pending'), ms)
    }),
  ])
  clearTimeout(timer)
  return result
}

const ticks = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await null
}

/** Committed next offsets of `group` on `topic`, per partition (0 where none). */
async function committed(group: string, topic: string, partitions: number): Promise<number[]> {
  const out = new Array<number>(partitions).fill(0)
  for (const c of await log.fetchOffsets(group, topic)) out[c.partition] = c.offset
  return out
}

/** Appends `perPartition` records to each partition of `topic`. */
async function fill(topic: string, partitions: number, perPartition: number): Promise<void> {
  const msgs = []
  for (let p = 0; p < partitions; p++) for (let i = 0; i < perPartition; i++) msgs.push({ partition: p, value: i })
  await log.append(topic, msgs)
}

type Mode = 'eachMessage' | 'eachBatch'

/**
 * Run options that call `onMessage(partition, offset)` for every message, awaiting `handlerTicks` microtasks
 * first; with eachBatch, per message of the batch (the batch is resolved when the handler resolves).
 */
function handlers(
  mode: Mode,
  handlerTicks: number,
  onMessage: (partition: number, offset: number) => void | Promise<void>,
  onStart: () => void = () => {},
): RunOptions {
  if (mode === 'eachMessage') {
    return {
      eachMessage: async ({ partition, message }) => {
        onStart()
        await ticks(handlerTicks)
        await onMessage(partition, message.offset)
      },
    }
  }
  return {
    eachBatch: async ({ batch }) => {
      onStart()
      await ticks(handlerTicks)
      for (const m of batch.messages) await onMessage(batch.partition, m.offset)
    },
  }
}

describe('consumer.stop() right after the last available handler resolved', () => {
  for (const partitions of [1, 2]) {
    for (const mode of ['eachMessage', 'eachBatch'] as const) {
      it(`returns and commits everything when awaited in the same microtask chain (${partitions} partition(s), ${mode})`, async () => {
        await log.createTopic('t', { partitions })
        await fill('t', partitions, 2 / partitions)
        // `after`: microtasks the handler still takes once it reported the last message; `gap`: microtasks
        // between the caller learning that and calling stop(). Together they move the stop across the loop's
        // steps after a handler (resolve, commit, next fetch, registering the wait for appends).
        for (let after = 0; after < 4; after++) {
          for (let gap = 0; gap < 4; gap++) {
            const group = `g${++groupCounter}`
            const c = log.consumer({ groupId: group })
            await c.subscribe({ topics: ['t'], fromBeginning: true })
            let handled = 0
            let allHandled = (): void => {}
            const all = new Promise<void>((r) => {
              allHandled = r
            })
            const report = async (n: number): Promise<void> => {
              handled += n
              if (handled === 2) {
                allHandled()
                await ticks(after)
              }
            }
            await c.run(
              mode === 'eachMessage'
                ? { eachMessage: () => report(1) }
                : { eachBatch: ({ batch }) => report(batch.messages.length) },
            )
            await all
            await ticks(gap)
            expect(await within(c.stop()), `stop() with after=${after} gap=${gap}`).toBe('settled')
            expect(await committed(group, 't', partitions)).toEqual(new Array(partitions).fill(2 / partitions))
          }
        }
      })
    }
  }

  it('returns for disconnect() too, and a second stop() during the first one shares it', async () => {
    await log.createTopic('t', { partitions: 2 })
    await fill('t', 2, 1)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    let handled = 0
    let allHandled = (): void => {}
    const all = new Promise<void>((r) => {
      allHandled = r
    })
    await c.run({
      eachMessage: async () => {
        if (++handled === 2) allHandled()
      },
    })
    await all
    const first = c.disconnect()
    const second = c.stop()
    expect(await within(Promise.all([first, second]))).toBe('settled')
    expect(await committed('g', 't', 2)).toEqual([1, 1])
  })
})

describe('consumer.stop() at the other points of a handler’s life', () => {
  for (const mode of ['eachMessage', 'eachBatch'] as const) {
    it(`returns before the first message was handled and commits only what was handled (${mode})`, async () => {
      await log.createTopic('t', { partitions: 2 })
      await fill('t', 2, 3)
      const c = log.consumer({ groupId: 'g' })
      await c.subscribe({ topics: ['t'], fromBeginning: true })
      const handled = [0, 0]
      await c.run(handlers(mode, 0, (p) => void handled[p]++))
      expect(await within(c.stop())).toBe('settled')
      const after = [...handled]
      expect(await committed('g', 't', 2)).toEqual(after)
      await log.append('t', [{ partition: 0, value: 'late' }])
      await new Promise((r) => setTimeout(r, 30))
      expect(handled).toEqual(after)
    })
  }

  it('called while run() is still joining: run() resolves, and the consumer never consumes or stays in the group', async () => {
    await log.createTopic('t')
    await fill('t', 1, 2)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    let handled = 0
    const running = c.run({
      eachMessage: async () => {
        handled++
      },
    })
    const stopping = c.stop()
    expect(await within(Promise.all([running, stopping]))).toBe('settled')
    await log.append('t', [{ value: 'late' }])
    await new Promise((r) => setTimeout(r, 30))
    expect(handled).toBe(0)
    expect((await log.describeGroup('g')).members).toEqual([])
  })

  for (const mode of ['eachMessage', 'eachBatch'] as const) {
    it(`waits for the handler in flight, commits its message and starts no other (${mode})`, async () => {
      await log.createTopic('t', { partitions: 2 })
      await fill('t', 2, 3)
      const c = log.consumer({ groupId: 'g' })
      await c.subscribe({ topics: ['t'], fromBeginning: true })
      let release = (): void => {}
      const gate = new Promise<void>((r) => {
        release = r
      })
      let entered = (): void => {}
      const inHandler = new Promise<void>((r) => {
        entered = r
      })
      const handled: string[] = []
      await c.run(
        handlers(mode, 0, async (p, o) => {
          if (handled.length === 0) {
            entered()
            await gate
          }
          handled.push(`${p}:${o}`)
        }),
      )
      await inHandler
      const stopping = c.stop()
      expect(await within(stopping, 50)).toBe('pending')
      release()
      expect(await within(stopping)).toBe('settled')
      // eachMessage: just the gated message; eachBatch: the gated batch (partition 0's 3 records).
      expect(handled).toEqual(mode === 'eachMessage' ? ['0:0'] : ['0:0', '0:1', '0:2'])
      expect(await committed('g', 't', 2)).toEqual([handled.length, 0])
    })
  }

  for (const mode of ['eachMessage', 'eachBatch'] as const) {
    for (const partitions of [1, 2]) {
      it(`returns when awaited from inside the handler, and commits that handler's messages once it returns (${mode}, ${partitions} partition(s))`, async () => {
        await log.createTopic('t', { partitions })
        await fill('t', partitions, 3)
        const c = log.consumer({ groupId: 'g' })
        await c.subscribe({ topics: ['t'], fromBeginning: true })
        const stopEvent = new Promise<void>((r) => c.on('consumer.stop', () => r()))
        const handled: string[] = []
        let stopReturned = false
        const run: RunOptions =
          mode === 'eachMessage'
            ? {
                eachMessage: async ({ partition, message }) => {
                  await ticks(1)
                  handled.push(`${partition}:${message.offset}`)
                  if (handled.length === 2) {
                    await c.stop()
                    stopReturned = true
                  }
                },
              }
            : {
                eachBatch: async ({ batch }) => {
                  await new Promise((r) => setTimeout(r, 1))
                  for (const m of batch.messages) handled.push(`${batch.partition}:${m.offset}`)
                  await c.disconnect()
                  stopReturned = true
                },
              }
        await c.run(run)
        expect(await within(stopEvent)).toBe('settled')
        expect(stopReturned).toBe(true)
        expect(handled).toEqual(mode === 'eachMessage' ? ['0:0', '0:1'] : ['0:0', '0:1', '0:2'])
        expect((await committed('g', 't', partitions))[0]).toBe(handled.length)
        // Stopped for good: nothing starts afterwards.
        await log.append('t', [{ partition: 0, value: 'late' }])
        await new Promise((r) => setTimeout(r, 30))
        expect(handled).toHaveLength(mode === 'eachMessage' ? 2 : 3)
      })
    }
  }

  it('returns when handlers of two partitions consumed concurrently both await stop()', async () => {
    await log.createTopic('t', { partitions: 2 })
    await fill('t', 2, 2)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const stopEvent = new Promise<void>((r) => c.on('consumer.stop', () => r()))
    const returned: number[] = []
    await c.run({
      partitionsConsumedConcurrently: 2,
      eachMessage: async ({ partition }) => {
        await new Promise((r) => setTimeout(r, 5))
        await c.stop()
        returned.push(partition)
      },
    })
    expect(await within(stopEvent)).toBe('settled')
    expect(returned.sort()).toEqual([0, 1])
    expect(await committed('g', 't', 2)).toEqual([1, 1])
  })

  it("returns when one member's handler awaits another member's stop() in the same group", async () => {
    await log.createTopic('t', { partitions: 2 })
    const a = log.consumer({ groupId: 'g' })
    const b = log.consumer({ groupId: 'g' })
    await a.subscribe({ topics: ['t'], fromBeginning: true })
    await b.subscribe({ topics: ['t'], fromBeginning: true })
    let bStopped: Promise<unknown> = Promise.resolve()
    let handledByA = (): void => {}
    const aHandled = new Promise<void>((r) => {
      handledByA = r
    })
    await a.run({
      eachMessage: async () => {
        bStopped = within(b.stop())
        await bStopped
        handledByA()
      },
    })
    await b.run({ eachMessage: async () => {} })
    const partitionOfA = a.assignment()[0].partition
    await log.append('t', [{ partition: partitionOfA, value: 'x' }])
    expect(await within(aHandled)).toBe('settled')
    expect(await bStopped).toBe('settled')
    expect(await within(a.stop())).toBe('settled')
  })

  it('returns when called from a consumer.crash listener, and commits nothing for the failing message', async () => {
    await log.createTopic('t')
    await fill('t', 1, 2)
    const c = log.consumer({ groupId: 'g', retry: { initialRetryTime: 1 } })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const stopEvent = new Promise<void>((r) => c.on('consumer.stop', () => r()))
    let listenerStopReturned: Promise<'settled' | 'pending'> | null = null
    c.on('consumer.crash', () => {
      listenerStopReturned ??= within(c.stop())
    })
    await c.run({
      eachMessage: async () => {
        throw new Error('handler fails')
      },
    })
    expect(await within(stopEvent)).toBe('settled')
    expect(await listenerStopReturned).toBe('settled')
    expect(await committed('g', 't', 1)).toEqual([0])
  })

  it('lets a handler await subscribe() (which rebalances the group) without waiting for itself', async () => {
    await log.createTopic('a')
    await log.createTopic('b')
    await log.append('a', [{ value: 1 }])
    await log.append('b', [{ value: 2 }])
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['a'], fromBeginning: true })
    const seen: string[] = []
    let subscribed: Promise<'settled' | 'pending'> | null = null
    await c.run({
      eachMessage: async ({ topic }) => {
        seen.push(topic)
        if (topic === 'a') {
          subscribed = within(c.subscribe({ topics: ['b'] }))
          await subscribed
        }
      },
    })
    const end = Date.now() + STOP_MS
    while (seen.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 5))
    expect(await subscribed).toBe('settled')
    expect(seen).toEqual(['a', 'b'])
    expect(await within(c.stop())).toBe('settled')
  })
})

describe('consumer.stop() under overlapping subscriptions', () => {
  it("returns at every point of an eachBatch handler's life on ['base-mp', /^base-/], each record delivered once", async () => {
    await log.createTopic('base-mp', { partitions: 2 })
    await log.createTopic('base-x')
    await log.createTopic('other')
    const points = ['before', 'during', 'right-after', 'inside'] as const
    for (const point of points) {
      for (let round = 0; round < 3; round++) {
        const group = `g${++groupCounter}`
        const base = { mp0: log.offsets('base-mp', 0).logEndOffset, x: log.offsets('base-x', 0).logEndOffset }
        await log.append('base-mp', [
          { partition: 0, value: 1 },
          { partition: 1, value: 2 },
        ])
        await log.append('base-x', [{ value: 3 }])
        await log.append('other', [{ value: 4 }])
        const c: Consumer = log.consumer({ groupId: group })
        await c.subscribe({ topics: ['base-mp', /^base-/], fromBeginning: true })
        expect(c.subscribedTopics()).toEqual(['base-mp', 'base-x'])
        const stopEvent = new Promise<void>((r) => c.on('consumer.stop', () => r()))
        const delivered: string[] = []
        // Every record of the subscribed topics so far (each group reads from the beginning).
        const expected =
          log.offsets('base-mp', 0).logEndOffset +
          log.offsets('base-mp', 1).logEndOffset +
          log.offsets('base-x', 0).logEndOffset
        let allHandled = (): void => {}
        const all = new Promise<void>((r) => {
          allHandled = r
        })
        let release = (): void => {}
        const gate = new Promise<void>((r) => {
          release = r
        })
        let entered = (): void => {}
        const inHandler = new Promise<void>((r) => {
          entered = r
        })
        let stopInside: Promise<'settled' | 'pending'> | null = null
        await c.run({
          eachBatch: async ({ batch }) => {
            await ticks(round)
            if (point === 'during' && delivered.length === 0) {
              entered()
              await gate
            }
            for (const m of batch.messages) delivered.push(`${batch.topic}-${batch.partition}:${m.offset}`)
            if (point === 'inside' && delivered.length >= expected) {
              stopInside = within(c.stop())
              await stopInside
            }
            if (delivered.length >= expected) allHandled()
          },
        })
        let stopping: Promise<void>
        if (point === 'before') stopping = c.stop()
        else if (point === 'during') {
          await inHandler
          stopping = c.stop()
          release()
        } else {
          await all
          stopping = point === 'inside' ? Promise.resolve() : c.stop()
        }
        expect(await within(stopping), `stop ${point}, round ${round}`).toBe('settled')
        if (point === 'inside') expect(await stopInside).toBe('settled')
        expect(await within(stopEvent)).toBe('settled')
        expect(new Set(delivered).size, `no record twice (${point})`).toBe(delivered.length)
        if (point === 'right-after' || point === 'inside') {
          expect(delivered).toHaveLength(expected)
          const offsets = await log.fetchOffsets(group)
          const byTp = Object.fromEntries(offsets.map((o) => [`${o.topic}-${o.partition}`, o.offset]))
          expect(byTp).toEqual({
            'base-mp-0': base.mp0 + 1,
            'base-mp-1': base.mp0 + 1,
            'base-x-0': base.x + 1,
          })
        }
      }
    }
  })
})

describe('consumer.stop() at random points', () => {
  const SEED = 0x5709
  it(`always returns, commits only handled messages and starts none afterwards (seed ${SEED})`, async () => {
    const rand = mulberry32(SEED)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
    await log.createTopic('t1')
    await log.createTopic('t2', { partitions: 2 })
    await log.createTopic('t3', { partitions: 3 })
    for (let round = 0; round < 60; round++) {
      const topic = pick(['t1', 't2', 't3'])
      const partitions = Number(topic.slice(1))
      const mode = pick(['eachMessage', 'eachBatch'] as const)
      const handlerTicks = Math.floor(rand() * 4)
      const stopAfter = Math.floor(rand() * 5)
      const inside = rand() < 0.3
      const concurrency = pick([1, 2])
      const msgs = Array.from({ length: 1 + Math.floor(rand() * 5) }, (_, i) => ({
        partition: i % partitions,
        value: i,
      }))
      await log.append(topic, msgs)
      const group = `r${round}`
      const c = log.consumer({ groupId: group })
      await c.subscribe({ topics: [topic], fromBeginning: true })
      const label = `round ${round}: ${topic} ${mode} ticks=${handlerTicks} stopAfter=${stopAfter} inside=${inside}`
      const finished = new Map<number, number[]>()
      let count = 0
      let stopCalled = false
      let startedAfterStop = 0
      let reached = (): void => {}
      const reachedStop = new Promise<void>((r) => {
        reached = r
      })
      let insideStop: Promise<'settled' | 'pending'> | null = null
      await c.run({
        partitionsConsumedConcurrently: concurrency,
        ...handlers(
          mode,
          handlerTicks,
          async (p, o) => {
            const list = finished.get(p) ?? []
            list.push(o)
            finished.set(p, list)
            if (++count === stopAfter) {
              if (inside) {
                stopCalled = true
                insideStop = within(c.stop())
                await insideStop
              }
              reached()
            }
          },
          () => {
            if (stopCalled) startedAfterStop++
          },
        ),
      })
      if (stopAfter > 0) await within(reachedStop, 200)
      const stopping = c.stop()
      stopCalled = true
      expect(await within(stopping), label).toBe('settled')
      if (insideStop) expect(await insideStop, label).toBe('settled')
      // eachBatch finishes the batch in flight; eachMessage starts nothing after stop().
      if (mode === 'eachMessage') expect(startedAfterStop, label).toBe(0)
      for (const o of await log.fetchOffsets(group, topic)) {
        const done = finished.get(o.partition) ?? []
        for (let off = 0; off < o.offset; off++) {
          expect(done, `${label}: committed ${o.offset} on ${o.partition} covers unhandled ${off}`).toContain(off)
        }
      }
    }
  })
})

describe('for await (const m of consumer)', () => {
  for (const partitions of [1, 2]) {
    it(`ends after break at every message, and leaves the broken one uncommitted (${partitions} partition(s))`, async () => {
      await log.createTopic('t', { partitions })
      await fill('t', partitions, 4 / partitions)
      for (let breakAt = 1; breakAt <= 4; breakAt++) {
        for (const bodyTicks of [0, 2]) {
          const group = `g${++groupCounter}`
          const c = log.consumer({ groupId: group })
          await c.subscribe({ topics: ['t'], fromBeginning: true })
          const loop = (async () => {
            let n = 0
            for await (const _m of c) {
              await ticks(bodyTicks)
              if (++n === breakAt) break
            }
            return n
          })()
          expect(await within(loop), `break at ${breakAt}`).toBe('settled')
          expect(await loop).toBe(breakAt)
          const total = (await committed(group, 't', partitions)).reduce((a, b) => a + b, 0)
          expect(total).toBe(breakAt - 1)
        }
      }
    })
  }

  it('ends after break when the consumer waited for a record appended later', async () => {
    await log.createTopic('t', { partitions: 2 })
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const loop = (async () => {
      for await (const { message } of c) return message.value
      return null
    })()
    await new Promise((r) => setTimeout(r, 20))
    await log.append('t', [{ partition: 1, value: 'late' }])
    expect(await within(loop)).toBe('settled')
    expect(await loop).toBe('late')
  })

  it('ends when stop() is awaited in the loop body before break', async () => {
    await log.createTopic('t')
    await fill('t', 1, 3)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const loop = (async () => {
      for await (const _m of c) {
        await c.stop()
        break
      }
    })()
    expect(await within(loop)).toBe('settled')
    expect(await committed('g', 't', 1)).toEqual([0])
  })

  it('ends when the consumer is stopped from outside while the loop waits for records', async () => {
    await log.createTopic('t')
    await fill('t', 1, 1)
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    let seen = 0
    const loop = (async () => {
      for await (const _m of c) seen++
    })()
    while (seen < 1) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, 10))
    expect(await within(c.stop())).toBe('settled')
    expect(await within(loop)).toBe('settled')
    // The loop asked for the next message, so the first one was processed and is committed.
    expect(await committed('g', 't', 1)).toEqual([1])
  })

  it('ends when the engine closes while the loop waits for records', async () => {
    await log.createTopic('t')
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'] })
    const loop = (async () => {
      for await (const _m of c) {
        // no records arrive
      }
    })()
    await new Promise((r) => setTimeout(r, 20))
    expect(await within(log.close())).toBe('settled')
    expect(await within(loop)).toBe('settled')
  })
})
