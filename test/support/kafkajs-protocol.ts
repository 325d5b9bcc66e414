/**
 * kafkajs's own protocol encoders and decoders (node_modules/kafkajs/src/protocol/requests/<api>/vN), used as an
 * independent oracle by the wire codec tests: a request kafkajs encodes must decode with seglog's codec, and a
 * response seglog encodes must parse with kafkajs's decoder.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

type RequestFactory = (args: Record<string, unknown>) => {
  apiKey: number
  apiVersion: number
  encode(): Promise<{ buffer: Buffer }>
}

interface ResponseModule {
  decode(raw: Buffer): Promise<Record<string, unknown>>
  parse(decoded: Record<string, unknown>): Promise<Record<string, unknown>>
}

/** The body bytes kafkajs sends for `api` at `version` (no size, no request header). */
export async function kafkajsRequestBody(api: string, version: number, args: Record<string, unknown>): Promise<Buffer> {
  const factory = require(`kafkajs/src/protocol/requests/${api}/v${version}/request`) as RequestFactory
  const req = factory(args)
  return (await req.encode()).buffer
}

/** kafkajs's decoding of a response body (after the correlation id). */
export function kafkajsDecodeResponse(api: string, version: number, body: Buffer): Promise<Record<string, unknown>> {
  return responseModule(api, version).decode(body)
}

/** A response module; a few (DeleteRecords) are factories of the request's arguments. */
function responseModule(api: string, version: number): ResponseModule {
  const mod = require(`kafkajs/src/protocol/requests/${api}/v${version}/response`) as
    | ResponseModule
    | ((args: Record<string, unknown>) => ResponseModule)
  return typeof mod === 'function' ? mod({ topics: [] }) : mod
}

/** kafkajs's decode then parse (parse throws kafkajs's error for a failing error code). */
export async function kafkajsParseResponse(
  api: string,
  version: number,
  body: Buffer,
): Promise<Record<string, unknown>> {
  const mod = responseModule(api, version)
  return mod.parse(await mod.decode(body))
}

/** kafkajs's compression codecs registry (gzip built in). */
export const kafkajsCompressionTypes = require('kafkajs/src/protocol/message/compression').Types as Record<
  string,
  number
>
