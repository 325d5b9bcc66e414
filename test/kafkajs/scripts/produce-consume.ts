/**
 * A KafkaJS-style script on seglog/kafkajs, run as `node --import tsx produce-consume.ts <dir> [hold]`: connects a
 * producer and a consumer, sends three messages, consumes them, prints `consumed N`, then disconnects both and
 * returns from main without `process.exit`: it must exit by itself. With `hold` it does not disconnect the consumer
 * until SIGTERM (a running consumer keeps the process alive, as on KafkaJS), then prints `stopping`.
 */
import { Kafka, logLevel } from '../../../src/kafkajs/index.js'

const [dir, mode] = process.argv.slice(2)
const kafka = new Kafka({ dir, clientId: 'lifetime', logLevel: logLevel.NOTHING })
const producer = kafka.producer()
const consumer = kafka.consumer({ groupId: 'lifetime' })

await producer.connect()
await consumer.connect()
await consumer.subscribe({ topics: ['life'], fromBeginning: true })
let n = 0
let all: () => void = () => {}
const consumed = new Promise<void>((resolve) => {
  all = resolve
})
await consumer.run({
  eachMessage: async () => {
    if (++n === 3) all()
  },
})
await producer.send({ topic: 'life', messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] })
await consumed
console.log(`consumed ${n}`)
await producer.disconnect()
if (mode === 'hold') {
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()))
  console.log('stopping')
}
await consumer.disconnect()
