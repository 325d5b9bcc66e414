/**
 * One client connection: Kafka's framing (int32 size, request header, body), dispatch to the API handlers, and
 * the responses written back in request order.
 *
 * Invariants:
 * - Requests are started in arrival order, each as soon as it is framed (a long-polling Fetch does not hold up
 *   the requests behind it), and their responses are written strictly in request order: a response waits in
 *   `queue` until every earlier one is written. A handler returning null (Produce with acks=0) has no response
 *   and only keeps its place in the order.
 * - Responses that are ready together go out in one corked, vectored write; response bodies are written as the
 *   handlers return them (stored batches by reference).
 * - Backpressure: reading pauses while more than `MAX_IN_FLIGHT` requests or `MAX_IN_FLIGHT_BYTES` of request
 *   bytes are unanswered, or while the socket's write buffer holds more than `MAX_WRITE_BUFFER` bytes; it resumes
 *   when both drain. So a client that does not read its responses holds at most those bounds in memory.
 * - A frame whose size is negative, too small for a header or above `maxRequestBytes`, a header or body that does
 *   not parse, an unknown API or an unsupported version (except ApiVersions, answered with UNSUPPORTED_VERSION)
 *   and any unexpected error from a handler close this connection only (destroyed at once: the responses of
 *   earlier requests still pending are dropped, as a broker does). Nothing here throws out of an event handler.
 * - `signal` aborts exactly once, when the connection closes or `shutdown` starts (long polls then answer); the
 *   `onClose` callbacks run exactly once, after the socket is closed.
 * - Idle: a connection with no request in flight and no traffic for `idleMs` is closed.
 */
import { channel } from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import { encodeApiVersionsResponse } from './codecs/api-versions.js'
import type { ApiEntry, RequestContext, WireConnection } from './handler.js'
import type { BrokerHost } from './host.js'
import { ApiKey } from './protocol/api-keys.js'
import { KafkaError } from './protocol/errors.js'
import { MalformedRequest, Reader } from './protocol/reader.js'

/** Published on every connection close (for diagnostics and tests). */
export const wireConnectionChannel = channel('seglog:wire:connection')

export interface ConnectionCloseEvent {
  id: number
  remoteHost: string
  reason: CloseReason
  error: unknown
}

/** Smallest request: api_key int16, api_version int16, correlation_id int32, client_id int16 length. */
const MIN_REQUEST_BYTES = 10
const MAX_IN_FLIGHT = 512
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024
const MAX_WRITE_BUFFER = 16 * 1024 * 1024

export interface ConnectionOptions {
  readonly maxRequestBytes: number
  readonly idleMs: number
}

/** The table the connection dispatches with: API entries by key, and the answer to an unsupported ApiVersions. */
export interface DispatchTable {
  readonly entries: ReadonlyMap<number, ApiEntry>
  /** The v0 ApiVersions body carrying UNSUPPORTED_VERSION and the supported ranges. */
  readonly unsupportedApiVersions: Buffer
}

interface Pending {
  readonly correlationId: number
  readonly requestBytes: number
  done: boolean
  body: Buffer | Buffer[] | null
}

export type CloseReason =
  | 'client closed'
  | 'idle'
  | 'shutdown'
  | 'socket error'
  | 'frame size'
  | 'malformed request'
  | 'unsupported api'
  | 'unsupported version'
  | 'handler error'

export class Connection implements WireConnection {
  readonly remoteHost: string
  readonly localHost: string
  readonly localPort: number
  private lastClientId: string | null = null
  private readonly abort = new AbortController()
  private readonly closeCallbacks: (() => void)[] = []
  private readonly queue: Pending[] = []
  private inFlightBytes = 0
  private flushScheduled = false
  private closed = false
  private shuttingDown = false
  private paused = false
  /** Bytes of the size prefix read so far when it spans chunks. */
  private readonly sizeBytes = Buffer.alloc(4)
  private sizeFilled = 0
  /** Pieces of the frame being assembled, and their total. */
  private partial: Buffer[] = []
  private partialBytes = 0
  private frameSize = -1
  private lastActivity = Date.now()
  private idleTimer: NodeJS.Timeout | null = null
  private endStarted = false

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly host: BrokerHost,
    private readonly table: DispatchTable,
    private readonly options: ConnectionOptions,
  ) {
    this.remoteHost = socket.remoteAddress ?? 'unknown'
    this.localHost = socket.localAddress ?? '127.0.0.1'
    this.localPort = socket.localPort ?? 0
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => this.updateFlow())
    socket.on('error', () => this.destroy('socket error'))
    socket.on('end', () => this.destroy('client closed'))
    socket.on('close', () => this.destroy('client closed'))
    this.armIdle(options.idleMs)
  }

  get clientId(): string | null {
    return this.lastClientId
  }

  get signal(): AbortSignal {
    return this.abort.signal
  }

  get isClosed(): boolean {
    return this.closed
  }

  onClose(fn: () => void): void {
    if (this.closed) queueMicrotask(fn)
    else this.closeCallbacks.push(fn)
  }

  /**
   * Stops reading requests, aborts long polls so they answer, writes every response still owed, then ends the
   * socket. Resolves once the socket is closed.
   */
  shutdown(): Promise<void> {
    if (this.closed) return Promise.resolve()
    const done = new Promise<void>((resolve) => this.onClose(resolve))
    if (!this.shuttingDown) {
      this.shuttingDown = true
      this.socket.pause()
      this.abort.abort()
      this.endIfDrained()
    }
    return done
  }

  private endIfDrained(): void {
    if (this.shuttingDown && this.queue.length === 0 && !this.closed && !this.endStarted) {
      this.endStarted = true
      this.socket.end()
      // A peer that never reads would keep the socket open: give it a bounded time to take the last bytes.
      setTimeout(() => this.destroy('shutdown'), 5000).unref()
    }
  }

  /** Closes the connection at once (idempotent). */
  destroy(reason: CloseReason, error?: unknown): void {
    if (this.closed) return
    this.closed = true
    if (this.idleTimer !== null) clearTimeout(this.idleTimer)
    this.queue.length = 0
    this.partial = []
    this.abort.abort()
    this.socket.destroy()
    if (wireConnectionChannel.hasSubscribers) {
      const event: ConnectionCloseEvent = { id: this.id, remoteHost: this.remoteHost, reason, error }
      wireConnectionChannel.publish(event)
    }
    for (const fn of this.closeCallbacks.splice(0)) {
      try {
        fn()
      } catch {
        // A close callback's failure must not stop the others or escape the socket's event handler.
      }
    }
  }

  private armIdle(delay: number): void {
    this.idleTimer = setTimeout(() => {
      if (this.closed) return
      const quiet = Date.now() - this.lastActivity
      if (this.queue.length === 0 && quiet >= this.options.idleMs) this.destroy('idle')
      else this.armIdle(Math.max(1, this.options.idleMs - (this.queue.length === 0 ? quiet : 0)))
    }, delay)
    this.idleTimer.unref()
  }

  // ---- framing ----

  private onData(chunk: Buffer): void {
    this.lastActivity = Date.now()
    let pos = 0
    const len = chunk.length
    while (pos < len && !this.closed && !this.shuttingDown) {
      if (this.frameSize < 0) {
        let size: number
        if (this.sizeFilled === 0 && len - pos >= 4) {
          size = chunk.readInt32BE(pos)
          pos += 4
        } else {
          const n = Math.min(4 - this.sizeFilled, len - pos)
          chunk.copy(this.sizeBytes, this.sizeFilled, pos, pos + n)
          this.sizeFilled += n
          pos += n
          if (this.sizeFilled < 4) return
          this.sizeFilled = 0
          size = this.sizeBytes.readInt32BE(0)
        }
        if (size < MIN_REQUEST_BYTES || size > this.options.maxRequestBytes) {
          this.destroy('frame size', new MalformedRequest(`request size ${size}`))
          return
        }
        if (len - pos >= size) {
          // The whole frame is in this chunk: a view, no copy.
          const frame = chunk.subarray(pos, pos + size)
          pos += size
          this.onFrame(frame)
          continue
        }
        this.frameSize = size
      }
      const n = Math.min(this.frameSize - this.partialBytes, len - pos)
      this.partial.push(n === len && pos === 0 ? chunk : chunk.subarray(pos, pos + n))
      this.partialBytes += n
      pos += n
      if (this.partialBytes === this.frameSize) {
        const frame = this.partial.length === 1 ? this.partial[0] : Buffer.concat(this.partial, this.partialBytes)
        this.partial = []
        this.partialBytes = 0
        this.frameSize = -1
        this.onFrame(frame)
      }
    }
  }

  private onFrame(frame: Buffer): void {
    const r = new Reader(frame)
    let apiKey: number
    let apiVersion: number
    let correlationId: number
    let clientId: string | null
    try {
      apiKey = r.int16()
      apiVersion = r.int16()
      correlationId = r.int32()
      clientId = r.nullableString()
    } catch (err) {
      this.destroy('malformed request', err)
      return
    }
    if (clientId !== null) this.lastClientId = clientId
    const entry = this.table.entries.get(apiKey)
    if (entry === undefined) {
      this.destroy('unsupported api', new MalformedRequest(`unknown api key ${apiKey}`))
      return
    }
    const pending: Pending = { correlationId, requestBytes: frame.length, done: false, body: null }
    if (apiVersion < entry.minVersion || apiVersion > entry.maxVersion) {
      if (apiKey !== ApiKey.ApiVersions) {
        this.destroy('unsupported version', new MalformedRequest(`api ${apiKey} version ${apiVersion}`))
        return
      }
      pending.done = true
      pending.body = this.table.unsupportedApiVersions
      this.enqueue(pending)
      return
    }
    const ctx: RequestContext = {
      apiKey,
      apiVersion,
      correlationId,
      clientId,
      connection: this,
      signal: this.abort.signal,
    }
    this.enqueue(pending)
    let result: Promise<Buffer | Buffer[] | null>
    try {
      result = entry.handle(ctx, r, this.host)
    } catch (err) {
      this.fail(err)
      return
    }
    result.then(
      (body) => {
        pending.done = true
        pending.body = body
        this.scheduleFlush()
      },
      (err: unknown) => this.fail(err),
    )
  }

  private fail(err: unknown): void {
    this.destroy(err instanceof MalformedRequest ? 'malformed request' : 'handler error', err)
  }

  private enqueue(pending: Pending): void {
    this.queue.push(pending)
    this.inFlightBytes += pending.requestBytes
    if (pending.done) this.scheduleFlush()
    this.updateFlow()
  }

  // ---- responses ----

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    // After the current microtasks: responses that complete together are written with one corked write.
    process.nextTick(() => this.flush())
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.closed) return
    const q = this.queue
    let n = 0
    while (n < q.length && q[n].done) n++
    if (n === 0) return
    const socket = this.socket
    socket.cork()
    for (let i = 0; i < n; i++) {
      const p = q[i]
      this.inFlightBytes -= p.requestBytes
      const body = p.body
      if (body === null) continue
      const header = Buffer.allocUnsafe(8)
      if (Array.isArray(body)) {
        let bytes = 0
        for (const b of body) bytes += b.length
        header.writeInt32BE(bytes + 4, 0)
        header.writeInt32BE(p.correlationId, 4)
        socket.write(header)
        for (const b of body) socket.write(b)
      } else {
        header.writeInt32BE(body.length + 4, 0)
        header.writeInt32BE(p.correlationId, 4)
        socket.write(header)
        socket.write(body)
      }
    }
    socket.uncork()
    q.splice(0, n)
    this.lastActivity = Date.now()
    this.updateFlow()
    this.endIfDrained()
  }

  /** Pauses or resumes reading per the backpressure bounds. */
  private updateFlow(): void {
    if (this.closed || this.shuttingDown) return
    const over =
      this.queue.length >= MAX_IN_FLIGHT ||
      this.inFlightBytes >= MAX_IN_FLIGHT_BYTES ||
      this.socket.writableLength >= MAX_WRITE_BUFFER
    if (over && !this.paused) {
      this.paused = true
      this.socket.pause()
    } else if (!over && this.paused) {
      this.paused = false
      this.socket.resume()
    }
  }
}

/** The v0 ApiVersions body a request of an unsupported ApiVersions version gets. */
export function unsupportedApiVersionsBody(entries: Iterable<ApiEntry>): Buffer {
  const apiKeys = [...entries].map((e) => ({ apiKey: e.key, minVersion: e.minVersion, maxVersion: e.maxVersion }))
  return encodeApiVersionsResponse({ errorCode: KafkaError.UNSUPPORTED_VERSION, apiKeys, throttleTimeMs: 0 }, 0)
}
