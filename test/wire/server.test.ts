import { mkdtempSync, rmSync } from 'node:fs'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Seglog, SeglogError } from '../../src/main.js'
import { correlationId, type Served, serve } from '../support/wire-engine.js'
import { encodeRequest, RawConnection } from '../support/wire-raw.js'

let served: Served | null = null
const dirs: string[] = []
afterEach(async () => {
  await served?.close()
  served = null
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function openAnother(): Promise<Seglog> {
  const dir = mkdtempSync(join(tmpdir(), 'seglog-wire-server-'))
  dirs.push(dir)
  return Seglog.open(dir)
}

async function listenError(log: Seglog, options: { port: number; host?: string }): Promise<SeglogError> {
  try {
    await log.listen(options)
  } catch (err) {
    expect(err).toBeInstanceOf(SeglogError)
    return err as SeglogError
  }
  throw new Error('listen should have failed')
}

describe('wire server', () => {
  it('rejects a port in use with IO_ERROR carrying EADDRINUSE, and the engine stays usable', async () => {
    served = await serve()
    const other = await openAnother()
    try {
      const err = await listenError(other, { port: served.port })
      expect(err.code).toBe('IO_ERROR')
      expect(err.errno).toBe('EADDRINUSE')
      expect(other.address()).toBeNull()
      const again = await other.listen({ port: 0 })
      expect(again.port).not.toBe(served.port)
    } finally {
      await other.close()
    }
  })

  it('rejects an address this machine does not have with INVALID_CONFIG carrying the errno', async () => {
    const log = await openAnother()
    try {
      const err = await listenError(log, { port: 0, host: '192.0.2.1' })
      expect(err.code).toBe('INVALID_CONFIG')
      expect(err.errno).toBe('EADDRNOTAVAIL')
    } finally {
      await log.close()
    }
  })

  it('stops accepting on close and refuses connections afterwards', async () => {
    served = await serve()
    const { host, port } = served
    const c = await served.connect()
    const meta = await encodeRequest('metadata', 1, { topics: [] }, correlationId())
    expect(typeof (await c.request(meta))).toBe('object')
    await served.log.close()
    expect(await c.waitClosed(2000)).toBe(true)
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect({ host, port })
      s.once('connect', () => {
        s.destroy()
        resolve('connected')
      })
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    })
    expect(refused).toBe('ECONNREFUSED')
  })

  it('serves many connections at once, each answered independently', async () => {
    served = await serve()
    const s = served
    const conns = await Promise.all(Array.from({ length: 50 }, () => RawConnection.connect(s.host, s.port)))
    try {
      const answers = await Promise.all(
        conns.map(async (c) => c.request(await encodeRequest('apiVersions', 2, {}, correlationId()))),
      )
      expect(answers.every((a) => typeof a === 'object')).toBe(true)
    } finally {
      for (const c of conns) c.destroy()
    }
  })
})
