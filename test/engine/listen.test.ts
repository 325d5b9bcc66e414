/**
 * `Seglog.listen`, the `listen` open option, `address()` and `close()` with a listener: the engine side of serving
 * the directory over Kafka's wire protocol. The protocol itself is tested in test/wire/; here a raw ApiVersions
 * request is enough to see that a Kafka broker answers.
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Seglog, type SeglogError } from '../../src/main.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

let dir: string
const open: Seglog[] = []
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-listen-'))
})
afterEach(async () => {
  for (const log of open.splice(0)) await log.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

async function openLog(options: Parameters<typeof Seglog.open>[1] = {}): Promise<Seglog> {
  const log = await Seglog.open(dir, options)
  open.push(log)
  return log
}

function ownerFile(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(dir, '.seglog', 'owner.json'), 'utf8')) as Record<string, unknown>
}

/** Sends ApiVersions v0 with correlation id `id`; resolves with the response's correlation id and error code. */
function apiVersions(port: number, id = 7): Promise<{ correlationId: number; errorCode: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const clientId = Buffer.from('listen-test')
    const req = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length)
    let pos = req.writeInt32BE(req.length - 4, 0)
    pos = req.writeInt16BE(18, pos)
    pos = req.writeInt16BE(0, pos)
    pos = req.writeInt32BE(id, pos)
    pos = req.writeInt16BE(clientId.length, pos)
    clientId.copy(req, pos)
    let got = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk])
      if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
        socket.end()
        resolve({ correlationId: got.readInt32BE(4), errorCode: got.readInt16BE(8) })
      }
    })
    socket.on('error', reject)
    socket.write(req)
  })
}

function connectOutcome(port: number): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.on('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
}

async function rejection(p: Promise<unknown>): Promise<SeglogError> {
  try {
    await p
  } catch (err) {
    return err as SeglogError
  }
  throw new Error('expected a rejection')
}

describe('listen', () => {
  it('serves Kafka on a free loopback port, records it in owner.json, and stops at close', async () => {
    const log = await openLog()
    expect(log.address()).toBeNull()
    expect(ownerFile().listener).toBeUndefined()
    const address = await log.listen({ port: 0 })
    expect(address.host).toBe('127.0.0.1')
    expect(address.port).toBeGreaterThan(0)
    expect(log.address()).toEqual(address)
    expect(ownerFile()).toMatchObject({ pid: process.pid, hostname: os.hostname(), listener: address })
    expect(await apiVersions(address.port, 41)).toEqual({ correlationId: 41, errorCode: 0 })
    await log.close()
    expect(log.address()).toBeNull()
    const after = ownerFile()
    expect(after.pid).toBe(process.pid)
    expect(after.listener).toBeUndefined()
    expect(await connectOutcome(address.port)).toBe('ECONNREFUSED')
  })

  it('listens from Seglog.open with the listen option', async () => {
    const log = await openLog({ listen: { port: 0, host: '127.0.0.1' } })
    const address = log.address()
    expect(address).not.toBeNull()
    expect(ownerFile().listener).toEqual(address)
    expect((await apiVersions(address!.port)).errorCode).toBe(0)
  })

  it('ends open connections cleanly at close (the peer sees the end of the stream, not a reset)', async () => {
    const log = await openLog({ listen: { port: 0 } })
    const socket = net.connect(log.address()!.port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()))
    const ended = new Promise<string>((resolve) => {
      socket.on('end', () => resolve('end'))
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    })
    await log.close()
    expect(await ended).toBe('end')
    socket.destroy()
  })

  it('fails with IO_ERROR EADDRINUSE on a port in use, and the engine keeps working without a listener', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const log = await openLog()
      const err = await rejection(log.listen({ port }))
      expect(err.code).toBe('IO_ERROR')
      expect(err.errno).toBe('EADDRINUSE')
      expect(log.address()).toBeNull()
      expect(ownerFile().listener).toBeUndefined()
      await log.createTopic('t')
      expect((await log.append('t', [{ value: 1 }]))[0].offset).toBe(0)
      expect((await log.listen({ port: 0 })).port).not.toBe(port)
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }
  })

  it('fails Seglog.open when its listener cannot start, leaving the directory free to open again', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const err = await rejection(Seglog.open(dir, { listen: { port } }))
      expect(err.code).toBe('IO_ERROR')
      expect(err.errno).toBe('EADDRINUSE')
      const log = await openLog()
      expect(log.status).toBe('open')
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }
  })

  it('refuses a second listener with INVALID_CONFIG, and any listen after close with ENGINE_CLOSED', async () => {
    const log = await openLog({ listen: { port: 0 } })
    expect((await rejection(log.listen({ port: 0 }))).code).toBe('INVALID_CONFIG')
    await log.close()
    expect((await rejection(log.listen({ port: 0 }))).code).toBe('ENGINE_CLOSED')
  })

  it('rejects malformed listen options with a TypeError, at open before anything is created', async () => {
    const log = await openLog()
    for (const bad of [
      { port: -1 },
      { port: 70_000 },
      { port: 1.5 },
      { port: '9092' },
      { port: 0, host: '' },
      { port: 0, host: 5 },
      { port: 0, idleMs: 0 },
      { port: 0, maxRequestBytes: -5 },
      { port: 0, hots: '127.0.0.1' },
      null,
    ]) {
      await expect(log.listen(bad as never), JSON.stringify(bad)).rejects.toThrow(TypeError)
    }
    expect(log.address()).toBeNull()
    const fresh = path.join(dir, 'never-created')
    await expect(Seglog.open(fresh, { listen: { port: -1 } })).rejects.toThrow(TypeError)
    await expect(Seglog.open(fresh, { autoCreateTopics: 'yes' as never })).rejects.toThrow(TypeError)
    expect(fs.existsSync(fresh)).toBe(false)
  })

  it('gives the directory one cluster id, created by the first listener and kept across reopens', async () => {
    const clusterFile = path.join(dir, '.seglog', 'cluster.json')
    let log = await openLog()
    expect(fs.existsSync(clusterFile)).toBe(false)
    await log.listen({ port: 0 })
    const { clusterId } = JSON.parse(fs.readFileSync(clusterFile, 'utf8')) as { clusterId: string }
    expect(clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(Buffer.from(clusterId, 'base64url').length).toBe(16)
    await log.close()
    open.length = 0
    log = await openLog({ listen: { port: 0 } })
    expect(JSON.parse(fs.readFileSync(clusterFile, 'utf8')).clusterId).toBe(clusterId)
  })

  it('replaces a damaged cluster file with a new id and reports it', async () => {
    fs.mkdirSync(path.join(dir, '.seglog'), { recursive: true })
    fs.writeFileSync(path.join(dir, '.seglog', 'cluster.json'), '{"clusterId": 12')
    const events: { type: string; path?: string }[] = []
    await openLog({ listen: { port: 0 }, onEvent: (e) => events.push(e) })
    const repaired = events.filter((e) => e.type === 'metadata-repaired')
    expect(repaired).toHaveLength(1)
    expect(repaired[0].path).toBe(path.join(fs.realpathSync(dir), '.seglog', 'cluster.json'))
    const { clusterId } = JSON.parse(fs.readFileSync(path.join(dir, '.seglog', 'cluster.json'), 'utf8'))
    expect(clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })
})

describe('a real Kafka client (kafkajs) against listen()', () => {
  it('creates a topic, produces with acks -1 and consumes in a group what the native API reads back', async () => {
    const log = await openLog({ listen: { port: 0 } })
    const { host, port } = log.address()!
    const kafka = new Kafka({ clientId: 'smoke', brokers: [`${host}:${port}`], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    const consumer = kafka.consumer({ groupId: 'smoke-group' })
    try {
      await admin.connect()
      expect(await admin.createTopics({ topics: [{ topic: 'wire', numPartitions: 2 }] })).toBe(true)
      expect(log.describeTopic('wire').config.format).toBe('binary')
      await producer.connect()
      const messages = Array.from({ length: 20 }, (_, i) => ({
        key: `k${i}`,
        value: `v${i}`,
        headers: { i: String(i) },
        partition: i % 2,
      }))
      const sent = await producer.send({ topic: 'wire', acks: -1, messages })
      expect(sent.map((r) => r.errorCode)).toEqual([0, 0])
      await consumer.connect()
      await consumer.subscribe({ topic: 'wire', fromBeginning: true })
      const got: { partition: number; offset: string; key: string; value: string; header: string }[] = []
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: async ({ partition, message }) => {
              got.push({
                partition,
                offset: message.offset,
                key: message.key!.toString(),
                value: message.value!.toString(),
                header: String(message.headers?.i),
              })
              if (got.length === messages.length) resolve()
            },
          })
          .catch(reject)
      })
      got.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))
      for (const partition of [0, 1]) {
        const wire = got.filter((g) => g.partition === partition)
        const native = await log.read('wire', partition, 0, { maxRecords: 100 })
        expect(native.map((r) => r.offset)).toEqual(wire.map((g) => Number(g.offset)))
        expect(native.map((r) => (r.value as Buffer).toString())).toEqual(wire.map((g) => g.value))
        expect(native.map((r) => r.key?.toString())).toEqual(wire.map((g) => g.key))
        expect(native.map((r) => r.headers.i?.toString())).toEqual(wire.map((g) => g.header))
        expect(wire.map((g) => g.value)).toEqual(messages.filter((m) => m.partition === partition).map((m) => m.value))
      }
      await consumer.stop()
      const committed = await log.fetchOffsets('smoke-group', 'wire')
      expect(committed.map((c) => [c.partition, c.offset]).sort()).toEqual([
        [0, 10],
        [1, 10],
      ])
    } finally {
      await consumer.disconnect()
      await producer.disconnect()
      await admin.disconnect()
    }
  }, 60_000)

  it('refuses a value a json topic cannot decode (INVALID_RECORD) and stores nothing of that request', async () => {
    const log = await openLog({ listen: { port: 0 } })
    await log.createTopic('events', { config: { format: 'json' } })
    const { host, port } = log.address()!
    const kafka = new Kafka({ clientId: 'json', brokers: [`${host}:${port}`], logLevel: logLevel.NOTHING })
    const producer = kafka.producer({ retry: { retries: 0 } })
    await producer.connect()
    try {
      await producer.send({ topic: 'events', messages: [{ value: '{"ok":true}' }] })
      const err = await producer
        .send({ topic: 'events', messages: [{ value: '{"ok":true}' }, { value: 'not json' }] })
        .then(
          () => null,
          (e: unknown) => e as { type?: string; name?: string },
        )
      expect(err).not.toBeNull()
      expect(JSON.stringify(err)).toContain('INVALID_RECORD')
      expect(log.offsets('events', 0).logEndOffset).toBe(1)
      expect((await log.read('events', 0, 0)).map((r) => r.value)).toEqual([{ ok: true }])
    } finally {
      await producer.disconnect()
    }
  }, 60_000)
})

describe('a script that listens', () => {
  it('stays alive while listening and exits 0 by itself once it closes', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'test/support/lifetime-scripts/listen.ts', dir], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    proc.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c
    })
    proc.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c
    })
    const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)))
    try {
      const deadline = Date.now() + 20_000
      while (!out.includes('\n') && Date.now() < deadline && proc.exitCode === null) {
        await new Promise((r) => setTimeout(r, 50))
      }
      const first = out.split('\n')[0]
      expect(first, err).toMatch(/^listening 127\.0\.0\.1:\d+$/)
      const port = Number(first.split(':')[1])
      // Nothing but the listener is pending in the script: it must still be running (and serving) after 2 s.
      await new Promise((r) => setTimeout(r, 2000))
      expect(proc.exitCode, err).toBeNull()
      expect((await apiVersions(port)).errorCode).toBe(0)
      proc.kill('SIGUSR2')
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))])
      expect(code, `${out}\n${err}`).toBe(0)
      expect(out.trim().split('\n').at(-1)).toBe('closed')
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL')
    }
  }, 60_000)
})
