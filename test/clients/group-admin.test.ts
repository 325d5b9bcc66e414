/**
 * Group admin: changing the committed offsets of a group that has an active member is GROUP_NOT_EMPTY.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { Seglog } from '../../src/main.js'

let dir: string
let log: Seglog

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-groups-'))
  log = await Seglog.open(dir)
})

afterEach(async () => {
  await log.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

async function rejection(promise: Promise<unknown>): Promise<SeglogError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(SeglogError)
    return err as SeglogError
  }
  expect.unreachable('expected a rejection')
}

describe('Group admin', () => {
  it('refuses resetOffsets and deleteGroup with GROUP_NOT_EMPTY while the group has a member, and allows them after stop', async () => {
    await log.createTopic('t')
    await log.append('t', [{ value: 1 }, { value: 2 }])
    const c = log.consumer({ groupId: 'g' })
    await c.subscribe({ topics: ['t'], fromBeginning: true })
    const seen: number[] = []
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.offset) })
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 5))
    const reset = await rejection(log.resetOffsets({ groupId: 'g', topic: 't', to: 'earliest' }))
    expect(reset.code).toBe('GROUP_NOT_EMPTY')
    expect((await rejection(log.deleteGroup('g'))).code).toBe('GROUP_NOT_EMPTY')
    // Another group is not affected.
    await log.resetOffsets({ groupId: 'other', topic: 't', to: 'latest' })
    await c.stop()
    await log.resetOffsets({ groupId: 'g', topic: 't', to: 'earliest' })
    expect((await log.fetchOffsets('g')).map((o) => o.offset)).toEqual([0])
    await log.deleteGroup('g')
    expect(await log.fetchOffsets('g')).toEqual([])
  })
})
