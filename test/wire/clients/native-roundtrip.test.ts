/**
 * Native API → wire: records appended and offsets committed in-process read back, after the directory is served
 * by the library's listener (`Seglog.open` with `listen`, in its own process), through librdkafka (confluent-kafka,
 * no group: every field of every record) and kafkajs (the committed offsets, and a group member that resumes
 * exactly there). The wire member's commits then read back through the native API. (Wire → native is checked at
 * the end of kcat.test.ts, kafkajs.test.ts and python-groups.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../../src/main.js'
import {
  expectOk,
  killAll,
  nodeClient,
  python,
  removeTempDirs,
  type Served,
  startListen,
  tempDir,
} from '../../support/wire-harness.js'
import { consumedLines, wireHeaders, wireKey, wireValue } from '../../support/wire-records.js'

afterEach(async () => {
  await killAll()
  removeTempDirs()
})

const TS = 1_700_000_000_000
const PER_PARTITION = 15
const COMMITTED = [5, 7]
const ENV = { KAFKAJS_NO_PARTITIONER_WARNING: '1' }

interface Dumped {
  p: number
  o: number
  key: string | null
  value: string | null
  headers: [string, string | null][]
  ts: number
  tstype: number
}

async function finished(p: ReturnType<typeof python>, what: string, timeoutMs = 30_000): Promise<string[]> {
  const exit = await p.waitExit(timeoutMs)
  expectOk({ ...exit, lines: p.lines, stdout: p.lines.join('\n'), stderr: p.stderr() }, what)
  return p.lines
}

describe('native API to wire clients', () => {
  it('serves natively appended records with every field intact, and natively committed offsets to a wire group, whose commits read back natively', async () => {
    const dir = tempDir('native-roundtrip')
    const topic = 'ledger'
    const group = 'resume'
    const log = await Seglog.open(dir)
    await log.createTopic(topic, { partitions: 2, config: { format: 'binary' } })
    const total = 2 * PER_PARTITION
    const meta = await log.append(
      topic,
      Array.from({ length: total }, (_, i) => ({
        partition: i % 2,
        key: wireKey(i),
        value: wireValue('native', i),
        headers: { ...wireHeaders('native', i), twice: ['a', 'b'] },
        timestamp: TS + i,
      })),
      { acks: -1 },
    )
    // One null key and one tombstone, the edge values a decoder gets wrong.
    await log.append(topic, [
      { partition: 0, key: null, value: Buffer.from('no key') },
      { partition: 1, key: 'tomb', value: null },
    ])
    await log.resetOffsets({
      groupId: group,
      topic,
      to: { offsets: COMMITTED.map((offset, partition) => ({ partition, offset })) },
    })
    await log.close()

    // Served by the library's listener (`Seglog.open(dir, { listen: { port: 0 } })`) in a process of its own.
    const server: Served = await startListen(dir)
    const dump = await finished(
      python('confluent dump', 'confluent_client.py', ['dump', server.broker, topic, 2]),
      'dump',
    )
    expect(dump.at(-1)).toBe(`end ${total + 2}`)
    const records = dump.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Dumped)
    const hex = (b: Buffer) => b.toString('hex')
    for (let i = 0; i < total; i++) {
      const r = records.find((x) => x.p === meta[i].partition && x.o === meta[i].offset)
      expect(r, `record ${i}`).toEqual({
        p: i % 2,
        o: meta[i].offset,
        key: hex(wireKey(i)),
        value: hex(wireValue('native', i)),
        headers: [
          ['i', hex(Buffer.from(String(i)))],
          ['src', hex(Buffer.from('native'))],
          ['twice', hex(Buffer.from('a'))],
          ['twice', hex(Buffer.from('b'))],
        ],
        ts: TS + i,
        tstype: 1,
      })
    }
    expect(records.find((x) => x.p === 0 && x.o === PER_PARTITION)).toMatchObject({
      key: null,
      value: hex(Buffer.from('no key')),
    })
    expect(records.find((x) => x.p === 1 && x.o === PER_PARTITION)).toMatchObject({
      key: hex(Buffer.from('tomb')),
      value: null,
    })

    const offsets = nodeClient('kafkajs admin', 'kafkajs-admin.ts', [server.broker, 'group-offsets', group, topic], {
      env: ENV,
    })
    const fetched = JSON.parse((await finished(offsets, 'kafkajs fetchOffsets')).at(-1) ?? 'null') as {
      partitions: { partition: number; offset: string }[]
    }[]
    expect(fetched[0].partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '5'],
      [1, '7'],
    ])

    // A kafkajs member of the group resumes at the committed offsets, then commits the log ends.
    const ends = [PER_PARTITION + 1, PER_PARTITION + 1]
    const expected = ends[0] - COMMITTED[0] + ends[1] - COMMITTED[1]
    const member = nodeClient('kafkajs consumer', 'kafkajs-consumer.ts', [server.broker, topic, group, expected], {
      env: ENV,
    })
    await finished(member, 'kafkajs consumer')
    const got = consumedLines(member.lines)
      .map((m) => [m.partition, m.offset])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    const want = [0, 1].flatMap((p) => Array.from({ length: ends[p] - COMMITTED[p] }, (_, k) => [p, COMMITTED[p] + k]))
    expect(got).toEqual(want)
    expect((await server.stop()).code).toBe(0)

    const again = await Seglog.open(dir)
    try {
      const committed = await again.fetchOffsets(group, topic)
      expect(committed.map((o) => [o.partition, o.offset]).sort()).toEqual([
        [0, ends[0]],
        [1, ends[1]],
      ])
    } finally {
      await again.close()
    }
  })
})
