import { afterEach, describe, expect, it } from 'vitest'
import { array, i32, i64, str } from '../../support/wire-bytes.js'
import { type Served, serve } from '../../support/wire-engine.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

const DELETE_RECORDS = 21

function body(topic: string, partitions: { partition: number; offset: number }[]): Buffer {
  return Buffer.concat([
    array([topic], (t) =>
      Buffer.concat([str(t), array(partitions, (p) => Buffer.concat([i32(p.partition), i64(p.offset)]))]),
    ),
    i32(5000),
  ])
}

/** [partition, low watermark, error code] per partition of a DeleteRecords v0/v1 response. */
function read(res: Buffer): [number, number, number][] {
  let pos = 4
  const out: [number, number, number][] = []
  const topics = res.readInt32BE(pos)
  pos += 4
  for (let t = 0; t < topics; t++) {
    pos += 2 + res.readInt16BE(pos)
    const n = res.readInt32BE(pos)
    pos += 4
    for (let i = 0; i < n; i++) {
      out.push([res.readInt32BE(pos), Number(res.readBigInt64BE(pos + 4)), res.readInt16BE(pos + 12)])
      pos += 14
    }
  }
  return out
}

describe('DeleteRecords handler', () => {
  it('moves the log start up, -1 meaning the high watermark, and refuses offsets above it', async () => {
    served = await serve()
    await served.log.createTopic('t', { partitions: 3, config: { format: 'binary' } })
    for (let p = 0; p < 3; p++) {
      await served.log.append(
        't',
        [1, 2, 3, 4].map((i) => ({ value: Buffer.from([i]), partition: p })),
      )
    }
    const c = await served.connect()
    const res = await served.raw(
      c,
      DELETE_RECORDS,
      1,
      body('t', [
        { partition: 0, offset: 2 },
        { partition: 1, offset: -1 },
        { partition: 2, offset: 9 },
      ]),
    )
    expect(read(res)).toEqual([
      [0, 2, 0],
      [1, 4, 0],
      [2, -1, 1],
    ])
    expect(served.log.offsets('t', 0).logStartOffset).toBe(2)
    expect((await served.log.read('t', 0, 2)).map((r) => r.offset)).toEqual([2, 3])
    expect(served.log.offsets('t', 2).logStartOffset).toBe(0)
    const missing = await served.raw(c, DELETE_RECORDS, 0, body('nope', [{ partition: 0, offset: 1 }]))
    expect(read(missing)).toEqual([[0, -1, 3]])
  })
})
