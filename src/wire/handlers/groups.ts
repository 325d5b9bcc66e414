/**
 * The group APIs: FindCoordinator (this broker, node 0, coordinates every group), JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup through one `WireCoordinator`; OffsetCommit/OffsetFetch in the engine's committed-offset
 * store (the one the native API reads, so `fetchOffsets`, `lag()` and `resetOffsets` see wire commits and the
 * reverse); ListGroups, DescribeGroups and DeleteGroups over both the wire groups and the engine's groups.
 *
 * Invariants: each connection that sent a JoinGroup has one close hook, which removes its members at once;
 * `close()` ends every wire group (pending joins and syncs answered, claims released); a failure of the engine
 * becomes the Kafka code of that group or partition, never a thrown error (a bug still throws, and the connection
 * closes).
 */
import { isSeglogError } from '../../errors.js'
import { decodeConsumerAssignment, encodeConsumerAssignment } from '../codecs/consumer-protocol.js'
import { decodeDeleteGroupsRequest, encodeDeleteGroupsResponse } from '../codecs/delete-groups.js'
import {
  type DescribedGroup,
  decodeDescribeGroupsRequest,
  encodeDescribeGroupsResponse,
} from '../codecs/describe-groups.js'
import {
  CoordinatorType,
  decodeFindCoordinatorRequest,
  encodeFindCoordinatorResponse,
} from '../codecs/find-coordinator.js'
import { decodeHeartbeatRequest, encodeHeartbeatResponse } from '../codecs/heartbeat.js'
import { decodeJoinGroupRequest, encodeJoinGroupResponse } from '../codecs/join-group.js'
import { decodeLeaveGroupRequest, encodeLeaveGroupResponse } from '../codecs/leave-group.js'
import { decodeListGroupsRequest, encodeListGroupsResponse } from '../codecs/list-groups.js'
import { decodeOffsetCommitRequest, encodeOffsetCommitResponse } from '../codecs/offset-commit.js'
import {
  decodeOffsetFetchRequest,
  encodeOffsetFetchResponse,
  type OffsetFetchPartition,
} from '../codecs/offset-fetch.js'
import { decodeSyncGroupRequest, encodeSyncGroupResponse } from '../codecs/sync-group.js'
import { type CoordinatorOptions, WireCoordinator } from '../coordinator.js'
import type { ApiEntry, ApiHandler, WireConnection } from '../handler.js'
import type { BrokerHost, WireCommittedOffset } from '../host.js'
import { hurryLongPolls } from '../long-poll.js'
import { ApiKey, type ApiName, VERSIONS } from '../protocol/api-keys.js'
import { KafkaError } from '../protocol/errors.js'
import { errorCodeOf } from './common.js'
import { type Advertiser, NODE_ID } from './metadata.js'

/** How DescribeGroups names the engine's in-process members (they have no Kafka client id or host). */
const IN_PROCESS_CLIENT_ID = 'seglog-in-process'
const IN_PROCESS_HOST = 'in-process'

/** Kafka's offset.metadata.max.bytes. */
export const MAX_OFFSET_METADATA_BYTES = 4096

export interface GroupApisOptions {
  /** Where clients reach this broker (FindCoordinator answers it). */
  advertiser: Advertiser
  /** Coordinator timing, logging and hurrying (the claim is the host's). */
  coordinator?: Omit<CoordinatorOptions, 'claim' | 'decodeAssignment'>
}

/**
 * A failure of the engine in a group API. A closing engine is COORDINATOR_NOT_AVAILABLE, which every client
 * retries by finding the coordinator again; the rest as everywhere else.
 */
function groupErrorCode(err: unknown): number {
  if (isSeglogError(err, 'ENGINE_CLOSED') || isSeglogError(err, 'ABORTED')) return KafkaError.COORDINATOR_NOT_AVAILABLE
  return errorCodeOf(err)
}

function validGroupId(groupId: string): boolean {
  return groupId.length > 0 && !groupId.includes('\0')
}

export function createGroupApis(host: BrokerHost, options: GroupApisOptions): { apis: ApiEntry[]; close(): void } {
  const coordinator = new WireCoordinator({
    hurry: (m) => hurryLongPolls((m.connection as WireConnection).remoteHost, m.clientId),
    ...options.coordinator,
    claim: (groupId, view) => host.claimGroup(groupId, view),
    decodeAssignment: decodeConsumerAssignment,
  })
  const hooked = new WeakSet<WireConnection>()
  const watch = (conn: WireConnection): void => {
    if (hooked.has(conn)) return
    hooked.add(conn)
    conn.onClose(() => coordinator.connectionClosed(conn))
  }

  const entry = (name: ApiName, handle: ApiHandler): ApiEntry => ({
    key: ApiKey[name],
    minVersion: VERSIONS[name].min,
    maxVersion: VERSIONS[name].max,
    handle,
  })

  const findCoordinator: ApiHandler = async (ctx, body) => {
    const req = decodeFindCoordinatorRequest(body, ctx.apiVersion)
    if (req.keyType !== CoordinatorType.GROUP) {
      const transactional = req.keyType === CoordinatorType.TRANSACTION
      return encodeFindCoordinatorResponse(
        {
          throttleTimeMs: 0,
          errorCode: transactional ? KafkaError.COORDINATOR_NOT_AVAILABLE : KafkaError.INVALID_REQUEST,
          errorMessage: transactional ? 'transactions are not supported' : `unknown coordinator type ${req.keyType}`,
          nodeId: -1,
          host: '',
          port: -1,
        },
        ctx.apiVersion,
      )
    }
    const { host: address, port } = options.advertiser.advertise(ctx.connection)
    return encodeFindCoordinatorResponse(
      { throttleTimeMs: 0, errorCode: KafkaError.NONE, errorMessage: null, nodeId: NODE_ID, host: address, port },
      ctx.apiVersion,
    )
  }

  const joinGroup: ApiHandler = async (ctx, body) => {
    const req = decodeJoinGroupRequest(body, ctx.apiVersion)
    watch(ctx.connection)
    const res = await coordinator.join({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: ctx.clientId ?? '',
      // Kafka shows the address as Java's InetAddress prints it.
      clientHost: `/${ctx.connection.remoteHost}`,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
      requireKnownMemberId: ctx.apiVersion >= 4,
      connection: ctx.connection,
    })
    return encodeJoinGroupResponse(
      {
        throttleTimeMs: 0,
        errorCode: res.error,
        generationId: res.generationId,
        protocolName: res.protocolName,
        leader: res.leaderId,
        memberId: res.memberId,
        members: res.members,
      },
      ctx.apiVersion,
    )
  }

  const syncGroup: ApiHandler = async (ctx, body) => {
    const req = decodeSyncGroupRequest(body, ctx.apiVersion)
    const res = await coordinator.sync(req)
    return encodeSyncGroupResponse(
      { throttleTimeMs: 0, errorCode: res.error, assignment: res.assignment },
      ctx.apiVersion,
    )
  }

  const heartbeat: ApiHandler = async (ctx, body) => {
    const req = decodeHeartbeatRequest(body, ctx.apiVersion)
    const errorCode = coordinator.heartbeat(req.groupId, req.memberId, req.generationId)
    return encodeHeartbeatResponse({ throttleTimeMs: 0, errorCode }, ctx.apiVersion)
  }

  const leaveGroup: ApiHandler = async (ctx, body) => {
    const req = decodeLeaveGroupRequest(body, ctx.apiVersion)
    const res = coordinator.leave(req.groupId, req.members)
    const members = res.members.map((m) => ({ ...m, errorCode: m.error }))
    // Before v3 the single member's error is the response's.
    const errorCode = ctx.apiVersion < 3 && res.error === KafkaError.NONE ? (res.members[0]?.error ?? 0) : res.error
    return encodeLeaveGroupResponse({ throttleTimeMs: 0, errorCode, members }, ctx.apiVersion)
  }

  const offsetCommit: ApiHandler = async (ctx, body) => {
    const req = decodeOffsetCommitRequest(body, ctx.apiVersion)
    const groupError = coordinator.checkCommit(req.groupId, req.memberId, req.generationId)
    const codes = req.topics.map((t) => t.partitions.map((): number => groupError))
    if (groupError === KafkaError.NONE) {
      const commits: { topic: string; partition: number; offset: number; metadata: string | null }[] = []
      const committing: [number, number][] = []
      req.topics.forEach((t, ti) => {
        const partitions = host.topic(t.name)?.partitions
        t.partitions.forEach((p, pi) => {
          let code: number = KafkaError.NONE
          if (partitions === undefined || p.partitionIndex < 0 || p.partitionIndex >= partitions) {
            code = KafkaError.UNKNOWN_TOPIC_OR_PARTITION
          } else if (p.metadata !== null && Buffer.byteLength(p.metadata) > MAX_OFFSET_METADATA_BYTES) {
            code = KafkaError.OFFSET_METADATA_TOO_LARGE
          } else if (p.offset < -2) {
            // The store keeps next-offsets to read; a negative one would mean "nothing committed".
            code = KafkaError.OFFSET_OUT_OF_RANGE
          } else {
            // -1 (latest) and -2 (earliest) are what admin tools commit to reset a group (kafkajs's resetOffsets,
            // kafka-consumer-groups): they are resolved to the log end / start now, so the native API, lag() and
            // every client see a real offset.
            let offset = p.offset
            if (offset < 0) {
              const o = host.offsets(t.name, p.partitionIndex)
              offset = offset === -1 ? o.logEndOffset : o.logStartOffset
            }
            commits.push({ topic: t.name, partition: p.partitionIndex, offset, metadata: p.metadata })
            committing.push([ti, pi])
          }
          codes[ti][pi] = code
        })
      })
      if (commits.length > 0) {
        try {
          await host.commitOffsets(req.groupId, commits)
        } catch (err) {
          const code = groupErrorCode(err)
          for (const [ti, pi] of committing) codes[ti][pi] = code
        }
      }
    }
    return encodeOffsetCommitResponse(
      {
        throttleTimeMs: 0,
        topics: req.topics.map((t, ti) => ({
          name: t.name,
          partitions: t.partitions.map((p, pi) => ({ partitionIndex: p.partitionIndex, errorCode: codes[ti][pi] })),
        })),
      },
      ctx.apiVersion,
    )
  }

  const offsetFetch: ApiHandler = async (ctx, body) => {
    const req = decodeOffsetFetchRequest(body, ctx.apiVersion)
    let errorCode: number = validGroupId(req.groupId) ? KafkaError.NONE : KafkaError.INVALID_GROUP_ID
    let committed: WireCommittedOffset[] = []
    if (errorCode === KafkaError.NONE) {
      try {
        committed = await host.fetchOffsets(req.groupId)
      } catch (err) {
        errorCode = groupErrorCode(err)
      }
    }
    const byKey = new Map(committed.map((c) => [`${c.topic}\0${c.partition}`, c]))
    const partition = (topic: string, index: number): OffsetFetchPartition => {
      const c = byKey.get(`${topic}\0${index}`)
      return {
        partitionIndex: index,
        committedOffset: c?.offset ?? -1,
        committedLeaderEpoch: -1,
        metadata: c?.metadata ?? '',
        // v1 has no top-level error: each partition carries it.
        errorCode: ctx.apiVersion < 2 ? errorCode : KafkaError.NONE,
      }
    }
    let topics: { name: string; partitions: OffsetFetchPartition[] }[]
    if (req.topics === null) {
      const byTopic = new Map<string, number[]>()
      for (const c of committed) {
        const list = byTopic.get(c.topic) ?? []
        list.push(c.partition)
        byTopic.set(c.topic, list)
      }
      topics = [...byTopic].map(([name, indexes]) => ({
        name,
        partitions: indexes.sort((a, b) => a - b).map((i) => partition(name, i)),
      }))
    } else {
      topics = req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((i) => partition(t.name, i)),
      }))
    }
    return encodeOffsetFetchResponse({ throttleTimeMs: 0, topics, errorCode }, ctx.apiVersion)
  }

  /** The engine's groups (in-process, wire, offsets only) with the wire coordinator's empty groups added. */
  const allGroups = async (): Promise<Map<string, { protocolType: string; state: string }>> => {
    const out = new Map<string, { protocolType: string; state: string }>()
    for (const g of await host.listGroups()) out.set(g.groupId, { protocolType: g.protocolType, state: g.state })
    for (const g of coordinator.list()) {
      if (!out.has(g.groupId) || coordinator.isActive(g.groupId)) {
        out.set(g.groupId, { protocolType: g.protocolType, state: g.state })
      }
    }
    return out
  }

  const listGroups: ApiHandler = async (ctx, body) => {
    decodeListGroupsRequest(body, ctx.apiVersion)
    let errorCode: number = KafkaError.NONE
    let groups: { groupId: string; protocolType: string }[] = []
    try {
      groups = [...(await allGroups())].map(([groupId, g]) => ({ groupId, protocolType: g.protocolType }))
    } catch (err) {
      errorCode = groupErrorCode(err)
    }
    return encodeListGroupsResponse({ throttleTimeMs: 0, errorCode, groups }, ctx.apiVersion)
  }

  const describeGroups: ApiHandler = async (ctx, body) => {
    const req = decodeDescribeGroupsRequest(body, ctx.apiVersion)
    let known: Map<string, { protocolType: string; state: string }> | null = null
    let failure: number = KafkaError.NONE
    const groups: DescribedGroup[] = []
    for (const groupId of req.groups) {
      const wire = coordinator.describe(groupId)
      if (wire !== undefined && (coordinator.isActive(groupId) || wire.state !== 'Empty')) {
        groups.push({
          errorCode: KafkaError.NONE,
          groupId,
          state: wire.state,
          protocolType: wire.protocolType,
          protocolData: wire.protocol,
          members: wire.members.map((m) => ({
            memberId: m.memberId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            metadata: m.metadata,
            assignment: m.assignment,
          })),
        })
        continue
      }
      if (known === null && failure === KafkaError.NONE) {
        try {
          known = await allGroups()
        } catch (err) {
          failure = groupErrorCode(err)
        }
      }
      const g = known?.get(groupId)
      // The engine's in-process members (a wire group was answered above), shown as consumer-protocol members.
      let members: DescribedGroup['members'] = []
      if (g !== undefined && g.state !== 'Empty' && failure === KafkaError.NONE) {
        try {
          members = (await host.groupMembers(groupId)).map((m) => ({
            memberId: m.memberId,
            clientId: IN_PROCESS_CLIENT_ID,
            clientHost: IN_PROCESS_HOST,
            metadata: Buffer.alloc(0),
            assignment: encodeConsumerAssignment(m.assignment),
          }))
        } catch (err) {
          failure = groupErrorCode(err)
        }
      }
      groups.push({
        errorCode: failure,
        groupId,
        // A group nobody knows is Dead, as Kafka describes it.
        state: g?.state ?? 'Dead',
        protocolType: g?.protocolType ?? '',
        protocolData: '',
        members,
      })
    }
    return encodeDescribeGroupsResponse({ throttleTimeMs: 0, groups }, ctx.apiVersion)
  }

  const deleteGroups: ApiHandler = async (ctx, body) => {
    const req = decodeDeleteGroupsRequest(body, ctx.apiVersion)
    const results: { groupId: string; errorCode: number }[] = []
    for (const groupId of req.groups) {
      let errorCode: number = KafkaError.NONE
      try {
        if (!validGroupId(groupId)) errorCode = KafkaError.INVALID_GROUP_ID
        else if (coordinator.isActive(groupId)) errorCode = KafkaError.NON_EMPTY_GROUP
        else if (!(await allGroups()).has(groupId)) errorCode = KafkaError.GROUP_ID_NOT_FOUND
        else {
          await host.deleteGroup(groupId)
          coordinator.forget(groupId)
        }
      } catch (err) {
        errorCode = groupErrorCode(err)
      }
      results.push({ groupId, errorCode })
    }
    return encodeDeleteGroupsResponse({ throttleTimeMs: 0, results }, ctx.apiVersion)
  }

  return {
    apis: [
      entry('FindCoordinator', findCoordinator),
      entry('JoinGroup', joinGroup),
      entry('SyncGroup', syncGroup),
      entry('Heartbeat', heartbeat),
      entry('LeaveGroup', leaveGroup),
      entry('OffsetCommit', offsetCommit),
      entry('OffsetFetch', offsetFetch),
      entry('ListGroups', listGroups),
      entry('DescribeGroups', describeGroups),
      entry('DeleteGroups', deleteGroups),
    ],
    close: () => coordinator.close(),
  }
}
