/**
 * Group admin with wire-protocol groups: a group is either wire or in-process while it has members
 * (`claimExternal` and `coordinator` refuse each other with GROUP_NOT_EMPTY), wire groups show in
 * listGroups/describeGroup through their view, and offset admin waits until their members are gone.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { GroupMember, TopicPartition } from '../../src/clients/group.js'
import { type ExternalGroupView, Groups } from '../../src/clients/group-admin.js'
import { SeglogError } from '../../src/errors.js'
import { Seglog } from '../../src/main.js'

let dir: string
let log: Seglog
let groups: Groups

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-groups-wire-'))
  log = await Seglog.open(dir)
  await log.createTopic('t', { partitions: 2 })
  await log.append('t', [{ value: 1, partition: 0 }])
  // The engine's own Groups over the same store, so this file needs no listener.
  groups = new Groups({
    offsetStore: log.offsetStore,
    assertOpen: () => log.assertOpen(),
    partitionCount: (topic) =>
      log.listTopics().includes(topic) ? log.describeTopic(topic).partitions.length : undefined,
    offsets: (topic, partition) => log.offsets(topic, partition),
    offsetForTimestamp: () => null,
  })
})

afterEach(async () => {
  await log.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

function caught(fn: () => unknown): SeglogError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(SeglogError)
    return err as SeglogError
  }
  expect.unreachable('expected a throw')
}

async function rejection(promise: Promise<unknown>): Promise<SeglogError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(SeglogError)
    return err as SeglogError
  }
  expect.unreachable('expected a rejection')
}

/** An in-process member that takes what it is given (the coordinator's contract, without a consumer loop). */
function member(memberId: string): GroupMember & { partitions: TopicPartition[] } {
  return {
    memberId,
    partitions: [],
    subscribedTopics: () => ['t'],
    onRebalancing: () => {},
    revoke: async function (this: { partitions: TopicPartition[] }) {
      this.partitions = []
    },
    assign: async function (this: { partitions: TopicPartition[] }, partitions: TopicPartition[]) {
      this.partitions = partitions
    },
  }
}

const view: ExternalGroupView = {
  state: 'Stable',
  protocolType: 'consumer',
  protocol: 'range',
  members: [
    {
      memberId: 'rdkafka-1',
      clientId: 'rdkafka',
      clientHost: '/127.0.0.1',
      assignment: [{ topic: 't', partition: 1 }],
    },
  ],
}

describe('Groups with wire-protocol groups', () => {
  it('refuses an in-process join while a wire claim holds the group, naming the wire protocol, and allows it after release', async () => {
    const release = groups.claimExternal('g', () => view)
    const err = caught(() => groups.coordinator('g', 'range'))
    expect(err.code).toBe('GROUP_NOT_EMPTY')
    expect(err.message).toMatch(/wire protocol/)
    // Another group id is unaffected.
    await groups.coordinator('other', 'range').join(member('m0'))
    release()
    // Releasing twice does nothing.
    release()
    const m = member('m1')
    await groups.coordinator('g', 'range').join(m)
    expect(m.partitions).toHaveLength(2)
  })

  it('refuses a wire claim while in-process members are in the group, and allows it once they left', async () => {
    const c = groups.coordinator('g', 'range')
    const m = member('m1')
    await c.join(m)
    const err = caught(() => groups.claimExternal('g', () => view))
    expect(err.code).toBe('GROUP_NOT_EMPTY')
    expect(err.message).toMatch(/in-process consumers/)
    await c.leave(m)
    const release = groups.claimExternal('g', () => view)
    expect(caught(() => groups.claimExternal('g', () => view)).code).toBe('GROUP_NOT_EMPTY')
    release()
  })

  it('lists and describes a wire group from its view while claimed', async () => {
    await log.offsetStore.commit('g', [{ topic: 't', partition: 0, offset: 1 }])
    await groups.coordinator('native', 'range').join(member('n1'))
    const release = groups.claimExternal('g', () => view)
    expect(await groups.listGroups()).toEqual([
      { groupId: 'g', state: 'Stable', members: 1, protocolType: 'consumer' },
      { groupId: 'native', state: 'Stable', members: 1, protocolType: 'consumer' },
    ])
    const d = await groups.describeGroup('g')
    expect(d.state).toBe('Stable')
    expect(d.members).toEqual([
      {
        memberId: 'rdkafka-1',
        assignment: [{ topic: 't', partition: 1 }],
        clientId: 'rdkafka',
        clientHost: '/127.0.0.1',
      },
    ])
    expect(d.offsets).toEqual([{ topic: 't', partition: 0, committed: 1, logEndOffset: 1, lag: 0 }])
    release()
    expect(await groups.listGroups()).toContainEqual({ groupId: 'g', state: 'Empty', members: 0, protocolType: '' })
    expect((await groups.describeGroup('g')).members).toEqual([])
  })

  it('refuses resetOffsets and deleteGroup with GROUP_NOT_EMPTY while wire members are active', async () => {
    await log.offsetStore.commit('g', [{ topic: 't', partition: 0, offset: 1 }])
    const release = groups.claimExternal('g', () => view)
    const reset = await rejection(groups.resetOffsets({ groupId: 'g', topic: 't', to: 'earliest' }))
    expect(reset.code).toBe('GROUP_NOT_EMPTY')
    expect(reset.message).toMatch(/wire protocol/)
    expect((await rejection(groups.deleteGroup('g'))).code).toBe('GROUP_NOT_EMPTY')
    expect((await groups.fetchOffsets('g')).map((o) => o.offset)).toEqual([1])
    release()
    await groups.resetOffsets({ groupId: 'g', topic: 't', to: 'earliest' })
    expect((await groups.fetchOffsets('g')).map((o) => o.offset)).toEqual([0, 0])
    await groups.deleteGroup('g')
    expect(await groups.fetchOffsets('g')).toEqual([])
  })
})
