/**
 * SIGKILL of the serving process while two clients (kafkajs and confluent-kafka) produce with acks=all: after the
 * directory is reopened, every record either client was acknowledged for is there, at the acknowledged offset,
 * with its key, value and headers. acks=all is answered only after the fsync, so an acknowledged record survives
 * the loss of the process.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../../src/main.js'
import {
  killAll,
  nodeClient,
  python,
  removeTempDirs,
  startServe,
  tempDir,
  waitFor,
} from '../../support/wire-harness.js'
import { ackedLines, wireHeaders, wireKey, wireValue } from '../../support/wire-records.js'

afterEach(async () => {
  await killAll()
  removeTempDirs()
})

const PARTITIONS = 3
const BEFORE_KILL = 400

describe('seglog serve killed during acks=all produce', () => {
  it('keeps every acknowledged record of every client after SIGKILL and reopen', async () => {
    const dir = tempDir('server-kill')
    const setup = await Seglog.open(dir)
    for (const topic of ['from-kafkajs', 'from-librdkafka']) {
      await setup.createTopic(topic, { partitions: PARTITIONS, config: { format: 'binary', segmentBytes: 64 * 1024 } })
    }
    await setup.close()
    const server = await startServe(dir)
    const kjs = nodeClient(
      'kafkajs producer',
      'kafkajs-producer.ts',
      [server.broker, 'from-kafkajs', 'kjs', 0, -1, PARTITIONS, 10, 0],
      { env: { KAFKAJS_NO_PARTITIONER_WARNING: '1' } },
    )
    const rdk = python('confluent producer', 'confluent_client.py', [
      'produce',
      server.broker,
      'from-librdkafka',
      'rdk',
      0,
      -1,
    ])
    await waitFor(
      [kjs, rdk],
      () => ackedLines(kjs.lines).length >= BEFORE_KILL && ackedLines(rdk.lines).length >= BEFORE_KILL,
      `both producers acknowledged ${BEFORE_KILL} records`,
      60_000,
    )
    const killed = await server.kill()
    expect(killed.signal).toBe('SIGKILL')
    // Whatever a client printed before it noticed is all it was ever acknowledged: stop them and collect.
    await Promise.all([kjs.stop('SIGKILL'), rdk.stop('SIGKILL')])

    const log = await Seglog.open(dir)
    try {
      for (const [topic, tag, proc] of [
        ['from-kafkajs', 'kjs', kjs],
        ['from-librdkafka', 'rdk', rdk],
      ] as const) {
        const acked = ackedLines(proc.lines)
        console.log(`${topic}: ${acked.length} acknowledged records before the kill`)
        const ends = Array.from({ length: PARTITIONS }, (_, p) => log.offsets(topic, p).logEndOffset)
        const byPartition = new Map<number, Map<number, Awaited<ReturnType<typeof log.read>>[number]>>()
        for (let p = 0; p < PARTITIONS; p++) {
          const recs = await log.read(topic, p, 0, { maxRecords: ends[p], maxBytes: 256 << 20 })
          byPartition.set(p, new Map(recs.map((r) => [r.offset, r])))
        }
        const missing: string[] = []
        for (const a of acked) {
          const rec = byPartition.get(a.partition)?.get(a.offset)
          if (
            rec === undefined ||
            !rec.key?.equals(wireKey(a.i)) ||
            !(rec.value as Buffer).equals(wireValue(tag, a.i)) ||
            JSON.stringify(rec.headers) !== JSON.stringify(wireHeaders(tag, a.i))
          ) {
            missing.push(`${a.partition}/${a.offset} (record ${a.i})`)
          }
        }
        expect(missing, `${topic}: acknowledged records missing or different after the kill`).toEqual([])
      }
    } finally {
      await log.close()
    }
  })
})
