/**
 * Consumer groups with the two Python client families (kafka-python; confluent-kafka on librdkafka), every party its
 * own process against `seglog serve`: a producer with acks=all, two group members sharing a 4-partition topic, one
 * SIGKILLed, a clean stop and a restart. The members commit each consumed batch synchronously before printing it, so
 * a printed record is a committed one and any redelivery of it is a defect the test sees.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../../src/main.js'
import { expectExactly } from '../../support/wire-expect.js'
import {
  CLIENTS_DIR,
  expectOk,
  killAll,
  type LineProc,
  PYTHON,
  python,
  removeTempDirs,
  runToEnd,
  type Served,
  startServe,
  tempDir,
  waitFor,
} from '../../support/wire-harness.js'
import { ackedLines, consumedLines, currentAssignment } from '../../support/wire-records.js'

const PARTITIONS = 4
const ALL = [0, 1, 2, 3]
const FIRST_BATCH = 2000
const LATER_BATCH = 200

afterEach(async () => {
  await killAll()
  removeTempDirs()
})

const CLIENTS = [
  { lib: 'kafka-python', script: 'kafka_python_client.py' },
  { lib: 'confluent-kafka', script: 'confluent_client.py' },
] as const

const same = (a: number[] | null, b: readonly number[]): boolean =>
  a !== null && a.length === b.length && a.every((x, i) => x === b[i])

describe.each(CLIENTS)('$lib against seglog serve', ({ lib, script }) => {
  it('shares a topic between two group members exactly once, moves a killed member’s partitions within a second, and redelivers nothing after a restart', async () => {
    const dir = tempDir(`groups-${lib}`)
    const topic = 'orders'
    const group = `billing-${lib}`
    const server: Served = await startServe(dir)
    const run = async (args: (string | number)[], what: string) => {
      const r = await runToEnd(what, PYTHON, ['-u', `${CLIENTS_DIR}/${script}`, ...args.map(String)], {
        timeoutMs: 40_000,
      })
      expectOk(r, what)
      return r
    }
    await run(['create', server.broker, topic, PARTITIONS], `${lib} create`)

    // Two members; the second join splits the four partitions between them.
    const a = python(`${lib} consumer A`, script, ['consume', server.broker, topic, group])
    await waitFor([a], () => same(currentAssignment(a.lines), ALL), 'A holds all partitions', 20_000)
    const b = python(`${lib} consumer B`, script, ['consume', server.broker, topic, group])
    await waitFor(
      [a, b],
      () => {
        const pa = currentAssignment(a.lines)
        const pb = currentAssignment(b.lines)
        return (
          pa !== null && pb !== null && pa.length > 0 && pb.length > 0 && [...pa, ...pb].sort().join() === ALL.join()
        )
      },
      'A and B split the partitions',
      20_000,
    )

    const produced = await run(['produce', server.broker, topic, lib, 0, FIRST_BATCH], `${lib} producer`)
    const acked = ackedLines(produced.lines)
    expect(acked).toHaveLength(FIRST_BATCH)
    expect(produced.lines.at(-1)).toBe(`produced ${FIRST_BATCH}`)
    const total = (procs: LineProc[]): number => procs.reduce((n, p) => n + consumedLines(p.lines).length, 0)
    await waitFor([a, b], () => total([a, b]) >= FIRST_BATCH, `${FIRST_BATCH} records consumed by A and B`, 30_000)

    const byA = consumedLines(a.lines)
    const byB = consumedLines(b.lines)
    expectExactly([...byA, ...byB], acked)
    const partsA = new Set(byA.map((m) => m.partition))
    const partsB = new Set(byB.map((m) => m.partition))
    expect([...partsA].filter((p) => partsB.has(p))).toEqual([])
    expect([...partsA, ...partsB].sort()).toEqual(ALL)

    // SIGKILL B: its connection closes, the coordinator drops it at once and A takes every partition.
    const fromA = a.lines.length
    const killedAt = performance.now()
    b.proc.kill('SIGKILL')
    await waitFor([a], () => same(currentAssignment(a.lines, fromA), ALL), 'A takes B’s partitions', 10_000)
    const takeoverMs = performance.now() - killedAt
    console.log(
      `${lib}: the surviving member held all ${PARTITIONS} partitions ${takeoverMs.toFixed(0)} ms after SIGKILL`,
    )
    expect(takeoverMs).toBeLessThan(1000)

    const second = await run(['produce', server.broker, topic, lib, FIRST_BATCH, LATER_BATCH], `${lib} producer 2`)
    const acked2 = ackedLines(second.lines)
    expect(acked2).toHaveLength(LATER_BATCH)
    await waitFor([a], () => consumedLines(a.lines, fromA).length >= LATER_BATCH, 'A consumes the new records', 20_000)
    expectExactly(consumedLines(a.lines, fromA), acked2)

    // A clean stop (its commits are in), then a fresh member of the same group gets only what comes next.
    const stopA = await a.stop('SIGTERM')
    expect(stopA.code).toBe(0)
    expect(a.lines.at(-1)).toBe('closed')
    const c = python(`${lib} consumer C`, script, ['consume', server.broker, topic, group])
    await waitFor([c], () => same(currentAssignment(c.lines), ALL), 'C holds all partitions', 20_000)
    const third = await run(
      ['produce', server.broker, topic, lib, FIRST_BATCH + LATER_BATCH, LATER_BATCH],
      `${lib} producer 3`,
    )
    const acked3 = ackedLines(third.lines)
    await waitFor([c], () => consumedLines(c.lines).length >= LATER_BATCH, 'C consumes the newest records', 20_000)
    expectExactly(consumedLines(c.lines), acked3)
    expect((await c.stop('SIGTERM')).code).toBe(0)
    expect((await server.stop()).code).toBe(0)

    // The wire commits are the native API's committed offsets: the next offset to read, at each log end.
    const log = await Seglog.open(dir)
    try {
      const committed = await log.fetchOffsets(group, topic)
      const ends = ALL.map((p) => log.offsets(topic, p).logEndOffset)
      expect(ends.reduce((x, y) => x + y, 0)).toBe(FIRST_BATCH + 2 * LATER_BATCH)
      expect(committed.map((o) => [o.partition, o.offset]).sort((x, y) => x[0] - y[0])).toEqual(
        ALL.map((p) => [p, ends[p]]),
      )
    } finally {
      await log.close()
    }
  })
})
