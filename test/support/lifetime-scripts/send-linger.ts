/**
 * A plain script (run by test/clients/process-lifetime.test.ts as `node --import tsx send-linger.ts <dir>`):
 * awaits one send through a producer with `lingerMs: 5`, prints `sent <offset>`, then disconnects, closes and
 * prints `closed`. Nothing else keeps the process alive while the send waits for its linger time.
 */
import { Seglog } from '../../../src/main.js'

const log = await Seglog.open(process.argv[2])
await log.createTopic('t')
const producer = log.producer({ lingerMs: 5 })
const [meta] = await producer.send({ topic: 't', messages: [{ value: 'hello' }] })
console.log(`sent ${meta.offset}`)
await producer.disconnect()
await log.close()
console.log('closed')
