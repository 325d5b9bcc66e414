/**
 * A plain script iterating a consumer: appends one record, then `for await (const m of consumer)` printing
 * `got <offset>` per message; when the loop ends it closes the engine and prints `loop ended`. SIGUSR2 appends a
 * record; SIGTERM stops the consumer from outside the loop (printing `stopped` once stop() resolved).
 */
import { Seglog } from '../../../src/main.js'

const log = await Seglog.open(process.argv[2])
await log.createTopic('t')
await log.append('t', [{ value: 'first' }])
const consumer = log.consumer({ groupId: 'g' })
await consumer.subscribe({ topics: ['t'], fromBeginning: true })
process.on('SIGUSR2', () => {
  void log.append('t', [{ value: 'more' }])
})
process.on('SIGTERM', async () => {
  await consumer.stop()
  console.log('stopped')
})
for await (const { message } of consumer) console.log(`got ${message.offset}`)
await log.close()
console.log('loop ended')
