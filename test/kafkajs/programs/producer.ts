/**
 * A producer program in the shape of kafkajs's examples: a loop of sends, each a few keyed messages with headers
 * (GZIP-compressed), printing each send's RecordMetadata as a JSON line, then it disconnects. Written against
 * kafkajs; the tests run it unchanged and with only the import changed to seglog/kafkajs. Environment: BROKER
 * (default localhost:9092), TOPIC (default example-topic), SENDS (default 10), PER_SEND (default 3).
 */
import { CompressionTypes, Kafka, logLevel } from 'kafkajs'

const topic = process.env.TOPIC ?? 'example-topic'
const sends = Number(process.env.SENDS ?? 10)
const perSend = Number(process.env.PER_SEND ?? 3)
const kafka = new Kafka({
  clientId: 'example-producer',
  brokers: [process.env.BROKER ?? 'localhost:9092'],
  logLevel: logLevel.WARN,
})
const producer = kafka.producer()

const createMessage = (n: number) => ({
  key: `key-${n}`,
  value: `value-${n}`,
  headers: { 'correlation-id': `corr-${n}`, source: 'example-producer' },
})

const run = async (): Promise<void> => {
  await producer.connect()
  let n = 0
  for (let send = 0; send < sends; send++) {
    const messages = Array.from({ length: perSend }, () => createMessage(n++))
    const response = await producer.send({ topic, compression: CompressionTypes.GZIP, messages })
    console.log(JSON.stringify({ send, response }))
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await producer.disconnect()
}

await run().catch((e: Error) => {
  console.error(`[example/producer] ${e.message}`, e.stack)
  process.exitCode = 1
})
