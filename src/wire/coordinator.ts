/**
 * The group coordinator for consumer groups whose members speak Kafka's wire protocol: Kafka's GroupCoordinator
 * state machine (client-side assignment) for the one broker seglog serves.
 *
 * States per group: Empty → PreparingRebalance (join phase) → CompletingRebalance (waiting for the leader's
 * SyncGroup) → Stable; any membership change sends Stable/CompletingRebalance back to PreparingRebalance.
 * - Join phase: every member must send JoinGroup again. It completes as soon as every known member has rejoined
 *   and no member id handed out by MEMBER_ID_REQUIRED is still outstanding, or else when the group's rebalance
 *   timeout (the largest of its members') runs out: members that did not rejoin are dropped. The first join of a
 *   group that was empty waits `initialRebalanceDelayMs` after the last new member (Kafka's
 *   group.initial.rebalance.delay.ms, 3 s there; 0 here by default, so a group forms at once).
 * - Completion bumps the generation, elects a leader (the first member; a new one when the leader left), picks
 *   the protocol (each member votes for its first protocol that every member supports, the most votes win, ties
 *   go by the leader's preference), answers every JoinGroup (only the leader's carries the member list with each
 *   member's metadata for that protocol). Followers' SyncGroup waits for the leader's, which carries every
 *   member's assignment; the group is then Stable. Members that do not send SyncGroup within the rebalance
 *   timeout are dropped (a leader that never syncs cannot hold the group forever).
 * - Fencing: a request naming an unknown member is UNKNOWN_MEMBER_ID, one from another generation
 *   ILLEGAL_GENERATION; Heartbeat and SyncGroup answer REBALANCE_IN_PROGRESS during a join phase and OffsetCommit
 *   while the group waits for its assignment, so members rejoin.
 * - Liveness: a member with no heartbeat (or join, sync, commit) for its session timeout is removed and the group
 *   rebalances; members waiting in a JoinGroup or SyncGroup are kept alive (their wait is bounded by the
 *   rebalance timeout). A member whose connection closes is removed at once (`connectionClosed`), unlike Kafka,
 *   so a killed consumer's partitions move without waiting for its session to expire.
 *
 * Invariants: a group holds its claim (`claim`, the engine's guard against in-process consumers joining the same
 * group id) exactly while it has members or outstanding member ids; every pending JoinGroup/SyncGroup promise is
 * answered exactly once (on completion, removal of its member, a newer request of the same member, or `close`);
 * all timing goes through the injected clock.
 *
 * Concurrency: event-loop only; every method runs to completion synchronously (promises only carry answers).
 */
import { randomUUID } from 'node:crypto'
import { channel } from 'node:diagnostics_channel'
import { isSeglogError } from '../errors.js'
import type { WireGroupView } from './host.js'
import { KafkaError } from './protocol/errors.js'

/**
 * What the coordinator reports (`{ groupId, message }`): members removed for a timeout, a wire client refused
 * from a group with in-process consumers. The default `log` publishes here, and also writes refusals to stderr
 * once per group id (they are a setup mistake a developer must see).
 */
export const wireGroupChannel = channel('seglog:wire:group')

export type WireGroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

export interface CoordinatorClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** The real clock; its timers do not keep the process alive (the server's sockets do). */
export const systemClock: CoordinatorClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export interface CoordinatorOptions {
  /**
   * Takes the engine's claim on a group id for wire members; throws a SeglogError GROUP_NOT_EMPTY when
   * in-process consumers are in the group. Returns the release function.
   */
  claim: (groupId: string, view: () => WireGroupView) => () => void
  clock?: CoordinatorClock
  /** Delay before the first join of an empty group completes (after the last member that joined). Default 0. */
  initialRebalanceDelayMs?: number
  /** Session timeouts accepted in JoinGroup (else INVALID_SESSION_TIMEOUT). Defaults 100 and 1,800,000 ms. */
  minSessionTimeoutMs?: number
  maxSessionTimeoutMs?: number
  /** Decodes the consumer protocol's assignment bytes for the engine's view (null when they do not parse). */
  decodeAssignment?: (assignment: Buffer) => { topic: string; partition: number }[] | null
  /** A member id for a new member. Default: `<clientId>-<uuid>`, as Kafka makes them. */
  newMemberId?: (clientId: string) => string
  /**
   * Where the coordinator reports what an operator should know (a group refused, members dropped); `refusal` is
   * true for a client refused from a group (a setup mistake, not an event of normal operation).
   */
  log?: (message: string, groupId: string, refusal: boolean) => void
  /**
   * Called when a member must rejoin (its group started a join phase before it rejoined) with the connection and
   * client id of its JoinGroup; the returned function is called once it rejoined, left or the phase ended. The
   * server uses it to cut that client's Fetch long polls short, so it reaches its next Heartbeat sooner.
   */
  hurry?: (member: { connection: unknown; clientId: string }) => () => void
}

export interface JoinProtocol {
  name: string
  metadata: Buffer
}

export interface JoinRequest {
  groupId: string
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: readonly JoinProtocol[]
  /** JoinGroup v4+: a member without an id first gets MEMBER_ID_REQUIRED and an id to rejoin with. */
  requireKnownMemberId: boolean
  /** The connection the request came on: closing it removes the member. Compared by identity. */
  connection: unknown
}

export interface JoinMember {
  memberId: string
  groupInstanceId: string | null
  metadata: Buffer
}

export interface JoinResult {
  error: number
  generationId: number
  protocolName: string
  leaderId: string
  memberId: string
  /** Non-empty for the leader only. */
  members: JoinMember[]
}

export interface SyncRequest {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId: string | null
  assignments: readonly { memberId: string; assignment: Buffer }[]
}

export interface SyncResult {
  error: number
  assignment: Buffer
}

export interface LeaveResult {
  error: number
  members: { memberId: string; groupInstanceId: string | null; error: number }[]
}

export interface GroupSummary {
  groupId: string
  state: WireGroupState
  protocolType: string
  /** The selected protocol while Stable, else ''. */
  protocol: string
  members: {
    memberId: string
    groupInstanceId: string | null
    clientId: string
    clientHost: string
    /** The member's metadata for the selected protocol and its assignment; empty unless the group is Stable. */
    metadata: Buffer
    assignment: Buffer
  }[]
}

const EMPTY = Buffer.alloc(0)
const MAX_TIMER_MS = 2 ** 31 - 1

interface Member {
  readonly memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocols: readonly JoinProtocol[]
  assignment: Buffer
  connection: unknown
  /** Session expiry (ms on the clock); ignored while the member waits in a join or sync. */
  deadline: number
  awaitingJoin: ((r: JoinResult) => void) | null
  awaitingSync: ((r: SyncResult) => void) | null
  /** Sent SyncGroup in the current generation. */
  synced: boolean
  /** Releases the `hurry` hold taken while the member must rejoin. */
  unhurry: (() => void) | null
}

interface PendingMember {
  readonly memberId: string
  connection: unknown
  deadline: number
}

class Group {
  state: WireGroupState = 'Empty'
  generation = 0
  protocolType: string | null = null
  protocol: string | null = null
  leaderId: string | null = null
  /** Insertion order: the first member is the leader unless it left. */
  readonly members = new Map<string, Member>()
  readonly pending = new Map<string, PendingMember>()
  release: (() => void) | null = null
  /** This join phase started from Empty (Kafka's initial delayed join). */
  initialJoin = false
  joinDeadlineTimer: unknown = null
  initialDelayTimer: unknown = null
  syncTimer: unknown = null
  sweepTimer: unknown = null
  sweepAt = Number.POSITIVE_INFINITY

  constructor(readonly groupId: string) {}

  get rebalanceTimeoutMs(): number {
    let max = 0
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs)
    return max
  }

  allJoined(): boolean {
    if (this.pending.size > 0) return false
    for (const m of this.members.values()) if (m.awaitingJoin === null) return false
    return true
  }

  /**
   * Whether a member (`self`, when it is already in the group) may bring these protocols: Kafka's
   * supportsProtocols, checked against the other members (any non-empty set when there are none).
   */
  supports(protocolType: string, names: readonly string[], self?: Member): boolean {
    if (protocolType.length === 0 || names.length === 0) return false
    const others = this.members.size - (self !== undefined && this.members.has(self.memberId) ? 1 : 0)
    if (others === 0) return true
    if (protocolType !== this.protocolType) return false
    return names.some((n) => this.everyMemberSupports(n, self))
  }

  everyMemberSupports(name: string, except?: Member): boolean {
    for (const m of this.members.values()) {
      if (m !== except && !m.protocols.some((p) => p.name === name)) return false
    }
    return true
  }

  selectProtocol(): string {
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId)
    const first = leader ?? this.members.values().next().value!
    const candidates = first.protocols.map((p) => p.name).filter((n) => this.everyMemberSupports(n))
    // Never empty: every accepted JoinGroup kept at least one protocol common to all members.
    const votes = new Map<string, number>(candidates.map((c) => [c, 0]))
    for (const m of this.members.values()) {
      const vote = m.protocols.find((p) => votes.has(p.name))
      if (vote !== undefined) votes.set(vote.name, votes.get(vote.name)! + 1)
    }
    let best = candidates[0] ?? first.protocols[0].name
    for (const c of candidates) if (votes.get(c)! > votes.get(best)!) best = c
    return best
  }

  metadataFor(member: Member): Buffer {
    return member.protocols.find((p) => p.name === this.protocol)?.metadata ?? EMPTY
  }
}

function sameProtocols(a: readonly JoinProtocol[], b: readonly JoinProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i].name && p.metadata.equals(b[i].metadata))
}

function validGroupId(groupId: string): boolean {
  return groupId.length > 0 && !groupId.includes('\0')
}

export class WireCoordinator {
  private readonly groups = new Map<string, Group>()
  private readonly clock: CoordinatorClock
  private readonly initialDelayMs: number
  private readonly minSessionMs: number
  private readonly maxSessionMs: number
  private readonly newMemberId: (clientId: string) => string
  private readonly log: (message: string, groupId: string, refusal: boolean) => void
  private closed = false

  constructor(private readonly options: CoordinatorOptions) {
    this.clock = options.clock ?? systemClock
    this.initialDelayMs = options.initialRebalanceDelayMs ?? 0
    this.minSessionMs = options.minSessionTimeoutMs ?? 100
    this.maxSessionMs = options.maxSessionTimeoutMs ?? 1_800_000
    this.newMemberId = options.newMemberId ?? ((clientId) => `${clientId}-${randomUUID()}`)
    const warned = new Set<string>()
    this.log =
      options.log ??
      ((message, groupId, refusal) => {
        if (wireGroupChannel.hasSubscribers) wireGroupChannel.publish({ groupId, message })
        if (refusal && !warned.has(groupId)) {
          warned.add(groupId)
          console.warn(`seglog: ${message}`)
        }
      })
  }

  // ---- JoinGroup ----

  join(req: JoinRequest): Promise<JoinResult> {
    const fail = (error: number, memberId = req.memberId): Promise<JoinResult> =>
      Promise.resolve({ error, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] })
    if (this.closed) return fail(KafkaError.NOT_COORDINATOR)
    if (!validGroupId(req.groupId)) return fail(KafkaError.INVALID_GROUP_ID)
    if (req.sessionTimeoutMs < this.minSessionMs || req.sessionTimeoutMs > this.maxSessionMs) {
      return fail(KafkaError.INVALID_SESSION_TIMEOUT)
    }
    // Node timers take at most 2^31-1 ms; a negative rebalance timeout means none.
    req = { ...req, rebalanceTimeoutMs: Math.min(Math.max(0, req.rebalanceTimeoutMs), MAX_TIMER_MS) }
    const names = req.protocols.map((p) => p.name)
    let g = this.groups.get(req.groupId)

    if (req.memberId === '') {
      if (g !== undefined ? !g.supports(req.protocolType, names) : req.protocolType === '' || names.length === 0) {
        return fail(KafkaError.INCONSISTENT_GROUP_PROTOCOL)
      }
      if (g === undefined) {
        g = new Group(req.groupId)
        this.groups.set(req.groupId, g)
      }
      const claimError = this.takeClaim(g)
      if (claimError !== KafkaError.NONE) return fail(claimError)
      const memberId = this.newMemberId(req.clientId)
      if (req.requireKnownMemberId) {
        g.pending.set(memberId, { memberId, connection: req.connection, deadline: this.now() + req.sessionTimeoutMs })
        this.armSweep(g)
        return fail(KafkaError.MEMBER_ID_REQUIRED, memberId)
      }
      return this.addMember(g, memberId, req)
    }

    if (g === undefined) return fail(KafkaError.UNKNOWN_MEMBER_ID)
    if (g.pending.has(req.memberId)) {
      if (!g.supports(req.protocolType, names)) return fail(KafkaError.INCONSISTENT_GROUP_PROTOCOL)
      g.pending.delete(req.memberId)
      return this.addMember(g, req.memberId, req)
    }
    const member = g.members.get(req.memberId)
    if (member === undefined) return fail(KafkaError.UNKNOWN_MEMBER_ID)
    if (!g.supports(req.protocolType, names, member)) return fail(KafkaError.INCONSISTENT_GROUP_PROTOCOL)

    switch (g.state) {
      case 'PreparingRebalance':
        return this.updateMember(g, member, req)
      case 'CompletingRebalance':
        if (sameProtocols(member.protocols, req.protocols)) {
          // A JoinGroup response lost on the way: the same answer again.
          member.connection = req.connection
          return Promise.resolve(this.joinResult(g, member))
        }
        return this.updateMember(g, member, req)
      case 'Stable':
        if (member.memberId === g.leaderId || !sameProtocols(member.protocols, req.protocols)) {
          // The leader rejoining is how a client asks for a rebalance (its subscription changed).
          return this.updateMember(g, member, req)
        }
        member.connection = req.connection
        return Promise.resolve(this.joinResult(g, member))
      default:
        return fail(KafkaError.UNKNOWN_MEMBER_ID)
    }
  }

  private addMember(g: Group, memberId: string, req: JoinRequest): Promise<JoinResult> {
    return new Promise((resolve) => {
      const member: Member = {
        memberId,
        groupInstanceId: req.groupInstanceId,
        clientId: req.clientId,
        clientHost: req.clientHost,
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        protocols: req.protocols,
        assignment: EMPTY,
        connection: req.connection,
        deadline: this.now() + req.sessionTimeoutMs,
        awaitingJoin: resolve,
        awaitingSync: null,
        synced: false,
        unhurry: null,
      }
      if (g.members.size === 0) g.protocolType = req.protocolType
      g.members.set(memberId, member)
      if (g.leaderId === null) g.leaderId = memberId
      if (g.state === 'PreparingRebalance') {
        if (g.initialJoin) this.armInitialDelay(g)
        this.maybeCompleteJoin(g)
      } else {
        this.prepareRebalance(g)
      }
    })
  }

  private updateMember(g: Group, member: Member, req: JoinRequest): Promise<JoinResult> {
    return new Promise((resolve) => {
      member.protocols = req.protocols
      member.sessionTimeoutMs = req.sessionTimeoutMs
      member.rebalanceTimeoutMs = req.rebalanceTimeoutMs
      member.groupInstanceId = req.groupInstanceId
      member.clientId = req.clientId
      member.clientHost = req.clientHost
      member.connection = req.connection
      this.unhurry(member)
      // A second JoinGroup while one waits: the newer one is answered, the older one told to rejoin.
      member.awaitingJoin?.(this.joinError(member.memberId, KafkaError.REBALANCE_IN_PROGRESS))
      member.awaitingJoin = resolve
      if (g.state === 'PreparingRebalance') this.maybeCompleteJoin(g)
      else this.prepareRebalance(g)
    })
  }

  private joinError(memberId: string, error: number): JoinResult {
    return { error, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] }
  }

  private joinResult(g: Group, member: Member): JoinResult {
    const leader = member.memberId === g.leaderId
    return {
      error: KafkaError.NONE,
      generationId: g.generation,
      protocolName: g.protocol ?? '',
      leaderId: g.leaderId ?? '',
      memberId: member.memberId,
      members: leader
        ? [...g.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: g.metadataFor(m),
          }))
        : [],
    }
  }

  private prepareRebalance(g: Group): void {
    if (g.state === 'CompletingRebalance') {
      for (const m of g.members.values()) {
        m.awaitingSync?.({ error: KafkaError.REBALANCE_IN_PROGRESS, assignment: EMPTY })
        m.awaitingSync = null
      }
    }
    this.clearTimer(g, 'syncTimer')
    g.initialJoin = g.state === 'Empty'
    g.state = 'PreparingRebalance'
    if (this.options.hurry !== undefined) {
      for (const m of g.members.values()) {
        if (m.awaitingJoin === null && m.unhurry === null) m.unhurry = this.options.hurry(m)
      }
    }
    this.clearTimer(g, 'joinDeadlineTimer')
    g.joinDeadlineTimer = this.clock.setTimeout(() => {
      g.joinDeadlineTimer = null
      this.completeJoin(g)
    }, g.rebalanceTimeoutMs)
    if (g.initialJoin) this.armInitialDelay(g)
    this.maybeCompleteJoin(g)
  }

  private armInitialDelay(g: Group): void {
    if (this.initialDelayMs <= 0) return
    this.clearTimer(g, 'initialDelayTimer')
    g.initialDelayTimer = this.clock.setTimeout(() => {
      g.initialDelayTimer = null
      this.maybeCompleteJoin(g)
    }, this.initialDelayMs)
  }

  private maybeCompleteJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance' || g.initialDelayTimer !== null) return
    if (g.allJoined()) this.completeJoin(g)
  }

  private completeJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance') return
    this.clearTimer(g, 'joinDeadlineTimer')
    this.clearTimer(g, 'initialDelayTimer')
    const late = [...g.members.values()].filter((m) => m.awaitingJoin === null)
    for (const m of late) {
      this.log(
        `group '${g.groupId}': member ${m.memberId} did not rejoin within the rebalance timeout; removed`,
        g.groupId,
        false,
      )
      this.dropMember(g, m)
    }
    g.generation++
    if (g.members.size === 0) {
      g.state = 'Empty'
      g.protocol = null
      g.protocolType = null
      g.leaderId = null
      this.maybeRelease(g)
      return
    }
    if (g.leaderId === null || !g.members.has(g.leaderId)) g.leaderId = g.members.keys().next().value!
    g.protocol = g.selectProtocol()
    g.state = 'CompletingRebalance'
    const now = this.now()
    for (const m of g.members.values()) {
      const answer = m.awaitingJoin!
      this.unhurry(m)
      m.awaitingJoin = null
      m.synced = false
      m.assignment = EMPTY
      m.deadline = now + m.sessionTimeoutMs
      answer(this.joinResult(g, m))
    }
    g.syncTimer = this.clock.setTimeout(() => {
      g.syncTimer = null
      this.expireUnsynced(g)
    }, g.rebalanceTimeoutMs)
    this.armSweep(g)
  }

  private expireUnsynced(g: Group): void {
    if (g.state !== 'CompletingRebalance' && g.state !== 'Stable') return
    const unsynced = [...g.members.values()].filter((m) => !m.synced)
    if (unsynced.length === 0) return
    for (const m of unsynced) {
      this.log(
        `group '${g.groupId}': member ${m.memberId} sent no SyncGroup within the rebalance timeout; removed`,
        g.groupId,
        false,
      )
      this.dropMember(g, m)
    }
    this.prepareRebalance(g)
  }

  // ---- SyncGroup ----

  sync(req: SyncRequest): Promise<SyncResult> {
    const fail = (error: number): Promise<SyncResult> => Promise.resolve({ error, assignment: EMPTY })
    if (this.closed) return fail(KafkaError.NOT_COORDINATOR)
    if (!validGroupId(req.groupId)) return fail(KafkaError.INVALID_GROUP_ID)
    const g = this.groups.get(req.groupId)
    const member = g?.members.get(req.memberId)
    if (g === undefined || member === undefined) return fail(KafkaError.UNKNOWN_MEMBER_ID)
    if (req.generationId !== g.generation) return fail(KafkaError.ILLEGAL_GENERATION)
    switch (g.state) {
      case 'PreparingRebalance':
        return fail(KafkaError.REBALANCE_IN_PROGRESS)
      case 'CompletingRebalance':
        return new Promise((resolve) => {
          member.awaitingSync?.({ error: KafkaError.REBALANCE_IN_PROGRESS, assignment: EMPTY })
          member.awaitingSync = resolve
          member.synced = true
          if (member.memberId === g.leaderId) this.applyAssignment(g, req.assignments)
        })
      case 'Stable':
        member.synced = true
        member.deadline = this.now() + member.sessionTimeoutMs
        return Promise.resolve({ error: KafkaError.NONE, assignment: member.assignment })
      default:
        return fail(KafkaError.UNKNOWN_MEMBER_ID)
    }
  }

  private applyAssignment(g: Group, assignments: SyncRequest['assignments']): void {
    const given = new Map(assignments.map((a) => [a.memberId, a.assignment]))
    const now = this.now()
    g.state = 'Stable'
    for (const m of g.members.values()) {
      // Copied: the request's bytes are views into a frame the connection may reuse.
      m.assignment = Buffer.from(given.get(m.memberId) ?? EMPTY)
      const answer = m.awaitingSync
      if (answer !== null) {
        m.awaitingSync = null
        m.deadline = now + m.sessionTimeoutMs
        answer({ error: KafkaError.NONE, assignment: m.assignment })
      }
    }
    this.armSweep(g)
  }

  // ---- Heartbeat ----

  heartbeat(groupId: string, memberId: string, generationId: number): number {
    if (this.closed) return KafkaError.NOT_COORDINATOR
    if (!validGroupId(groupId)) return KafkaError.INVALID_GROUP_ID
    const g = this.groups.get(groupId)
    const member = g?.members.get(memberId)
    if (g === undefined || member === undefined) return KafkaError.UNKNOWN_MEMBER_ID
    if (generationId !== g.generation) return KafkaError.ILLEGAL_GENERATION
    member.deadline = this.now() + member.sessionTimeoutMs
    return g.state === 'PreparingRebalance' ? KafkaError.REBALANCE_IN_PROGRESS : KafkaError.NONE
  }

  // ---- LeaveGroup ----

  leave(groupId: string, leaving: readonly { memberId: string; groupInstanceId: string | null }[]): LeaveResult {
    if (this.closed) return { error: KafkaError.NOT_COORDINATOR, members: [] }
    if (!validGroupId(groupId)) return { error: KafkaError.INVALID_GROUP_ID, members: [] }
    const g = this.groups.get(groupId)
    const members = leaving.map(({ memberId, groupInstanceId }) => {
      let error: number = KafkaError.NONE
      let id = memberId
      if (id === '' && groupInstanceId !== null && g !== undefined) {
        id = [...g.members.values()].find((m) => m.groupInstanceId === groupInstanceId)?.memberId ?? ''
      }
      const member = g?.members.get(id)
      if (g === undefined) error = KafkaError.UNKNOWN_MEMBER_ID
      else if (g.pending.has(id)) this.removePending(g, id)
      else if (member === undefined) error = KafkaError.UNKNOWN_MEMBER_ID
      else this.removeMember(g, member)
      return { memberId, groupInstanceId, error }
    })
    return { error: KafkaError.NONE, members }
  }

  /** Removes every member (and outstanding member id) whose latest JoinGroup came on `connection`. */
  connectionClosed(connection: unknown): void {
    if (this.closed) return
    for (const g of this.groups.values()) {
      for (const p of [...g.pending.values()]) if (p.connection === connection) this.removePending(g, p.memberId)
      for (const m of [...g.members.values()]) {
        if (m.connection === connection && g.members.get(m.memberId) === m) {
          this.removeMember(g, m)
        }
      }
    }
  }

  // ---- OffsetCommit ----

  /**
   * Whether an OffsetCommit may be stored (Kafka's checks): NONE, or the error every partition gets. Generation
   * −1 with no member is a simple commit, allowed while the group has no members (wire or in-process); with a
   * member id the member and its generation are checked, and a valid commit counts as a heartbeat.
   */
  checkCommit(groupId: string, memberId: string, generationId: number): number {
    if (this.closed) return KafkaError.NOT_COORDINATOR
    if (!validGroupId(groupId)) return KafkaError.INVALID_GROUP_ID
    const g = this.groups.get(groupId)
    const empty = g === undefined || (g.members.size === 0 && g.pending.size === 0)
    if (generationId < 0 && empty) return this.probeClaim(groupId)
    if (g === undefined) return KafkaError.ILLEGAL_GENERATION
    if (g.state === 'CompletingRebalance') return KafkaError.REBALANCE_IN_PROGRESS
    const member = g.members.get(memberId)
    if (member === undefined) return KafkaError.UNKNOWN_MEMBER_ID
    if (generationId !== g.generation) return KafkaError.ILLEGAL_GENERATION
    member.deadline = this.now() + member.sessionTimeoutMs
    return KafkaError.NONE
  }

  // ---- admin ----

  /** The group as DescribeGroups shows it; undefined when this coordinator never saw it. */
  describe(groupId: string): GroupSummary | undefined {
    const g = this.groups.get(groupId)
    if (g === undefined) return undefined
    const stable = g.state === 'Stable'
    return {
      groupId,
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocol: stable ? (g.protocol ?? '') : '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? g.metadataFor(m) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    }
  }

  /** Every group this coordinator knows, including empty ones (they keep their generation). */
  list(): { groupId: string; protocolType: string; state: WireGroupState }[] {
    return [...this.groups.values()].map((g) => ({
      groupId: g.groupId,
      protocolType: g.protocolType ?? '',
      state: g.state,
    }))
  }

  /** True while the group has members or outstanding member ids (DeleteGroups answers NON_EMPTY_GROUP). */
  isActive(groupId: string): boolean {
    const g = this.groups.get(groupId)
    return g !== undefined && (g.members.size > 0 || g.pending.size > 0)
  }

  /** Forgets an empty group (DeleteGroups). */
  forget(groupId: string): void {
    if (!this.isActive(groupId)) this.groups.delete(groupId)
  }

  /** Ends every group: pending joins and syncs are answered NOT_COORDINATOR, claims released, timers cleared. */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const g of this.groups.values()) {
      for (const m of g.members.values()) {
        this.unhurry(m)
        m.awaitingJoin?.(this.joinError(m.memberId, KafkaError.NOT_COORDINATOR))
        m.awaitingJoin = null
        m.awaitingSync?.({ error: KafkaError.NOT_COORDINATOR, assignment: EMPTY })
        m.awaitingSync = null
      }
      for (const t of ['joinDeadlineTimer', 'initialDelayTimer', 'syncTimer', 'sweepTimer'] as const) {
        this.clearTimer(g, t)
      }
      g.members.clear()
      g.pending.clear()
      g.state = 'Dead'
      this.maybeRelease(g)
    }
    this.groups.clear()
  }

  // ---- membership internals ----

  private removeMember(g: Group, m: Member): void {
    this.dropMember(g, m)
    switch (g.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(g)
        break
      case 'PreparingRebalance':
        this.maybeCompleteJoin(g)
        break
      default:
        break
    }
    this.maybeRelease(g)
  }

  /** Takes the member out, answering what it waits for; the caller decides what the group does next. */
  private dropMember(g: Group, m: Member): void {
    g.members.delete(m.memberId)
    this.unhurry(m)
    m.awaitingJoin?.(this.joinError(m.memberId, KafkaError.UNKNOWN_MEMBER_ID))
    m.awaitingJoin = null
    m.awaitingSync?.({ error: KafkaError.UNKNOWN_MEMBER_ID, assignment: EMPTY })
    m.awaitingSync = null
    if (g.leaderId === m.memberId) g.leaderId = g.members.keys().next().value ?? null
  }

  private unhurry(m: Member): void {
    const release = m.unhurry
    m.unhurry = null
    release?.()
  }

  private removePending(g: Group, memberId: string): void {
    g.pending.delete(memberId)
    this.maybeCompleteJoin(g)
    this.maybeRelease(g)
  }

  /**
   * Takes the group's claim unless it holds it: NONE, INCONSISTENT_GROUP_PROTOCOL when in-process consumers are
   * in the group, COORDINATOR_NOT_AVAILABLE when the engine cannot take it (closing). Anything but a SeglogError
   * is a bug and is thrown.
   */
  private takeClaim(g: Group): number {
    if (g.release !== null) return KafkaError.NONE
    try {
      g.release = this.options.claim(g.groupId, () => this.view(g))
      return KafkaError.NONE
    } catch (err) {
      if (!isSeglogError(err)) throw err
      if (g.members.size === 0 && g.pending.size === 0 && g.generation === 0) this.groups.delete(g.groupId)
      if (err.code !== 'GROUP_NOT_EMPTY') return KafkaError.COORDINATOR_NOT_AVAILABLE
      this.log(
        `group '${g.groupId}' has in-process consumers; a Kafka client cannot join it (INCONSISTENT_GROUP_PROTOCOL): ${err.message}`,
        g.groupId,
        true,
      )
      return KafkaError.INCONSISTENT_GROUP_PROTOCOL
    }
  }

  /**
   * Whether a commit without membership may be stored: NONE when no in-process consumer holds the group,
   * UNKNOWN_MEMBER_ID (Kafka's answer for a non-empty group) when one does, COORDINATOR_NOT_AVAILABLE when the
   * engine cannot tell (closing).
   */
  private probeClaim(groupId: string): number {
    const g = this.groups.get(groupId)
    if (g?.release != null) return KafkaError.NONE
    try {
      const release = this.options.claim(groupId, () => ({
        state: 'Empty',
        protocolType: '',
        protocol: '',
        members: [],
      }))
      release()
      return KafkaError.NONE
    } catch (err) {
      if (!isSeglogError(err)) throw err
      if (err.code !== 'GROUP_NOT_EMPTY') return KafkaError.COORDINATOR_NOT_AVAILABLE
      this.log(
        `group '${groupId}' has in-process consumers; an OffsetCommit without membership is refused`,
        groupId,
        true,
      )
      return KafkaError.UNKNOWN_MEMBER_ID
    }
  }

  private maybeRelease(g: Group): void {
    if (g.members.size > 0 || g.pending.size > 0 || g.release === null) return
    const release = g.release
    g.release = null
    release()
  }

  private view(g: Group): WireGroupView {
    const stable = g.state === 'Stable'
    return {
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocol: g.protocol ?? '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        assignment: stable ? (this.options.decodeAssignment?.(m.assignment) ?? []) : [],
      })),
    }
  }

  // ---- timers ----

  private now(): number {
    return this.clock.now()
  }

  private clearTimer(g: Group, which: 'joinDeadlineTimer' | 'initialDelayTimer' | 'syncTimer' | 'sweepTimer'): void {
    if (g[which] !== null) {
      this.clock.clearTimeout(g[which])
      g[which] = null
    }
    if (which === 'sweepTimer') g.sweepAt = Number.POSITIVE_INFINITY
  }

  /**
   * One session timer per group, at the earliest deadline. Heartbeats only move deadlines later, so they do not
   * touch the timer: when it fires it removes what expired and re-arms for the next deadline.
   */
  private armSweep(g: Group): void {
    let next = Number.POSITIVE_INFINITY
    for (const m of g.members.values()) {
      if (m.awaitingJoin === null && m.awaitingSync === null) next = Math.min(next, m.deadline)
    }
    for (const p of g.pending.values()) next = Math.min(next, p.deadline)
    if (next === Number.POSITIVE_INFINITY) {
      this.clearTimer(g, 'sweepTimer')
      return
    }
    if (g.sweepTimer !== null && g.sweepAt <= next) return
    this.clearTimer(g, 'sweepTimer')
    g.sweepAt = next
    g.sweepTimer = this.clock.setTimeout(
      () => {
        g.sweepTimer = null
        g.sweepAt = Number.POSITIVE_INFINITY
        this.sweep(g)
      },
      Math.max(0, next - this.now()),
    )
  }

  private sweep(g: Group): void {
    if (this.closed) return
    const now = this.now()
    for (const p of [...g.pending.values()]) {
      if (p.deadline <= now) this.removePending(g, p.memberId)
    }
    for (const m of [...g.members.values()]) {
      if (g.members.get(m.memberId) !== m) continue
      if (m.awaitingJoin === null && m.awaitingSync === null && m.deadline <= now) {
        this.log(
          `group '${g.groupId}': member ${m.memberId} sent no heartbeat for ${m.sessionTimeoutMs} ms; removed`,
          g.groupId,
          false,
        )
        this.removeMember(g, m)
      }
    }
    this.armSweep(g)
  }
}
