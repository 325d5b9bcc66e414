/**
 * What a process loads, watched in a child `node`: the package entry, the topic config table and `seglog topics`
 * load none of the heavy modules (node:zlib, the compaction planner, LevelDB, the wire room, the clients, the other
 * commands). The static import graph (imports.test.ts) cannot see dynamic imports and `require`s; this looks at
 * what actually ran.
 *
 * How: the child runs the source with tsx and one more `--import`, written into the test's temp dir, that
 * registers a module-loader hook appending every URL it loads to a file (seglog's modules, packages imported as
 * ESM, `node:` builtins), and at exit appends the node builtins the process loaded (`process.moduleLoadList`, which
 * also sees a `require('zlib')` from CommonJS) and the CommonJS modules in the require cache (packages such as
 * `level` required through `createRequire`).
 *
 * `seglog topics` also loads no storage below the topic files (engine/topic-listing.ts): no partition log, no
 * segment, index or log module but the leaves it reads topic files with (file names, CRC-32C) and the two that
 * src/config.ts loads for a constant (record-batch.ts, varint.ts), no engine room, and not the engine's read-only
 * open (that tree was ~40 ms of module loading on the 2-core machine).
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Seglog } from '../../src/main.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CLI = path.join(REPO, 'src/cli/main.ts')

const HOOKS = `import { appendFileSync } from 'node:fs'
export async function load(url, context, next) {
  appendFileSync(process.env.SEGLOG_LOAD_LOG, url + '\\n')
  return next(url, context)
}
`

const PRELOAD = `import { appendFileSync } from 'node:fs'
import { createRequire, register } from 'node:module'
import { pathToFileURL } from 'node:url'
register(new URL('./hooks.mjs', import.meta.url))
process.on('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => 'node:' + m.slice(13))
  const cjs = Object.keys(createRequire(import.meta.url).cache).map((f) => pathToFileURL(f).href)
  appendFileSync(process.env.SEGLOG_LOAD_LOG, [...builtins, ...cjs].join('\\n') + '\\n')
})
`

/** Modules no light path may load, each a pattern over the loaded URL (repo files as `src/...`). */
const HEAVY: [string, RegExp][] = [
  ['node:zlib', /^node:zlib$/],
  ['LevelDB', /\/node_modules\/(level|classic-level|abstract-level|browser-level)\//],
  ['msgpackr', /\/node_modules\/msgpackr/],
  ['the compaction planner and cleaner', /^src\/compaction\/(planner|compactor|cleaner|cleaner-worker|rewrite)\.ts$/],
  ['the wire room', /^src\/wire\//],
  ['the clients', /^src\/clients\//],
  ['the KafkaJS facade', /^src\/kafkajs\//],
]

/** The storage modules `seglog topics` may load: what reading a topic file needs, and src/config.ts's imports. */
const TOPICS_STORAGE = new Set([
  'src/segment/file-names.ts',
  'src/segment/crc32c.ts',
  // src/config.ts takes MIN_ONE_RECORD_BATCH_SIZE from record-batch.ts (which imports varint.ts).
  'src/segment/record-batch.ts',
  'src/segment/varint.ts',
  'src/log/log-config.ts',
  'src/compaction/compaction-config.ts',
])

/** The engine modules `seglog topics` may load: the facade (the CLI's errors) and the topic listing's. */
const TOPICS_ENGINE = new Set([
  'src/engine/seglog.ts',
  'src/engine/options.ts',
  'src/engine/topic-listing.ts',
  'src/engine/topic-dirs.ts',
  'src/engine/read-only-fs.ts',
  'src/engine/metadata.ts',
])

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-light-'))
  dirs.push(d)
  return d
}

/** Runs `node --import tsx <args>` in a child and returns what it printed and every module it loaded. */
function loadedBy(args: string[]): { stdout: string; loaded: string[] } {
  const tmp = tempDir()
  fs.writeFileSync(path.join(tmp, 'hooks.mjs'), HOOKS)
  fs.writeFileSync(path.join(tmp, 'preload.mjs'), PRELOAD)
  const log = path.join(tmp, 'loaded.txt')
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', pathToFileURL(path.join(tmp, 'preload.mjs')).href, ...args],
    {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, SEGLOG_LOAD_LOG: log },
      timeout: 60_000,
    },
  )
  expect(r.status, r.stderr).toBe(0)
  const repoUrl = `${pathToFileURL(REPO).href}/`
  const loaded = fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((u) => (u.startsWith(repoUrl) && !u.includes('/node_modules/') ? u.slice(repoUrl.length) : u))
  return { stdout: r.stdout, loaded: [...new Set(loaded)] }
}

function heavyIn(loaded: readonly string[]): string[] {
  return HEAVY.flatMap(([what, re]) => loaded.filter((u) => re.test(u)).map((u) => `${what}: ${u}`))
}

describe('light paths', () => {
  it('the hook sees what a child loads (a module that loads node:zlib and the planner is caught)', () => {
    const { loaded } = loadedBy(['src/compaction/compactor.ts'])
    expect(loaded).toContain('src/compaction/compactor.ts')
    expect(heavyIn(loaded).length).toBeGreaterThan(0)
  })

  it("import('seglog') loads the facade and none of the heavy modules, nor the log", () => {
    const { loaded } = loadedBy(['src/main.ts'])
    expect(loaded).toContain('src/main.ts')
    expect(heavyIn(loaded)).toEqual([])
    expect(loaded.filter((u) => /^src\/(log|segment|index)\//.test(u))).toEqual([])
  })

  it('the topic config table loads neither the partition log nor the compaction planner', () => {
    const { loaded } = loadedBy(['src/config.ts'])
    expect(loaded).toContain('src/config.ts')
    expect(heavyIn(loaded)).toEqual([])
    expect(
      loaded.filter((u) => /^src\/(log\/partition-log|segment\/segment|compaction\/planner)\.ts$/.test(u)),
    ).toEqual([])
  })

  it('seglog topics lists the topics and loads no heavy module, no storage beyond the topic files and no other command', async () => {
    const dir = tempDir()
    const log = await Seglog.open(dir)
    await log.createTopic('alpha', { partitions: 3 })
    await log.createTopic('beta', { config: { cleanupPolicy: 'compact' } })
    await log.append('alpha', [{ value: 'one' }])
    await log.close()
    const { stdout, loaded } = loadedBy([CLI, 'topics', dir, '--json'])
    expect(
      stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { name: string; partitions: number }),
    ).toEqual([
      expect.objectContaining({ name: 'alpha', partitions: 3 }),
      expect.objectContaining({ name: 'beta', partitions: 1, cleanupPolicy: 'compact' }),
    ])
    expect(heavyIn(loaded)).toEqual([])
    expect(loaded).toContain('src/engine/topic-listing.ts')
    const storage = loaded.filter((u) => /^src\/(log|segment|index|io|retention|compaction)\//.test(u))
    expect(storage.filter((u) => !u.startsWith('src/io/') && !TOPICS_STORAGE.has(u))).toEqual([])
    expect(storage).not.toContain('src/log/partition-log.ts')
    expect(loaded.filter((u) => u.startsWith('src/engine/') && !TOPICS_ENGINE.has(u))).toEqual([])
    const commands = loaded.filter((u) => u.startsWith('src/cli/') && !u.startsWith('src/cli/support/'))
    expect(commands.sort()).toEqual(['src/cli/command.ts', 'src/cli/main.ts', 'src/cli/topics.ts'])
  })
})
