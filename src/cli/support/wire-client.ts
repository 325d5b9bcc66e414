/**
 * A small Kafka client for the CLI's writing commands on a directory another process owns and serves (its
 * listener, see `Seglog.listen`): the requests those commands need, at one non-flexible version each, encoded and
 * decoded with the wire room's bounds-checked `Writer` and `Reader`.
 *
 * | API              | key | version | used by                                   |
 * |------------------|-----|---------|-------------------------------------------|
 * | Produce          | 0   | 3       | produce                                   |
 * | Metadata         | 3   | 2       | the liveness check (cluster id)           |
 * | OffsetCommit     | 8   | 2       | consume --group, group reset              |
 * | OffsetFetch      | 9   | 1       | consume --group                           |
 * | CreateTopics     | 19  | 2       | topic create                              |
 * | DeleteTopics     | 20  | 1       | topic delete                              |
 * | DescribeConfigs  | 32  | 1       | topic alter (the topic's own settings)    |
 * | AlterConfigs     | 33  | 0       | topic alter                               |
 * | CreatePartitions | 37  | 0       | topic create/alter --partitions           |
 * | DeleteGroups     | 42  | 0       | group delete                              |
 *
 * Errors: a Kafka error code in a response becomes a `SeglogError`. seglog's listener puts the engine's own message
 * (`CODE: message`) in the responses that carry one, and its code is kept; otherwise the Kafka code is mapped to the
 * nearest seglog code. A connection that fails or closes is IO_ERROR. Requests go one at a time (each awaits its
 * response), except Produce with acks 0, which has none.
 */
import * as net from 'node:net'
import { ERROR_CODES, SeglogError, type SeglogErrorCode } from '../../main.js'
import { decodeConsumerAssignment } from '../../wire/codecs/consumer-protocol.js'
import { Reader } from '../../wire/protocol/reader.js'
import { Writer } from '../../wire/protocol/writer.js'

const CLIENT_ID = 'seglog-cli'
const CONNECT_TIMEOUT_MS = 2000
const REQUEST_TIMEOUT_MS = 30_000

/** Kafka error codes seen by these requests, and the seglog code each stands for. */
const KAFKA_TO_SEGLOG: Readonly<Record<number, SeglogErrorCode>> = {
  1: 'OFFSET_OUT_OF_RANGE',
  2: 'CORRUPT_LOG',
  3: 'TOPIC_NOT_FOUND',
  6: 'ENGINE_CLOSED',
  10: 'RECORD_TOO_LARGE',
  17: 'INVALID_TOPIC_NAME',
  36: 'TOPIC_EXISTS',
  37: 'INVALID_CONFIG',
  40: 'INVALID_CONFIG',
  56: 'IO_ERROR',
  68: 'GROUP_NOT_EMPTY',
  76: 'COMPRESSION_UNSUPPORTED',
  87: 'INVALID_RECORD',
}

const KAFKA_NAMES: Readonly<Record<number, string>> = {
  [-1]: 'UNKNOWN_SERVER_ERROR',
  1: 'OFFSET_OUT_OF_RANGE',
  3: 'UNKNOWN_TOPIC_OR_PARTITION',
  6: 'NOT_LEADER_OR_FOLLOWER',
  10: 'MESSAGE_TOO_LARGE',
  16: 'NOT_COORDINATOR',
  22: 'ILLEGAL_GENERATION',
  24: 'INVALID_GROUP_ID',
  36: 'TOPIC_ALREADY_EXISTS',
  37: 'INVALID_PARTITIONS',
  40: 'INVALID_CONFIG',
  42: 'INVALID_REQUEST',
  56: 'KAFKA_STORAGE_ERROR',
  68: 'NON_EMPTY_GROUP',
  69: 'GROUP_ID_NOT_FOUND',
  87: 'INVALID_RECORD',
}

const CODE_PREFIX = /^([A-Z_]+): ([\s\S]*)$/

/** The SeglogError for a Kafka error code in a response about `what`. */
export function wireError(errorCode: number, message: string | null, what: string): SeglogError {
  const m = message === null ? null : CODE_PREFIX.exec(message)
  if (m !== null && (ERROR_CODES as readonly string[]).includes(m[1])) {
    return new SeglogError(m[1] as SeglogErrorCode, `${m[2]} (through the owner's listener)`)
  }
  const name = KAFKA_NAMES[errorCode] ?? `error ${errorCode}`
  const code = KAFKA_TO_SEGLOG[errorCode] ?? 'IO_ERROR'
  return new SeglogError(code, `${what}: the owner's listener answered ${name}${message ? ` (${message})` : ''}`)
}

export interface ProducePartitionResult {
  partition: number
  baseOffset: number
}

export interface ConfigEntry {
  name: string
  value: string | null
  /** DescribeConfigs' config_source: 1 = the topic's own setting. */
  source: number
}

/** One connection to a seglog listener (or any Kafka broker that has these API versions). */
/** A group as its owner's listener describes it. */
export interface OwnerGroupView {
  state: string
  members: {
    memberId: string
    clientId: string
    clientHost: string
    assignment: { topic: string; partition: number }[]
  }[]
}

export class WireClient {
  private buffered: Buffer = Buffer.alloc(0)
  private nextId = 1
  private waiting: { id: number; resolve: (body: Reader) => void; reject: (err: Error) => void } | null = null
  private failure: SeglogError | null = null

  private constructor(
    private readonly socket: net.Socket,
    readonly address: { host: string; port: number },
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (err) => this.fail(this.ioError(err.message)))
    socket.on('close', () => this.fail(this.ioError('the connection closed')))
  }

  /** Connects (IO_ERROR when nothing accepts the connection within a couple of seconds). */
  static connect(address: { host: string; port: number }): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: address.host, port: address.port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new SeglogError('IO_ERROR', `no answer from ${show(address)}`, { errno: 'ETIMEDOUT' }))
      }, CONNECT_TIMEOUT_MS)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.setNoDelay(true)
        resolve(new WireClient(socket, address))
      })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(new SeglogError('IO_ERROR', `cannot connect to ${show(address)}: ${err.message}`, { errno: err.code }))
      })
    })
  }

  /** Ends the connection once the listener has read what was sent (a Produce with acks 0 included). */
  async close(): Promise<void> {
    if (this.socket.destroyed) return
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve())
      this.socket.end()
      setTimeout(() => {
        this.socket.destroy()
        resolve()
      }, 5000).unref()
    })
  }

  private ioError(why: string): SeglogError {
    return new SeglogError('IO_ERROR', `the owner's listener at ${show(this.address)}: ${why}`)
  }

  private fail(err: SeglogError): void {
    this.failure ??= err
    const w = this.waiting
    this.waiting = null
    w?.reject(err)
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0)
      if (this.buffered.length < 4 + size) return
      const frame = this.buffered.subarray(4, 4 + size)
      this.buffered = this.buffered.subarray(4 + size)
      const r = new Reader(frame)
      const id = r.int32()
      const w = this.waiting
      if (w === null || w.id !== id) {
        this.fail(this.ioError(`an answer to request ${id} nobody asked for`))
        this.socket.destroy()
        return
      }
      this.waiting = null
      w.resolve(r)
    }
  }

  /** Sends one request; resolves with the response body (null when `expectResponse` is false). */
  private send(apiKey: number, version: number, body: (w: Writer) => void, expectResponse = true): Promise<Reader> {
    if (this.failure !== null) return Promise.reject(this.failure)
    const id = this.nextId++
    const w = new Writer(256)
    const size = w.reserveInt32()
    w.int16(apiKey).int16(version).int32(id).nullableString(CLIENT_ID)
    body(w)
    const chunks = w.finish()
    size.set(chunks.reduce((a, c) => a + c.length, 0) - 4)
    for (const c of chunks) this.socket.write(c)
    if (!expectResponse) return Promise.resolve(new Reader(Buffer.alloc(0)))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(this.ioError(`no answer within ${REQUEST_TIMEOUT_MS} ms`)),
        REQUEST_TIMEOUT_MS,
      )
      const done =
        <T>(f: (x: T) => void) =>
        (x: T) => {
          clearTimeout(timer)
          f(x)
        }
      this.waiting = { id, resolve: done(resolve), reject: done(reject) }
    })
  }

  /** Metadata v2 with no topics: the cluster id, which names the directory the listener serves. */
  async clusterId(): Promise<string | null> {
    const r = await this.send(3, 2, (w) => void w.array([], () => {}))
    r.array((r) => {
      r.int32()
      r.string()
      r.int32()
      r.nullableString()
    }, 14)
    return r.nullableString()
  }

  async createTopic(
    name: string,
    partitions: number,
    configs: readonly { name: string; value: string }[],
  ): Promise<void> {
    const r = await this.send(19, 2, (w) => {
      w.array([name], (w, n) => {
        w.string(n).int32(partitions).int16(-1)
        w.array([], () => {})
        w.array(configs, (w, c) => void w.string(c.name).nullableString(c.value))
      })
      w.int32(REQUEST_TIMEOUT_MS).boolean(false)
    })
    r.int32()
    const results = r.array((r) => ({ name: r.string(), errorCode: r.int16(), message: r.nullableString() }))
    for (const t of results) if (t.errorCode !== 0) throw wireError(t.errorCode, t.message, `create topic '${t.name}'`)
  }

  async deleteTopic(name: string): Promise<void> {
    const r = await this.send(20, 1, (w) => {
      w.array([name], (w, n) => void w.string(n))
      w.int32(REQUEST_TIMEOUT_MS)
    })
    r.int32()
    const results = r.array((r) => ({ name: r.string(), errorCode: r.int16() }))
    for (const t of results) if (t.errorCode !== 0) throw wireError(t.errorCode, null, `delete topic '${t.name}'`)
  }

  async createPartitions(name: string, count: number): Promise<void> {
    const r = await this.send(37, 0, (w) => {
      w.array([name], (w, n) => void w.string(n).int32(count).int32(-1))
      w.int32(REQUEST_TIMEOUT_MS).boolean(false)
    })
    r.int32()
    const results = r.array((r) => ({ name: r.string(), errorCode: r.int16(), message: r.nullableString() }))
    for (const t of results) {
      if (t.errorCode !== 0) throw wireError(t.errorCode, t.message, `grow topic '${t.name}' to ${count} partitions`)
    }
  }

  /** The topic's settings (Kafka names and values) with their sources. */
  async describeTopicConfig(name: string): Promise<ConfigEntry[]> {
    const r = await this.send(32, 1, (w) => {
      w.array([name], (w, n) => void w.int8(2).string(n).int32(-1))
      w.boolean(false)
    })
    r.int32()
    const results = r.array((r) => {
      const errorCode = r.int16()
      const message = r.nullableString()
      r.int8()
      r.string()
      const configs = r.array((r) => {
        const entry = { name: r.string(), value: r.nullableString() }
        r.boolean()
        const source = r.int8()
        r.boolean()
        r.array((r) => {
          r.string()
          r.nullableString()
          r.int8()
        })
        return { ...entry, source }
      })
      return { errorCode, message, configs }
    })
    const res = results[0]
    if (res === undefined) throw wireError(-1, 'no result', `describe the config of '${name}'`)
    if (res.errorCode !== 0) throw wireError(res.errorCode, res.message, `describe the config of '${name}'`)
    return res.configs
  }

  /** AlterConfigs: the topic's own settings become exactly `configs` (Kafka's semantics: the others revert). */
  async alterTopicConfig(name: string, configs: readonly { name: string; value: string }[]): Promise<void> {
    const r = await this.send(33, 0, (w) => {
      w.array([name], (w, n) => {
        w.int8(2).string(n)
        w.array(configs, (w, c) => void w.string(c.name).nullableString(c.value))
      })
      w.boolean(false)
    })
    r.int32()
    const results = r.array((r) => {
      const errorCode = r.int16()
      const message = r.nullableString()
      r.int8()
      r.string()
      return { errorCode, message }
    })
    for (const t of results)
      if (t.errorCode !== 0) throw wireError(t.errorCode, t.message, `alter the config of '${name}'`)
  }

  /**
   * Produce v3 of one record set per partition. Resolves with each partition's base offset; with acks 0 there is
   * no answer and it resolves once the request is sent (base offsets -1).
   */
  async produce(
    topic: string,
    sets: readonly { partition: number; records: Buffer }[],
    acks: -1 | 0 | 1,
  ): Promise<ProducePartitionResult[]> {
    const r = await this.send(
      0,
      3,
      (w) => {
        w.nullableString(null).int16(acks).int32(REQUEST_TIMEOUT_MS)
        w.array([topic], (w, t) => {
          w.string(t)
          w.array(sets, (w, s) => void w.int32(s.partition).bytes(s.records))
        })
      },
      acks !== 0,
    )
    if (acks === 0) return sets.map((s) => ({ partition: s.partition, baseOffset: -1 }))
    const out: ProducePartitionResult[] = []
    r.array((r) => {
      r.string()
      r.array((r) => {
        const partition = r.int32()
        const errorCode = r.int16()
        const baseOffset = r.int64()
        r.int64()
        if (errorCode !== 0) throw wireError(errorCode, null, `produce to ${topic}-${partition}`)
        out.push({ partition, baseOffset })
      })
    })
    return out
  }

  /** OffsetCommit v2 outside group management (generation -1): -1 means the log end, -2 the log start. */
  async commitOffsets(
    groupId: string,
    topic: string,
    offsets: readonly { partition: number; offset: number }[],
  ): Promise<void> {
    const r = await this.send(8, 2, (w) => {
      w.string(groupId).int32(-1).string('').int64(-1)
      w.array([topic], (w, t) => {
        w.string(t)
        w.array(offsets, (w, o) => void w.int32(o.partition).int64(o.offset).nullableString(null))
      })
    })
    r.array((r) => {
      r.string()
      r.array((r) => {
        const partition = r.int32()
        const errorCode = r.int16()
        if (errorCode !== 0)
          throw wireError(errorCode, null, `commit offsets of group '${groupId}' for ${topic}-${partition}`)
      })
    })
  }

  /** OffsetFetch v1: each partition's committed offset, or null for none. */
  async fetchOffsets(
    groupId: string,
    topic: string,
    partitions: readonly number[],
  ): Promise<Map<number, number | null>> {
    const r = await this.send(9, 1, (w) => {
      w.string(groupId)
      w.array([topic], (w, t) => {
        w.string(t)
        w.array(partitions, (w, p) => void w.int32(p))
      })
    })
    const out = new Map<number, number | null>()
    r.array((r) => {
      r.string()
      r.array((r) => {
        const partition = r.int32()
        const offset = r.int64()
        r.nullableString()
        const errorCode = r.int16()
        if (errorCode !== 0) throw wireError(errorCode, null, `fetch offsets of group '${groupId}'`)
        out.set(partition, offset < 0 ? null : offset)
      })
    })
    return out
  }

  /** ListGroups v0: every group the owner knows (its in-process groups and the wire groups). */
  async listGroups(): Promise<{ groupId: string; protocolType: string }[]> {
    const r = await this.send(16, 0, () => {})
    const errorCode = r.int16()
    if (errorCode !== 0) throw wireError(errorCode, null, 'list groups')
    return r.array((r) => ({ groupId: r.string(), protocolType: r.string() }))
  }

  /** DescribeGroups v0: each group's state and members, as the owner sees them now. */
  async describeGroups(groupIds: readonly string[]): Promise<Map<string, OwnerGroupView>> {
    const r = await this.send(15, 0, (w) => void w.array(groupIds, (w, g) => void w.string(g)))
    const out = new Map<string, OwnerGroupView>()
    r.array((r) => {
      const errorCode = r.int16()
      const groupId = r.string()
      const state = r.string()
      r.string()
      r.string()
      const members = r.array((r) => {
        const memberId = r.string()
        const clientId = r.string()
        const clientHost = r.string()
        r.bytes()
        const assignment = decodeConsumerAssignment(r.bytes()) ?? []
        return { memberId, clientId, clientHost, assignment }
      })
      if (errorCode !== 0) throw wireError(errorCode, null, `describe group '${groupId}'`)
      out.set(groupId, { state, members })
    })
    return out
  }

  async deleteGroup(groupId: string): Promise<void> {
    const r = await this.send(42, 0, (w) => void w.array([groupId], (w, g) => void w.string(g)))
    r.int32()
    const results = r.array((r) => ({ groupId: r.string(), errorCode: r.int16() }))
    for (const g of results) if (g.errorCode !== 0) throw wireError(g.errorCode, null, `delete group '${g.groupId}'`)
  }
}

function show(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}
