/**
 * A plain script whose only work is a running consumer: appends 2 records to a 2-partition topic, runs a
 * consumer that prints `got <partition> <offset>` per message, prints `running`, and ends its top level.
 * SIGUSR2 appends one more record to partition 1 (printing `appended`); SIGTERM stops the consumer, closes the
 * engine and prints `stopped`. A signal listener does not keep a Node process alive: only the consumer does.
 */
import { Seglog } from '../../../src/main.js'

const log = await Seglog.open(process.argv[2])
await log.createTopic('t', { partitions: 2 })
await log.append('t', [
  { value: 'a', partition: 0 },
  { value: 'b', partition: 1 },
])
const consumer = log.consumer({ groupId: 'g' })
await consumer.subscribe({ topics: ['t'], fromBeginning: true })
process.on('SIGUSR2', () => {
  void log.append('t', [{ value: 'c', partition: 1 }]).then(() => console.log('appended'))
})
process.on('SIGTERM', async () => {
  await consumer.stop()
  await log.close()
  console.log('stopped')
})
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    console.log(`got ${partition} ${message.offset}`)
  },
})
console.log('running')
