import { afterEach, describe, expect, it } from 'vitest'
import { type Served, serve } from '../../support/wire-engine.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

interface Offsets {
  responses: {
    topic: string
    partitions: { partition: number; errorCode: number; timestamp: string; offset: string }[]
  }[]
}

async function list(s: Served, version: number, topic: string, partitions: { partition: number; timestamp: number }[]) {
  const c = await s.connect()
  const r = await s.call<Offsets>(c, 'listOffsets', version, {
    replicaId: -1,
    isolationLevel: 1,
    topics: [{ topic, partitions }],
  })
  c.destroy()
  return r.responses[0].partitions.map((p) => [p.errorCode, Number(p.offset), Number(p.timestamp)])
}

describe('ListOffsets handler', () => {
  it('answers the log end for -1, the log start for -2 and the first offset at or after a timestamp, at v1-v3', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    await served.log.append(
      't',
      [100, 200, 300, 400].map((timestamp) => ({ value: Buffer.from('v'), timestamp })),
    )
    await served.log.deleteRecords('t', 0, 1)
    for (let v = 1; v <= 3; v++) {
      expect(
        await list(served, v, 't', [
          { partition: 0, timestamp: -1 },
          { partition: 0, timestamp: -2 },
          { partition: 0, timestamp: 250 },
          { partition: 0, timestamp: 300 },
          { partition: 0, timestamp: 401 },
        ]),
      ).toEqual([
        [0, 4, -1],
        [0, 1, -1],
        [0, 2, 300],
        [0, 2, 300],
        [0, -1, -1],
      ])
    }
  })

  it('answers UNKNOWN_TOPIC_OR_PARTITION for a missing topic or partition', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    expect(await list(served, 2, 't', [{ partition: 9, timestamp: -1 }])).toEqual([[3, -1, -1]])
    expect(await list(served, 2, 'nope', [{ partition: 0, timestamp: -1 }])).toEqual([[3, -1, -1]])
  })
})
