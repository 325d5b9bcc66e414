/**
 * A consumer program in the shape of kafkajs's examples: joins a group, reads every message from the beginning,
 * printing partition, offset, `key.toString()`, the value and the headers as one JSON line each, and disconnects
 * once it has seen EXPECT messages (or on SIGTERM/SIGINT). Written against kafkajs; the tests run it unchanged and
 * with only the import changed to seglog/kafkajs. Environment: BROKER (default localhost:9092), TOPIC (default
 * example-topic), GROUP (default example-group), EXPECT (default 30).
 */
import { Kafka, logLevel } from 'kafkajs'

const topic = process.env.TOPIC ?? 'example-topic'
const expected = Number(process.env.EXPECT ?? 30)
const kafka = new Kafka({
  clientId: 'example-consumer',
  brokers: [process.env.BROKER ?? 'localhost:9092'],
  logLevel: logLevel.WARN,
})
const consumer = kafka.consumer({
  groupId: process.env.GROUP ?? 'example-group',
  heartbeatInterval: 500,
  maxWaitTimeInMs: 500,
})

let seen = 0
let finished: () => void = () => {}
const done = new Promise<void>((resolve) => {
  finished = resolve
})

const run = async (): Promise<void> => {
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : String(v)]),
      )
      console.log(
        JSON.stringify({
          partition,
          offset: message.offset,
          key: message.key?.toString(),
          value: message.value?.toString(),
          headers,
        }),
      )
      if (++seen === expected) finished()
    },
  })
  console.log(JSON.stringify({ running: true }))
  await done
  await consumer.disconnect()
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => finished())

await run().catch((e: Error) => {
  console.error(`[example/consumer] ${e.message}`, e.stack)
  process.exitCode = 1
})
