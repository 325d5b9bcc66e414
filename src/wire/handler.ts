/**
 * The shape every API handler has: the connection layer decodes the request header, looks the API up in the
 * dispatch table and calls its handler with the body reader; the handler returns the encoded response body.
 *
 * A handler may throw `MalformedRequest` (the body does not parse) or any unexpected error: the connection is
 * closed, never the process. Errors a client can act on are Kafka error codes inside the response instead.
 */
import type { BrokerHost } from './host.js'
import type { Reader } from './protocol/reader.js'

export interface WireConnection {
  readonly id: number
  readonly remoteHost: string
  readonly clientId: string | null
  onClose(fn: () => void): void
}

export interface RequestContext {
  readonly apiKey: number
  readonly apiVersion: number
  readonly correlationId: number
  readonly clientId: string | null
  readonly connection: WireConnection
  /** Aborts when the connection closes or the server shuts down. */
  readonly signal: AbortSignal
}

/**
 * Decodes the body (reader positioned after the request header), does the work, returns the encoded response
 * body (after the correlation id), or null for no response (Produce with acks=0).
 */
export type ApiHandler = (ctx: RequestContext, body: Reader, host: BrokerHost) => Promise<Buffer | Buffer[] | null>

export interface ApiEntry {
  readonly key: number
  readonly minVersion: number
  readonly maxVersion: number
  readonly handle: ApiHandler
}
