/**
 * A plain script whose consumer's fetches fail: every read of a `.log` file fails with EIO (the test's fault
 * file system). The consumer (`retry: { retries: 2, initialRetryTime: 5 }`) must report each failure as a
 * `consumer.crash` event (printed `crash <code> <retryInMs>`), stop after the retries (printed `stop event`),
 * and never let the error escape as an unhandled rejection. The script then closes and prints `closed`.
 */

import { TEST_HOOKS } from '../../../src/internal.js'
import { Seglog } from '../../../src/main.js'
import { FaultyFileSystem } from '../faulty-fs.js'

const dir = process.argv[2]
const faulty = new FaultyFileSystem(dir)
const log = await Seglog.open(dir, { [TEST_HOOKS]: { fs: faulty } })
await log.createTopic('t')
await log.append('t', [{ value: 1 }])
faulty.failNext({ op: 'read', path: '.log', count: Number.POSITIVE_INFINITY })
const consumer = log.consumer({ groupId: 'g', retry: { retries: 2, initialRetryTime: 5 } })
const stopped = new Promise<void>((resolve) => consumer.on('consumer.stop', () => resolve()))
consumer.on('consumer.crash', ({ error, retryInMs }) => {
  console.log(`crash ${(error as { code?: string }).code} ${retryInMs}`)
})
await consumer.subscribe({ topics: ['t'], fromBeginning: true })
await consumer.run({ eachMessage: async () => console.log('handled') })
await stopped
console.log('stop event')
await log.close()
console.log('closed')
