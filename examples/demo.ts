/**
 * `npm start`: a short tour on a local directory — create a topic, append, read back, tail live, and print
 * throughput. Run it twice: the second run reopens the same directory and keeps appending.
 */
import * as path from 'node:path'
import { Seglog } from '../src/main.js'

const dir = process.argv[2] ?? path.join(process.cwd(), 'demo-data')
const log = await Seglog.open(dir)
console.log(`opened ${dir}`)

if (!log.listTopics().includes('orders')) {
  await log.createTopic('orders', { partitions: 3, config: { retentionMs: 7 * 24 * 3600 * 1000 } })
  console.log('created topic orders with 3 partitions')
}

// Append: keyed messages go to the partition Kafka's murmur2 would pick.
const meta = await log.append('orders', [
  { key: 'customer-1', value: { item: 'book', total: 9.5 }, headers: { src: 'web' } },
  { key: 'customer-2', value: { item: 'pen', total: 1.2 } },
  { key: 'customer-1', value: { item: 'lamp', total: 30 } },
])
console.log('appended (acks -1, fsynced):', meta)

// Read back from partition of customer-1.
const p = meta[0].partition
const recs = await log.read('orders', p, 0, { maxRecords: 5 })
console.log(`first records of orders-${p}:`)
for (const r of recs) console.log(`  offset ${r.offset} key=${r.key?.toString()} value=${JSON.stringify(r.value)}`)

// Live tail: a stream waits at the log end and wakes on the next append.
const ac = new AbortController()
const tail = (async () => {
  const got: number[] = []
  try {
    for await (const r of log.stream('orders', p, { from: 'latest', live: true, signal: ac.signal })) {
      got.push(r.offset)
      if (got.length === 3) ac.abort()
    }
  } catch (err) {
    if ((err as { code?: string }).code !== 'ABORTED') throw err
  }
  return got
})()
for (let i = 0; i < 3; i++) await log.append('orders', [{ partition: p, key: 'customer-1', value: { tick: i } }])
console.log('live tail saw offsets', await tail)

// Throughput: 200,000 small messages in calls of 1,000, acks 1 (page cache), one flush at the end.
await log.createTopic('bench', { partitions: 1, config: { format: 'binary' } }).catch(() => {})
const value = Buffer.alloc(100, 7)
const n = 200_000
const t0 = performance.now()
for (let i = 0; i < n; i += 1000) {
  const batch = Array.from({ length: 1000 }, (_, j) => ({ key: `k${i + j}`, value }))
  await log.append('bench', batch, { acks: 1 })
}
await log.flush()
const secs = (performance.now() - t0) / 1000
console.log(`appended ${n} records in ${secs.toFixed(2)} s: ${Math.round(n / secs).toLocaleString()} records/s`)
console.log('describe orders:', JSON.stringify(log.describeTopic('orders').partitions))
await log.close()
console.log('closed cleanly; run again to reopen the same directory')
