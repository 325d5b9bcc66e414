/**
 * A plain script tailing a partition: appends one record, then `for await` over a live stream printing
 * `rec <offset>` per record; when the stream ends it prints `stream ended`. SIGUSR2 appends a record; SIGTERM
 * closes the engine (which ends the stream) and prints `closed`.
 */
import { Seglog } from '../../../src/main.js'

const log = await Seglog.open(process.argv[2])
await log.createTopic('t')
await log.append('t', [{ value: 'first' }])
process.on('SIGUSR2', () => {
  void log.append('t', [{ value: 'more' }])
})
process.on('SIGTERM', async () => {
  await log.close()
  console.log('closed')
})
for await (const r of log.stream('t', 0, { live: true })) console.log(`rec ${r.offset}`)
console.log('stream ended')
