import { once } from 'node:events'
import * as net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type ConnectionCloseEvent, wireConnectionChannel } from '../../src/wire/connection.js'
import { correlationId, type Served, serve } from '../support/wire-engine.js'
import { encodeRequest, RawConnection, rawFrame } from '../support/wire-raw.js'

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

async function fetchRequest(topic: string, offset: number, maxWaitTime: number, minBytes = 1) {
  return encodeRequest(
    'fetch',
    11,
    {
      replicaId: -1,
      maxWaitTime,
      minBytes,
      maxBytes: 1 << 20,
      topics: [{ topic, partitions: [{ partition: 0, fetchOffset: String(offset), maxBytes: 1 << 20 }] }],
    },
    correlationId(),
  )
}

function produceRequest(topic: string, values: string[], acks = 1) {
  return encodeRequest(
    'produce',
    7,
    {
      acks,
      timeout: 5000,
      topicData: [{ topic, partitions: [{ partition: 0, messages: values.map((value) => ({ value })) }] }],
    },
    correlationId(),
  )
}

/** A working client on its own connection: ApiVersions answered. */
async function healthy(s: Served): Promise<boolean> {
  const c = await s.connect()
  const req = await encodeRequest('apiVersions', 2, {}, correlationId())
  const res = await c.request(req)
  c.destroy()
  return typeof res === 'object'
}

function closeReasons(): { reasons: string[]; stop(): void } {
  const reasons: string[] = []
  const fn = (msg: unknown) => reasons.push((msg as ConnectionCloseEvent).reason)
  wireConnectionChannel.subscribe(fn)
  return { reasons, stop: () => wireConnectionChannel.unsubscribe(fn) }
}

describe('wire connection', () => {
  it('answers pipelined requests in order while an earlier Fetch long-polls, and the Fetch wakes on an append', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const c = await served.connect()
    const fetch = await fetchRequest('t', 0, 10_000)
    const meta = await encodeRequest('metadata', 0, { topics: [] }, correlationId())
    const versions = await encodeRequest('apiVersions', 0, {}, correlationId())
    c.write(Buffer.concat([fetch.frame, meta.frame, versions.frame]))
    // The Metadata and ApiVersions answers exist already, but wait behind the long-polling Fetch.
    expect(await c.waitResponse(meta.correlationId, 300)).toBe('timeout')
    expect(c.responses).toEqual([])
    const started = Date.now()
    const producer = await served.connect()
    const produced = await producer.request(await produceRequest('t', ['hello']))
    expect(typeof produced).toBe('object')
    const res = await c.waitResponse(versions.correlationId, 5000)
    expect(typeof res).toBe('object')
    expect(Date.now() - started).toBeLessThan(3000)
    expect(c.responses.map((r) => r.correlationId)).toEqual([
      fetch.correlationId,
      meta.correlationId,
      versions.correlationId,
    ])
    const decoded = (await fetch.decode(c.responses[0].body)) as {
      responses: { partitions: { messages: { value: Buffer }[] }[] }[]
    }
    expect(decoded.responses[0].partitions[0].messages.map((m) => m.value.toString())).toEqual(['hello'])
  })

  it("answers kafka-python's back-to-back ApiVersions v0 and Metadata v0 on a new socket", async () => {
    served = await serve()
    const c = await served.connect()
    const versions = await encodeRequest('apiVersions', 0, {}, correlationId())
    const meta = await encodeRequest('metadata', 0, { topics: [] }, correlationId())
    c.write(Buffer.concat([versions.frame, meta.frame]))
    expect(typeof (await c.waitResponse(meta.correlationId, 5000))).toBe('object')
    expect(c.responses.map((r) => r.correlationId)).toEqual([versions.correlationId, meta.correlationId])
  })

  it('answers 2000 pipelined requests in order, pausing reads past the in-flight bound', async () => {
    served = await serve()
    const c = await served.connect()
    const frames: Buffer[] = []
    const ids: number[] = []
    for (let i = 0; i < 2000; i++) {
      const id = correlationId()
      ids.push(id)
      frames.push(rawFrame(18, i % 3, id, Buffer.alloc(0)))
    }
    c.write(Buffer.concat(frames))
    expect(typeof (await c.waitResponse(ids[ids.length - 1], 20_000))).toBe('object')
    expect(c.responses.map((r) => r.correlationId)).toEqual(ids)
  })

  it('reassembles a request that arrives one byte at a time', async () => {
    served = await serve()
    const c = await served.connect()
    const meta = await encodeRequest('metadata', 1, { topics: [] }, correlationId())
    for (const byte of meta.frame) {
      c.write(Buffer.from([byte]))
      await new Promise((r) => setImmediate(r))
    }
    expect(typeof (await c.waitResponse(meta.correlationId, 5000))).toBe('object')
  })

  it('closes only the connection that sends a frame larger than maxRequestBytes', async () => {
    served = await serve({}, { maxRequestBytes: 1024 })
    const watch = closeReasons()
    try {
      const bad = await served.connect()
      const size = Buffer.alloc(4)
      size.writeInt32BE(1025)
      bad.write(size)
      expect(await bad.waitClosed(5000)).toBe(true)
      expect(watch.reasons).toContain('frame size')
      // Exactly the limit is accepted.
      const ok = await served.connect()
      const body = Buffer.alloc(1024 - 11)
      const frame = rawFrame(18, 0, correlationId(), body, 'a')
      expect(frame.length - 4).toBe(1024)
      ok.write(frame)
      expect(await ok.waitClosed(300)).toBe(false)
      expect(await healthy(served)).toBe(true)
    } finally {
      watch.stop()
    }
  })

  it('closes the connection for negative, too small and huge sizes', async () => {
    served = await serve()
    for (const n of [-1, 0, 9, 0x7fffffff]) {
      const c = await served.connect()
      const size = Buffer.alloc(4)
      size.writeInt32BE(n)
      c.write(size)
      expect(await c.waitClosed(5000)).toBe(true)
    }
    expect(await healthy(served)).toBe(true)
  })

  it('closes the connection for a request whose body is cut short, and for garbage', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const watch = closeReasons()
    try {
      const full = (await fetchRequest('t', 0, 0)).frame
      const cut = Buffer.from(full.subarray(0, full.length - 5))
      cut.writeInt32BE(cut.length - 4, 0)
      const c1 = await served.connect()
      c1.write(cut)
      expect(await c1.waitClosed(5000)).toBe(true)
      expect(watch.reasons).toContain('malformed request')

      const c2 = await served.connect()
      c2.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
      expect(await c2.waitClosed(5000)).toBe(true)

      // A header whose client id runs past the frame.
      const c3 = await served.connect()
      c3.write(Buffer.from('0000000a00120000000000010005', 'hex'))
      expect(await c3.waitClosed(5000)).toBe(true)
      expect(await healthy(served)).toBe(true)
    } finally {
      watch.stop()
    }
  })

  it('closes the connection for an unknown api key and for an unsupported version of a known one', async () => {
    served = await serve()
    const c1 = await served.connect()
    c1.write(rawFrame(9999, 0, correlationId(), Buffer.alloc(0)))
    expect(await c1.waitClosed(5000)).toBe(true)
    const c2 = await served.connect()
    c2.write(rawFrame(3, 7, correlationId(), Buffer.from('ffffffff0000', 'hex')))
    expect(await c2.waitClosed(5000)).toBe(true)
    const c3 = await served.connect()
    c3.write(rawFrame(0, 8, correlationId(), Buffer.alloc(16)))
    expect(await c3.waitClosed(5000)).toBe(true)
    expect(await healthy(served)).toBe(true)
  })

  it('answers ApiVersions v3 (librdkafka) with UNSUPPORTED_VERSION in a v0 body and keeps the connection', async () => {
    served = await serve()
    const c = await served.connect()
    const id = correlationId()
    // v3 is flexible: header v2 (tagged fields after the client id) and a compact body; neither is read.
    c.write(rawFrame(18, 3, id, Buffer.from('00 0a 6c6962726466616b6100 06 322e302e3200 00'.replace(/ /g, ''), 'hex')))
    const res = await c.waitResponse(id, 5000)
    if (typeof res !== 'object') throw new Error(String(res))
    expect(res.body.readInt16BE(0)).toBe(35)
    const count = res.body.readInt32BE(2)
    expect(res.body.length).toBe(6 + count * 6)
    const ranges = new Map<number, [number, number]>()
    for (let i = 0; i < count; i++) {
      const at = 6 + i * 6
      ranges.set(res.body.readInt16BE(at), [res.body.readInt16BE(at + 2), res.body.readInt16BE(at + 4)])
    }
    expect(ranges.get(18)).toEqual([0, 2])
    expect(ranges.get(0)).toEqual([0, 7])
    const again = await c.request(await encodeRequest('apiVersions', 0, {}, correlationId()))
    expect(typeof again).toBe('object')
  })

  it('closes a connection idle for idleMs, but not one waiting on a long poll', async () => {
    served = await serve({}, { idleMs: 300 })
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const idle = await served.connect()
    const polling = await served.connect()
    const fetch = await fetchRequest('t', 0, 1500)
    polling.write(fetch.frame)
    expect(await idle.waitClosed(3000)).toBe(true)
    expect(polling.isOpen).toBe(true)
    expect(typeof (await polling.waitResponse(fetch.correlationId, 5000))).toBe('object')
  })

  it('close() answers a long-polling Fetch, writes owed responses and ends the sockets', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const c = await served.connect()
    const fetch = await fetchRequest('t', 0, 30_000)
    const meta = await encodeRequest('metadata', 1, { topics: ['t'] }, correlationId())
    c.write(Buffer.concat([fetch.frame, meta.frame]))
    await new Promise((r) => setTimeout(r, 100))
    const started = Date.now()
    await served.log.close()
    expect(Date.now() - started).toBeLessThan(5000)
    expect(c.responses.map((r) => r.correlationId)).toEqual([fetch.correlationId, meta.correlationId])
    expect(await c.waitClosed(2000)).toBe(true)
  })

  it('a client that resets its socket mid-request leaves the server serving others', async () => {
    served = await serve()
    const s = net.connect({ host: served.host, port: served.port })
    await once(s, 'connect')
    const meta = await encodeRequest('metadata', 1, { topics: [] }, correlationId())
    s.write(meta.frame.subarray(0, 7))
    s.resetAndDestroy()
    expect(await healthy(served)).toBe(true)
    const c = await RawConnection.connect(served.host, served.port)
    expect(typeof (await c.request(meta))).toBe('object')
    c.destroy()
  })
})
