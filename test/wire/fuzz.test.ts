/**
 * Bad input against a live `seglog serve`: seeded random and mutated frames (pure garbage, truncated and huge
 * sizes, random api keys and versions, valid requests from kafkajs's own encoders with corrupted bytes, several
 * frames pipelined in one write) on many short connections, while a well-behaved kafkajs client produces and
 * checks offsets on its own connection. The server must stay up, answer or close every complete frame, close every
 * connection left with a partial frame, keep the good client working, and hold in its log exactly what valid
 * requests wrote: every Produce request carries records unique to it, so each stored record is traced back to the
 * one request that sent it, whole batches only, and every Produce that was answered with error 0 is stored once.
 *
 * Seed: printed; set SEGLOG_TEST_SEED to rerun another. FUZZ_FRAMES overrides the frame count.
 */
import { Kafka, logLevel } from 'kafkajs'
import { afterEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'
import { mulberry32 } from '../support/random.js'
import { killAll, removeTempDirs, seedFor, startServe, tempDir } from '../support/wire-harness.js'
import { type EncodedRequest, encodeRequest, type KafkajsApi, RawConnection } from '../support/wire-raw.js'

afterEach(async () => {
  await killAll()
  removeTempDirs()
})

const FRAMES = Number(process.env.FUZZ_FRAMES ?? 10_000)
const LANES = 8
const MAX_REQUEST = 100 * 1024 * 1024
const TS_BASE = 1_700_000_000_000
/** Api keys whose requests may legitimately stay unanswered for a while (long poll, group waits, acks 0). */
const MAY_WAIT = new Set([0, 1, 11, 14])
const GZIP = 1

type Rng = () => number

interface ProduceSent {
  records: { key: string; value: string; header: string; timestamp: number }[]
}

/** Everything the fuzz saw, for the assertions and the printed summary. */
class Tally {
  readonly kinds = new Map<string, number>()
  readonly outcomes = new Map<string, number>()
  readonly failures: string[] = []
  readonly produces = new Map<number, ProduceSent>()
  /** Produce ids answered with error 0 for their partition. */
  readonly acked = new Set<number>()
  bump(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1)
  }
  fail(msg: string): void {
    if (this.failures.length < 50) this.failures.push(msg)
  }
}

interface Template {
  req: EncodedRequest
  /** Set for Produce: the id its records carry. */
  produceId?: number
  /** Only its header may be corrupted (a corrupted body could ask for 100,000 partitions). */
  headerOnly?: boolean
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1))

function groupProtocols(): { name: string; metadata: Buffer }[] {
  // ConsumerProtocol subscription v0: version, topics ['fuzz'], user data null.
  const m = Buffer.from([0, 0, 0, 0, 0, 1, 0, 4, 0x66, 0x75, 0x7a, 0x7a, 0xff, 0xff, 0xff, 0xff])
  return [{ name: 'range', metadata: m }]
}

/** A valid request of a random API and version, built by kafkajs's encoder. */
/** `corr` is unique per lane and request, so it names the request's records, groups and topics too. */
async function template(rng: Rng, corr: number, tally: Tally): Promise<Template> {
  const id = corr
  const group = `fzg-${id % 50}`
  const partition = int(rng, 0, 1)
  const r = rng()
  const enc = (api: KafkajsApi, lo: number, hi: number, args: Record<string, unknown>) =>
    encodeRequest(api, int(rng, lo, hi), args, corr, `fuzz-${id % 7}`)
  if (r < 0.3) {
    const n = int(rng, 1, 5)
    const records = Array.from({ length: n }, (_, j) => ({
      key: `fk${id}.${j}`,
      value: `fz:${id}:${j}`,
      header: String(id),
      timestamp: TS_BASE + id * 10 + j,
    }))
    tally.produces.set(id, { records })
    const acks = rng() < 0.05 ? 0 : pick(rng, [-1, 1])
    const req = await enc('produce', 3, 7, {
      acks,
      timeout: 1000,
      compression: rng() < 0.3 ? GZIP : 0,
      topicData: [
        {
          topic: 'fuzz',
          partitions: [
            {
              partition,
              messages: records.map((x) => ({
                key: x.key,
                value: x.value,
                headers: { u: x.header },
                timestamp: x.timestamp,
              })),
            },
          ],
        },
      ],
    })
    return { req, produceId: id }
  }
  const fetchTopics = [
    { topic: 'fuzz', partitions: [{ partition, fetchOffset: String(int(rng, 0, 3)), maxBytes: 65536 }] },
  ]
  const choices: (() => Promise<Template>)[] = [
    async () => ({
      req: await enc('fetch', 4, 11, {
        maxWaitTime: int(rng, 0, 20),
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: fetchTopics,
      }),
    }),
    async () => ({
      req: await enc('listOffsets', 1, 3, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ topic: 'fuzz', partitions: [{ partition, timestamp: pick(rng, [-1, -2, TS_BASE]) }] }],
      }),
    }),
    async () => ({
      req: await enc('metadata', 0, 6, { topics: rng() < 0.5 ? ['fuzz'] : [], allowAutoTopicCreation: false }),
    }),
    async () => ({
      req: await enc('offsetCommit', 2, 5, {
        groupId: group,
        groupGenerationId: -1,
        memberId: '',
        topics: [{ topic: 'fuzz', partitions: [{ partition, offset: String(int(rng, 0, 9)) }] }],
      }),
    }),
    async () => ({
      req: await enc('offsetFetch', 1, 4, { groupId: group, topics: [{ topic: 'fuzz', partitions: [{ partition }] }] }),
    }),
    async () => ({ req: await enc('findCoordinator', 0, 2, { groupId: group }) }),
    async () => ({
      req: await enc('joinGroup', 0, 5, {
        groupId: `fzj-${id}`,
        sessionTimeout: 6000,
        rebalanceTimeout: 1000,
        memberId: '',
        protocolType: 'consumer',
        groupProtocols: groupProtocols(),
      }),
    }),
    async () => ({ req: await enc('heartbeat', 0, 3, { groupId: group, groupGenerationId: 1, memberId: 'nobody' }) }),
    async () => ({ req: await enc('leaveGroup', 0, 3, { groupId: group, memberId: 'nobody' }) }),
    async () => ({
      req: await enc('syncGroup', 0, 3, { groupId: group, generationId: 1, memberId: 'nobody', groupAssignment: [] }),
    }),
    async () => ({ req: await enc('describeGroups', 0, 2, { groupIds: [group] }) }),
    async () => ({ req: await enc('listGroups', 0, 2, {}) }),
    async () => ({ req: await enc('apiVersions', 0, 2, {}) }),
    async () => ({
      req: await enc('createTopics', 0, 3, {
        topics: [{ topic: `zz-c${id}`, numPartitions: 1, replicationFactor: 1 }],
        timeout: 1000,
        validateOnly: false,
      }),
      headerOnly: true,
    }),
    async () => ({ req: await enc('deleteTopics', 0, 1, { topics: [`zz-d${id}`], timeout: 1000 }) }),
    async () => ({
      req: await enc('describeConfigs', 0, 2, { resources: [{ type: 2, name: 'fuzz', configNames: [] }] }),
    }),
    async () => ({ req: await enc('initProducerId', 0, 1, { transactionalId: null, transactionTimeout: 1000 }) }),
  ]
  return pick(rng, choices)()
}

/** 1..4 corruptions: bit flips, random bytes, inserted or deleted bytes; the size prefix is fixed up half the time. */
function mutate(rng: Rng, frame: Buffer, headerOnly: boolean): Buffer {
  let b = Buffer.from(frame)
  const limit = headerOnly ? Math.min(b.length, 14) : b.length
  const n = int(rng, 1, 4)
  for (let k = 0; k < n; k++) {
    const at = int(rng, 4, Math.max(4, limit - 1))
    const op = rng()
    if (op < 0.4) b[at] ^= 1 << int(rng, 0, 7)
    else if (op < 0.7) b[at] = int(rng, 0, 255)
    else if (op < 0.8) b[at] = pick(rng, [0x00, 0xff, 0x7f, 0x80])
    else if (headerOnly) b[at] ^= 0x40
    else if (op < 0.9) b = Buffer.concat([b.subarray(0, at), Buffer.from([int(rng, 0, 255)]), b.subarray(at)])
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)])
  }
  if (rng() < 0.5 && b.length >= 4) b.writeInt32BE(b.length - 4, 0)
  return b
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = int(rng, 0, 255)
  return b
}

interface FrameRequest {
  corr: number
  apiKey: number
  /** As the frame says (after any corruption): the version the server answers in. */
  version: number
  produceId?: number
  /** False for a Produce with acks 0: no answer comes. */
  answered: boolean
  /** kafkajs's decoder, for unmodified requests. */
  decode?: (b: Buffer) => Promise<unknown>
}

interface Frame {
  kind: string
  bytes: Buffer
  /** The frame is complete (else the sender half-closes and the server must close). */
  complete: boolean
  /** Correlation ids of the complete requests in `bytes`, in order, with the Produce id each carries. */
  requests: FrameRequest[]
  /** The server must close the connection (size over the limit or negative). */
  mustClose?: boolean
}

async function makeFrame(rng: Rng, corrBase: number, tally: Tally): Promise<Frame> {
  const r = rng()
  const asSent = (bytes: Buffer, produceId: number | undefined, answered = true): FrameRequest => ({
    corr: bytes.length >= 12 ? bytes.readInt32BE(8) : -1,
    apiKey: bytes.length >= 6 ? bytes.readInt16BE(4) : -1,
    version: bytes.length >= 8 ? bytes.readInt16BE(6) : -1,
    produceId,
    answered,
  })
  if (r < 0.08) {
    return { kind: 'garbage', bytes: randomBytes(rng, int(rng, 0, 64)), complete: false, requests: [] }
  }
  if (r < 0.18) {
    const body = randomBytes(rng, int(rng, 8, 80))
    body.writeInt16BE(rng() < 0.5 ? int(rng, -3, 80) : int(rng, -32768, 32767), 0)
    body.writeInt16BE(rng() < 0.5 ? int(rng, -1, 15) : int(rng, -32768, 32767), 2)
    body.writeInt32BE(corrBase, 4)
    const bytes = Buffer.concat([Buffer.alloc(4), body])
    bytes.writeInt32BE(body.length, 0)
    return { kind: 'random-api', bytes, complete: true, requests: [asSent(bytes, undefined)] }
  }
  if (r < 0.23) {
    const bytes = Buffer.alloc(int(rng, 4, 40))
    const size = pick(rng, [MAX_REQUEST + 1, 0x7fffffff, -1, -0x80000000, int(rng, MAX_REQUEST + 1, 0x7fffffff)])
    bytes.writeInt32BE(size, 0)
    return { kind: 'huge-size', bytes, complete: false, requests: [], mustClose: size > MAX_REQUEST || size < 0 }
  }
  const t = await template(rng, corrBase, tally)
  const produceId = t.produceId
  const req = t.req
  if (r < 0.33) {
    const cut = int(rng, 0, req.frame.length - 1)
    return { kind: 'truncated', bytes: req.frame.subarray(0, cut), complete: false, requests: [] }
  }
  if (r < 0.37) {
    const bytes = Buffer.from(req.frame)
    bytes.writeInt32BE(req.frame.length - 4 + int(rng, 1, 5000), 0)
    return { kind: 'short-body', bytes, complete: false, requests: [] }
  }
  if (r < 0.45) {
    const bytes = Buffer.from(req.frame)
    bytes.writeInt16BE(rng() < 0.7 ? int(rng, -1, 15) : int(rng, -32768, 32767), 6)
    return { kind: 'version', bytes, complete: true, requests: [asSent(bytes, produceId, req.expectResponse)] }
  }
  if (r < 0.8) {
    const bytes = mutate(rng, req.frame, t.headerOnly === true)
    const declared = bytes.readInt32BE(0)
    const complete = declared === bytes.length - 4
    // A mutated correlation id is what the server will echo.
    return {
      kind: 'mutated',
      bytes,
      complete,
      requests: complete ? [asSent(bytes, produceId)] : [],
      mustClose: declared > MAX_REQUEST || declared < 0,
    }
  }
  if (r < 0.93) {
    return {
      kind: 'valid',
      bytes: req.frame,
      complete: true,
      requests: [{ ...asSent(req.frame, produceId, req.expectResponse), decode: req.decode }],
    }
  }
  // Pipelined: this request and up to three more valid ones in one write, answered in order.
  const parts = [req]
  const requests: FrameRequest[] = [{ ...asSent(req.frame, produceId, req.expectResponse), decode: req.decode }]
  for (let k = 1, n = int(rng, 2, 4); k < n; k++) {
    const more = await template(rng, corrBase + k, tally)
    parts.push(more.req)
    requests.push({ ...asSent(more.req.frame, more.produceId, more.req.expectResponse), decode: more.req.decode })
  }
  return { kind: 'pipelined', bytes: Buffer.concat(parts.map((p) => p.frame)), complete: true, requests }
}

/** Error codes of every partition in a Produce response body of `version` (3..7), else null. */
function produceErrors(body: Buffer, version: number): number[] | null {
  if (version < 3 || version > 7) return null
  const stride = 4 + 2 + 8 + 8 + (version >= 5 ? 8 : 0)
  const codes: number[] = []
  let at = 0
  const topics = body.readInt32BE(at)
  at += 4
  for (let t = 0; t < topics; t++) {
    at += 2 + body.readInt16BE(at)
    const parts = body.readInt32BE(at)
    at += 4
    for (let p = 0; p < parts; p++, at += stride) codes.push(body.readInt16BE(at + 4))
  }
  return codes
}

async function runLane(
  lane: number,
  frames: number,
  seed: number,
  host: string,
  port: number,
  tally: Tally,
): Promise<void> {
  const rng = mulberry32(seed + lane * 7919)
  let conn: RawConnection | null = null
  /** What was sent on `conn` so far (kind and api key/version), for failure messages. */
  let history: string[] = []
  let corr = lane * 1_000_000
  for (let f = 0; f < frames; f++) {
    corr += 8
    const frame = await makeFrame(rng, corr, tally)
    tally.bump(tally.kinds, frame.kind)
    if (conn === null || !conn.isOpen) {
      conn = await RawConnection.connect(host, port)
      history = []
    }
    const c: RawConnection = conn
    history.push(`${frame.kind}:${frame.bytes.subarray(4, 8).toString('hex')}`)
    c.write(frame.bytes)
    if (!frame.complete) {
      // Nothing to answer: the frame is partial or the size is bad. Half-close; the server must close.
      if (!frame.mustClose) c.socket.end()
      const closed = await c.waitClosed(3000)
      tally.bump(tally.outcomes, closed ? `${frame.kind}:closed` : `${frame.kind}:open`)
      if (!closed)
        tally.fail(`${frame.kind} frame (${frame.bytes.subarray(0, 16).toString('hex')}…): connection not closed`)
      c.destroy()
      conn = null
      continue
    }
    const awaited = frame.requests.filter((q) => q.answered)
    for (const rq of awaited) {
      let got = await c.waitResponse(rq.corr, 300)
      if (got === 'timeout' && !MAY_WAIT.has(rq.apiKey)) got = await c.waitResponse(rq.corr, 3000)
      if (got === 'timeout') {
        tally.bump(tally.outcomes, `${frame.kind}:silent-${MAY_WAIT.has(rq.apiKey) ? 'waiting-api' : 'other'}`)
        if (!MAY_WAIT.has(rq.apiKey)) {
          tally.fail(
            `${frame.kind} api ${rq.apiKey} (${frame.bytes.subarray(0, 24).toString('hex')}…): no answer, no close`,
          )
        }
        c.destroy()
        conn = null
        break
      }
      if (got === 'closed') {
        tally.bump(tally.outcomes, `${frame.kind}:closed`)
        if (frame.kind === 'valid' || frame.kind === 'pipelined') {
          tally.fail(
            `${frame.kind} api ${rq.apiKey} v${rq.version}: a valid request got the connection closed (frames on it: ${history.join(' ')}; ${frame.bytes.toString('hex').slice(0, 200)})`,
          )
        }
        conn = null
        break
      }
      tally.bump(tally.outcomes, `${frame.kind}:answered`)
      if (frame.kind === 'pipelined') {
        const order = c.responses.map((x) => x.correlationId)
        const want = awaited.map((q) => q.corr).slice(0, order.length)
        if (order.join() !== want.join()) tally.fail(`pipelined responses out of order: ${order} vs ${want}`)
      }
      if (rq.produceId !== undefined && rq.apiKey === 0) {
        try {
          if (produceErrors(got.body, rq.version)?.some((code) => code === 0)) tally.acked.add(rq.produceId)
        } catch {
          if (frame.kind === 'valid') tally.fail(`valid produce ${rq.produceId}: unreadable response`)
        }
      }
      if (frame.kind === 'valid' && rq.decode !== undefined) {
        try {
          await rq.decode(got.body)
        } catch (err) {
          tally.fail(`valid api ${rq.apiKey}: kafkajs cannot decode the response: ${String(err)}`)
        }
      }
    }
    if (c.badFrame !== null) tally.fail(`server sent a bad frame: ${c.badFrame}`)
    c.responses.length = 0
    // Start most frames on a fresh connection, so a bad one does not hide the next.
    // Drawn whatever the connection's state, so the sequence depends on the seed only, not on timing.
    const fresh = rng() < 0.5
    // A corrupted request with no answer to wait for (acks 0) may still get the connection closed a moment later.
    const unknown = awaited.length < frame.requests.length && frame.kind !== 'valid' && frame.kind !== 'pipelined'
    if (conn !== null && (fresh || unknown)) {
      conn.destroy()
      conn = null
    }
  }
  conn?.destroy()
}

describe('wire protocol under bad input', () => {
  it('survives 10,000 seeded random and corrupted frames with the server up, a good client working, and only valid writes in the log', async () => {
    const seed = seedFor('wire fuzz', 0x5e610a)
    const dir = tempDir('fuzz')
    const setup = await Seglog.open(dir)
    await setup.createTopic('fuzz', { partitions: 2, config: { format: 'binary' } })
    await setup.createTopic('good', { partitions: 1, config: { format: 'binary' } })
    await setup.close()
    const server = await startServe(dir)
    const tally = new Tally()
    const started = performance.now()

    // The well-behaved client: kafkajs producing to 'good' and checking its offsets, on its own connections.
    const kafka = new Kafka({
      brokers: [server.broker],
      clientId: 'good',
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    })
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    const admin = kafka.admin()
    await producer.connect()
    await admin.connect()
    let fuzzing = true
    let goodSent = 0
    let goodMaxMs = 0
    const goodErrors: string[] = []
    const good = (async () => {
      while (fuzzing) {
        const t0 = performance.now()
        try {
          await producer.send({
            topic: 'good',
            acks: -1,
            messages: Array.from({ length: 5 }, (_, j) => ({ key: `g${goodSent + j}`, value: `good:${goodSent + j}` })),
          })
          goodSent += 5
          if (goodSent % 50 === 0) {
            const [p0] = await admin.fetchTopicOffsets('good')
            if (Number(p0.high) !== goodSent) goodErrors.push(`offsets say ${p0.high}, sent ${goodSent}`)
          }
        } catch (err) {
          goodErrors.push(String(err))
          if (goodErrors.length > 5) return
        }
        goodMaxMs = Math.max(goodMaxMs, performance.now() - t0)
      }
    })()

    await Promise.all(
      Array.from({ length: LANES }, (_, lane) =>
        runLane(lane, Math.ceil(FRAMES / LANES), seed, server.host, server.port, tally),
      ),
    )
    fuzzing = false
    await good
    const fuzzMs = performance.now() - started
    await producer.disconnect()
    await admin.disconnect()

    // Still serving: a fresh connection gets ApiVersions answered.
    const probe = await RawConnection.connect(server.host, server.port)
    const answer = await probe.request(await encodeRequest('apiVersions', 2, {}, 42), 5000)
    probe.destroy()
    const serverAlive = !server.proc.done()

    console.log(
      `wire fuzz seed ${seed}: ${FRAMES} frames in ${fuzzMs.toFixed(0)} ms; kinds ${JSON.stringify(Object.fromEntries(tally.kinds))}`,
    )
    console.log(`outcomes ${JSON.stringify(Object.fromEntries([...tally.outcomes].sort()))}`)
    console.log(
      `produce requests ${tally.produces.size}, acknowledged ${tally.acked.size}; good client: ${goodSent} records, slowest send ${goodMaxMs.toFixed(0)} ms`,
    )
    const exit = await server.stop()
    expect(serverAlive, server.proc.describe()).toBe(true)
    expect(typeof answer === 'object' && answer.correlationId === 42).toBe(true)
    expect(exit.code, server.proc.describe()).toBe(0)
    expect(tally.failures).toEqual([])
    expect(goodErrors).toEqual([])
    expect(goodSent).toBeGreaterThan(0)

    const log = await Seglog.open(dir)
    try {
      // The good client's records, all of them, in order.
      const g = await log.read('good', 0, 0, { maxRecords: goodSent + 10, maxBytes: 64 << 20 })
      expect(g.map((x) => (x.value as Buffer).toString())).toEqual(
        Array.from({ length: goodSent }, (_, i) => `good:${i}`),
      )

      // Every other record is one a Produce request sent, in whole batches, each at most once.
      const found = new Map<number, { offsets: number[]; js: number[] }>()
      const strays: string[] = []
      for (const topic of log.listTopics()) {
        if (topic === 'good') continue
        const partitions = log.describeTopic(topic).partitions.length
        for (let p = 0; p < partitions; p++) {
          const { logStartOffset, logEndOffset } = log.offsets(topic, p)
          if (logEndOffset === logStartOffset) continue
          const recs = await log.read(topic, p, logStartOffset, { maxRecords: 1_000_000, maxBytes: 256 << 20 })
          for (const rec of recs) {
            const value = Buffer.isBuffer(rec.value) ? rec.value.toString() : String(rec.value)
            const m = /^fz:(\d+):(\d+)$/.exec(value)
            const sent = m === null ? undefined : tally.produces.get(Number(m[1]))
            if (m === null || sent === undefined) {
              strays.push(`${topic}/${p}@${rec.offset}: ${value.slice(0, 40)}`)
              continue
            }
            const id = Number(m[1])
            const j = Number(m[2])
            const want = sent.records[j]
            if (
              want === undefined ||
              rec.key?.toString() !== want.key ||
              rec.timestamp !== want.timestamp ||
              (rec.headers.u as Buffer | undefined)?.toString() !== want.header
            ) {
              strays.push(`${topic}/${p}@${rec.offset}: record ${id}.${j} differs from what was sent`)
            }
            const entry = found.get(id) ?? { offsets: [], js: [] }
            entry.offsets.push(rec.offset)
            entry.js.push(j)
            found.set(id, entry)
          }
        }
      }
      expect(strays).toEqual([])
      const partial: string[] = []
      for (const [id, { offsets, js }] of found) {
        const n = tally.produces.get(id)?.records.length ?? -1
        const whole = js.length === n && js.every((j, k) => j === k) && offsets.every((o, k) => o === offsets[0] + k)
        if (!whole) partial.push(`produce ${id}: stored parts ${js.join(',')} at ${offsets.join(',')} of ${n}`)
      }
      expect(partial).toEqual([])
      const lost = [...tally.acked].filter((id) => !found.has(id))
      expect(lost, 'acknowledged produce requests missing from the log').toEqual([])
    } finally {
      await log.close()
    }
  }, 90_000)
})
