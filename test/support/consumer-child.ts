/**
 * Consumer process for `test/clients/consumer-kill.test.ts`, and the record content both sides agree on.
 *
 * Run from the repo root as `node --import tsx test/support/consumer-child.ts <dir> <variant>`: opens the engine in
 * `<dir>` (the parent created `KILL_TOPIC` and filled it), runs one consumer of group `KILL_GROUP` subscribed to
 * `KILL_TOPIC` from the beginning with auto-commit, prints `ready`, and for every handled message prints
 * `h <partition> <offset>` before its handler resolves (a record whose value is not `valueFor(partition, offset)`
 * prints `bad <partition> <offset>` instead). Once every partition has been handled up to its log end, it stops the
 * consumer (which commits what it resolved), checks that the group's lag is 0 everywhere, prints `done`, closes
 * the engine and exits 0. The parent SIGKILLs it at a random moment before that, round after round.
 *
 * Variants (`CHILD_VARIANTS`): `default` — the default auto-commit (after each fetched batch, partitions handled one
 * at a time); `threshold50` — `autoCommitThreshold: 50`; `concurrent` — the default auto-commit with
 * `partitionsConsumedConcurrently: 3` (a commit after one partition's batch also commits what the others resolved
 * so far). Handlers do a tiny await (setImmediate, and every 16th message a 1 ms timer) so a kill
 * lands between, inside and after handlers and commits.
 *
 * stdout is a pipe, written synchronously on Linux: once a handler printed its line, the parent can read it even
 * if the process is killed right after.
 */
import * as nodePath from 'node:path'
import { pathToFileURL } from 'node:url'
import type { RunOptions } from '../../src/clients/consumer.js'
import { Seglog } from '../../src/main.js'

export const KILL_TOPIC = 'kt'
export const KILL_GROUP = 'g'
export const KILL_PARTITIONS = 3

export const CHILD_VARIANTS = {
  default: {},
  threshold50: { autoCommitThreshold: 50 },
  concurrent: { partitionsConsumedConcurrently: 3 },
} satisfies Record<string, Omit<RunOptions, 'eachMessage' | 'eachBatch'>>

export type ChildVariant = keyof typeof CHILD_VARIANTS

/** The value of record `offset` of `partition` (topic format 'string'). */
export function valueFor(partition: number, offset: number): string {
  return `v-${partition}-${offset}-${(Math.imul(offset + 1, 0x9e3779b1) >>> 0).toString(36)}`
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

async function main(dir: string, variant: ChildVariant): Promise<void> {
  const runOptions = CHILD_VARIANTS[variant]
  if (runOptions === undefined) throw new Error(`unknown variant ${variant}`)
  const log = await Seglog.open(dir)
  const ends: number[] = []
  for (let p = 0; p < KILL_PARTITIONS; p++) ends.push(log.offsets(KILL_TOPIC, p).logEndOffset)
  // Next offset to handle per partition: the committed offset, advanced by every handled message.
  const next = new Array<number>(KILL_PARTITIONS).fill(0)
  for (const c of await log.fetchOffsets(KILL_GROUP, KILL_TOPIC)) next[c.partition] = c.offset
  const consumer = log.consumer({ groupId: KILL_GROUP })
  await consumer.subscribe({ topics: [KILL_TOPIC], fromBeginning: true })
  let handled = 0
  let finished: () => void = () => {}
  const caughtUp = new Promise<void>((resolve) => {
    finished = resolve
  })
  const check = (): void => {
    if (next.every((n, p) => n >= ends[p])) finished()
  }
  await consumer.run({
    ...runOptions,
    eachMessage: async ({ partition, message }) => {
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (++handled % 16 === 0) await new Promise<void>((resolve) => setTimeout(resolve, 1))
      const ok = message.value === valueFor(partition, message.offset)
      out(`${ok ? 'h' : 'bad'} ${partition} ${message.offset}`)
      next[partition] = message.offset + 1
      // Checked once this handler resolved and its offset was resolved: stopping while a handler is still in
      // flight would not commit that handler's message (see consumer.ts handleMessages).
      setImmediate(check)
    },
  })
  out('ready')
  check()
  await caughtUp
  await consumer.stop()
  const lag = await consumer.lag()
  if (lag.length !== KILL_PARTITIONS || lag.some((l) => l.lag !== 0)) {
    throw new Error(`caught up but the group's lag is ${JSON.stringify(lag)}`)
  }
  out('done')
  await log.close()
}

const invokedAs = process.argv[1]
if (invokedAs !== undefined && import.meta.url === pathToFileURL(nodePath.resolve(invokedAs)).href) {
  const [dir, variant] = process.argv.slice(2)
  main(dir, variant as ChildVariant).catch((err: unknown) => {
    process.stderr.write(`consumer-child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  })
}
