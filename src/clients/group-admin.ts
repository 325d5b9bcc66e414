/**
 * The groups of one engine: the in-process coordinator of each group id, and the group admin calls
 * (`listGroups`, `describeGroup`, `fetchOffsets`, `resetOffsets`, `deleteGroup`) that the engine's facade exposes.
 *
 * Invariants: one coordinator per group id for the engine's lifetime (until `deleteGroup`); admin that changes
 * a group's committed offsets (reset, delete) is refused with GROUP_NOT_EMPTY while the group has an active
 * member in this process, as Kafka refuses it for a non-empty group.
 *
 * Concurrency: any call at any time on the event loop; commits are atomic in the offset store.
 */
import { SeglogError } from '../errors.js'
import type { PartitionLag } from './consumer.js'
import { GroupCoordinator, type GroupState, type PartitionAssigner } from './group.js'
import type { CommittedOffset, OffsetStore } from './offset-store.js'

/** What group admin needs from the engine. */
export interface GroupsHost {
  readonly offsetStore: OffsetStore
  assertOpen(): void
  /** Number of partitions of a topic, or undefined when it does not exist. */
  partitionCount(topic: string): number | undefined
  /** TOPIC_NOT_FOUND / PARTITION_NOT_FOUND for a partition that does not exist. */
  offsets(topic: string, partition: number): { logStartOffset: number; logEndOffset: number }
  offsetForTimestamp(topic: string, partition: number, timestamp: number): number | null
}

export interface GroupDescription {
  groupId: string
  state: GroupState
  members: { memberId: string; assignment: { topic: string; partition: number }[] }[]
  offsets: PartitionLag[]
}

export type ResetOffsetsTo =
  | 'earliest'
  | 'latest'
  | { timestamp: number }
  | { offsets: { partition: number; offset: number }[] }

export class Groups {
  private readonly coordinators = new Map<string, GroupCoordinator>()

  constructor(private readonly host: GroupsHost) {}

  /** The in-process coordinator of a group (created on first use). */
  coordinator(groupId: string, assigner: PartitionAssigner): GroupCoordinator {
    let c = this.coordinators.get(groupId)
    if (c === undefined) {
      c = new GroupCoordinator(groupId, (t) => this.host.partitionCount(t), assigner)
      this.coordinators.set(groupId, c)
    }
    return c
  }

  /** Topics or partition counts changed: groups re-evaluate subscriptions and rebalance. */
  topicsChanged(): void {
    for (const c of this.coordinators.values()) {
      if (c.members.size > 0) void c.rebalance().catch(() => {})
    }
  }

  private assertEmpty(groupId: string, what: string): void {
    if ((this.coordinators.get(groupId)?.members.size ?? 0) > 0) {
      throw new SeglogError('GROUP_NOT_EMPTY', `group '${groupId}' has active members; stop them before ${what}`)
    }
  }

  async listGroups(): Promise<{ groupId: string; state: GroupState; members: number }[]> {
    this.host.assertOpen()
    const ids = new Set([...(await this.host.offsetStore.groups()), ...this.coordinators.keys()])
    return [...ids].sort().map((groupId) => {
      const c = this.coordinators.get(groupId)
      return { groupId, state: c?.state ?? 'Empty', members: c?.members.size ?? 0 }
    })
  }

  async describeGroup(groupId: string): Promise<GroupDescription> {
    this.host.assertOpen()
    if (typeof groupId !== 'string') throw new TypeError('groupId must be a string')
    const c = this.coordinators.get(groupId)
    const committed = await this.host.offsetStore.fetch(groupId)
    const offsets: PartitionLag[] = committed
      .filter((o) => {
        const n = this.host.partitionCount(o.topic)
        return n !== undefined && o.partition < n
      })
      .map((o) => {
        const { logEndOffset } = this.host.offsets(o.topic, o.partition)
        return {
          topic: o.topic,
          partition: o.partition,
          committed: o.offset,
          logEndOffset,
          lag: logEndOffset - o.offset,
        }
      })
    return {
      groupId,
      state: c?.state ?? 'Empty',
      members: c ? [...c.members.keys()].map((memberId) => ({ memberId, assignment: c.assignmentOf(memberId) })) : [],
      offsets,
    }
  }

  async fetchOffsets(groupId: string, topic?: string): Promise<CommittedOffset[]> {
    this.host.assertOpen()
    if (typeof groupId !== 'string') throw new TypeError('groupId must be a string')
    return this.host.offsetStore.fetch(groupId, topic)
  }

  async resetOffsets(options: { groupId: string; topic: string; to: ResetOffsetsTo }): Promise<void> {
    this.host.assertOpen()
    const { groupId, topic, to } = options ?? ({} as never)
    if (typeof groupId !== 'string' || typeof topic !== 'string')
      throw new TypeError('resetOffsets needs groupId and topic')
    const count = this.host.partitionCount(topic)
    if (count === undefined) throw new SeglogError('TOPIC_NOT_FOUND', `topic '${topic}' does not exist`)
    this.assertEmpty(groupId, 'resetting offsets')
    const commits: { topic: string; partition: number; offset: number }[] = []
    if (typeof to === 'object' && to !== null && 'offsets' in to) {
      for (const { partition, offset } of to.offsets) {
        const { logStartOffset, logEndOffset } = this.host.offsets(topic, partition)
        if (!Number.isSafeInteger(offset) || offset < logStartOffset || offset > logEndOffset) {
          throw new SeglogError(
            'OFFSET_OUT_OF_RANGE',
            `offset ${offset} is outside partition ${partition} of '${topic}'`,
            {
              offset,
            },
          )
        }
        commits.push({ topic, partition, offset })
      }
    } else {
      for (let partition = 0; partition < count; partition++) {
        const { logStartOffset, logEndOffset } = this.host.offsets(topic, partition)
        let offset: number
        if (to === 'earliest') offset = logStartOffset
        else if (to === 'latest') offset = logEndOffset
        else if (
          typeof to === 'object' &&
          to !== null &&
          typeof (to as { timestamp?: unknown }).timestamp === 'number'
        ) {
          offset =
            this.host.offsetForTimestamp(topic, partition, (to as { timestamp: number }).timestamp) ?? logEndOffset
        } else throw new TypeError("to must be 'earliest', 'latest', { timestamp } or { offsets }")
        commits.push({ topic, partition, offset })
      }
    }
    await this.host.offsetStore.commit(groupId, commits)
  }

  async deleteGroup(groupId: string): Promise<void> {
    this.host.assertOpen()
    if (typeof groupId !== 'string') throw new TypeError('groupId must be a string')
    this.assertEmpty(groupId, 'deleting it')
    this.coordinators.delete(groupId)
    await this.host.offsetStore.deleteGroup(groupId)
  }
}
