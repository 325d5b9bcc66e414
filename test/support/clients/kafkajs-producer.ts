/**
 * A kafkajs producer process in the shape of kafkajs's own examples/producer.js: connect, send a batch every
 * `intervalMs`, disconnect on SIGTERM. Run as
 * `node --import tsx test/support/clients/kafkajs-producer.ts BROKER TOPIC TAG FIRST COUNT PARTITIONS BATCH INTERVAL_MS`.
 *
 * Record i (FIRST..FIRST+COUNT-1; COUNT -1 = until stopped) goes to partition i % PARTITIONS with the content of
 * test/support/wire-records.ts and timestamp `TIMESTAMP_BASE + i`; each `send` uses acks -1. After each send it
 * prints `acked P O I` per record, at the end `produced N`.
 */
import type { Message } from 'kafkajs'
import { wireHeaders, wireKey, wireValue } from '../wire-records.js'
import { kafka, onSignal, out, runMain } from './kafkajs-common.js'

export const TIMESTAMP_BASE = 1_700_000_000_000

runMain(async () => {
  const [broker, topic, tag, firstArg, countArg, partitionsArg, batchArg, intervalArg] = process.argv.slice(2)
  const first = Number(firstArg)
  const count = Number(countArg)
  const partitions = Number(partitionsArg)
  const batch = Number(batchArg)
  const intervalMs = Number(intervalArg)
  const producer = kafka(broker, `producer-${tag}`).producer({ allowAutoTopicCreation: false })
  let stopped = false
  let acked = 0
  onSignal(async () => {
    stopped = true
    await producer.disconnect()
    out(`produced ${acked}`)
  })
  await producer.connect()
  out('connected')
  const end = count < 0 ? Number.POSITIVE_INFINITY : first + count
  for (let i = first; i < end && !stopped; ) {
    const n = Math.min(batch, end - i)
    const ids = Array.from({ length: n }, (_, j) => i + j)
    const messages: Message[] = ids.map((id) => ({
      partition: id % partitions,
      key: wireKey(id),
      value: wireValue(tag, id),
      headers: wireHeaders(tag, id),
      timestamp: String(TIMESTAMP_BASE + id),
    }))
    const meta = await producer.send({ topic, acks: -1, messages })
    const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]))
    const next = new Map<number, number>()
    const lines: string[] = []
    for (const id of ids) {
      const p = id % partitions
      const k = next.get(p) ?? 0
      next.set(p, k + 1)
      lines.push(`acked ${p} ${(base.get(p) ?? Number.NaN) + k} ${id}`)
    }
    out(lines.join('\n'))
    acked += n
    i += n
    if (intervalMs > 0 && i < end) await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  await producer.disconnect()
  out(`produced ${acked}`)
})
