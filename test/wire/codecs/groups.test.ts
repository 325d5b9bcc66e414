/**
 * The group codecs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * ListGroups, DescribeGroups, DeleteGroups and the consumer-protocol assignment. Each version against kafkajs's
 * own encoders and decoders (a request kafkajs encodes decodes here to the same fields with no byte left; a
 * response encoded here parses in kafkajs), plus hand-written byte vectors for the layouts kafkajs lacks
 * (OffsetFetch v5) or where a field's place matters.
 */
import { describe, expect, it } from 'vitest'
import { decodeConsumerAssignment, encodeConsumerAssignment } from '../../../src/wire/codecs/consumer-protocol.js'
import { decodeDeleteGroupsRequest, encodeDeleteGroupsResponse } from '../../../src/wire/codecs/delete-groups.js'
import { decodeDescribeGroupsRequest, encodeDescribeGroupsResponse } from '../../../src/wire/codecs/describe-groups.js'
import {
  decodeFindCoordinatorRequest,
  encodeFindCoordinatorResponse,
} from '../../../src/wire/codecs/find-coordinator.js'
import { decodeHeartbeatRequest, encodeHeartbeatResponse } from '../../../src/wire/codecs/heartbeat.js'
import { decodeJoinGroupRequest, encodeJoinGroupResponse } from '../../../src/wire/codecs/join-group.js'
import { decodeLeaveGroupRequest, encodeLeaveGroupResponse } from '../../../src/wire/codecs/leave-group.js'
import { decodeListGroupsRequest, encodeListGroupsResponse } from '../../../src/wire/codecs/list-groups.js'
import { decodeOffsetCommitRequest, encodeOffsetCommitResponse } from '../../../src/wire/codecs/offset-commit.js'
import { decodeOffsetFetchRequest, encodeOffsetFetchResponse } from '../../../src/wire/codecs/offset-fetch.js'
import { decodeSyncGroupRequest, encodeSyncGroupResponse } from '../../../src/wire/codecs/sync-group.js'
import { MalformedRequest, Reader } from '../../../src/wire/protocol/reader.js'
import { kafkajsDecodeResponse, kafkajsRequestBody } from '../../support/kafkajs-protocol.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

function decodeAll<T>(body: Buffer, decode: (r: Reader) => T): T {
  const r = new Reader(body)
  const out = decode(r)
  expect(r.remaining).toBe(0)
  return out
}

const versions = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('FindCoordinator codec', () => {
  it('decodes kafkajs requests at v0-v2', async () => {
    expect(
      decodeAll(await kafkajsRequestBody('findCoordinator', 0, { groupId: 'g1' }), (r) =>
        decodeFindCoordinatorRequest(r, 0),
      ),
    ).toEqual({ key: 'g1', keyType: 0 })
    for (const v of [1, 2]) {
      const body = await kafkajsRequestBody('findCoordinator', v, { coordinatorKey: 'tx', coordinatorType: 1 })
      expect(decodeAll(body, (r) => decodeFindCoordinatorRequest(r, v))).toEqual({ key: 'tx', keyType: 1 })
    }
  })

  it('encodes responses kafkajs decodes, and the v0/v1 layouts byte for byte', async () => {
    const res = { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 0, host: '127.0.0.1', port: 9092 }
    for (const v of versions(0, 2)) {
      const d = await kafkajsDecodeResponse('findCoordinator', v, encodeFindCoordinatorResponse(res, v))
      expect(d.coordinator).toEqual({ nodeId: 0, host: '127.0.0.1', port: 9092 })
      expect(d.errorCode).toBe(0)
    }
    const small = { ...res, host: 'h', port: 1 }
    expect(encodeFindCoordinatorResponse(small, 0)).toEqual(hex('0000 00000000 0001 68 00000001'))
    expect(encodeFindCoordinatorResponse({ ...small, errorCode: 15, errorMessage: 'x' }, 1)).toEqual(
      hex('00000000 000f 0001 78 00000000 0001 68 00000001'),
    )
  })
})

describe('JoinGroup codec', () => {
  const groupProtocols = [
    { name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 2]) },
    { name: 'range', metadata: Buffer.alloc(0) },
  ]

  it('decodes kafkajs requests at v0-v5 (v0 has no rebalance timeout: it is the session timeout)', async () => {
    for (const v of versions(0, 5)) {
      const body = await kafkajsRequestBody('joinGroup', v, {
        groupId: 'grp',
        sessionTimeout: 30000,
        rebalanceTimeout: 60000,
        memberId: 'm-1',
        groupInstanceId: 'inst',
        protocolType: 'consumer',
        groupProtocols,
      })
      const req = decodeAll(body, (r) => decodeJoinGroupRequest(r, v))
      expect(req).toEqual({
        groupId: 'grp',
        sessionTimeoutMs: 30000,
        rebalanceTimeoutMs: v === 0 ? 30000 : 60000,
        memberId: 'm-1',
        groupInstanceId: v >= 5 ? 'inst' : null,
        protocolType: 'consumer',
        protocols: groupProtocols,
      })
    }
  })

  it('encodes responses kafkajs decodes at v0-v5, with the member list and MEMBER_ID_REQUIRED', async () => {
    const members = [
      { memberId: 'a', groupInstanceId: null, metadata: Buffer.from('ma') },
      { memberId: 'b', groupInstanceId: 'ib', metadata: Buffer.from('mb') },
    ]
    for (const v of versions(0, 5)) {
      const body = encodeJoinGroupResponse(
        {
          throttleTimeMs: 0,
          errorCode: 0,
          generationId: 7,
          protocolName: 'range',
          leader: 'a',
          memberId: 'a',
          members,
        },
        v,
      )
      const d = await kafkajsDecodeResponse('joinGroup', v, body)
      expect(d).toMatchObject({ errorCode: 0, generationId: 7, groupProtocol: 'range', leaderId: 'a', memberId: 'a' })
      expect(
        (d.members as { memberId: string; memberMetadata: Buffer }[]).map((m) => [
          m.memberId,
          m.memberMetadata.toString(),
        ]),
      ).toEqual([
        ['a', 'ma'],
        ['b', 'mb'],
      ])
      if (v >= 5) expect((d.members as { groupInstanceId: string | null }[])[1].groupInstanceId).toBe('ib')
    }
    const required = encodeJoinGroupResponse(
      {
        throttleTimeMs: 0,
        errorCode: 79,
        generationId: -1,
        protocolName: '',
        leader: '',
        memberId: 'new-id',
        members: [],
      },
      4,
    )
    expect((await kafkajsDecodeResponse('joinGroup', 4, required)).memberId).toBe('new-id')
  })

  it('writes the v5 member with its group_instance_id between id and metadata', () => {
    const body = encodeJoinGroupResponse(
      {
        throttleTimeMs: 0,
        errorCode: 0,
        generationId: 1,
        protocolName: 'p',
        leader: 'a',
        memberId: 'a',
        members: [{ memberId: 'a', groupInstanceId: null, metadata: Buffer.from([9]) }],
      },
      5,
    )
    expect(body).toEqual(hex('00000000 0000 00000001 0001 70 0001 61 0001 61 00000001 0001 61 ffff 00000001 09'))
    const v0 = {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 1,
      protocolName: 'p',
      leader: 'a',
      memberId: 'a',
      members: [],
    }
    expect(encodeJoinGroupResponse(v0, 0)).toEqual(hex('0000 00000001 0001 70 0001 61 0001 61 00000000'))
  })

  it('rejects a protocol count the body cannot hold as a malformed request', () => {
    const body = hex('0001 67 00007530 0000 0008 636f6e73756d6572 7fffffff')
    expect(() => decodeJoinGroupRequest(new Reader(body), 0)).toThrow(MalformedRequest)
  })
})

describe('SyncGroup codec', () => {
  it('decodes kafkajs requests at v0-v3', async () => {
    const groupAssignment = [
      { memberId: 'a', memberAssignment: Buffer.from('A') },
      { memberId: 'b', memberAssignment: Buffer.from('BB') },
    ]
    for (const v of versions(0, 3)) {
      const body = await kafkajsRequestBody('syncGroup', v, {
        groupId: 'g',
        generationId: 3,
        memberId: 'a',
        groupInstanceId: 'i',
        groupAssignment,
      })
      expect(decodeAll(body, (r) => decodeSyncGroupRequest(r, v))).toEqual({
        groupId: 'g',
        generationId: 3,
        memberId: 'a',
        groupInstanceId: v >= 3 ? 'i' : null,
        assignments: [
          { memberId: 'a', assignment: Buffer.from('A') },
          { memberId: 'b', assignment: Buffer.from('BB') },
        ],
      })
    }
  })

  it('encodes responses kafkajs decodes, v0 without a throttle time', async () => {
    for (const v of versions(0, 3)) {
      const d = await kafkajsDecodeResponse(
        'syncGroup',
        v,
        encodeSyncGroupResponse({ throttleTimeMs: 0, errorCode: 0, assignment: Buffer.from('xyz') }, v),
      )
      expect(d.errorCode).toBe(0)
      expect((d.memberAssignment as Buffer).toString()).toBe('xyz')
    }
    expect(encodeSyncGroupResponse({ throttleTimeMs: 0, errorCode: 27, assignment: Buffer.alloc(0) }, 0)).toEqual(
      hex('001b 00000000'),
    )
    expect(encodeSyncGroupResponse({ throttleTimeMs: 0, errorCode: 27, assignment: Buffer.alloc(0) }, 1)).toEqual(
      hex('00000000 001b 00000000'),
    )
  })
})

describe('Heartbeat codec', () => {
  it('decodes kafkajs requests at v0-v3 and encodes responses kafkajs decodes', async () => {
    for (const v of versions(0, 3)) {
      const body = await kafkajsRequestBody('heartbeat', v, {
        groupId: 'g',
        groupGenerationId: 9,
        memberId: 'm',
        groupInstanceId: null,
      })
      expect(decodeAll(body, (r) => decodeHeartbeatRequest(r, v))).toEqual({
        groupId: 'g',
        generationId: 9,
        memberId: 'm',
        groupInstanceId: null,
      })
      const d = await kafkajsDecodeResponse(
        'heartbeat',
        v,
        encodeHeartbeatResponse({ throttleTimeMs: 0, errorCode: 0 }, v),
      )
      expect(d.errorCode).toBe(0)
    }
    expect(encodeHeartbeatResponse({ throttleTimeMs: 0, errorCode: 22 }, 0)).toEqual(hex('0016'))
    expect(encodeHeartbeatResponse({ throttleTimeMs: 0, errorCode: 22 }, 3)).toEqual(hex('00000000 0016'))
    expect(
      decodeAll(hex('0001 67 00000002 0001 6d 0001 69'), (r) => decodeHeartbeatRequest(r, 3)).groupInstanceId,
    ).toBe('i')
  })
})

describe('LeaveGroup codec', () => {
  it('decodes kafkajs requests: one member before v3, a batch at v3', async () => {
    for (const v of versions(0, 2)) {
      const body = await kafkajsRequestBody('leaveGroup', v, { groupId: 'g', memberId: 'm' })
      expect(decodeAll(body, (r) => decodeLeaveGroupRequest(r, v))).toEqual({
        groupId: 'g',
        members: [{ memberId: 'm', groupInstanceId: null }],
      })
    }
    const body = await kafkajsRequestBody('leaveGroup', 3, {
      groupId: 'g',
      members: [{ memberId: 'm1' }, { memberId: '', groupInstanceId: 'static-2' }],
    })
    expect(decodeAll(body, (r) => decodeLeaveGroupRequest(r, 3)).members).toEqual([
      { memberId: 'm1', groupInstanceId: null },
      { memberId: '', groupInstanceId: 'static-2' },
    ])
  })

  it('encodes responses kafkajs decodes, v3 with per-member errors', async () => {
    const members = [{ memberId: 'm1', groupInstanceId: null, errorCode: 25 }]
    for (const v of versions(0, 2)) {
      const d = await kafkajsDecodeResponse(
        'leaveGroup',
        v,
        encodeLeaveGroupResponse({ throttleTimeMs: 0, errorCode: 0, members }, v),
      )
      expect(d.errorCode).toBe(0)
    }
    const d = await kafkajsDecodeResponse(
      'leaveGroup',
      3,
      encodeLeaveGroupResponse({ throttleTimeMs: 0, errorCode: 0, members }, 3),
    )
    expect(d.members).toEqual([{ memberId: 'm1', groupInstanceId: null, errorCode: 25 }])
    expect(encodeLeaveGroupResponse({ throttleTimeMs: 0, errorCode: 25, members }, 0)).toEqual(hex('0019'))
    expect(encodeLeaveGroupResponse({ throttleTimeMs: 0, errorCode: 0, members }, 3)).toEqual(
      hex('00000000 0000 00000001 0002 6d31 ffff 0019'),
    )
  })
})

describe('OffsetCommit codec', () => {
  const topics = [
    {
      topic: 'orders',
      partitions: [
        { partition: 0, offset: '42', metadata: 'meta' },
        { partition: 3, offset: '9007199254740991', metadata: null },
      ],
    },
  ]

  it('decodes kafkajs requests at v2-v5 (v5 has no retention time)', async () => {
    for (const v of versions(2, 5)) {
      const body = await kafkajsRequestBody('offsetCommit', v, {
        groupId: 'g',
        groupGenerationId: 4,
        memberId: 'm',
        retentionTime: -1,
        topics,
      })
      expect(decodeAll(body, (r) => decodeOffsetCommitRequest(r, v))).toEqual({
        groupId: 'g',
        generationId: 4,
        memberId: 'm',
        retentionTimeMs: -1,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, offset: 42, metadata: 'meta' },
              { partitionIndex: 3, offset: Number.MAX_SAFE_INTEGER, metadata: null },
            ],
          },
        ],
      })
    }
  })

  it('encodes responses kafkajs decodes, v2 without a throttle time', async () => {
    const res = { throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 1, errorCode: 22 }] }] }
    for (const v of versions(2, 5)) {
      const d = await kafkajsDecodeResponse('offsetCommit', v, encodeOffsetCommitResponse(res, v))
      expect(d.responses).toEqual([{ topic: 't', partitions: [{ partition: 1, errorCode: 22 }] }])
    }
    expect(encodeOffsetCommitResponse(res, 2)).toEqual(hex('00000001 0001 74 00000001 00000001 0016'))
    expect(encodeOffsetCommitResponse(res, 3)).toEqual(hex('00000000 00000001 0001 74 00000001 00000001 0016'))
  })
})

describe('OffsetFetch codec', () => {
  it('decodes kafkajs requests at v1-v4; from v2 a null topic list (all topics) decodes as null', async () => {
    const topics = [{ topic: 't', partitions: [{ partition: 0 }, { partition: 2 }] }]
    for (const v of versions(1, 4)) {
      const body = await kafkajsRequestBody('offsetFetch', v, { groupId: 'g', topics })
      expect(decodeAll(body, (r) => decodeOffsetFetchRequest(r, v))).toEqual({
        groupId: 'g',
        topics: [{ name: 't', partitionIndexes: [0, 2] }],
      })
    }
    // kafkajs writes an empty list as null from v3.
    for (const v of versions(3, 4)) {
      const body = await kafkajsRequestBody('offsetFetch', v, { groupId: 'g', topics: [] })
      expect(decodeAll(body, (r) => decodeOffsetFetchRequest(r, v)).topics).toBeNull()
    }
    expect(decodeAll(hex('0001 67 ffffffff'), (r) => decodeOffsetFetchRequest(r, 2)).topics).toBeNull()
    expect(decodeAll(hex('0001 67 00000000'), (r) => decodeOffsetFetchRequest(r, 2)).topics).toEqual([])
    // v1's topics are not nullable.
    expect(() => decodeOffsetFetchRequest(new Reader(hex('0001 67 ffffffff')), 1)).toThrow(MalformedRequest)
  })

  it('encodes responses kafkajs decodes at v1-v4, and v5 with the leader epoch byte for byte', async () => {
    const res = {
      throttleTimeMs: 0,
      errorCode: 0,
      topics: [
        {
          name: 't',
          partitions: [
            { partitionIndex: 0, committedOffset: 17, committedLeaderEpoch: -1, metadata: 'm', errorCode: 0 },
            { partitionIndex: 1, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
          ],
        },
      ],
    }
    for (const v of versions(1, 4)) {
      const d = await kafkajsDecodeResponse('offsetFetch', v, encodeOffsetFetchResponse(res, v))
      expect(d.responses).toEqual([
        {
          topic: 't',
          partitions: [
            { partition: 0, offset: '17', metadata: 'm', errorCode: 0 },
            { partition: 1, offset: '-1', metadata: '', errorCode: 0 },
          ],
        },
      ])
      if (v >= 2) expect(d.errorCode).toBe(0)
    }
    const one = { ...res, errorCode: 69, topics: [{ name: 't', partitions: [res.topics[0].partitions[0]] }] }
    const partition = '00000000 0000000000000011'
    expect(encodeOffsetFetchResponse(one, 1)).toEqual(hex(`00000001 0001 74 00000001 ${partition} 0001 6d 0000`))
    expect(encodeOffsetFetchResponse(one, 2)).toEqual(hex(`00000001 0001 74 00000001 ${partition} 0001 6d 0000 0045`))
    expect(encodeOffsetFetchResponse(one, 5)).toEqual(
      hex(`00000000 00000001 0001 74 00000001 ${partition} ffffffff 0001 6d 0000 0045`),
    )
  })
})

describe('ListGroups, DescribeGroups, DeleteGroups codecs', () => {
  it('ListGroups: empty requests, responses kafkajs decodes (v1+ start with the throttle time)', async () => {
    for (const v of versions(0, 2)) {
      const body = await kafkajsRequestBody('listGroups', v, {})
      expect(decodeAll(body, (r) => decodeListGroupsRequest(r, v))).toEqual({})
      const res = { throttleTimeMs: 0, errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer' }] }
      const d = await kafkajsDecodeResponse('listGroups', v, encodeListGroupsResponse(res, v))
      expect(d.groups).toEqual([{ groupId: 'g', protocolType: 'consumer' }])
    }
    expect(
      encodeListGroupsResponse({ throttleTimeMs: 0, errorCode: 0, groups: [{ groupId: 'g', protocolType: '' }] }, 1),
    ).toEqual(hex('00000000 0000 00000001 0001 67 0000'))
  })

  it('DescribeGroups: kafkajs requests decode; responses with member metadata and assignment bytes parse', async () => {
    for (const v of versions(0, 2)) {
      const body = await kafkajsRequestBody('describeGroups', v, { groupIds: ['a', 'b'] })
      expect(decodeAll(body, (r) => decodeDescribeGroupsRequest(r, v))).toEqual({ groups: ['a', 'b'] })
      const res = {
        throttleTimeMs: 0,
        groups: [
          {
            errorCode: 0,
            groupId: 'a',
            state: 'Stable',
            protocolType: 'consumer',
            protocolData: 'range',
            members: [
              {
                memberId: 'm',
                clientId: 'c',
                clientHost: '/127.0.0.1',
                metadata: Buffer.from([1]),
                assignment: Buffer.from([2, 3]),
              },
            ],
          },
          { errorCode: 0, groupId: 'b', state: 'Dead', protocolType: '', protocolData: '', members: [] },
        ],
      }
      const d = await kafkajsDecodeResponse('describeGroups', v, encodeDescribeGroupsResponse(res, v))
      expect(d.groups).toEqual([
        {
          errorCode: 0,
          groupId: 'a',
          state: 'Stable',
          protocolType: 'consumer',
          protocol: 'range',
          members: [
            {
              memberId: 'm',
              clientId: 'c',
              clientHost: '/127.0.0.1',
              memberMetadata: Buffer.from([1]),
              memberAssignment: Buffer.from([2, 3]),
            },
          ],
        },
        { errorCode: 0, groupId: 'b', state: 'Dead', protocolType: '', protocol: '', members: [] },
      ])
    }
  })

  it('DeleteGroups: kafkajs requests decode; responses parse with per-group errors', async () => {
    for (const v of versions(0, 1)) {
      const body = await kafkajsRequestBody('deleteGroups', v, ['x', 'y'] as never)
      expect(decodeAll(body, (r) => decodeDeleteGroupsRequest(r, v))).toEqual({ groups: ['x', 'y'] })
      const res = {
        throttleTimeMs: 0,
        results: [
          { groupId: 'x', errorCode: 0 },
          { groupId: 'y', errorCode: 69 },
        ],
      }
      const d = await kafkajsDecodeResponse('deleteGroups', v, encodeDeleteGroupsResponse(res, v))
      expect((d.results as { groupId: string; errorCode: number }[]).map((r) => [r.groupId, r.errorCode])).toEqual([
        ['x', 0],
        ['y', 69],
      ])
    }
    expect(encodeDeleteGroupsResponse({ throttleTimeMs: 0, results: [{ groupId: 'y', errorCode: 68 }] }, 0)).toEqual(
      hex('00000000 00000001 0001 79 0044'),
    )
  })
})

describe('consumer-protocol assignment', () => {
  it('decodes the partitions of an assignment kafkajs encodes, and answers null for bytes that are not one', async () => {
    const { createRequire } = await import('node:module')
    const require = createRequire(import.meta.url)
    const { MemberAssignment } = require('kafkajs/src/consumer/assignerProtocol') as {
      MemberAssignment: {
        encode(a: { version: number; assignment: Record<string, number[]>; userData?: Buffer }): Buffer
      }
    }
    const bytes = MemberAssignment.encode({ version: 1, assignment: { a: [0, 2], b: [1] }, userData: Buffer.from('u') })
    expect(decodeConsumerAssignment(bytes)).toEqual([
      { topic: 'a', partition: 0 },
      { topic: 'a', partition: 2 },
      { topic: 'b', partition: 1 },
    ])
    expect(decodeConsumerAssignment(Buffer.alloc(0))).toEqual([])
    expect(decodeConsumerAssignment(hex('0000 7fffffff'))).toBeNull()
    expect(decodeConsumerAssignment(hex('00'))).toBeNull()
  })

  it('encodes an in-process member’s partitions as version 0 bytes that kafkajs decodes to the same assignment', async () => {
    const { createRequire } = await import('node:module')
    const require = createRequire(import.meta.url)
    const { MemberAssignment } = require('kafkajs/src/consumer/assignerProtocol') as {
      MemberAssignment: { decode(b: Buffer): { version: number; assignment: Record<string, number[]> } | null }
    }
    const bytes = encodeConsumerAssignment([
      { topic: 'a', partition: 0 },
      { topic: 'b', partition: 1 },
      { topic: 'a', partition: 2 },
    ])
    // version 0 | 2 topics | "a" [0, 2] | "b" [1] | user data null
    expect(bytes).toEqual(hex('0000 00000002 0001 61 00000002 00000000 00000002 0001 62 00000001 00000001 ffffffff'))
    expect(MemberAssignment.decode(bytes)).toMatchObject({ version: 0, assignment: { a: [0, 2], b: [1] } })
    expect(encodeConsumerAssignment([])).toEqual(hex('0000 00000000 ffffffff'))
  })
})
