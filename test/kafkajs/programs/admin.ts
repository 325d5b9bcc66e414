/**
 * An admin program in the shape of kafkajs's examples: creates a topic (2 partitions, Kafka config entries), adds
 * a partition, and prints what the cluster then says about it, one JSON line each. Written against kafkajs; the
 * tests run it unchanged and with only the import changed to seglog/kafkajs. Environment: BROKER (default
 * localhost:9092), TOPIC (default example-topic).
 */
import { Kafka, logLevel } from 'kafkajs'

const topic = process.env.TOPIC ?? 'example-topic'
const kafka = new Kafka({
  clientId: 'example-admin',
  brokers: [process.env.BROKER ?? 'localhost:9092'],
  logLevel: logLevel.WARN,
})
const admin = kafka.admin()

const run = async (): Promise<void> => {
  await admin.connect()
  const created = await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '86400000' }] }],
  })
  console.log(JSON.stringify({ created }))
  await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] })
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
  console.log(JSON.stringify({ topic: topics[0].name, partitions: topics[0].partitions.map((p) => p.partitionId) }))
  console.log(JSON.stringify({ topics: await admin.listTopics() }))
  await admin.disconnect()
}

await run().catch((e: Error) => {
  console.error(`[example/admin] ${e.message}`, e.stack)
  process.exitCode = 1
})
