/**
 * Produce: each partition's record set goes to the engine as the client sent it (the engine verifies, assigns
 * offsets and stores the batches as they are), all partitions of a request at once; the response carries one
 * error code per partition. A MessageSet of magic 0 or 1 (what clients send before RecordBatch v2) is
 * UNSUPPORTED_FOR_MESSAGE_FORMAT: seglog stores RecordBatch v2 only and does not convert. acks=0 has no response: a failure then closes the connection, as Kafka does, so the
 * client learns of it.
 *
 * Ordering: the engine appends in call order, and a request calls `host.produce` for all its partitions before
 * the next request on the connection does (requests are started in arrival order and call it synchronously;
 * only a request that must first auto-create a topic waits, and the requests behind it on the same connection
 * wait for it through `gates`), so pipelined requests to one partition land in the order they were sent.
 */
import { decodeProduceRequest, encodeProduceResponse, type ProducePartitionResponse } from '../codecs/produce.js'
import type { ApiEntry, RequestContext, WireConnection } from '../handler.js'
import type { BrokerHost, WireAcks, WireProduceResult } from '../host.js'
import { ApiKey, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'
import type { Reader } from '../protocol/reader.js'
import { ensureTopic, errorCodeOf } from './common.js'

/** Where the magic byte is, in a RecordBatch and in a v0/v1 MessageSet entry alike. */
const MAGIC_OFFSET = 16

/** Set while a Produce on the connection waits before calling the engine; later ones wait for it. */
const gates = new WeakMap<WireConnection, Promise<void>>()

/** A Produce with acks=0 failed: the connection is closed (there is no response to carry the error). */
export class UnacknowledgedProduceFailed extends Error {
  constructor(readonly errorCode: number) {
    super(`produce with acks=0 failed with Kafka error ${errorCode}`)
    this.name = 'UnacknowledgedProduceFailed'
  }
}

type Outcome = WireProduceResult | number

function failed(code: number): ProducePartitionResponse & { index: number } {
  return { index: 0, errorCode: code, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
}

async function handle(ctx: RequestContext, body: Reader, host: BrokerHost): Promise<Buffer | null> {
  const req = decodeProduceRequest(body, ctx.apiVersion)
  const acks = req.acks
  const validAcks = acks === 0 || acks === 1 || acks === -1
  const conn = ctx.connection
  const prev = gates.get(conn)
  const topicCodes: (number | Promise<number>)[] = validAcks ? req.topics.map((t) => ensureTopic(host, t.name)) : []
  const mustWait = prev !== undefined || topicCodes.some((c) => typeof c !== 'number')

  const dispatch = (codes: readonly number[]): Promise<Outcome>[][] =>
    req.topics.map((t, ti) =>
      t.partitions.map((p): Promise<Outcome> => {
        if (!validAcks) return Promise.resolve(KafkaError.INVALID_REQUIRED_ACKS)
        if (codes[ti] !== KafkaError.NONE) return Promise.resolve(codes[ti])
        if (p.records === null || p.records.length === 0) return Promise.resolve(KafkaError.INVALID_RECORD)
        if (p.records.length > MAGIC_OFFSET && p.records[MAGIC_OFFSET] < 2) {
          return Promise.resolve(KafkaError.UNSUPPORTED_FOR_MESSAGE_FORMAT)
        }
        try {
          return host.produce(t.name, p.index, p.records, acks as WireAcks).catch(errorCodeOf)
        } catch (err) {
          return Promise.resolve(errorCodeOf(err))
        }
      }),
    )

  let pending: Promise<Outcome>[][]
  if (!mustWait) {
    pending = dispatch(topicCodes as number[])
  } else {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    gates.set(conn, gate)
    try {
      await prev
      pending = dispatch(await Promise.all(topicCodes))
    } finally {
      release()
      if (gates.get(conn) === gate) gates.delete(conn)
    }
  }

  const outcomes = await Promise.all(pending.map((ps) => Promise.all(ps)))
  if (acks === 0) {
    for (const ps of outcomes) for (const o of ps) if (typeof o === 'number') throw new UnacknowledgedProduceFailed(o)
    return null
  }
  return encodeProduceResponse(
    {
      responses: req.topics.map((t, ti) => ({
        name: t.name,
        partitions: t.partitions.map((p, pi) => {
          const o = outcomes[ti][pi]
          if (typeof o === 'number') return { ...failed(o), index: p.index }
          return {
            index: p.index,
            errorCode: KafkaError.NONE,
            baseOffset: o.baseOffset,
            logAppendTimeMs: o.logAppendTime,
            logStartOffset: o.logStartOffset,
          }
        }),
      })),
      throttleTimeMs: 0,
    },
    ctx.apiVersion,
  )
}

export const produceApi: ApiEntry = {
  key: ApiKey.Produce,
  minVersion: VERSIONS.Produce.min,
  maxVersion: VERSIONS.Produce.max,
  handle,
}
