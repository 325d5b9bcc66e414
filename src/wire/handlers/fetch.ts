/**
 * Fetch: stored batch bytes for each requested partition, with the high watermark, the last stable offset (the
 * high watermark: seglog has no transactions) and the log start offset.
 *
 * Limits (KIP-74): partitions are filled in request order, each with at most its partition_max_bytes and what is
 * left of max_bytes; the first batch of the first partition that has data is returned even when it alone exceeds
 * the limits (so a consumer always progresses), a later partition's data only if it fits.
 *
 * Long poll: when fewer than min_bytes are available, the request waits up to max_wait_ms, woken by an append to
 * any requested partition (`host.waitPast` past the high watermark it saw, no polling), then fetches again. It
 * answers at once when a partition has an error, and when the connection closes or the server shuts down.
 *
 * Sessions (v7+): seglog keeps none. A full fetch (session id 0) is answered with session id 0, which tells the
 * client to keep sending full fetches; an incremental fetch (any other session id) gets FETCH_SESSION_ID_NOT_FOUND.
 */
import {
  decodeFetchRequest,
  encodeFetchResponse,
  type FetchPartitionResponse,
  type FetchRequest,
  type FetchTopicResponse,
} from '../codecs/fetch.js'
import type { ApiEntry, RequestContext } from '../handler.js'
import type { BrokerHost } from '../host.js'
import { hurrySignal, longPollLimitMs } from '../long-poll.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'
import type { Reader } from '../protocol/reader.js'
import { errorCodeOf } from './common.js'

const NO_RECORDS: readonly Buffer[] = Object.freeze([])

interface Round {
  responses: FetchTopicResponse[]
  bytes: number
  anyError: boolean
}

function fetchRound(req: FetchRequest, host: BrokerHost): Round {
  let used = 0
  let anyError = false
  const responses = req.topics.map((t) => {
    const known = host.topic(t.topic) !== undefined
    const partitions = t.partitions.map((p): FetchPartitionResponse => {
      const out: FetchPartitionResponse = {
        partitionIndex: p.partition,
        errorCode: KafkaError.NONE,
        highWatermark: -1,
        lastStableOffset: -1,
        logStartOffset: -1,
        preferredReadReplica: -1,
        records: NO_RECORDS,
        recordsBytes: 0,
      }
      if (!known) {
        out.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION
        anyError = true
        return out
      }
      try {
        const room = Math.min(p.partitionMaxBytes, req.maxBytes - used)
        if (room <= 0 && used > 0) {
          const o = host.offsets(t.topic, p.partition)
          out.highWatermark = out.lastStableOffset = o.logEndOffset
          out.logStartOffset = o.logStartOffset
          if (p.fetchOffset < o.logStartOffset || p.fetchOffset > o.logEndOffset) {
            out.errorCode = KafkaError.OFFSET_OUT_OF_RANGE
            anyError = true
          }
          return out
        }
        const r = host.fetch(t.topic, p.partition, p.fetchOffset, Math.max(1, room))
        out.highWatermark = out.lastStableOffset = r.highWatermark
        out.logStartOffset = r.logStartOffset
        if (used === 0 || r.bytes <= room) {
          out.records = r.records
          out.recordsBytes = r.bytes
          used += r.bytes
        }
      } catch (err) {
        out.errorCode = errorCodeOf(err)
        anyError = true
        if (out.errorCode === KafkaError.OFFSET_OUT_OF_RANGE) {
          try {
            const o = host.offsets(t.topic, p.partition)
            out.highWatermark = out.lastStableOffset = o.logEndOffset
            out.logStartOffset = o.logStartOffset
          } catch {
            // The partition went away meanwhile: the error code already tells the client.
          }
        }
      }
      return out
    })
    return { topic: t.topic, partitions }
  })
  return { responses, bytes: used, anyError }
}

/** Resolves when any fetched partition grows past what the round saw, `ms` pass, or `signal` aborts. */
function waitForData(
  round: Round,
  req: FetchRequest,
  host: BrokerHost,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  const ctl = new AbortController()
  const stop = () => ctl.abort()
  signal.addEventListener('abort', stop, { once: true })
  const timer = setTimeout(stop, ms)
  const waits: Promise<void>[] = [
    new Promise<void>((resolve) => ctl.signal.addEventListener('abort', () => resolve(), { once: true })),
  ]
  for (let ti = 0; ti < req.topics.length; ti++) {
    const t = req.topics[ti]
    const parts = round.responses[ti].partitions
    for (let pi = 0; pi < parts.length; pi++) {
      const p = parts[pi]
      if (p.errorCode !== KafkaError.NONE) continue
      const seen = Math.max(p.highWatermark, t.partitions[pi].fetchOffset)
      waits.push(host.waitPast(t.topic, p.partitionIndex, seen, ctl.signal).catch(() => {}))
    }
  }
  return Promise.race(waits).finally(() => {
    clearTimeout(timer)
    signal.removeEventListener('abort', stop)
    ctl.abort()
  })
}

async function handle(ctx: RequestContext, body: Reader, host: BrokerHost): Promise<Buffer[]> {
  const version = ctx.apiVersion
  const req = decodeFetchRequest(body, version)
  if (version >= 7 && req.sessionId !== 0) {
    return encodeFetchResponse(
      { throttleTimeMs: 0, errorCode: KafkaError.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] },
      version,
    )
  }
  const deadline = Date.now() + Math.max(0, req.maxWaitMs)
  let round = fetchRound(req, host)
  while (round.bytes < req.minBytes && !round.anyError && !ctx.signal.aborted) {
    // A client whose group member must rejoin polls briefly (see long-poll.ts).
    const left = Math.min(deadline - Date.now(), longPollLimitMs(ctx.connection.remoteHost, ctx.clientId))
    if (left <= 0) break
    await waitForData(round, req, host, left, AbortSignal.any([ctx.signal, hurrySignal()]))
    round = fetchRound(req, host)
    if (longPollLimitMs(ctx.connection.remoteHost, ctx.clientId) !== Number.POSITIVE_INFINITY) break
  }
  return encodeFetchResponse(
    { throttleTimeMs: 0, errorCode: KafkaError.NONE, sessionId: 0, responses: round.responses },
    version,
  )
}

export const fetchApi: ApiEntry = {
  key: ApiKey.Fetch,
  minVersion: VERSIONS.Fetch.min,
  maxVersion: VERSIONS.Fetch.max,
  handle,
}
