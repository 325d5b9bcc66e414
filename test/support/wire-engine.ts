/**
 * A real engine serving the wire protocol on a free loopback port, for the protocol room's handler and connection
 * tests: `Seglog.open` in a fresh temp dir, then `listen({ port: 0 })`. Requests are built with kafkajs's encoders
 * (test/support/wire-raw.ts) or by hand (`rawFrame`).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Seglog, type SeglogOptions } from '../../src/main.js'
import { encodeRequest, type KafkajsApi, RawConnection, type ResponseFrame, rawFrame } from './wire-raw.js'

export interface Served {
  readonly log: Seglog
  readonly dir: string
  readonly host: string
  readonly port: number
  connect(): Promise<RawConnection>
  /** Sends one kafkajs-encoded request on `conn` and decodes the response with kafkajs's decoder. */
  call<T = Record<string, unknown>>(
    conn: RawConnection,
    api: KafkajsApi | 'createPartitions',
    version: number,
    args: Record<string, unknown>,
  ): Promise<T>
  /** Sends a hand-built request body and resolves with the response body. */
  raw(conn: RawConnection, apiKey: number, version: number, body: Buffer): Promise<Buffer>
  close(): Promise<void>
}

let nextCorrelation = 1000

export function correlationId(): number {
  return nextCorrelation++
}

export async function serve(
  engine: SeglogOptions = {},
  listen: { maxRequestBytes?: number; idleMs?: number } = {},
): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'seglog-wire-'))
  const log = await Seglog.open(dir, engine)
  const { host, port } = await log.listen({ port: 0, ...listen })
  const conns: RawConnection[] = []
  return {
    log,
    dir,
    host,
    port,
    async connect() {
      const c = await RawConnection.connect(host, port)
      conns.push(c)
      return c
    },
    async call<T>(
      conn: RawConnection,
      api: KafkajsApi | 'createPartitions',
      version: number,
      args: Record<string, unknown>,
    ): Promise<T> {
      // kafkajs has an encoder for every API named here; wire-raw's list only names those its fuzz test uses.
      const req = await encodeRequest(api as KafkajsApi, version, args, correlationId())
      const res = await conn.request(req, 10_000)
      if (res === 'closed' || res === 'timeout') throw new Error(`${api} v${version}: ${res}`)
      return (await req.decode(res.body)) as T
    },
    async raw(conn: RawConnection, apiKey: number, version: number, body: Buffer): Promise<Buffer> {
      const id = correlationId()
      conn.write(rawFrame(apiKey, version, id, body))
      const res = await conn.waitResponse(id, 10_000)
      if (res === 'closed' || res === 'timeout') throw new Error(`api ${apiKey} v${version}: ${res}`)
      return res.body
    },
    async close() {
      for (const c of conns) c.destroy()
      await log.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export type { ResponseFrame }
