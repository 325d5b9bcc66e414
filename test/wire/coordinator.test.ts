/**
 * The wire group coordinator as a state machine on a fake clock: joins, protocol choice, generations fencing,
 * session and rebalance timeouts, leaving, closed connections, the engine claim and OffsetCommit checks.
 */
import { describe, expect, it, vi } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import {
  type CoordinatorOptions,
  type JoinRequest,
  WireCoordinator,
  wireGroupChannel,
} from '../../src/wire/coordinator.js'
import type { WireGroupView } from '../../src/wire/host.js'
import { KafkaError as E } from '../../src/wire/protocol/errors.js'
import { FakeClock } from './support/fake-clock.js'

interface Harness {
  clock: FakeClock
  coord: WireCoordinator
  logs: string[]
  claims: Map<string, () => WireGroupView>
  /** Group ids whose claim the fake engine refuses (in-process consumers are in them). */
  inProcess: Set<string>
}

function harness(options: Partial<CoordinatorOptions> = {}): Harness {
  const clock = new FakeClock()
  const logs: string[] = []
  const claims = new Map<string, () => WireGroupView>()
  const inProcess = new Set<string>()
  let ids = 0
  const coord = new WireCoordinator({
    clock,
    log: (m) => logs.push(m),
    newMemberId: (clientId) => `${clientId}-m${++ids}`,
    claim: (groupId, view) => {
      if (inProcess.has(groupId)) throw new SeglogError('GROUP_NOT_EMPTY', `group '${groupId}' has in-process members`)
      if (claims.has(groupId)) throw new Error(`double claim of ${groupId}`)
      claims.set(groupId, view)
      return () => {
        if (claims.get(groupId) !== view) throw new Error(`release of a claim not held: ${groupId}`)
        claims.delete(groupId)
      }
    },
    ...options,
  })
  return { clock, coord, logs, claims, inProcess }
}

const meta = (s: string): Buffer => Buffer.from(s)

function req(overrides: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: meta('r') }],
    requireKnownMemberId: false,
    connection: {},
    ...overrides,
  }
}

/** Tracks whether a promise settled, without awaiting it. */
function track<T>(p: Promise<T>): { done: boolean; value: T | undefined } {
  const state: { done: boolean; value: T | undefined } = { done: false, value: undefined }
  void p.then((v) => {
    state.done = true
    state.value = v
  })
  return state
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r))

/** A Stable group of the given members (first is the leader); returns their ids and the generation. */
async function stableGroup(
  h: Harness,
  clients: string[],
  connections?: object[],
  overrides: Partial<JoinRequest> = {},
): Promise<{ ids: string[]; generation: number }> {
  const firsts = await Promise.all(
    clients.map((clientId) => h.coord.join(req({ ...overrides, clientId, requireKnownMemberId: true }))),
  )
  const joins = firsts.map((f, i) =>
    h.coord.join(
      req({
        ...overrides,
        clientId: clients[i],
        memberId: f.memberId,
        requireKnownMemberId: true,
        connection: connections?.[i] ?? {},
      }),
    ),
  )
  const results = await Promise.all(joins)
  const generation = results[0].generationId
  const ids = results.map((r) => r.memberId)
  const leader = results.find((r) => r.members.length > 0)!
  const syncs = ids.map((memberId) =>
    h.coord.sync({
      groupId: 'g',
      generationId: generation,
      memberId,
      groupInstanceId: null,
      assignments: memberId === leader.leaderId ? ids.map((id) => ({ memberId: id, assignment: meta(`a:${id}`) })) : [],
    }),
  )
  for (const s of await Promise.all(syncs)) expect(s.error).toBe(E.NONE)
  return { ids, generation }
}

describe('WireCoordinator: joining', () => {
  it('answers a v4+ JoinGroup without a member id with MEMBER_ID_REQUIRED and an id, then makes the rejoining member the leader of generation 1', async () => {
    const h = harness()
    const first = await h.coord.join(req({ clientId: 'app', requireKnownMemberId: true }))
    expect(first).toMatchObject({ error: E.MEMBER_ID_REQUIRED, generationId: -1, memberId: 'app-m1', members: [] })
    const joined = await h.coord.join(req({ clientId: 'app', memberId: 'app-m1', requireKnownMemberId: true }))
    expect(joined).toEqual({
      error: E.NONE,
      generationId: 1,
      protocolName: 'range',
      leaderId: 'app-m1',
      memberId: 'app-m1',
      members: [{ memberId: 'app-m1', groupInstanceId: null, metadata: meta('r') }],
    })
    const sync = await h.coord.sync({
      groupId: 'g',
      generationId: 1,
      memberId: 'app-m1',
      groupInstanceId: null,
      assignments: [{ memberId: 'app-m1', assignment: meta('mine') }],
    })
    expect(sync).toEqual({ error: E.NONE, assignment: meta('mine') })
    expect(h.coord.heartbeat('g', 'app-m1', 1)).toBe(E.NONE)
    expect(h.coord.describe('g')?.state).toBe('Stable')
  })

  it('gives a JoinGroup before v4 a member id at once', async () => {
    const h = harness()
    const joined = await h.coord.join(req({ clientId: 'old' }))
    expect(joined).toMatchObject({ error: E.NONE, generationId: 1, memberId: 'old-m1', leaderId: 'old-m1' })
  })

  it('puts members that join together into one generation; only the leader gets the member list; followers wait for the leader sync', async () => {
    const h = harness()
    const a = await h.coord.join(req({ clientId: 'a', requireKnownMemberId: true }))
    const b = await h.coord.join(req({ clientId: 'b', requireKnownMemberId: true }))
    const ja = track(
      h.coord.join(
        req({
          clientId: 'a',
          memberId: a.memberId,
          requireKnownMemberId: true,
          protocols: [{ name: 'range', metadata: meta('ma') }],
        }),
      ),
    )
    await flush()
    // b's member id is still outstanding: the join phase waits for it.
    expect(ja.done).toBe(false)
    const jb = await h.coord.join(
      req({
        clientId: 'b',
        memberId: b.memberId,
        requireKnownMemberId: true,
        protocols: [{ name: 'range', metadata: meta('mb') }],
      }),
    )
    await flush()
    expect(ja.value).toMatchObject({ error: E.NONE, generationId: 1, leaderId: 'a-m1' })
    expect(ja.value?.members).toEqual([
      { memberId: 'a-m1', groupInstanceId: null, metadata: meta('ma') },
      { memberId: 'b-m2', groupInstanceId: null, metadata: meta('mb') },
    ])
    expect(jb).toMatchObject({ error: E.NONE, generationId: 1, leaderId: 'a-m1', members: [] })

    const follower = track(
      h.coord.sync({ groupId: 'g', generationId: 1, memberId: 'b-m2', groupInstanceId: null, assignments: [] }),
    )
    await flush()
    expect(follower.done).toBe(false)
    expect(h.coord.describe('g')?.state).toBe('CompletingRebalance')
    const leader = await h.coord.sync({
      groupId: 'g',
      generationId: 1,
      memberId: 'a-m1',
      groupInstanceId: null,
      assignments: [
        { memberId: 'a-m1', assignment: meta('A') },
        { memberId: 'b-m2', assignment: meta('B') },
      ],
    })
    await flush()
    expect(leader.assignment).toEqual(meta('A'))
    expect(follower.value).toEqual({ error: E.NONE, assignment: meta('B') })
    expect(h.coord.describe('g')?.state).toBe('Stable')
  })

  it('chooses the protocol most members prefer among those all support, ties by the leader order', async () => {
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: meta(name) }))
    const tie = harness()
    const x = await tie.coord.join(req({ clientId: 'x', requireKnownMemberId: true }))
    const y = await tie.coord.join(req({ clientId: 'y', requireKnownMemberId: true }))
    const [jx, jy] = await Promise.all([
      tie.coord.join(
        req({ clientId: 'x', memberId: x.memberId, requireKnownMemberId: true, protocols: p('roundrobin', 'range') }),
      ),
      tie.coord.join(
        req({ clientId: 'y', memberId: y.memberId, requireKnownMemberId: true, protocols: p('range', 'roundrobin') }),
      ),
    ])
    // One vote each: the leader's (x's) first choice wins.
    expect([jx.leaderId, jx.protocolName, jy.protocolName]).toEqual([x.memberId, 'roundrobin', 'roundrobin'])
    const votes = harness()
    const a = await votes.coord.join(
      req({ clientId: 'a', requireKnownMemberId: true, protocols: p('range', 'sticky', 'roundrobin') }),
    )
    const b = await votes.coord.join(
      req({ clientId: 'b', requireKnownMemberId: true, protocols: p('roundrobin', 'range') }),
    )
    const c = await votes.coord.join(
      req({ clientId: 'c', requireKnownMemberId: true, protocols: p('roundrobin', 'range') }),
    )
    const results = await Promise.all(
      [a, b, c].map((f, i) =>
        votes.coord.join(
          req({
            clientId: 'abc'[i],
            memberId: f.memberId,
            requireKnownMemberId: true,
            protocols: [p('range', 'sticky', 'roundrobin'), p('roundrobin', 'range'), p('roundrobin', 'range')][i],
          }),
        ),
      ),
    )
    expect(results.map((r) => r.protocolName)).toEqual(['roundrobin', 'roundrobin', 'roundrobin'])
    expect(results[0].members.map((m) => m.metadata.toString())).toEqual(['roundrobin', 'roundrobin', 'roundrobin'])
  })

  it('refuses a member whose protocols no member shares, or another protocol type, with INCONSISTENT_GROUP_PROTOCOL', async () => {
    const h = harness()
    await stableGroup(h, ['a'])
    const other = await h.coord.join(req({ protocols: [{ name: 'sticky', metadata: meta('s') }] }))
    expect(other.error).toBe(E.INCONSISTENT_GROUP_PROTOCOL)
    const type = await h.coord.join(req({ protocolType: 'connect' }))
    expect(type.error).toBe(E.INCONSISTENT_GROUP_PROTOCOL)
    const none = await harness().coord.join(req({ protocols: [] }))
    expect(none.error).toBe(E.INCONSISTENT_GROUP_PROTOCOL)
    expect(h.coord.describe('g')?.state).toBe('Stable')
  })

  it('rejects session timeouts outside the accepted range and invalid group ids', async () => {
    const h = harness({ minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 60_000 })
    expect((await h.coord.join(req({ sessionTimeoutMs: 999 }))).error).toBe(E.INVALID_SESSION_TIMEOUT)
    expect((await h.coord.join(req({ sessionTimeoutMs: 60_001 }))).error).toBe(E.INVALID_SESSION_TIMEOUT)
    expect((await h.coord.join(req({ groupId: '' }))).error).toBe(E.INVALID_GROUP_ID)
    expect((await h.coord.join(req({ groupId: 'a\0b' }))).error).toBe(E.INVALID_GROUP_ID)
    expect(h.claims.size).toBe(0)
  })

  it('waits the initial rebalance delay before the first join of an empty group completes, taking members that join meanwhile', async () => {
    const h = harness({ initialRebalanceDelayMs: 50 })
    const a = track(h.coord.join(req({ clientId: 'a' })))
    h.clock.advance(30)
    const b = track(h.coord.join(req({ clientId: 'b' })))
    h.clock.advance(49)
    await flush()
    // Each new member restarts the delay.
    expect(a.done).toBe(false)
    h.clock.advance(1)
    await flush()
    expect(a.value).toMatchObject({ error: E.NONE, generationId: 1 })
    expect(a.value?.members.map((m) => m.memberId)).toEqual(['a-m1', 'b-m2'])
    expect(b.value).toMatchObject({ error: E.NONE, generationId: 1 })
  })

  it('answers a lost JoinGroup again with the same generation while the group completes its rebalance', async () => {
    const h = harness()
    const first = await h.coord.join(req({ clientId: 'a' }))
    const again = await h.coord.join(req({ clientId: 'a', memberId: first.memberId }))
    expect(again).toEqual(first)
    expect(h.coord.describe('g')?.state).toBe('CompletingRebalance')
  })
})

describe('WireCoordinator: rebalancing and fencing', () => {
  it('sends a Stable group into a rebalance when a member joins: heartbeats say REBALANCE_IN_PROGRESS and the join completes once all rejoined', async () => {
    const h = harness()
    const { ids, generation } = await stableGroup(h, ['a', 'b'])
    const c = track(h.coord.join(req({ clientId: 'c' })))
    await flush()
    expect(c.done).toBe(false)
    expect(h.coord.heartbeat('g', ids[0], generation)).toBe(E.REBALANCE_IN_PROGRESS)
    expect(h.coord.heartbeat('g', ids[1], generation)).toBe(E.REBALANCE_IN_PROGRESS)
    // Syncing the old generation during the join phase is refused; committing is still allowed.
    const sync = await h.coord.sync({
      groupId: 'g',
      generationId: generation,
      memberId: ids[1],
      groupInstanceId: null,
      assignments: [],
    })
    expect(sync.error).toBe(E.REBALANCE_IN_PROGRESS)
    expect(h.coord.checkCommit('g', ids[0], generation)).toBe(E.NONE)
    const ra = track(h.coord.join(req({ clientId: 'a', memberId: ids[0] })))
    await flush()
    expect(ra.done).toBe(false)
    const rb = await h.coord.join(req({ clientId: 'b', memberId: ids[1] }))
    await flush()
    // No timer ran: the phase completed when the last member rejoined.
    expect(rb.generationId).toBe(generation + 1)
    expect(ra.value?.members.map((m) => m.memberId).sort()).toEqual([...ids, 'c-m3'].sort())
    expect(c.value).toMatchObject({ error: E.NONE, generationId: generation + 1 })
    // The old generation is fenced.
    expect(h.coord.heartbeat('g', ids[0], generation)).toBe(E.ILLEGAL_GENERATION)
    expect(h.coord.checkCommit('g', ids[0], generation)).toBe(E.REBALANCE_IN_PROGRESS)
    const stale = await h.coord.sync({
      groupId: 'g',
      generationId: generation,
      memberId: ids[0],
      groupInstanceId: null,
      assignments: [],
    })
    expect(stale.error).toBe(E.ILLEGAL_GENERATION)
    expect(h.coord.heartbeat('g', 'nobody', generation + 1)).toBe(E.UNKNOWN_MEMBER_ID)
    expect(h.coord.heartbeat('other', ids[0], generation + 1)).toBe(E.UNKNOWN_MEMBER_ID)
  })

  it('drops members that do not rejoin within the rebalance timeout when the join phase ends', async () => {
    const h = harness()
    const { ids, generation } = await stableGroup(h, ['a', 'b'], undefined, { rebalanceTimeoutMs: 5000 })
    const ra = track(h.coord.join(req({ clientId: 'a', memberId: ids[0], rebalanceTimeoutMs: 5000 })))
    h.clock.advance(2500)
    // b keeps heartbeating but never rejoins.
    expect(h.coord.heartbeat('g', ids[1], generation)).toBe(E.REBALANCE_IN_PROGRESS)
    h.clock.advance(2499)
    expect(h.coord.heartbeat('g', ids[1], generation)).toBe(E.REBALANCE_IN_PROGRESS)
    await flush()
    expect(ra.done).toBe(false)
    h.clock.advance(1)
    await flush()
    expect(ra.value).toMatchObject({ error: E.NONE, generationId: generation + 1 })
    expect(ra.value?.members.map((m) => m.memberId)).toEqual([ids[0]])
    expect(h.coord.heartbeat('g', ids[1], generation)).toBe(E.UNKNOWN_MEMBER_ID)
    expect(h.logs.some((l) => l.includes(ids[1]) && l.includes('rebalance timeout'))).toBe(true)
  })

  it('removes a member whose heartbeats stop for its session timeout, and the group rebalances without it', async () => {
    const h = harness()
    const { ids, generation } = await stableGroup(h, ['a', 'b'])
    h.clock.advance(6000)
    expect(h.coord.heartbeat('g', ids[0], generation)).toBe(E.NONE)
    expect(h.coord.heartbeat('g', ids[1], generation)).toBe(E.NONE)
    h.clock.advance(6000)
    expect(h.coord.heartbeat('g', ids[0], generation)).toBe(E.NONE)
    h.clock.advance(3999)
    expect(h.coord.describe('g')?.members).toHaveLength(2)
    h.clock.advance(1)
    // b's last heartbeat was 10 s ago (its session timeout): removed, and a is told to rejoin.
    expect(h.coord.heartbeat('g', ids[1], generation)).toBe(E.UNKNOWN_MEMBER_ID)
    expect(h.coord.heartbeat('g', ids[0], generation)).toBe(E.REBALANCE_IN_PROGRESS)
    expect(h.logs.some((l) => l.includes(ids[1]) && l.includes('no heartbeat'))).toBe(true)
    const ra = await h.coord.join(req({ clientId: 'a', memberId: ids[0] }))
    expect(ra).toMatchObject({ error: E.NONE, generationId: generation + 1, leaderId: ids[0] })
    expect(ra.members.map((m) => m.memberId)).toEqual([ids[0]])
  })

  it('keeps a member exactly as long as its session timeout after the last heartbeat', async () => {
    const h = harness()
    const { ids, generation } = await stableGroup(h, ['a'])
    h.clock.advance(9999)
    expect(h.coord.heartbeat('g', ids[0], generation)).toBe(E.NONE)
    h.clock.advance(9999)
    expect(h.coord.describe('g')?.members).toHaveLength(1)
    h.clock.advance(1)
    expect(h.coord.describe('g')?.members).toHaveLength(0)
    expect(h.coord.describe('g')?.state).toBe('Empty')
    expect(h.claims.size).toBe(0)
  })

  it('tells followers waiting in SyncGroup to rejoin when the leader leaves before syncing, and elects a new leader', async () => {
    const h = harness()
    const a = await h.coord.join(req({ clientId: 'a', requireKnownMemberId: true }))
    const b = await h.coord.join(req({ clientId: 'b', requireKnownMemberId: true }))
    const [ja, jb] = await Promise.all([
      h.coord.join(req({ clientId: 'a', memberId: a.memberId, requireKnownMemberId: true })),
      h.coord.join(req({ clientId: 'b', memberId: b.memberId, requireKnownMemberId: true })),
    ])
    expect(ja.leaderId).toBe(a.memberId)
    const follower = h.coord.sync({
      groupId: 'g',
      generationId: jb.generationId,
      memberId: b.memberId,
      groupInstanceId: null,
      assignments: [],
    })
    expect(h.coord.leave('g', [{ memberId: a.memberId, groupInstanceId: null }])).toEqual({
      error: E.NONE,
      members: [{ memberId: a.memberId, groupInstanceId: null, error: E.NONE }],
    })
    expect((await follower).error).toBe(E.REBALANCE_IN_PROGRESS)
    const rb = await h.coord.join(req({ clientId: 'b', memberId: b.memberId }))
    expect(rb).toMatchObject({ error: E.NONE, generationId: jb.generationId + 1, leaderId: b.memberId })
  })

  it('drops members that send no SyncGroup within the rebalance timeout (a leader that never syncs)', async () => {
    const h = harness()
    const a = await h.coord.join(req({ clientId: 'a', requireKnownMemberId: true, rebalanceTimeoutMs: 2000 }))
    const b = await h.coord.join(req({ clientId: 'b', requireKnownMemberId: true, rebalanceTimeoutMs: 2000 }))
    const [, jb] = await Promise.all([
      h.coord.join(req({ clientId: 'a', memberId: a.memberId, requireKnownMemberId: true, rebalanceTimeoutMs: 2000 })),
      h.coord.join(req({ clientId: 'b', memberId: b.memberId, requireKnownMemberId: true, rebalanceTimeoutMs: 2000 })),
    ])
    const follower = track(
      h.coord.sync({
        groupId: 'g',
        generationId: jb.generationId,
        memberId: b.memberId,
        groupInstanceId: null,
        assignments: [],
      }),
    )
    h.clock.advance(1999)
    await flush()
    expect(follower.done).toBe(false)
    h.clock.advance(1)
    await flush()
    expect(follower.value?.error).toBe(E.REBALANCE_IN_PROGRESS)
    expect(h.coord.describe('g')?.members.map((m) => m.memberId)).toEqual([b.memberId])
    expect(h.logs.some((l) => l.includes(a.memberId) && l.includes('SyncGroup'))).toBe(true)
  })

  it('lets a member leave (v3 batch: each member gets its own error) and the rest rebalance', async () => {
    const h = harness()
    const { ids, generation } = await stableGroup(h, ['a', 'b', 'c'])
    const res = h.coord.leave('g', [
      { memberId: ids[1], groupInstanceId: null },
      { memberId: 'ghost', groupInstanceId: null },
      { memberId: ids[2], groupInstanceId: 'inst' },
    ])
    expect(res.members.map((m) => m.error)).toEqual([E.NONE, E.UNKNOWN_MEMBER_ID, E.NONE])
    expect(h.coord.heartbeat('g', ids[0], generation)).toBe(E.REBALANCE_IN_PROGRESS)
    const ra = await h.coord.join(req({ clientId: 'a', memberId: ids[0] }))
    expect(ra.members.map((m) => m.memberId)).toEqual([ids[0]])
    expect(h.coord.leave('nope', [{ memberId: 'x', groupInstanceId: null }]).members[0].error).toBe(E.UNKNOWN_MEMBER_ID)
  })

  it('removes the members of a closed connection at once, and answers their pending join', async () => {
    const h = harness()
    const conns = [{}, {}]
    const { ids, generation } = await stableGroup(h, ['a', 'b'], conns)
    h.coord.connectionClosed(conns[1])
    expect(h.coord.heartbeat('g', ids[1], generation)).toBe(E.UNKNOWN_MEMBER_ID)
    expect(h.coord.heartbeat('g', ids[0], generation)).toBe(E.REBALANCE_IN_PROGRESS)
    const pending = h.coord.join(req({ clientId: 'a', memberId: ids[0], connection: conns[0] }))
    // a's rejoin was the last one outstanding: the group completes alone.
    expect((await pending).members.map((m) => m.memberId)).toEqual([ids[0]])
    // A member waiting in JoinGroup whose connection closes is answered and removed.
    const c = track(h.coord.join(req({ clientId: 'c', connection: conns[1] })))
    await flush()
    expect(c.done).toBe(false)
    h.coord.connectionClosed(conns[1])
    await flush()
    expect(c.value?.error).toBe(E.UNKNOWN_MEMBER_ID)
    h.coord.connectionClosed(conns[0])
    expect(h.coord.describe('g')?.state).toBe('Empty')
    expect(h.claims.size).toBe(0)
  })

  it('forgets an outstanding member id when its connection closes or its session timeout passes, so the join phase does not wait for it', async () => {
    const h = harness()
    const conn = {}
    await h.coord.join(req({ clientId: 'a', requireKnownMemberId: true, connection: conn }))
    const b = await h.coord.join(req({ clientId: 'b', requireKnownMemberId: true }))
    const jb = track(h.coord.join(req({ clientId: 'b', memberId: b.memberId, requireKnownMemberId: true })))
    await flush()
    expect(jb.done).toBe(false)
    h.coord.connectionClosed(conn)
    await flush()
    expect(jb.value?.members.map((m) => m.memberId)).toEqual([b.memberId])

    const h2 = harness()
    await h2.coord.join(req({ clientId: 'a', requireKnownMemberId: true, sessionTimeoutMs: 3000 }))
    expect(h2.claims.has('g')).toBe(true)
    h2.clock.advance(3000)
    expect(h2.claims.has('g')).toBe(false)
  })
})

describe('WireCoordinator: hurrying members that must rejoin', () => {
  it('hurries each member that has not rejoined when a join phase starts, and releases it when it rejoins, leaves or the phase ends', async () => {
    const held = new Map<string, number>()
    const h = harness({
      hurry: ({ clientId }) => {
        held.set(clientId, (held.get(clientId) ?? 0) + 1)
        let done = false
        return () => {
          if (done) throw new Error('released twice')
          done = true
          held.set(clientId, held.get(clientId)! - 1)
        }
      },
    })
    const { ids } = await stableGroup(h, ['a', 'b', 'c'], undefined, { rebalanceTimeoutMs: 1000 })
    expect([...held.values()].every((n) => n === 0)).toBe(true)
    const d = track(h.coord.join(req({ clientId: 'd', rebalanceTimeoutMs: 1000 })))
    // The joining member waits in its JoinGroup: only the three others must be told.
    expect(Object.fromEntries(held)).toEqual({ a: 1, b: 1, c: 1 })
    const a = track(h.coord.join(req({ clientId: 'a', memberId: ids[0], rebalanceTimeoutMs: 1000 })))
    expect(held.get('a')).toBe(0)
    h.coord.leave('g', [{ memberId: ids[1], groupInstanceId: null }])
    expect(held.get('b')).toBe(0)
    h.clock.advance(1000)
    await flush()
    // c never rejoined: dropped when the phase ended, and released.
    expect(d.value?.error).toBe(E.NONE)
    expect(a.value?.members.map((m) => m.memberId)).toEqual([ids[0], 'd-m4'])
    expect(Object.fromEntries(held)).toEqual({ a: 0, b: 0, c: 0 })
  })
})

describe('WireCoordinator: claims, commits, admin', () => {
  it('claims the group while it has members and releases it when the last one leaves; the view shows the decoded assignment', async () => {
    const h = harness({ decodeAssignment: (b) => [{ topic: b.toString(), partition: 0 }] })
    const { ids } = await stableGroup(h, ['a'])
    const view = h.claims.get('g')!()
    expect(view).toMatchObject({ state: 'Stable', protocolType: 'consumer', protocol: 'range' })
    expect(view.members).toEqual([
      {
        memberId: ids[0],
        clientId: 'a',
        clientHost: '/127.0.0.1',
        assignment: [{ topic: `a:${ids[0]}`, partition: 0 }],
      },
    ])
    h.coord.leave('g', [{ memberId: ids[0], groupInstanceId: null }])
    expect(h.claims.size).toBe(0)
    expect(h.coord.describe('g')?.state).toBe('Empty')
  })

  it('refuses to join a group that has in-process members with INCONSISTENT_GROUP_PROTOCOL and a log line', async () => {
    const h = harness()
    h.inProcess.add('g')
    const res = await h.coord.join(req({ requireKnownMemberId: true }))
    expect(res.error).toBe(E.INCONSISTENT_GROUP_PROTOCOL)
    expect(h.logs.join('\n')).toMatch(/group 'g' has in-process consumers/)
    expect(h.coord.describe('g')).toBeUndefined()
    h.inProcess.delete('g')
    expect((await h.coord.join(req())).error).toBe(E.NONE)
  })

  it('by default publishes what it reports on seglog:wire:group and warns on stderr once per refused group', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const published: unknown[] = []
    const listener = (m: unknown) => void published.push(m)
    wireGroupChannel.subscribe(listener)
    try {
      const h = harness({ log: undefined })
      h.inProcess.add('g')
      await h.coord.join(req())
      await h.coord.join(req())
      expect(warn).toHaveBeenCalledTimes(1)
      expect(String(warn.mock.calls[0][0])).toMatch(/^seglog: group 'g' has in-process consumers/)
      expect(published).toHaveLength(2)
      expect(published[0]).toMatchObject({ groupId: 'g' })
    } finally {
      wireGroupChannel.unsubscribe(listener)
      warn.mockRestore()
    }
  })

  it('answers COORDINATOR_NOT_AVAILABLE when the engine cannot take the claim (it is closing)', async () => {
    const h = harness({
      claim: () => {
        throw new SeglogError('ENGINE_CLOSED', 'closing')
      },
    })
    expect((await h.coord.join(req({ requireKnownMemberId: true }))).error).toBe(E.COORDINATOR_NOT_AVAILABLE)
    expect(h.coord.checkCommit('g', '', -1)).toBe(E.COORDINATOR_NOT_AVAILABLE)
    expect(h.coord.describe('g')).toBeUndefined()
  })

  it('checks OffsetCommit like Kafka: simple commits only for groups without members, member commits by generation', async () => {
    const h = harness()
    expect(h.coord.checkCommit('g', '', -1)).toBe(E.NONE)
    expect(h.coord.checkCommit('g', 'm', 3)).toBe(E.ILLEGAL_GENERATION)
    h.inProcess.add('g')
    expect(h.coord.checkCommit('g', '', -1)).toBe(E.UNKNOWN_MEMBER_ID)
    h.inProcess.delete('g')
    expect(h.claims.size).toBe(0)
    const { ids, generation } = await stableGroup(h, ['a'])
    expect(h.coord.checkCommit('g', '', -1)).toBe(E.UNKNOWN_MEMBER_ID)
    expect(h.coord.checkCommit('g', ids[0], generation)).toBe(E.NONE)
    expect(h.coord.checkCommit('g', ids[0], generation - 1)).toBe(E.ILLEGAL_GENERATION)
    expect(h.coord.checkCommit('g', 'ghost', generation)).toBe(E.UNKNOWN_MEMBER_ID)
    // A commit counts as a heartbeat.
    h.clock.advance(9000)
    expect(h.coord.checkCommit('g', ids[0], generation)).toBe(E.NONE)
    h.clock.advance(9000)
    expect(h.coord.heartbeat('g', ids[0], generation)).toBe(E.NONE)
    expect(h.coord.checkCommit('', '', -1)).toBe(E.INVALID_GROUP_ID)
  })

  it('describes a group with metadata and assignments only while Stable', async () => {
    const h = harness()
    const { ids } = await stableGroup(h, ['a'])
    expect(h.coord.describe('g')).toEqual({
      groupId: 'g',
      state: 'Stable',
      protocolType: 'consumer',
      protocol: 'range',
      members: [
        {
          memberId: ids[0],
          groupInstanceId: null,
          clientId: 'a',
          clientHost: '/127.0.0.1',
          metadata: meta('r'),
          assignment: meta(`a:${ids[0]}`),
        },
      ],
    })
    void h.coord.join(req({ clientId: 'b' }))
    expect(h.coord.describe('g')).toMatchObject({ state: 'PreparingRebalance', protocol: '' })
    expect(h.coord.describe('g')?.members[0]).toMatchObject({ metadata: Buffer.alloc(0), assignment: Buffer.alloc(0) })
    expect(h.coord.list()).toEqual([{ groupId: 'g', protocolType: 'consumer', state: 'PreparingRebalance' }])
    expect(h.coord.isActive('g')).toBe(true)
  })

  it('close answers every pending JoinGroup and SyncGroup with NOT_COORDINATOR, releases claims and clears its timers', async () => {
    const h = harness()
    const { ids, generation } = await stableGroup(h, ['a', 'b'])
    const pendingJoin = h.coord.join(req({ clientId: 'a', memberId: ids[0] }))
    const other = await h.coord.join(req({ groupId: 'h', clientId: 'x', requireKnownMemberId: true }))
    expect(other.error).toBe(E.MEMBER_ID_REQUIRED)
    expect(h.claims.size).toBe(2)
    h.coord.close()
    expect((await pendingJoin).error).toBe(E.NOT_COORDINATOR)
    expect(h.claims.size).toBe(0)
    expect(h.clock.pending).toBe(0)
    expect(h.coord.heartbeat('g', ids[1], generation)).toBe(E.NOT_COORDINATOR)
    expect((await h.coord.join(req())).error).toBe(E.NOT_COORDINATOR)
  })
})
