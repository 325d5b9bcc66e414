/**
 * Consumer groups inside one process: a coordinator per group id that shares the subscribed partitions among
 * the group's members, and the two assignors Kafka users know (range, the default, and round-robin).
 *
 * Rebalance protocol (one at a time per group, serialised on a promise chain):
 * 1. every member is told a rebalance started (`onRebalancing`);
 * 2. every member *revokes* all its partitions and the coordinator waits for all of them: a member stops
 *    fetching, lets the handler in flight finish and commits what it resolved (at-least-once, nothing skipped);
 * 3. the assignment is computed over the members' current subscriptions and partition counts;
 * 4. each member is given its partitions (it reads their committed offsets and starts).
 * Because step 2 completes before step 4 starts, no partition is ever consumed by two members at once.
 *
 * A join, a leave (stop), a subscription change, a new topic or more partitions of a subscribed topic each
 * trigger a rebalance. Different group ids are independent.
 */

/**
 * A group's assignor: one of the two built in, or a custom one. A custom assignor gets every member's current
 * subscription and the partition count of each subscribed topic, and returns each member's partitions (members it
 * leaves out get none; partitions outside a topic's count are dropped). Members of one group must name the same
 * assignor (Kafka's INCONSISTENT_GROUP_PROTOCOL otherwise).
 */
export type PartitionAssigner = 'range' | 'roundrobin' | CustomPartitionAssigner

export interface CustomPartitionAssigner {
  readonly name: string
  assign(
    members: readonly MemberSubscription[],
    partitionCounts: ReadonlyMap<string, number>,
  ): Map<string, TopicPartition[]> | Promise<Map<string, TopicPartition[]>>
}

/** The name an assignor is known by ('range', 'roundrobin' or a custom assignor's `name`). */
export function assignerName(assigner: PartitionAssigner): string {
  return typeof assigner === 'string' ? assigner : assigner.name
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface MemberSubscription {
  memberId: string
  topics: readonly string[]
}

/**
 * Kafka's RangeAssignor: per topic, the members subscribed to it (sorted by id) get consecutive ranges; the
 * first `n % members` get one extra partition.
 */
export function assignRange(
  members: readonly MemberSubscription[],
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>(members.map((m) => [m.memberId, []]))
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort()
  for (const topic of topics) {
    const n = partitionCounts.get(topic) ?? 0
    const subs = members
      .filter((m) => m.topics.includes(topic))
      .map((m) => m.memberId)
      .sort()
    if (subs.length === 0 || n === 0) continue
    const per = Math.floor(n / subs.length)
    const extra = n % subs.length
    subs.forEach((id, i) => {
      const start = i * per + Math.min(i, extra)
      const length = per + (i < extra ? 1 : 0)
      for (let p = start; p < start + length; p++) out.get(id)!.push({ topic, partition: p })
    })
  }
  return out
}

/** Kafka's RoundRobinAssignor: all partitions in (topic, partition) order dealt to subscribed members in turn. */
export function assignRoundRobin(
  members: readonly MemberSubscription[],
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>(members.map((m) => [m.memberId, []]))
  const ids = members.map((m) => m.memberId).sort()
  const subs = new Map(members.map((m) => [m.memberId, new Set(m.topics)]))
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort()
  let next = 0
  for (const topic of topics) {
    const n = partitionCounts.get(topic) ?? 0
    for (let p = 0; p < n; p++) {
      for (let tries = 0; tries < ids.length; tries++) {
        const id = ids[next % ids.length]
        next++
        if (subs.get(id)!.has(topic)) {
          out.get(id)!.push({ topic, partition: p })
          break
        }
      }
    }
  }
  return out
}

/** What the coordinator needs from a member (implemented by Consumer). */
export interface GroupMember {
  readonly memberId: string
  /** Topic names the member subscribes to now (regular expressions resolved against existing topics). */
  subscribedTopics(): string[]
  onRebalancing(generation: number): void
  /** Stops consuming every partition; resolves once in-flight handlers finished and offsets are committed. */
  revoke(): Promise<void>
  /** Starts consuming `partitions` (this generation's assignment). */
  assign(partitions: TopicPartition[], generation: number): Promise<void>
}

/**
 * The states a group shows. In-process groups use Empty, PreparingRebalance and Stable; groups of wire-protocol
 * members (Kafka's full state machine) also CompletingRebalance and Dead.
 */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

let coordinatorCounter = 0

export class GroupCoordinator {
  /**
   * Unique per coordinator: members name the function that awaits their handlers after it, so a call can tell
   * it runs inside one of this group's handlers, where awaiting a rebalance (which waits for every handler in
   * flight) would wait for itself.
   */
  readonly handlerMarker = `seglog group handler #${++coordinatorCounter}`
  readonly members = new Map<string, GroupMember>()
  private assignment = new Map<string, TopicPartition[]>()
  private generation_ = 0
  private state_: GroupState = 'Empty'
  private chain: Promise<void> = Promise.resolve()

  constructor(
    readonly groupId: string,
    private readonly partitionCount: (topic: string) => number | undefined,
    private assigner_: PartitionAssigner,
  ) {}

  get assigner(): PartitionAssigner {
    return this.assigner_
  }

  /**
   * The assignor of a group is chosen by the members that form it: when the group is empty the joining member's
   * assignor is taken; a member with a different one (by name) cannot join a live group (Kafka's
   * INCONSISTENT_GROUP_PROTOCOL). Returns false on a mismatch.
   */
  acceptsAssigner(assigner: PartitionAssigner): boolean {
    if (this.members.size === 0) {
      this.assigner_ = assigner
      return true
    }
    return assignerName(this.assigner_) === assignerName(assigner)
  }

  get generation(): number {
    return this.generation_
  }

  get state(): GroupState {
    return this.state_
  }

  assignmentOf(memberId: string): TopicPartition[] {
    return this.assignment.get(memberId) ?? []
  }

  join(member: GroupMember): Promise<void> {
    this.members.set(member.memberId, member)
    return this.rebalance()
  }

  /** Removes a member after revoking its partitions, then rebalances the rest. */
  leave(member: GroupMember): Promise<void> {
    return this.enqueue(async () => {
      if (!this.members.has(member.memberId)) return
      await member.revoke()
      this.members.delete(member.memberId)
      this.assignment.delete(member.memberId)
      await this.doRebalance()
    })
  }

  rebalance(): Promise<void> {
    return this.enqueue(() => this.doRebalance())
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => {})
    return run
  }

  private async doRebalance(): Promise<void> {
    if (this.members.size === 0) {
      this.state_ = 'Empty'
      this.assignment.clear()
      return
    }
    this.state_ = 'PreparingRebalance'
    this.generation_++
    const generation = this.generation_
    const members = [...this.members.values()]
    for (const m of members) m.onRebalancing(generation)
    await Promise.all(members.map((m) => m.revoke()))
    const subs: MemberSubscription[] = members.map((m) => ({ memberId: m.memberId, topics: m.subscribedTopics() }))
    const counts = new Map<string, number>()
    for (const s of subs) {
      for (const t of s.topics) {
        const n = this.partitionCount(t)
        if (n !== undefined) counts.set(t, n)
      }
    }
    let plan: Map<string, TopicPartition[]>
    let failure: unknown = null
    try {
      plan = await this.plan(subs, counts)
    } catch (err) {
      // A custom assignor failed: every member gets nothing this generation (none is left holding partitions
      // another may be given later), and the rebalance that asked for it rejects with the assignor's error.
      failure = err
      plan = new Map()
    }
    this.assignment = plan
    await Promise.all(members.map((m) => m.assign(plan.get(m.memberId) ?? [], generation)))
    this.state_ = 'Stable'
    if (failure !== null) throw failure
  }

  private async plan(
    subs: readonly MemberSubscription[],
    counts: ReadonlyMap<string, number>,
  ): Promise<Map<string, TopicPartition[]>> {
    const assigner = this.assigner_
    if (assigner === 'roundrobin') return assignRoundRobin(subs, counts)
    if (assigner === 'range') return assignRange(subs, counts)
    const given = await assigner.assign(subs, counts)
    const plan = new Map<string, TopicPartition[]>(subs.map((m) => [m.memberId, []]))
    const taken = new Set<string>()
    for (const [memberId, partitions] of given ?? []) {
      const mine = plan.get(memberId)
      if (mine === undefined || !Array.isArray(partitions)) continue
      for (const tp of partitions) {
        const n = counts.get(tp?.topic)
        const key = `${tp?.topic}\0${tp?.partition}`
        // A partition outside the topic, or given twice, would be consumed by nobody or by two members.
        if (n === undefined || !Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= n) continue
        if (taken.has(key)) continue
        taken.add(key)
        mine.push({ topic: tp.topic, partition: tp.partition })
      }
    }
    return plan
  }
}
