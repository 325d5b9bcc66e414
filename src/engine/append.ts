/**
 * The append path of the engine: each message checked (`messages.ts`) and its value encoded, a partition chosen
 * (explicit, murmur2 of the key, else sticky), one batch per partition encoded and size-checked, written, and
 * the flush scheduled per `acks`.
 *
 * Invariants: one `append` call puts each partition's share of its messages into one batch, and nothing is
 * written unless every message of the call is valid and every batch fits (all of it lands or none of it does).
 * Writes are synchronous, so calls to one partition keep their call order; for acks -1 the call then waits for
 * a shared fsync. A partition's `flushTimer` belongs to this room.
 *
 * Concurrency: any number of appends at once on the event loop; each call's writes happen in one synchronous
 * step.
 */
import { appendChannel } from '../diagnostics.js'
import { ioError, SeglogError } from '../errors.js'
import { encodeValue } from '../format.js'
import type { PreparedBatch, RecordSetAppendInfo, RecordSetOptions } from '../log/partition-log.js'
import { checkMessage } from '../messages.js'
import { partitionForKey, partitionForStringKey } from '../partitioner.js'
import { type Acks, type AppendOptions, checkAcks, type Message, type RecordMetadata } from '../records.js'
import { type BatchRecordInput, TimestampType } from '../segment/record-batch.js'
import type { EngineContext, PartitionState, TopicState } from './context.js'
import { type TopicLookup, wake } from './reads.js'

/** Stops a partition's pending background fsync (the partition is being closed). */
export function cancelFlush(p: PartitionState): void {
  if (p.flushTimer) clearTimeout(p.flushTimer)
  p.flushTimer = null
}

export class AppendPath {
  constructor(
    private readonly ctx: EngineContext,
    private readonly topics: TopicLookup & { all(): Iterable<TopicState> },
    private readonly defaultAcks: Acks,
  ) {}

  /** See `Seglog.append`. */
  append(topic: string, messages: readonly Message[], options: AppendOptions): Promise<RecordMetadata[]> {
    try {
      this.ctx.assertOpen()
      if (!Array.isArray(messages)) throw new TypeError('messages must be an array')
      if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
      const acks = options.acks === undefined ? this.defaultAcks : checkAcks(options.acks)
      const t = this.topics.topic(topic)
      const { meta, touched } = this.writeMessages(t, messages)
      if (appendChannel.hasSubscribers) {
        appendChannel.publish({ topic, partitions: touched.map((p) => p.index), records: messages.length, acks })
      }
      if (acks !== -1 || touched.length === 0) {
        for (const p of touched) this.scheduleFlush(p)
        return Promise.resolve(meta)
      }
      const flushed = Promise.all(touched.map((p) => p.log.flush())).then(() => meta)
      return this.ctx.track(flushed)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private writeMessages(
    t: TopicState,
    messages: readonly Message[],
  ): { meta: RecordMetadata[]; touched: PartitionState[] } {
    const n = t.partitions.length
    const now = this.ctx.clock()
    const compacted = t.config.cleanupPolicy !== 'delete'
    const byPartition = new Map<number, { records: BatchRecordInput[]; slots: number[] }>()
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]
      const record = checkMessage(m, i, now)
      const key = record.key
      if (compacted && key === null) {
        throw new SeglogError('INVALID_RECORD', `message ${i}: topic '${t.record.name}' is compacted and needs a key`)
      }
      const value = encodeValue(t.config.format, m.value, i)
      record.value = value
      let partition: number
      if (record.partition !== null) {
        const explicit = t.partitions[record.partition]
        if (explicit === undefined) {
          throw new SeglogError(
            'PARTITION_NOT_FOUND',
            `message ${i}: topic '${t.record.name}' has partitions 0..${n - 1}, not ${record.partition}`,
          )
        }
        partition = explicit.index
      } else if (n === 1) {
        partition = 0
      } else if (key !== null) {
        partition = typeof key === 'string' ? partitionForStringKey(key, n) : partitionForKey(key, n)
      } else {
        partition = t.sticky.partition(t.record.name, n, (value?.length ?? 0) + 16)
      }
      let group = byPartition.get(partition)
      if (group === undefined) {
        group = { records: [], slots: [] }
        byPartition.set(partition, group)
      }
      group.slots.push(i)
      group.records.push(record)
    }
    // Encode and size-check every batch before writing any, so a rejected call writes nothing.
    const compression =
      t.config.compressionType === 'none' ? undefined : this.ctx.codecs.compressionFor(t.config.compressionType)
    const timestampType =
      t.config.messageTimestampType === 'LogAppendTime' ? TimestampType.LogAppendTime : TimestampType.CreateTime
    const prepared: { p: PartitionState; batch: PreparedBatch; records: BatchRecordInput[]; slots: number[] }[] = []
    for (const [partition, group] of byPartition) {
      const p = t.partitions[partition]
      prepared.push({ p, batch: p.log.prepare(group.records, { timestampType, compression }), ...group })
    }
    const meta = new Array<RecordMetadata>(messages.length)
    const touched: PartitionState[] = []
    for (const { p, batch, records, slots } of prepared) {
      const info = p.log.appendPrepared(batch)
      for (let k = 0; k < slots.length; k++) {
        meta[slots[k]] = {
          partition: p.index,
          offset: info.baseOffset + k,
          timestamp: info.logAppendTime >= 0 ? info.logAppendTime : records[k].timestamp,
        }
      }
      touched.push(p)
      wake(p)
    }
    return { meta, touched }
  }

  /**
   * Stores a Kafka client's record set in partition `p` as it came (`PartitionLog.appendRecordSet`), then resolves
   * per `acks` exactly as `append` does: -1 after the fsync that concurrent appends share, 0 and 1 after the write
   * with the background flush scheduled.
   */
  appendRecordSet(p: PartitionState, set: Buffer, acks: Acks, options: RecordSetOptions): Promise<RecordSetAppendInfo> {
    try {
      this.ctx.assertOpen()
      const info = p.log.appendRecordSet(set, options)
      wake(p)
      if (appendChannel.hasSubscribers) {
        const records = info.lastOffset - info.baseOffset + 1
        appendChannel.publish({ topic: p.topic.record.name, partitions: [p.index], records, acks })
      }
      if (acks !== -1) {
        this.scheduleFlush(p)
        return Promise.resolve(info)
      }
      return this.ctx.track(p.log.flush().then(() => info))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** acks 0/1: fsync within `flushMs`, or at once past `flushMessages` unflushed records. */
  private scheduleFlush(p: PartitionState): void {
    const config = p.topic.config
    if (p.log.logEndOffset - p.log.recoveryPoint >= config.flushMessages || config.flushMs === 0) {
      this.backgroundFlush(p)
      return
    }
    if (p.flushTimer !== null) return
    p.flushTimer = setTimeout(() => {
      p.flushTimer = null
      this.backgroundFlush(p)
    }, config.flushMs)
    // Background work never keeps a process alive.
    p.flushTimer.unref()
  }

  private backgroundFlush(p: PartitionState): void {
    if (!this.ctx.isOpen()) return
    this.ctx.track(
      p.log.flush().catch((err) => {
        const error = ioError(err, 'fsync', p.log.dir)
        this.ctx.onEvent({ type: 'flush-failed', topic: p.topic.record.name, partition: p.index, error })
      }),
    )
  }

  /** fsyncs everything written so far, in every partition. */
  async flush(): Promise<void> {
    this.ctx.assertOpen()
    const jobs: Promise<void>[] = []
    for (const t of this.topics.all()) for (const p of t.partitions) jobs.push(p.log.flush())
    await this.ctx.track(Promise.all(jobs))
  }
}
