/**
 * The TCP listener that makes a directory a one-broker Kafka cluster: accepts connections and hands each one
 * to a `Connection` with the dispatch table.
 *
 * Invariants: every accepted socket is tracked until it closes; `close()` is single-flight: it stops accepting,
 * shuts every connection down (long polls abort and answer, owed responses are written, sockets end), closes the
 * group coordinator, and resolves once every socket and the listener are closed. Listening on a port that is
 * taken or an address that cannot be bound rejects with a `SeglogError` carrying the errno.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { checkInteger } from '../check.js'
import { SeglogError } from '../errors.js'
import { Connection } from './connection.js'
import { createDispatch } from './dispatch.js'
import type { WireConnection } from './handler.js'
import type { BrokerHost } from './host.js'

export interface WireServerOptions {
  host: string
  port: number
  maxRequestBytes?: number
  idleMs?: number
}

export interface WireServer {
  address(): { host: string; port: number }
  close(): Promise<void>
}

/** Kafka's socket.request.max.bytes. */
export const DEFAULT_MAX_REQUEST_BYTES = 100 * 1024 * 1024
/** Kafka's connections.max.idle.ms. */
export const DEFAULT_IDLE_MS = 10 * 60 * 1000

/** Bind failures that name a wrong address rather than a busy or forbidden one. */
const CONFIG_ERRNOS = new Set(['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EINVAL', 'EAFNOSUPPORT'])

function checkOptions(options: WireServerOptions): Required<WireServerOptions> {
  if (options === null || typeof options !== 'object') throw new TypeError('listen options must be an object')
  const { host, port } = options
  if (typeof host !== 'string' || host.length === 0) {
    throw new TypeError(`listen host must be a non-empty string, got ${JSON.stringify(host)}`)
  }
  checkInteger('listen port', port, 0)
  if (port > 65535) throw new TypeError(`listen port must be at most 65535, got ${port}`)
  const maxRequestBytes = checkInteger('maxRequestBytes', options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES, 1)
  const idleMs = checkInteger('idleMs', options.idleMs ?? DEFAULT_IDLE_MS, 1)
  return { host, port, maxRequestBytes, idleMs }
}

function listenError(err: unknown, host: string, port: number): SeglogError {
  const errno = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'EIO'
  const why = err instanceof Error ? err.message : String(err)
  const code = CONFIG_ERRNOS.has(errno) ? 'INVALID_CONFIG' : 'IO_ERROR'
  return new SeglogError(code, `cannot listen on ${host}:${port}: ${why}`, { cause: err, errno })
}

export async function startWireServer(host: BrokerHost, options: WireServerOptions): Promise<WireServer> {
  const opts = checkOptions(options)
  const connections = new Map<number, Connection>()
  let nextId = 1
  let bound = { host: opts.host, port: opts.port }

  /** Where clients reach this broker: the bound address, or for a wildcard bind the address a client used. */
  const advertise = (conn: WireConnection): { host: string; port: number } => {
    if (bound.host !== '0.0.0.0' && bound.host !== '::') return bound
    const c = connections.get(conn.id)
    return c === undefined ? bound : { host: c.localHost, port: bound.port }
  }
  const dispatch = createDispatch(host, { advertise })

  const server: Server = createServer({ noDelay: true }, (socket: Socket) => {
    if (closing !== null) {
      socket.destroy()
      return
    }
    const id = nextId++
    const conn = new Connection(id, socket, host, dispatch.table, opts)
    connections.set(id, conn)
    conn.onClose(() => connections.delete(id))
  })

  await new Promise<void>((resolve, reject) => {
    const onError = (err: unknown) => reject(listenError(err, opts.host, opts.port))
    server.once('error', onError)
    server.listen({ host: opts.host, port: opts.port, exclusive: true }, () => {
      server.off('error', onError)
      resolve()
    })
  })
  // After listening, a server error (rare: EMFILE on accept) must not crash the process; accepting continues.
  server.on('error', () => {})
  const addr = server.address()
  if (addr !== null && typeof addr === 'object') bound = { host: opts.host, port: addr.port }

  let closing: Promise<void> | null = null
  return {
    address: () => ({ ...bound }),
    close(): Promise<void> {
      if (closing === null) {
        const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()))
        // First, so JoinGroup/SyncGroup requests waiting in the coordinator are answered and the connections'
        // owed responses can drain.
        dispatch.close()
        closing = Promise.all([...connections.values()].map((c) => c.shutdown())).then(() => listenerClosed)
      }
      return closing
    },
  }
}
