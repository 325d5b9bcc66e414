/**
 * A kafkajs consumer-group process in the shape of kafkajs's own examples/consumer.js: connect, subscribe from the
 * beginning, `run` with `eachMessage`, disconnect on SIGTERM (which commits and leaves the group). Run as
 * `node --import tsx test/support/clients/kafkajs-consumer.ts BROKER TOPIC GROUP [EXPECT]`.
 *
 * Prints `joined P,P|-` on every group join (its assignment), `m P O KEY` per record; with EXPECT it disconnects
 * after EXPECT records and prints `done N`.
 */
import { kafka, onSignal, out, runMain } from './kafkajs-common.js'

runMain(async () => {
  const [broker, topic, group, expectArg] = process.argv.slice(2)
  const expected = expectArg === undefined ? Number.POSITIVE_INFINITY : Number(expectArg)
  const consumer = kafka(broker, `consumer-${group}`).consumer({
    groupId: group,
    sessionTimeout: 6000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  })
  let seen = 0
  let finishing = false
  const finish = async (): Promise<void> => {
    if (finishing) return
    finishing = true
    await consumer.disconnect()
    out(`done ${seen}`)
  }
  onSignal(finish)
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const mine = payload.memberAssignment[topic] ?? []
    out(`joined ${mine.length === 0 ? '-' : [...mine].sort((a, b) => a - b).join(',')}`)
  })
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    process.stderr.write(`crash: ${String(payload.error)}\n`)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen++
      out(`m ${partition} ${message.offset} ${message.key?.toString() ?? ''}`)
      // Disconnect outside the handler: kafkajs waits for it to return before it commits and leaves.
      if (seen >= expected) setImmediate(() => void finish().then(() => process.exit(0)))
    },
  })
})
