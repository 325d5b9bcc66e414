/**
 * The script a new user writes first, which must exit 0 by itself within a few seconds: with the background
 * timers on (retention every 50 ms, a cleaner, a flush timer left pending by an acks-1 append) it appends,
 * sends through a lingering producer, consumes with `run` and stops right after the last handler resolved (in
 * the same microtask chain), iterates a second group with `for await` and `break`s, tails a live stream until it
 * saw everything and `break`s, disconnects the producer and closes. Prints one line per step, `done` last.
 */
import { Seglog } from '../../../src/main.js'

const TOTAL = 6
const log = await Seglog.open(process.argv[2], { retentionCheckIntervalMs: 50 })
await log.createTopic('orders', { partitions: 2, config: { flushMs: 60_000 } })
await log.append(
  'orders',
  [
    { key: 'a', value: 1 },
    { key: 'b', value: 2 },
    { key: 'c', value: 3 },
  ],
  { acks: 1 },
)
console.log('appended')

const producer = log.producer({ lingerMs: 5 })
await producer.send({
  topic: 'orders',
  messages: [
    { key: 'd', value: 4 },
    { key: 'e', value: 5 },
  ],
})
await producer.sendBatch({ topicMessages: [{ topic: 'orders', messages: [{ key: 'f', value: 6 }] }] })
console.log('sent')

const consumer = log.consumer({ groupId: 'billing' })
await consumer.subscribe({ topics: ['orders'], fromBeginning: true })
let handled = 0
let allHandled = (): void => {}
const handledAll = new Promise<void>((resolve) => {
  allHandled = resolve
})
await consumer.run({
  eachMessage: async () => {
    if (++handled === TOTAL) allHandled()
  },
})
await handledAll
await consumer.stop()
console.log(`consumed ${handled}`)

const audit = log.consumer({ groupId: 'audit' })
await audit.subscribe({ topics: ['orders'], fromBeginning: true })
for await (const { message } of audit) {
  console.log(`audit saw ${typeof message.value}`)
  break
}

// Tail the partition that holds key 'a' (the first append's first record) until its log end.
const [{ partition }] = await log.append('orders', [{ key: 'a', value: 7 }], { acks: 1 })
const end = log.offsets('orders', partition).logEndOffset
let tailed = 0
for await (const _r of log.stream('orders', partition, { live: true })) {
  if (++tailed === end) break
}
console.log(`tailed ${tailed}`)

await producer.disconnect()
await log.close()
console.log('done')
