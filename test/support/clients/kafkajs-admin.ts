/**
 * kafkajs admin calls, one per process run, each printing its result as one JSON line. Run as
 * `node --import tsx test/support/clients/kafkajs-admin.ts BROKER MODE ARGS...`:
 *
 * - `create TOPIC PARTITIONS [NAME=VALUE...]`: `createTopics` with those `configEntries`; prints `{ created }`.
 * - `topic-offsets TOPIC`: `fetchTopicOffsets`.
 * - `group-offsets GROUP TOPIC`: `fetchOffsets({ groupId, topics: [TOPIC] })`.
 * - `reset GROUP TOPIC earliest|latest`: `resetOffsets`, then prints `fetchOffsets` as above.
 * - `list-topics`: `listTopics`.
 */
import { kafka, out, runMain } from './kafkajs-common.js'

runMain(async () => {
  const [broker, mode, ...args] = process.argv.slice(2)
  const admin = kafka(broker, 'admin').admin()
  await admin.connect()
  try {
    switch (mode) {
      case 'create': {
        const [topic, partitions, ...entries] = args
        const configEntries = entries.map((e) => {
          const at = e.indexOf('=')
          return { name: e.slice(0, at), value: e.slice(at + 1) }
        })
        const created = await admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic, numPartitions: Number(partitions), configEntries }],
        })
        out(JSON.stringify({ created }))
        break
      }
      case 'topic-offsets':
        out(JSON.stringify(await admin.fetchTopicOffsets(args[0])))
        break
      case 'group-offsets':
        out(JSON.stringify(await admin.fetchOffsets({ groupId: args[0], topics: [args[1]] })))
        break
      case 'reset':
        await admin.resetOffsets({ groupId: args[0], topic: args[1], earliest: args[2] === 'earliest' })
        out(JSON.stringify(await admin.fetchOffsets({ groupId: args[0], topics: [args[1]] })))
        break
      case 'list-topics':
        out(JSON.stringify((await admin.listTopics()).sort()))
        break
      default:
        throw new Error(`unknown mode ${mode}`)
    }
  } finally {
    await admin.disconnect()
  }
})
