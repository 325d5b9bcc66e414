/**
 * A plain script that leaves its clients to close(): a running consumer waiting for records, a live stream
 * waiting at the log end, a `for await` consumer loop waiting, and a producer with a lingering send. It then
 * closes the engine and prints `closed`. close() stops every client and ends the streams, and nothing may keep
 * the process alive afterwards; the loops print `stream ended` and `loop ended` when they end.
 */
import { Seglog } from '../../../src/main.js'

const log = await Seglog.open(process.argv[2], { retentionCheckIntervalMs: 50 })
await log.createTopic('t', { config: { flushMs: 60_000 } })
await log.append('t', [{ value: 1 }], { acks: 1 })
const consumer = log.consumer({ groupId: 'g' })
await consumer.subscribe({ topics: ['t'], fromBeginning: true })
let seen = 0
await consumer.run({
  eachMessage: async () => {
    seen++
  },
})
const streamDone = (async () => {
  for await (const _r of log.stream('t', 0, { live: true })) {
    // reads the record, then waits at the log end
  }
  console.log('stream ended')
})()
const iterating = log.consumer({ groupId: 'other' })
await iterating.subscribe({ topics: ['t'], fromBeginning: true })
const loopDone = (async () => {
  for await (const _m of iterating) {
    // takes the record, then waits for more
  }
  console.log('loop ended')
})()
const producer = log.producer({ lingerMs: 50 })
const sent = producer.send({ topic: 't', messages: [{ value: 2 }] })
while (seen < 1) await new Promise((resolve) => setTimeout(resolve, 5))
await log.close()
console.log(`closed, send ${(await sent)[0].offset}`)
await streamDone
await loopDone
