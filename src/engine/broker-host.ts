/**
 * The engine's side of the wire protocol: builds the `BrokerHost` (src/wire/host.ts) that the protocol handlers
 * use, out of the engine's rooms, and keeps the directory's cluster id.
 *
 * What each part of the host is made of:
 * - topics: the topic registry. Topics created through the host get format `binary` unless the caller names one.
 * - produce: the append room's `appendRecordSet` (the client's batches stored as they came), so `acks` maps to the
 *   engine's durability modes exactly as for `append`: -1 shares the group-commit fsync with every other append,
 *   from any connection or from the native API. The checks a topic asks for ride along: keys on compacted topics,
 *   and values that decode in the topic's format on `json` and `msgpack` topics (a native reader of the topic never
 *   meets a value it cannot decode; `string` decodes any bytes and `binary` is bytes).
 * - fetch: the partition's raw read (whole stored batches, CRC-checked, never decoded); high watermark and last
 *   stable offset are the log end (one broker, no transactions).
 * - waits: the reads room's `waitPast`, woken by appends, topic deletion and close.
 * - groups: committed offsets in the one offset store the native API uses; wire groups are claimed in the engine's
 *   group registry, so an in-process consumer and a wire member never share a group.
 *
 * Cluster id: Kafka's form (16 random bytes, base64url, 22 characters), created the first time a listener starts
 * and kept in `.seglog/cluster.json` (written crash-safely), so it is stable for the directory. A file that does
 * not hold one is replaced by a new id, reported as `metadata-repaired`.
 *
 * Concurrency: every method runs on the event loop, called by any number of connections; the rooms serialize
 * what they must.
 */
import { randomBytes } from 'node:crypto'
import * as path from 'node:path'
import type { Groups } from '../clients/group-admin.js'
import type { OffsetStore } from '../clients/offset-store.js'
import { DEFAULT_TOPIC_CONFIG, type TopicConfig } from '../config.js'
import { ioError } from '../errors.js'
import { decodeValue } from '../format.js'
import { writeFileAtomic } from '../io/file-system.js'
import { TimestampType } from '../segment/record-batch.js'
import type { BrokerHost, WireAcks } from '../wire/host.js'
import type { AppendPath } from './append.js'
import type { EngineContext, TopicState } from './context.js'
import type { Reads } from './reads.js'
import type { TopicRegistry } from './topics.js'

export const CLUSTER_FILE = 'cluster.json'

/** Kafka's cluster id: a UUID's 16 bytes in unpadded base64url. */
const CLUSTER_ID = /^[A-Za-z0-9_-]{22}$/

/** What the host is built from: the engine's rooms and the facade's own calls. */
export interface BrokerHostRooms {
  readonly ctx: EngineContext
  readonly topics: TopicRegistry
  readonly append: AppendPath
  readonly reads: Reads
  readonly groups: Groups
  readonly offsetStore: OffsetStore
  /** The engine-wide topic defaults given at open (validated). */
  readonly defaults: Partial<TopicConfig>
  readonly clusterId: string
  readonly autoCreateTopics: boolean
  /** True while the engine is open (false from the first step of close). */
  isOpen(): boolean
  /** The facade's deleteRecords (the same checks and path as the native call). */
  deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number>
}

/**
 * The directory's cluster id from `<metaDir>/cluster.json`, created there (crash-safely) when the file is missing
 * or does not hold one. IO_ERROR when it cannot be read or written.
 */
export function loadClusterId(ctx: EngineContext, metaDir: string): string {
  const file = path.join(metaDir, CLUSTER_FILE)
  let raw: Buffer | null
  try {
    raw = ctx.fs.readFile(file)
  } catch (err) {
    throw ioError(err, 'read', file)
  }
  let problem: string | null = null
  if (raw !== null) {
    try {
      const id = (JSON.parse(raw.toString('utf8')) as { clusterId?: unknown } | null)?.clusterId
      if (typeof id === 'string' && CLUSTER_ID.test(id)) return id
      problem = `${file} holds no cluster id (22 base64url characters)`
    } catch (err) {
      problem = `${file} is not JSON: ${(err as Error).message}`
    }
  }
  const clusterId = randomBytes(16).toString('base64url')
  const body = { clusterId, createdAt: new Date(ctx.clock()).toISOString() }
  try {
    writeFileAtomic(ctx.fs, metaDir, CLUSTER_FILE, Buffer.from(`${JSON.stringify(body)}\n`))
  } catch (err) {
    throw ioError(err, 'write', file)
  }
  if (problem !== null)
    ctx.onEvent({ type: 'metadata-repaired', path: file, reason: `${problem}; a new id was written` })
  return clusterId
}

/** The value check a topic's format asks of a client's records (null: none needed). */
function valueCheck(t: TopicState): ((value: Buffer | null) => string | null) | null {
  const format = t.config.format
  if (format !== 'json' && format !== 'msgpack') return null
  return (value) => {
    try {
      decodeValue(format, value)
      return null
    } catch (err) {
      return err instanceof Error ? err.message : String(err)
    }
  }
}

export function createBrokerHost(rooms: BrokerHostRooms): BrokerHost {
  const { ctx, topics, append, reads, groups, offsetStore } = rooms
  const partitionOf = (topic: string, partition: number) => topics.partition(topics.topic(topic), partition)

  return {
    clusterId: rooms.clusterId,
    autoCreateTopics: rooms.autoCreateTopics,
    isOpen: () => rooms.isOpen(),

    // ---- topics ----
    listTopics: () => topics.names(),
    topic: (name) => {
      const t = topics.find(name)
      return t === undefined ? undefined : { partitions: t.partitions.length, config: { ...t.config } }
    },
    topicDefaults: () => ({ ...DEFAULT_TOPIC_CONFIG, ...rooms.defaults }),
    topicOverrides: (name) => ({ ...topics.topic(name).record.overrides }),
    createTopic: (name, partitions, config) => {
      ctx.assertOpen()
      const withFormat: Partial<TopicConfig> = { format: 'binary', ...config }
      return topics.create(name, partitions === undefined ? { config: withFormat } : { partitions, config: withFormat })
    },
    deleteTopic: async (name) => {
      ctx.assertOpen()
      return topics.delete(name)
    },
    alterTopicConfig: async (name, config) => {
      ctx.assertOpen()
      return topics.alterConfig(name, config)
    },
    createPartitions: async (name, count) => {
      ctx.assertOpen()
      return topics.grow(name, count)
    },

    // ---- data ----
    produce: async (topic, partition, recordSet, acks: WireAcks) => {
      ctx.assertOpen()
      const t = topics.topic(topic)
      const p = topics.partition(t, partition)
      const info = await append.appendRecordSet(p, recordSet, acks, {
        timestampType:
          t.config.messageTimestampType === 'LogAppendTime' ? TimestampType.LogAppendTime : TimestampType.CreateTime,
        requireKeys: t.config.cleanupPolicy !== 'delete',
        checkValue: valueCheck(t) ?? undefined,
      })
      return { baseOffset: info.baseOffset, logAppendTime: info.logAppendTime, logStartOffset: p.log.logStartOffset }
    },
    fetch: (topic, partition, offset, maxBytes) => {
      ctx.assertOpen()
      const p = partitionOf(topic, partition)
      const { chunks, bytes } = p.log.readRaw(offset, maxBytes)
      return { records: chunks, bytes, highWatermark: p.log.logEndOffset, logStartOffset: p.log.logStartOffset }
    },
    offsets: (topic, partition) => reads.offsets(topic, partition),
    offsetForTimestamp: (topic, partition, timestamp) => {
      ctx.assertOpen()
      return partitionOf(topic, partition).log.findOffsetByTimestamp(timestamp)
    },
    waitPast: (topic, partition, offset, signal) => reads.waitPast(topic, partition, offset, signal),
    deleteRecords: (topic, partition, beforeOffset) => rooms.deleteRecords(topic, partition, beforeOffset),

    // ---- groups ----
    commitOffsets: async (groupId, offsets) => {
      ctx.assertOpen()
      await offsetStore.commit(groupId, offsets)
    },
    fetchOffsets: async (groupId) => {
      ctx.assertOpen()
      return offsetStore.fetch(groupId)
    },
    listGroups: async () =>
      (await groups.listGroups()).map(({ groupId, protocolType, state }) => ({ groupId, protocolType, state })),
    groupMembers: async (groupId) =>
      (await groups.describeGroup(groupId)).members.map(({ memberId, assignment }) => ({ memberId, assignment })),
    claimGroup: (groupId, view) => {
      ctx.assertOpen()
      return groups.claimExternal(groupId, view)
    },
    deleteGroup: (groupId) => groups.deleteGroup(groupId),
  }
}
