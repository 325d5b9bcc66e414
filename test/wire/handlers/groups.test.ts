/**
 * The group APIs against a real engine serving on loopback: requests encoded with kafkajs's encoders, answers
 * decoded with its decoders. Covers FindCoordinator, the join/sync/heartbeat/leave flow (MEMBER_ID_REQUIRED from
 * v4), a closed connection leaving at once, the wire/in-process exclusion, OffsetCommit/OffsetFetch in the store
 * the native API reads, ListGroups, DescribeGroups, DeleteGroups, and a pending JoinGroup answered on close.
 */
import { createRequire } from 'node:module'
import { afterEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../../src/errors.js'
import { kafkajsDecodeResponse, kafkajsRequestBody } from '../../support/kafkajs-protocol.js'
import { type Served, serve } from '../../support/wire-engine.js'
import type { RawConnection } from '../../support/wire-raw.js'

const require = createRequire(import.meta.url)
const { MemberMetadata, MemberAssignment } = require('kafkajs/src/consumer/assignerProtocol') as {
  MemberMetadata: { encode(m: { version: number; topics: string[] }): Buffer }
  MemberAssignment: { encode(a: { version: number; assignment: Record<string, number[]> }): Buffer }
}

const KEY = {
  offsetCommit: 8,
  offsetFetch: 9,
  findCoordinator: 10,
  joinGroup: 11,
  heartbeat: 12,
  leaveGroup: 13,
  syncGroup: 14,
  describeGroups: 15,
  listGroups: 16,
  deleteGroups: 42,
} as const

type Api = keyof typeof KEY
// biome-ignore lint/suspicious/noExplicitAny: kafkajs's decoders are untyped JavaScript
type Decoded = Record<string, any>

let served: Served | null = null
afterEach(async () => {
  await served?.close()
  served = null
})

async function call(s: Served, conn: RawConnection, api: Api, version: number, args: unknown): Promise<Decoded> {
  const body = await kafkajsRequestBody(api, version, args as Record<string, unknown>)
  return kafkajsDecodeResponse(api, version, await s.raw(conn, KEY[api], version, body))
}

const subscription = (topics: string[]) => MemberMetadata.encode({ version: 0, topics })

function joinArgs(memberId: string, topics = ['t']) {
  return {
    groupId: 'g',
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    memberId,
    protocolType: 'consumer',
    groupProtocols: [{ name: 'RoundRobinAssigner', metadata: subscription(topics) }],
  }
}

/** Joins at v5 (MEMBER_ID_REQUIRED first) and syncs as the leader with `assignment`; returns id and generation. */
async function joinAndSync(s: Served, conn: RawConnection, assignment: Record<string, number[]>) {
  const first = await call(s, conn, 'joinGroup', 5, joinArgs(''))
  expect(first.errorCode).toBe(79)
  const joined = await call(s, conn, 'joinGroup', 5, joinArgs(first.memberId))
  expect(joined.errorCode).toBe(0)
  const synced = await call(s, conn, 'syncGroup', 3, {
    groupId: 'g',
    generationId: joined.generationId,
    memberId: joined.memberId,
    groupAssignment: [
      { memberId: joined.memberId, memberAssignment: MemberAssignment.encode({ version: 0, assignment }) },
    ],
  })
  expect(synced.errorCode).toBe(0)
  return { memberId: joined.memberId as string, generationId: joined.generationId as number }
}

async function until(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('FindCoordinator handler', () => {
  it('names this broker (node 0, its address) as every group coordinator at v0-v2, and refuses transaction coordinators', async () => {
    served = await serve()
    const c = await served.connect()
    const v0 = await call(served, c, 'findCoordinator', 0, { groupId: 'g' })
    expect(v0).toMatchObject({ errorCode: 0, coordinator: { nodeId: 0, host: served.host, port: served.port } })
    for (const v of [1, 2]) {
      const res = await call(served, c, 'findCoordinator', v, { coordinatorKey: 'g', coordinatorType: 0 })
      expect(res).toMatchObject({ errorCode: 0, coordinator: { nodeId: 0, host: served.host, port: served.port } })
    }
    const tx = await call(served, c, 'findCoordinator', 2, { coordinatorKey: 'tx', coordinatorType: 1 })
    expect(tx.errorCode).toBe(15)
  })
})

describe('Group membership over the wire', () => {
  it('joins (MEMBER_ID_REQUIRED from v4 only), syncs, heartbeats and leaves; the engine shows the member and its partitions meanwhile', async () => {
    served = await serve()
    await served.log.createTopic('t', { partitions: 3, config: { format: 'binary' } })
    const c = await served.connect()
    const old = await call(served, c, 'joinGroup', 3, { ...joinArgs(''), groupId: 'old' })
    expect(old).toMatchObject({ errorCode: 0, generationId: 1 })
    expect(old.memberId).toMatch(/^raw-/)

    const { memberId, generationId } = await joinAndSync(served, c, { t: [0, 2] })
    expect(
      await call(served, c, 'heartbeat', 3, { groupId: 'g', groupGenerationId: generationId, memberId }),
    ).toMatchObject({ errorCode: 0 })
    expect(
      (await call(served, c, 'heartbeat', 0, { groupId: 'g', groupGenerationId: generationId + 1, memberId }))
        .errorCode,
    ).toBe(22)
    expect(
      (await call(served, c, 'heartbeat', 1, { groupId: 'g', groupGenerationId: generationId, memberId: 'x' }))
        .errorCode,
    ).toBe(25)

    const d = await served.log.describeGroup('g')
    expect(d.state).toBe('Stable')
    expect(d.members).toEqual([
      {
        memberId,
        clientId: 'raw',
        clientHost: '/127.0.0.1',
        assignment: [
          { topic: 't', partition: 0 },
          { topic: 't', partition: 2 },
        ],
      },
    ])
    const described = await call(served, c, 'describeGroups', 2, { groupIds: ['g', 'nobody'] })
    expect(described.groups[0]).toMatchObject({
      errorCode: 0,
      groupId: 'g',
      state: 'Stable',
      protocolType: 'consumer',
      protocol: 'RoundRobinAssigner',
    })
    expect(described.groups[0].members[0].memberMetadata).toEqual(subscription(['t']))
    expect(described.groups[0].members[0].memberAssignment).toEqual(
      MemberAssignment.encode({ version: 0, assignment: { t: [0, 2] } }),
    )
    expect(described.groups[1]).toMatchObject({ errorCode: 0, groupId: 'nobody', state: 'Dead', members: [] })
    const listed = await call(served, c, 'listGroups', 2, {})
    expect(listed.groups).toContainEqual({ groupId: 'g', protocolType: 'consumer' })

    // An in-process consumer cannot join a wire group.
    const consumer = served.log.consumer({ groupId: 'g' })
    await consumer.subscribe({ topics: ['t'] })
    const err = await consumer.run({ eachMessage: async () => {} }).then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(SeglogError)
    expect((err as SeglogError).code).toBe('GROUP_NOT_EMPTY')

    const left = await call(served, c, 'leaveGroup', 3, {
      groupId: 'g',
      members: [{ memberId }, { memberId: 'ghost' }],
    })
    expect(left.members.map((m: { errorCode: number }) => m.errorCode)).toEqual([0, 25])
    expect((await call(served, c, 'leaveGroup', 1, { groupId: 'g', memberId })).errorCode).toBe(25)
    expect((await served.log.describeGroup('g')).state).toBe('Empty')
  })

  it('removes the members of a connection that closes at once, so the group is free again', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const a = await served.connect()
    await joinAndSync(served, a, { t: [0] })
    expect((await served.log.describeGroup('g')).members).toHaveLength(1)
    a.destroy()
    await until('the member to leave', async () => (await served!.log.describeGroup('g')).members.length === 0)
    // Free for an in-process consumer now.
    const consumer = served.log.consumer({ groupId: 'g' })
    await consumer.subscribe({ topics: ['t'] })
    await consumer.run({ eachMessage: async () => {} })
    // ...and then closed to wire clients, with INCONSISTENT_GROUP_PROTOCOL.
    const b = await served.connect()
    expect((await call(served, b, 'joinGroup', 5, joinArgs(''))).errorCode).toBe(23)
    await consumer.stop()
    expect((await call(served, b, 'joinGroup', 5, joinArgs(''))).errorCode).toBe(79)
  })

  it('answers a JoinGroup waiting in a join phase with NOT_COORDINATOR when the server closes', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const a = await served.connect()
    await joinAndSync(served, a, { t: [0] })
    const b = await served.connect()
    const first = await call(served, b, 'joinGroup', 5, joinArgs(''))
    // b's join waits for a to rejoin, which it never does.
    const pending = call(served, b, 'joinGroup', 5, joinArgs(first.memberId))
    await new Promise((r) => setTimeout(r, 50))
    const closing = served.log.close()
    expect((await pending).errorCode).toBe(16)
    await closing
  })
})

describe('Offsets over the wire', () => {
  it('stores simple commits (generation -1) where the native API reads them, and OffsetFetch answers them at v1-v4 with -1 where nothing is committed', async () => {
    served = await serve()
    await served.log.createTopic('t', { partitions: 2, config: { format: 'binary' } })
    await served.log.append('t', [{ value: Buffer.from('a') }, { value: Buffer.from('b') }])
    const c = await served.connect()
    for (const v of [2, 3, 4, 5]) {
      const res = await call(served, c, 'offsetCommit', v, {
        groupId: 'g',
        groupGenerationId: -1,
        memberId: '',
        retentionTime: -1,
        topics: [{ topic: 't', partitions: [{ partition: 0, offset: String(v - 1), metadata: `m${v}` }] }],
      })
      expect(res.responses).toEqual([{ topic: 't', partitions: [{ partition: 0, errorCode: 0 }] }])
    }
    expect(await served.log.fetchOffsets('g')).toMatchObject([{ topic: 't', partition: 0, offset: 4, metadata: 'm5' }])
    for (const v of [1, 2, 3, 4]) {
      const res = await call(served, c, 'offsetFetch', v, {
        groupId: 'g',
        topics: [{ topic: 't', partitions: [{ partition: 0 }, { partition: 1 }] }],
      })
      expect(res.responses).toEqual([
        {
          topic: 't',
          partitions: [
            { partition: 0, offset: '4', metadata: 'm5', errorCode: 0 },
            { partition: 1, offset: '-1', metadata: '', errorCode: 0 },
          ],
        },
      ])
    }
    // Null topics (kafkajs sends an empty list as null from v3): every committed partition.
    const all = await call(served, c, 'offsetFetch', 4, { groupId: 'g', topics: [] })
    expect(all.responses).toEqual([
      { topic: 't', partitions: [{ partition: 0, offset: '4', metadata: 'm5', errorCode: 0 }] },
    ])
    // The reverse: a native reset is what a wire client then reads.
    await served.log.resetOffsets({ groupId: 'g', topic: 't', to: 'latest' })
    const reset = await call(served, c, 'offsetFetch', 4, { groupId: 'g', topics: [] })
    const ends = [0, 1].map((p) => String(served!.log.offsets('t', p).logEndOffset))
    expect(reset.responses[0].partitions.map((p: { offset: string }) => p.offset)).toEqual(ends)
  })

  it('refuses commits for unknown partitions, oversized metadata, negative offsets, and stale members, per partition', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const c = await served.connect()
    const res = await call(served, c, 'offsetCommit', 5, {
      groupId: 'g',
      groupGenerationId: -1,
      memberId: '',
      topics: [
        {
          topic: 't',
          partitions: [
            { partition: 0, offset: '1', metadata: 'x'.repeat(4097) },
            { partition: 1, offset: '1' },
            { partition: 0, offset: '-5' },
          ],
        },
        { topic: 'nope', partitions: [{ partition: 0, offset: '1' }] },
      ],
    })
    expect(
      res.responses.map((t: { partitions: { errorCode: number }[] }) => t.partitions.map((p) => p.errorCode)),
    ).toEqual([[12, 3, 1], [3]])
    expect(await served.log.fetchOffsets('g')).toEqual([])

    const { memberId, generationId } = await joinAndSync(served, c, { t: [0] })
    const commit = (gen: number, id: string) =>
      call(served!, c, 'offsetCommit', 5, {
        groupId: 'g',
        groupGenerationId: gen,
        memberId: id,
        topics: [{ topic: 't', partitions: [{ partition: 0, offset: '0' }] }],
      }).then((r) => r.responses[0].partitions[0].errorCode)
    expect(await commit(generationId + 1, memberId)).toBe(22)
    expect(await commit(generationId, 'ghost')).toBe(25)
    expect(await commit(-1, '')).toBe(25)
    expect(await commit(generationId, memberId)).toBe(0)
    expect(await served.log.fetchOffsets('g')).toMatchObject([{ topic: 't', partition: 0, offset: 0 }])
  })

  it('resolves the reset sentinels -1 (latest) and -2 (earliest) that admin tools commit to the log end and start', async () => {
    served = await serve()
    await served.log.createTopic('t', { partitions: 2, config: { format: 'binary' } })
    await served.log.append(
      't',
      [0, 1, 2].map((i) => ({ value: Buffer.from(`v${i}`), partition: 0 })),
    )
    await served.log.append('t', [{ value: Buffer.from('w'), partition: 1 }])
    await served.log.deleteRecords('t', 0, 1)
    const c = await served.connect()
    const res = await call(served, c, 'offsetCommit', 5, {
      groupId: 'g',
      groupGenerationId: -1,
      memberId: '',
      topics: [
        {
          topic: 't',
          partitions: [
            { partition: 0, offset: '-2' },
            { partition: 1, offset: '-1' },
          ],
        },
      ],
    })
    expect(res.responses[0].partitions.map((p: { errorCode: number }) => p.errorCode)).toEqual([0, 0])
    const committed = await served.log.fetchOffsets('g')
    expect(committed.map((o) => [o.partition, o.offset])).toEqual([
      [0, 1],
      [1, 1],
    ])
  })

  it('deletes groups: NON_EMPTY_GROUP while members are in it, GROUP_ID_NOT_FOUND for unknown groups, offsets gone after', async () => {
    served = await serve()
    await served.log.createTopic('t', { config: { format: 'binary' } })
    const c = await served.connect()
    await served.log.offsetStore.commit('idle', [{ topic: 't', partition: 0, offset: 0 }])
    const { memberId } = await joinAndSync(served, c, { t: [0] })
    const res = await call(served, c, 'deleteGroups', 1, ['g', 'idle', 'unknown'])
    expect(res.results.map((r: { groupId: string; errorCode: number }) => [r.groupId, r.errorCode])).toEqual([
      ['g', 68],
      ['idle', 0],
      ['unknown', 69],
    ])
    expect(await served.log.fetchOffsets('idle')).toEqual([])
    await call(served, c, 'leaveGroup', 0, { groupId: 'g', memberId })
    const again = await call(served, c, 'deleteGroups', 0, ['g'])
    expect(again.results.map((r: { errorCode: number }) => r.errorCode)).toEqual([0])
  })
})
