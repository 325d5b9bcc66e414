/**
 * The topic registry's rollbacks: a metadata operation that fails and whose undo fails too rejects with its own
 * error, reports the undo's failure (`rollback-failed`), and the next open finishes the cleanup.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { TEST_HOOKS } from '../../src/internal.js'
import { type EngineEvent, Seglog } from '../../src/main.js'
import { FaultyFileSystem } from '../support/faulty-fs.js'

let dir: string
const engines: Seglog[] = []

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-topics-')))
})

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
})

async function open(events: EngineEvent[], faulty?: FaultyFileSystem): Promise<Seglog> {
  const e = await Seglog.open(dir, {
    onEvent: (ev) => events.push(ev),
    ...(faulty ? { [TEST_HOOKS]: { fs: faulty } } : {}),
  })
  engines.push(e)
  return e
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

const createDirs = () => fs.readdirSync(dir).filter((n) => n.endsWith('-create'))

describe('TopicRegistry rollbacks', () => {
  it.each(['createTopic', 'createPartitions'] as const)(
    '%s rejects with its own error when removing the staged directories fails too, and reports the rollback',
    async (op) => {
      const faulty = new FaultyFileSystem(dir)
      const events: EngineEvent[] = []
      const e = await open(events, faulty)
      // The original failure: the new partitions' topic files cannot be written. The undo: rmdir fails.
      const run = async () => {
        if (op === 'createPartitions') await e.createTopic('t')
        faulty.failNext({ op: 'write', path: /-create/, errno: 'ENOSPC', count: Number.POSITIVE_INFINITY })
        faulty.failNext({ op: 'rmdir', path: /-create/, errno: 'EIO', count: Number.POSITIVE_INFINITY })
        return op === 'createTopic' ? e.createTopic('t', { partitions: 2 }) : e.createPartitions('t', 3)
      }
      const err = await rejection(run())
      expect(err.code).toBe('IO_ERROR')
      expect(err.errno).toBe('ENOSPC')
      const rollbacks = events.filter((ev) => ev.type === 'rollback-failed')
      expect(rollbacks.length).toBe(2)
      for (const r of rollbacks) {
        if (r.type !== 'rollback-failed') continue
        expect(r.operation).toBe(op)
        expect(r.error.code).toBe('IO_ERROR')
        expect(r.error.errno).toBe('EIO')
        expect(r.path).toMatch(/-create$/)
      }
      expect(createDirs().length).toBe(2)
      // Nothing was committed: the topic is as it was.
      if (op === 'createTopic') expect(e.listTopics()).toEqual([])
      else expect(e.describeTopic('t').partitions.length).toBe(1)
      faulty.clearFailures()
      await e.close()
      engines.splice(0)
      // The next open removes the uncommitted `-create` directories.
      const again: EngineEvent[] = []
      const e2 = await open(again)
      expect(createDirs()).toEqual([])
      expect(again.some((ev) => ev.type === 'interrupted-operations' && ev.removed.length === 2)).toBe(true)
      if (op === 'createTopic') expect(e2.listTopics()).toEqual([])
      else expect(e2.describeTopic('t').partitions.length).toBe(1)
    },
  )
})
