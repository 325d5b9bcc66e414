/**
 * Raw Kafka frames for the wire tests: requests encoded by kafkajs's own request encoders
 * (node_modules/kafkajs/src/protocol/requests/<api>/vN/request.js, code no one here wrote), sent over a plain TCP
 * socket, and response frames split by their size prefix. Used by the fuzz test (valid requests to corrupt) and by
 * tests that compare bytes on the wire with bytes on disk.
 *
 * `RawConnection` invariants: responses are handed out in arrival order, each with its correlation id; once the
 * server closed the socket (or it failed) `closed` is settled and every pending wait resolves with `'closed'`.
 */
import { createRequire } from 'node:module'
import * as net from 'node:net'

const require = createRequire(import.meta.url)

interface KjsEncoder {
  readonly buffer: Buffer
}

interface KjsRequest {
  apiKey: number
  apiVersion: number
  apiName: string
  expectResponse?: () => boolean
  encode(): Promise<KjsEncoder>
}

interface KjsResponse {
  decode(payload: Buffer): Promise<unknown>
}

type KjsVersion = (args: Record<string, unknown>) => { request: KjsRequest; response: KjsResponse }

interface KjsApiModule {
  versions: string[]
  protocol(opts: { version: number }): KjsVersion
}

type KjsFrame = (args: { correlationId: number; clientId: string; request: KjsRequest }) => Promise<KjsEncoder>

const frameOf = require('kafkajs/src/protocol/request') as KjsFrame

/** The kafkajs request folder names of the APIs this suite encodes. */
export const KAFKAJS_APIS = [
  'produce',
  'fetch',
  'listOffsets',
  'metadata',
  'offsetCommit',
  'offsetFetch',
  'findCoordinator',
  'joinGroup',
  'heartbeat',
  'leaveGroup',
  'syncGroup',
  'describeGroups',
  'listGroups',
  'apiVersions',
  'createTopics',
  'deleteTopics',
  'describeConfigs',
  'initProducerId',
] as const
export type KafkajsApi = (typeof KAFKAJS_APIS)[number]

export function kafkajsVersions(api: KafkajsApi): number[] {
  return (require(`kafkajs/src/protocol/requests/${api}`) as KjsApiModule).versions.map(Number)
}

export interface EncodedRequest {
  api: KafkajsApi
  apiKey: number
  apiVersion: number
  correlationId: number
  /** The whole frame: int32 size, header, body. */
  frame: Buffer
  /** False for Produce with acks 0. */
  expectResponse: boolean
  /** kafkajs's decoder for the response body (after the correlation id). */
  decode(payload: Buffer): Promise<unknown>
}

/** One request frame built by kafkajs's encoder for `api` version `version` with `args`. */
export async function encodeRequest(
  api: KafkajsApi,
  version: number,
  args: Record<string, unknown>,
  correlationId: number,
  clientId = 'seglog-wire-test',
): Promise<EncodedRequest> {
  const mod = require(`kafkajs/src/protocol/requests/${api}`) as KjsApiModule
  const { request, response } = mod.protocol({ version })(args)
  const frame = (await frameOf({ correlationId, clientId, request })).buffer
  return {
    api,
    apiKey: request.apiKey,
    apiVersion: request.apiVersion,
    correlationId,
    frame,
    expectResponse: request.expectResponse === undefined ? true : request.expectResponse(),
    decode: (payload) => response.decode(payload),
  }
}

export interface ResponseFrame {
  correlationId: number
  /** The body after the correlation id. */
  body: Buffer
}

/** A TCP connection to the broker that writes frames and splits what comes back into response frames. */
export class RawConnection {
  readonly socket: net.Socket
  readonly responses: ResponseFrame[] = []
  readonly closed: Promise<void>
  /** Set when a response frame was not well formed (a size below 4); the broker's bug, not the sender's. */
  badFrame: string | null = null
  private buffered: Buffer = Buffer.alloc(0)
  private isClosed = false
  private readonly watchers = new Set<() => void>()

  private constructor(socket: net.Socket) {
    this.socket = socket
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true
        for (const w of [...this.watchers]) w()
        resolve()
      })
    })
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
      while (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0)
        if (size < 4) {
          this.badFrame = `response frame of size ${size}`
          socket.destroy()
          return
        }
        if (this.buffered.length < 4 + size) break
        this.responses.push({
          correlationId: this.buffered.readInt32BE(4),
          body: this.buffered.subarray(8, 4 + size),
        })
        this.buffered = this.buffered.subarray(4 + size)
      }
      for (const w of [...this.watchers]) w()
    })
  }

  static connect(host: string, port: number, timeoutMs = 5000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port })
      socket.setNoDelay(true)
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`connect to ${host}:${port} timed out`))
      }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve(new RawConnection(socket))
      })
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  get isOpen(): boolean {
    return !this.isClosed
  }

  write(bytes: Buffer): void {
    if (!this.isClosed) this.socket.write(bytes)
  }

  /**
   * The response with `correlationId` (looked for among those received so far, then awaited), `'closed'` when the
   * connection closes first, `'timeout'` after `timeoutMs`.
   */
  waitResponse(correlationId: number, timeoutMs: number): Promise<ResponseFrame | 'closed' | 'timeout'> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const r = this.responses.find((x) => x.correlationId === correlationId)
        if (r !== undefined) {
          done(r)
          return true
        }
        if (this.isClosed) {
          done('closed')
          return true
        }
        return false
      }
      const timer = setTimeout(() => done('timeout'), timeoutMs)
      const done = (v: ResponseFrame | 'closed' | 'timeout'): void => {
        clearTimeout(timer)
        this.watchers.delete(watch)
        resolve(v)
      }
      const watch = (): void => {
        check()
      }
      if (!check()) this.watchers.add(watch)
    })
  }

  /** Resolves `true` once the broker closed the connection, `false` after `timeoutMs`. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.isClosed) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.closed.then(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }

  /** Sends `req` and resolves with its response (or why there is none). */
  async request(req: EncodedRequest, timeoutMs = 5000): Promise<ResponseFrame | 'closed' | 'timeout'> {
    this.write(req.frame)
    return this.waitResponse(req.correlationId, timeoutMs)
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** Int32-size-prefixed request with a hand-made header (for api keys and versions kafkajs has no encoder for). */
export function rawFrame(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: Buffer,
  clientId = 'raw',
): Buffer {
  const id = Buffer.from(clientId)
  const header = Buffer.alloc(10 + id.length)
  header.writeInt16BE(apiKey, 0)
  header.writeInt16BE(apiVersion, 2)
  header.writeInt32BE(correlationId, 4)
  header.writeInt16BE(id.length, 8)
  id.copy(header, 10)
  const size = Buffer.alloc(4)
  size.writeInt32BE(header.length + body.length)
  return Buffer.concat([size, header, body])
}
