/**
 * A small app typed against kafkajs, the way apps use its types (handlers typed with its payloads, its client
 * types passed around, its errors matched with instanceof, a custom logger and partitioner). `npm run typecheck`
 * compiles it as written; types.test.ts compiles it again with only its import changed to seglog/kafkajs.
 */
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type EachMessagePayload,
  type ICustomPartitioner,
  Kafka,
  type KafkaConfig,
  KafkaJSError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  type KafkaMessage,
  type LogEntry,
  type logCreator,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
  type RecordMetadata,
} from 'kafkajs'

const config: KafkaConfig = { clientId: 'orders-app', brokers: ['localhost:9092'], logLevel: logLevel.INFO }

const jsonLogger: logCreator =
  (level: logLevel) =>
  ({ namespace, label, log }: LogEntry) => {
    if (level >= logLevel.WARN) console.warn(label, namespace, log.message)
  }

const byCustomer: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner()
  return (args) => (args.message.headers?.vip ? 0 : fallback(args))
}

export function makeKafka(): Kafka {
  return new Kafka({ ...config, logCreator: jsonLogger })
}

export function toMessage(order: { id: string; total: number }): Message {
  return { key: order.id, value: JSON.stringify(order), headers: { source: 'web' } }
}

export async function publish(producer: Producer, orders: { id: string; total: number }[]): Promise<string[]> {
  const meta: RecordMetadata[] = await producer.send({ topic: 'orders', messages: orders.map(toMessage) })
  return meta.map((m) => `${m.partition}@${m.baseOffset}`)
}

function parse(message: KafkaMessage): { id: string; total: number } {
  return JSON.parse(message.value?.toString() ?? '{}')
}

export async function handleMessage({ topic, partition, message, heartbeat }: EachMessagePayload): Promise<void> {
  const order = parse(message)
  if (Number(message.offset) % 100 === 0) await heartbeat()
  console.log(topic, partition, message.key?.toString(), order.total)
}

export async function handleBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
  for (const message of batch.messages) {
    if (!isRunning() || isStale()) break
    parse(message)
    resolveOffset(message.offset)
  }
}

export async function start(kafka: Kafka): Promise<{ consumer: Consumer; admin: Admin; producer: Producer }> {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] })
  const producer = kafka.producer({ createPartitioner: byCustomer })
  await producer.connect()
  const consumer = kafka.consumer({ groupId: 'billing' })
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.error instanceof KafkaJSNumberOfRetriesExceeded) console.error('gave up', payload.restart)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: ['orders'], fromBeginning: true })
  await consumer.run({ eachMessage: handleMessage })
  return { consumer, admin, producer }
}

export function describeError(err: unknown): string {
  if (err instanceof KafkaJSProtocolError) return `${err.type} (${err.code})`
  if (err instanceof KafkaJSError) return `${err.name}${err.retriable ? ' (retriable)' : ''}`
  return String(err)
}
