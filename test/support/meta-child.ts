/**
 * Child process for `test/engine/metadata.test.ts`: what a damaged metadata store does to a process has to be
 * seen from outside it, because the LevelDB binding answers some damage with SIGABRT. Run from the repo root as
 * `node --import tsx test/support/meta-child.ts <mode> <args...>`:
 *
 * - `raw <location>`: opens the LevelDB at `<location>` straight through the binding, the way the engine used
 *   to (utf8 values, range iterators over `topic:` and `offset:`), and prints `raw ok <keys>` or
 *   `raw error <code>`. Shows what the binding itself does with a damaged file.
 * - `open <dir>`: `Seglog.open(dir)`, prints `open ok <topics,...>` or `open error <code> <path>`, closes.
 * - `verify <expect.json>`: `expect.json` holds `{ topics: { name: { partitions, config, records: [n per
 *   partition] } }, dirs: [...] }` and `cases: [dir, ...]`. For each case dir, opens the engine, checks that
 *   every expected topic is there with its config and every record of it (derived records, see
 *   `engine-child.ts`), closes and does it again, and prints one JSON line
 *   `{ dir, outcome: 'intact' | 'kept' | 'error', code, path, problem }`. `kept`: a topic is missing, but
 *   every one of its partition directories is still there and was reported as unknown (what the engine does
 *   when the store lost the topic and its topic files are damaged too). `problem` is set when something was
 *   wrong: a topic missing without that, a wrong record, an error that is not a SeglogError.
 * - `crash-after-writes <dir>`: opens the engine (holding `alpha`), commits offsets, creates topic `gamma`,
 *   prints `done`, then SIGKILLs itself, so the store's write-ahead log holds those writes.
 */
import * as fs from 'node:fs'
import * as nodePath from 'node:path'
import { pathToFileURL } from 'node:url'
import { Level } from 'level'
import { SeglogError } from '../../src/errors.js'
import { Seglog } from '../../src/main.js'
import { keyFor, valueFor } from './engine-child.js'

export interface ExpectedTopic {
  partitions: number
  /** Config fields that must read back (a subset of describeTopic's config). */
  config: Record<string, unknown>
  /** Records per partition (derived, dense from offset 0). */
  records: number[]
}

export interface VerifyPlan {
  topics: Record<string, ExpectedTopic>
  cases: string[]
}

export interface VerifyResult {
  dir: string
  outcome: 'intact' | 'kept' | 'error'
  code: string | null
  path: string | null
  problem: string | null
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

async function raw(location: string): Promise<void> {
  const db = new Level<string, string>(location, { valueEncoding: 'utf8' })
  try {
    await db.open()
    let n = 0
    for (const prefix of ['topic:', 'offset:']) {
      for await (const _ of db.iterator({ gte: prefix, lt: `${prefix}\xff` })) n++
    }
    out(`raw ok ${n}`)
  } catch (err) {
    out(`raw error ${(err as { code?: string }).code}`)
  } finally {
    await db.close().catch(() => {})
  }
}

async function open(dir: string): Promise<void> {
  try {
    const e = await Seglog.open(dir)
    out(`open ok ${e.listTopics().join(',')}`)
    await e.close()
  } catch (err) {
    if (!(err instanceof SeglogError)) throw err
    out(`open error ${err.code} ${err.path}`)
  }
}

/**
 * Null when the engine holds exactly the expected topics' records and configs, or has kept and reported the
 * directories of a topic it lost (then `kept` gets the topic); else what is wrong.
 */
async function check(
  e: Seglog,
  dir: string,
  topics: Record<string, ExpectedTopic>,
  unknown: Set<string>,
  kept: Set<string>,
): Promise<string | null> {
  for (const [name, want] of Object.entries(topics)) {
    if (!e.listTopics().includes(name)) {
      const dirs = Array.from({ length: want.partitions }, (_, p) => `${name}-${p}`)
      if (dirs.every((d) => unknown.has(d) && fs.existsSync(nodePath.join(dir, d)))) {
        kept.add(name)
        continue
      }
      return `topic ${name} missing (topics: ${e.listTopics().join(',')}; unknown dirs: ${[...unknown].join(',')})`
    }
    const d = e.describeTopic(name)
    if (d.partitions.length !== want.partitions) return `${name}: ${d.partitions.length} partitions`
    for (const [field, value] of Object.entries(want.config)) {
      const got = (d.config as unknown as Record<string, unknown>)[field]
      if (got !== value) return `${name}: config ${field} is ${String(got)}, expected ${String(value)}`
    }
    for (let p = 0; p < want.partitions; p++) {
      const { logStartOffset, logEndOffset } = e.offsets(name, p)
      if (logStartOffset !== 0 || logEndOffset !== want.records[p]) {
        return `${name}-${p}: offsets [${logStartOffset}, ${logEndOffset}), expected [0, ${want.records[p]})`
      }
      let next = 0
      while (next < logEndOffset) {
        const recs = await e.read(name, p, next, { maxRecords: 1000 })
        if (recs.length === 0) return `${name}-${p}: read at ${next} returned nothing`
        for (const r of recs) {
          if (r.offset !== next) return `${name}-${p}: offset ${r.offset} where ${next} was expected`
          if (r.key?.toString() !== keyFor(p, r.offset)) return `${name}-${p}@${r.offset}: wrong key`
          if (!Buffer.isBuffer(r.value) || !r.value.equals(valueFor(name, p, r.offset))) {
            return `${name}-${p}@${r.offset}: wrong value`
          }
          next++
        }
      }
    }
  }
  return null
}

async function verify(planPath: string): Promise<void> {
  const plan = JSON.parse(fs.readFileSync(planPath, 'utf8')) as VerifyPlan
  for (const dir of plan.cases) {
    const result: VerifyResult = { dir, outcome: 'intact', code: null, path: null, problem: null }
    const kept = new Set<string>()
    try {
      for (let round = 0; round < 2 && result.problem === null; round++) {
        const unknown = new Set<string>()
        const e = await Seglog.open(dir, {
          onEvent: (ev) => {
            if (ev.type === 'unknown-dirs') for (const d of ev.dirs) unknown.add(d.name)
          },
        })
        try {
          result.problem = await check(e, dir, plan.topics, unknown, kept)
        } finally {
          await e.close()
        }
      }
      if (kept.size > 0) result.outcome = 'kept'
    } catch (err) {
      result.outcome = 'error'
      if (err instanceof SeglogError) {
        result.code = err.code
        result.path = err.path ?? null
      } else {
        result.problem = `not a SeglogError: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
      }
    }
    out(JSON.stringify(result))
  }
}

async function crashAfterWrites(dir: string): Promise<void> {
  const e = await Seglog.open(dir)
  for (let i = 1; i <= 20; i++) {
    await e.offsetStore.commit('late', [
      { topic: 'alpha', partition: 0, offset: i },
      { topic: 'alpha', partition: 1, offset: i },
    ])
  }
  await e.createTopic('gamma', { partitions: 1, config: { format: 'binary' } })
  out('done')
  process.kill(process.pid, 'SIGKILL')
}

async function main(argv: string[]): Promise<void> {
  const [mode, ...args] = argv
  switch (mode) {
    case 'raw':
      return raw(args[0])
    case 'open':
      return open(args[0])
    case 'verify':
      return verify(args[0])
    case 'crash-after-writes':
      return crashAfterWrites(args[0])
    default:
      throw new Error(`unknown mode ${String(mode)}`)
  }
}

const invokedAs = process.argv[1]
if (invokedAs !== undefined && import.meta.url === pathToFileURL(nodePath.resolve(invokedAs)).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`meta-child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  })
}
