/**
 * The groups of one engine: the in-process coordinator of each group id, the claims of groups whose members
 * speak Kafka's wire protocol, and the group admin calls (`listGroups`, `describeGroup`, `fetchOffsets`,
 * `resetOffsets`, `deleteGroup`) that the engine's facade exposes.
 *
 * Invariants: one coordinator per group id for the engine's lifetime (until `deleteGroup`); a group id is never
 * both claimed by the wire coordinator and joined by an in-process member (each refuses the other with
 * GROUP_NOT_EMPTY: a group is either wire or in-process while it has members); admin that changes a group's
 * committed offsets (reset, delete) is refused with GROUP_NOT_EMPTY while the group has an active member, in this
 * process or over the wire, as Kafka refuses it for a non-empty group.
 *
 * Concurrency: any call at any time on the event loop; commits are atomic in the offset store.
 */
import { SeglogError } from '../errors.js'
import type { PartitionLag } from './consumer.js'
import { GroupCoordinator, type GroupState, type PartitionAssigner, type TopicPartition } from './group.js'
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
  /** Wire members also show their client id and host. */
  members: { memberId: string; assignment: TopicPartition[]; clientId?: string; clientHost?: string }[]
  offsets: PartitionLag[]
}

/**
 * What a wire-protocol group shows of itself (the wire coordinator's view of a claimed group; the same shape as
 * the wire room's `WireGroupView`, which the clients may not import).
 */
export interface ExternalGroupView {
  state: GroupState
  protocolType: string
  protocol: string
  members: { memberId: string; clientId: string; clientHost: string; assignment: TopicPartition[] }[]
}

export type ResetOffsetsTo =
  | 'earliest'
  | 'latest'
  | { timestamp: number }
  | { offsets: { partition: number; offset: number }[] }

export class Groups {
  private readonly coordinators = new Map<string, GroupCoordinator>()
  /** Groups claimed by the wire coordinator, each with the claim's token and view. */
  private readonly external = new Map<string, { view: () => ExternalGroupView }>()

  constructor(private readonly host: GroupsHost) {}

  /**
   * The in-process coordinator of a group (created on first use). GROUP_NOT_EMPTY while the group has members
   * connected over Kafka's wire protocol.
   */
  coordinator(groupId: string, assigner: PartitionAssigner): GroupCoordinator {
    if (this.external.has(groupId)) {
      throw new SeglogError(
        'GROUP_NOT_EMPTY',
        `group '${groupId}' has members connected over the Kafka wire protocol; an in-process consumer cannot join it (use another groupId, or stop those clients first)`,
      )
    }
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

  /**
   * Marks `groupId` as a wire-protocol group while it has members: in-process consumers then cannot join it
   * (GROUP_NOT_EMPTY from `coordinator`), and `listGroups`/`describeGroup` show it through `view`. Refused with
   * GROUP_NOT_EMPTY while in-process members are in the group, or while it is already claimed. Returns the
   * function that releases the claim (once; later calls do nothing).
   */
  claimExternal(groupId: string, view: () => ExternalGroupView): () => void {
    if ((this.coordinators.get(groupId)?.members.size ?? 0) > 0) {
      throw new SeglogError(
        'GROUP_NOT_EMPTY',
        `group '${groupId}' has in-process consumers; a Kafka wire-protocol client cannot join it (use another group id, or stop those consumers first)`,
      )
    }
    if (this.external.has(groupId)) {
      throw new SeglogError('GROUP_NOT_EMPTY', `group '${groupId}' is already claimed by a wire-protocol listener`)
    }
    const claim = { view }
    this.external.set(groupId, claim)
    return () => {
      if (this.external.get(groupId) === claim) this.external.delete(groupId)
    }
  }

  private assertEmpty(groupId: string, what: string): void {
    if ((this.coordinators.get(groupId)?.members.size ?? 0) > 0) {
      throw new SeglogError('GROUP_NOT_EMPTY', `group '${groupId}' has active members; stop them before ${what}`)
    }
    if (this.external.has(groupId)) {
      throw new SeglogError(
        'GROUP_NOT_EMPTY',
        `group '${groupId}' has members connected over the Kafka wire protocol; stop them before ${what}`,
      )
    }
  }

  /**
   * Every group: active in this process or over the wire, or with committed offsets. `protocolType` is
   * 'consumer' for in-process groups, the members' protocol type for wire groups, '' for offsets-only groups.
   */
  async listGroups(): Promise<{ groupId: string; state: GroupState; members: number; protocolType: string }[]> {
    this.host.assertOpen()
    const ids = new Set([
      ...(await this.host.offsetStore.groups()),
      ...this.coordinators.keys(),
      ...this.external.keys(),
    ])
    return [...ids].sort().map((groupId) => {
      const wire = this.external.get(groupId)?.view()
      if (wire !== undefined) {
        return { groupId, state: wire.state, members: wire.members.length, protocolType: wire.protocolType }
      }
      const c = this.coordinators.get(groupId)
      return {
        groupId,
        state: c?.state ?? 'Empty',
        members: c?.members.size ?? 0,
        protocolType: c === undefined ? '' : 'consumer',
      }
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
    const wire = this.external.get(groupId)?.view()
    if (wire !== undefined) {
      return {
        groupId,
        state: wire.state,
        members: wire.members.map((m) => ({
          memberId: m.memberId,
          assignment: m.assignment,
          clientId: m.clientId,
          clientHost: m.clientHost,
        })),
        offsets,
      }
    }
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
