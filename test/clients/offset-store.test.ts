/**
 * OffsetStore: commits that overlap share LevelDB batches without losing their order, their atomicity or a
 * group's record; register, deleteGroup and topicKeys see every commit called before them.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OffsetStore } from '../../src/clients/offset-store.js'
import { SeglogError } from '../../src/errors.js'

let dir: string
let db: Level<string, string>
let store: OffsetStore
/** The operations of every LevelDB batch written, in order. */
let writes: { type: string; key: string }[][]

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-offset-store-'))
  db = new Level<string, string>(path.join(dir, 'meta'))
  await db.open()
  writes = []
  db.on('write', (ops: { type: string; key: string }[]) => writes.push(ops.map(({ type, key }) => ({ type, key }))))
  store = new OffsetStore(db, () => 1_700_000_000_000)
})

afterEach(async () => {
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

const offsetsOf = async (groupId: string): Promise<[string, number, number][]> =>
  (await store.fetch(groupId)).map((c) => [c.topic, c.partition, c.offset])

describe('OffsetStore', () => {
  it('writes commits called together as one batch, a later offset for a partition replacing an earlier one', async () => {
    const done = [
      store.commit('g', [
        { topic: 't', partition: 0, offset: 5 },
        { topic: 't', partition: 1, offset: 5 },
      ]),
      store.commit('h', [{ topic: 't', partition: 0, offset: 3 }]),
      store.commit('g', [{ topic: 't', partition: 0, offset: 7 }]),
    ]
    await Promise.all(done)
    expect(writes).toHaveLength(1)
    expect(await offsetsOf('g')).toEqual([
      ['t', 0, 7],
      ['t', 1, 5],
    ])
    expect(await offsetsOf('h')).toEqual([['t', 0, 3]])
    expect((await store.groups()).sort()).toEqual(['g', 'h'])
  })

  it('writes a group record with the group first commit only, and again after the group was deleted', async () => {
    const groupKeys = (ops: { key: string }[]) => ops.filter((o) => o.key.startsWith('group:')).map((o) => o.key)
    await store.commit('g', [{ topic: 't', partition: 0, offset: 1 }])
    await store.commit('g', [{ topic: 't', partition: 0, offset: 2 }])
    await store.deleteGroup('g')
    await store.commit('g', [{ topic: 't', partition: 0, offset: 3 }])
    expect(writes.map(groupKeys)).toEqual([['group:g'], [], ['group:g'], ['group:g']])
    expect(writes[2].map((o) => o.type)).toEqual(['del', 'del'])
    expect(await store.groups()).toEqual(['g'])
    expect(await offsetsOf('g')).toEqual([['t', 0, 3]])
  })

  it('applies commit, deleteGroup, commit in call order when none is awaited', async () => {
    const first = store.commit('g', [{ topic: 't', partition: 0, offset: 1 }])
    const deleted = store.deleteGroup('g')
    const second = store.commit('g', [{ topic: 't', partition: 1, offset: 2 }])
    await Promise.all([first, deleted, second])
    expect(await offsetsOf('g')).toEqual([['t', 1, 2]])
    expect(await store.groups()).toEqual(['g'])
  })

  it('gives topicKeys the keys of a commit called before it and not yet written', async () => {
    const commit = store.commit('g', [{ topic: 't', partition: 0, offset: 1 }])
    const keys = await store.topicKeys('t')
    await commit
    expect(keys).toEqual([`offset:g\0t\0${'0'.padStart(10, '0')}`])
  })

  it('rejects every commit of a batch that cannot be written with IO_ERROR, and nothing of it lands', async () => {
    await db.close()
    const results = await Promise.allSettled([
      store.commit('g', [{ topic: 't', partition: 0, offset: 1 }]),
      store.commit('h', [{ topic: 't', partition: 0, offset: 1 }]),
    ])
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const err = (r as PromiseRejectedResult).reason
      expect(err).toBeInstanceOf(SeglogError)
      expect((err as SeglogError).code).toBe('IO_ERROR')
    }
    await db.open()
    expect(await store.groups()).toEqual([])
    // The store goes on after a failed write.
    await store.commit('g', [{ topic: 't', partition: 0, offset: 2 }])
    expect(await offsetsOf('g')).toEqual([['t', 0, 2]])
  })
})
