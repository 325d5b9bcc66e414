/**
 * A plain script: starts 20 sends through a producer with `lingerMs: 20` without awaiting them, prints
 * `queued`, and ends its top level. The queued sends must keep the process alive until they settle: each
 * prints `settled <offset>` when it resolves, and the last one closes the engine and prints `closed`.
 */
import { Seglog } from '../../../src/main.js'

const log = await Seglog.open(process.argv[2])
await log.createTopic('t')
const producer = log.producer({ lingerMs: 20 })
let settled = 0
for (let i = 0; i < 20; i++) {
  void producer.send({ topic: 't', messages: [{ value: i }] }).then(async ([meta]) => {
    console.log(`settled ${meta.offset}`)
    if (++settled === 20) {
      await producer.disconnect()
      await log.close()
      console.log('closed')
    }
  })
}
console.log('queued')
