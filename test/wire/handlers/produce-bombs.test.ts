/**
 * Decompression bombs sent as Produce requests to a server in a process of its own
 * (`Seglog.open(dir, { listen: { port: 0 } })`, test/support/wire-listen-child.ts): each is answered with Kafka's
 * INVALID_RECORD (87) while the server stays up, its peak resident memory barely moves, and nothing is stored;
 * an ordinary compressed batch then lands at offset 0.
 *
 * The server's memory is read from /proc/<pid>/status (VmHWM, the peak resident set, restarted through
 * /proc/<pid>/clear_refs before each request).
 */
import * as fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { CodecRegistry } from '../../../src/compression.js'
import { encodeBatch } from '../../../src/internal.js'
import { Seglog } from '../../../src/main.js'
import { bombBatch, gzipBomb, lz4Bomb, zstdBomb } from '../../support/bombs.js'
import { fetchV4Body, produceBody, readFetchV4, readProduceV5 } from '../../support/wire-bytes.js'
import { correlationId } from '../../support/wire-engine.js'
import { killAll, removeTempDirs, type Served, startListen, tempDir } from '../../support/wire-harness.js'
import { RawConnection, rawFrame } from '../../support/wire-raw.js'

afterEach(async () => {
  await killAll()
  removeTempDirs()
})

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const PRODUCE = 0
const FETCH = 1
/** Kafka's INVALID_RECORD. */
const INVALID_RECORD = 87
const MAX_GROWTH = 200 * MiB

function status(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(m[1]) * 1024
}

async function call(server: Served, apiKey: number, version: number, body: Buffer): Promise<Buffer> {
  const conn = await RawConnection.connect(server.host, server.port)
  try {
    const id = correlationId()
    conn.write(rawFrame(apiKey, version, id, body))
    const res = await conn.waitResponse(id, 60_000)
    if (res === 'closed' || res === 'timeout') throw new Error(`api ${apiKey} v${version}: ${res}`)
    return res.body
  } finally {
    conn.destroy()
  }
}

/** Produces `records` to partition 0 of `topic` (v7, acks 1); the partition's error code and base offset. */
async function produce(server: Served, topic: string, records: Buffer) {
  const body = await call(server, PRODUCE, 7, produceBody(1, [{ name: topic, partitions: [{ index: 0, records }] }]))
  return readProduceV5(body)[0].partitions[0]
}

describe('Produce with decompression bombs', () => {
  it('answers gzip (1 GiB), lz4 (224 MiB) and zstd (1 GiB) bombs with INVALID_RECORD, stays up with bounded memory and stores nothing', async () => {
    const dir = tempDir('seglog-wire-bombs-')
    const setup = await Seglog.open(dir)
    await setup.createTopic('t', { partitions: 1, config: { format: 'binary' } })
    await setup.close()
    const bombs: [string, Buffer][] = [
      ['gzip', bombBatch('gzip', await gzipBomb(GiB))],
      ['lz4', bombBatch('lz4', lz4Bomb(224 * MiB).frame)],
      ['zstd', bombBatch('zstd', zstdBomb(GiB))],
    ]
    const server = await startListen(dir)
    const pid = server.proc.proc.pid!
    for (const [codec, batch] of bombs) {
      expect(batch.length, codec).toBeLessThan(MiB + 12) // within the default max.message.bytes
      fs.writeFileSync(`/proc/${pid}/clear_refs`, '5') // the peak restarts from the current resident set
      const before = status(pid, 'VmRSS')
      const result = await produce(server, 't', batch)
      const growth = status(pid, 'VmHWM') - before
      expect(result.errorCode, codec).toBe(INVALID_RECORD)
      expect(growth, `${codec}: peak resident growth`).toBeLessThan(MAX_GROWTH)
      expect(server.proc.done(), `${codec}: the server exited\n${server.proc.describe()}`).toBe(false)
    }

    const records = Array.from({ length: 20 }, (_, i) => ({
      timestamp: 1_700_000_000_000 + i,
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`value ${i} `.repeat(20)),
    }))
    const ordinary = encodeBatch(records, { compression: new CodecRegistry().compressionFor('gzip') })
    expect(await produce(server, 't', Buffer.from(ordinary))).toMatchObject({ errorCode: 0, baseOffset: 0 })
    const fetched = readFetchV4(
      await call(server, FETCH, 4, fetchV4Body('t', [{ partition: 0, offset: 0, maxBytes: 4 * MiB }])),
    )[0].partitions[0]
    expect(fetched).toMatchObject({ errorCode: 0, highWatermark: 20 })
    // Stored as sent: the one batch there is the ordinary one (the broker sets its base offset, 0 here).
    expect(fetched.records.equals(ordinary)).toBe(true)
    const exit = await server.stop()
    expect(exit.code, server.proc.describe()).toBe(0)
  })
})
