/**
 * The import graph of src/ points one way: engine → log → segment → index → io. Every module specifier in
 * every src/ file is read with TypeScript's own pre-processor (`ts.preProcessFile`: `import … from`,
 * `export … from`, side-effect imports, dynamic `import('…')`, `import('…')` types and `require('…')`), each
 * relative one is resolved to the src/ file it names, and the rules below are checked edge by edge. A failing
 * rule lists every offending edge as `file → specifier (target)`.
 *
 * The wire-protocol room (src/wire/) is a room of its own: it imports itself, a few foundation modules and node
 * builtins; the engine reaches it only through `BrokerHost` (src/wire/host.ts, used by src/engine/broker-host.ts)
 * and the server entry (src/wire/server.ts, imported dynamically by src/engine/seglog.ts, so that loading the
 * package loads no protocol code: checked by following the static value imports from the entry). The CLI
 * (src/cli/) sees the public API, src/internal.ts, the wire protocol's reader and writer (its Kafka client) and the
 * topic listing (src/engine/topic-listing.ts, for `seglog topics`) only.
 */
import * as fs from 'node:fs'
import { builtinModules } from 'node:module'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SRC = path.join(REPO, 'src')

/**
 * The storage layers, lowest first. A layer's files may import only the layers listed in `mayImport`, its own
 * folder, and the foundation modules (`FOUNDATION`). Layers above `segment` are checked by the named rules below.
 */
const LAYERS = [
  { layer: 'io', folder: 'src/io/', mayImport: [] },
  { layer: 'index', folder: 'src/index/', mayImport: ['io'] },
  { layer: 'segment', folder: 'src/segment/', mayImport: ['index', 'io'] },
  { layer: 'log', folder: 'src/log/', mayImport: null },
  { layer: 'retention', folder: 'src/retention/', mayImport: null },
  { layer: 'compaction', folder: 'src/compaction/', mayImport: null },
] as const satisfies readonly { layer: string; folder: string; mayImport: readonly string[] | null }[]

/** Leaf modules every layer may import: the error type and codes. They import nothing of seglog's. */
const FOUNDATION = ['src/errors.ts']

/** The storage layers: everything below the engine. */
const STORAGE = LAYERS.map((l) => l.folder)

/** The engine: the rooms of src/engine/ and the package entry points. */
const ENGINE = ['src/engine/', 'src/main.ts', 'src/internal.ts']

/** Producer, consumer and group code. */
const CLIENTS = ['src/clients/']

const NODE_FS = new Set(['fs', 'node:fs', 'fs/promises', 'node:fs/promises'])

/** The wire-protocol room, and what it may import from outside itself (besides node builtins). */
const WIRE = 'src/wire/'
const WIRE_MAY_IMPORT = [
  'src/config.ts',
  'src/kafka-config.ts',
  'src/errors.ts',
  'src/check.ts',
  'src/keep-alive.ts',
  'src/segment/crc32c.ts',
]
/** The one interface between the wire room and the engine, and the one module that builds it. */
const WIRE_HOST = 'src/wire/host.ts'
const BROKER_HOST = 'src/engine/broker-host.ts'
/** The wire server's entry, and the one module that loads it (with a dynamic import). */
const WIRE_SERVER = 'src/wire/server.ts'
const FACADE = 'src/engine/seglog.ts'
/** The command-line tool: it sees the package's public API and the internals module, nothing else of src/. */
const CLI = 'src/cli/'
/**
 * The wire protocol's bounds-checked primitives (they import nothing) and the consumer protocol's decoder (it
 * imports only the reader): the CLI's Kafka client is built on them.
 */
const CLI_MAY_IMPORT_WIRE = [
  'src/wire/protocol/reader.ts',
  'src/wire/protocol/writer.ts',
  'src/wire/codecs/consumer-protocol.ts',
]
/**
 * The one engine module the CLI imports directly: `seglog topics` lists the topic files through it without loading
 * the partition log, which src/internal.ts (exporting PartitionLog and the segment codecs by value) would load.
 */
const CLI_TOPIC_LISTING = 'src/engine/topic-listing.ts'
const CLI_MAY_IMPORT = ['src/main.ts', 'src/internal.ts', CLI_TOPIC_LISTING, ...CLI_MAY_IMPORT_WIRE]

const isBuiltin = (specifier: string): boolean =>
  specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0])

interface Edge {
  /** Importing file, relative to the repo (`src/segment/segment.ts`). */
  from: string
  /** The specifier as written (`../log/file-names.js`). */
  specifier: string
  /** The src/ file it resolves to, or the bare specifier for packages and node builtins. */
  to: string
}

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const full = path.join(dir, e.name)
      if (e.isDirectory()) return sourceFiles(full)
      return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : []
    })
    .sort()
}

/** `./x.js` from `src/a/b.ts` → `src/a/x.ts` (ESM specifiers name the emitted `.js`; the source is `.ts`). */
function resolveRelative(fromFile: string, specifier: string): string {
  const target = path.resolve(path.dirname(fromFile), specifier)
  const candidates = [target.replace(/\.js$/, '.ts'), target, `${target}.ts`, path.join(target, 'index.ts')]
  const found = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile())
  return path
    .relative(REPO, found ?? target)
    .split(path.sep)
    .join('/')
}

function importGraph(): Edge[] {
  const edges: Edge[] = []
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true)
    const from = path.relative(REPO, file).split(path.sep).join('/')
    for (const { fileName: specifier } of info.importedFiles) {
      const to = specifier.startsWith('.') ? resolveRelative(file, specifier) : specifier
      edges.push({ from, specifier, to })
    }
  }
  return edges
}

const GRAPH = importGraph()

/**
 * The imports that load a module when the file runs: static `import`/`export … from` that are not type-only
 * (a declaration whose named bindings are all `type` is elided too). Dynamic `import()` is left out: it loads
 * only when called.
 */
function valueImports(file: string): string[] {
  const text = fs.readFileSync(path.join(REPO, file), 'utf8')
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false)
  const out: string[] = []
  for (const stmt of source.statements) {
    if (ts.isImportDeclaration(stmt)) {
      const clause = stmt.importClause
      if (clause?.isTypeOnly) continue
      const bindings = clause?.namedBindings
      const allTypes =
        clause !== undefined &&
        clause.name === undefined &&
        bindings !== undefined &&
        ts.isNamedImports(bindings) &&
        bindings.elements.length > 0 &&
        bindings.elements.every((e) => e.isTypeOnly)
      if (!allTypes) out.push((stmt.moduleSpecifier as ts.StringLiteral).text)
    } else if (ts.isExportDeclaration(stmt) && stmt.moduleSpecifier !== undefined && !stmt.isTypeOnly) {
      const clause = stmt.exportClause
      const allTypes =
        clause !== undefined &&
        ts.isNamedExports(clause) &&
        clause.elements.length > 0 &&
        clause.elements.every((e) => e.isTypeOnly)
      if (!allTypes) out.push((stmt.moduleSpecifier as ts.StringLiteral).text)
    }
  }
  return out
}

/** Every src/ file that loading `entry` loads (static value imports, transitively). */
function loadedBy(entry: string): Set<string> {
  const seen = new Set<string>([entry])
  const queue = [entry]
  while (queue.length > 0) {
    const file = queue.pop()!
    for (const specifier of valueImports(file)) {
      if (!specifier.startsWith('.')) continue
      const to = resolveRelative(path.join(REPO, file), specifier)
      if (to.startsWith('src/') && !seen.has(to)) {
        seen.add(to)
        queue.push(to)
      }
    }
  }
  return seen
}

const under = (file: string, prefixes: readonly string[]): boolean =>
  prefixes.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p))
const layerOf = (file: string) => LAYERS.find((l) => file.startsWith(l.folder))
const show = (e: Edge): string => `${e.from} → ${e.specifier}${e.to === e.specifier ? '' : ` (${e.to})`}`
const seglogEdges = (): Edge[] => GRAPH.filter((e) => e.to.startsWith('src/'))
const offending = (pred: (e: Edge) => boolean): string[] => GRAPH.filter(pred).map(show)

describe('the import graph of src/', () => {
  it('is read from every source file, and every relative import names a file that exists', () => {
    const files = new Set(GRAPH.map((e) => e.from))
    // Every layer in the table has files, so no rule below passes on an empty folder.
    for (const { folder } of LAYERS)
      expect(
        [...files].some((f) => f.startsWith(folder)),
        folder,
      ).toBe(true)
    expect(seglogEdges().length).toBeGreaterThan(50)
    const dangling = GRAPH.filter((e) => e.specifier.startsWith('.') && !fs.existsSync(path.join(REPO, e.to)))
    expect(dangling.map(show), 'relative imports that resolve to no file').toEqual([])
  })

  it('keeps src/io/, src/index/ and src/segment/ to the layers below them (io → nothing of seglog’s)', () => {
    const bad = offending((e) => {
      const from = layerOf(e.from)
      if (!from || from.mayImport === null || !e.to.startsWith('src/')) return false
      if (e.to.startsWith(from.folder) || FOUNDATION.includes(e.to)) return false
      const to = layerOf(e.to)
      return !to || !(from.mayImport as readonly string[]).includes(to.layer)
    })
    expect(bad, 'imports from a higher layer (or from outside the storage layers)').toEqual([])
  })

  it('keeps src/log/ free of engine and client code', () => {
    const bad = offending((e) => e.from.startsWith('src/log/') && under(e.to, [...ENGINE, ...CLIENTS]))
    expect(bad, 'src/log/ importing the engine or a client').toEqual([])
  })

  it('keeps the storage layers (io, index, segment, log, retention, compaction) free of client and engine code', () => {
    const bad = offending((e) => under(e.from, STORAGE) && under(e.to, [...ENGINE, ...CLIENTS]))
    expect(bad, 'storage importing a client or the engine').toEqual([])
  })

  it('keeps the wire room to itself, a few foundation modules and node builtins', () => {
    expect(GRAPH.some((e) => e.from.startsWith(WIRE) && e.to === WIRE_HOST)).toBe(true)
    const bad = offending(
      (e) =>
        e.from.startsWith(WIRE) &&
        !(e.to.startsWith(WIRE) || WIRE_MAY_IMPORT.includes(e.to) || (e.to === e.specifier && isBuiltin(e.specifier))),
    )
    expect(bad, 'src/wire/ importing the engine, clients, storage or a package').toEqual([])
  })

  it('lets the engine reach the wire room only through BrokerHost (broker-host.ts) and the server entry (seglog.ts)', () => {
    const bad = offending((e) => {
      if (e.from.startsWith(WIRE) || !e.to.startsWith(WIRE)) return false
      if (e.from.startsWith(CLI) && CLI_MAY_IMPORT_WIRE.includes(e.to)) return false
      if (e.to === WIRE_HOST) return e.from !== BROKER_HOST
      if (e.to === WIRE_SERVER) return e.from !== FACADE
      return true
    })
    expect(bad, 'imports of the wire room from outside it').toEqual([])
    expect(GRAPH.some((e) => e.from === FACADE && e.to === WIRE_SERVER)).toBe(true)
  })

  it('loads no wire module when the package entry or the engine is imported (the server is imported dynamically)', () => {
    for (const entry of ['src/main.ts', FACADE, BROKER_HOST]) {
      const loaded = [...loadedBy(entry)].filter((f) => f.startsWith(WIRE))
      expect(loaded, `wire modules loaded by importing ${entry}`).toEqual([])
    }
    expect(valueImports(FACADE).filter((s) => s.includes('/wire/'))).toEqual([])
    const text = fs.readFileSync(path.join(REPO, FACADE), 'utf8')
    expect(text).toContain("import('../wire/server.js')")
  })

  it('loads neither compaction nor retention nor the wire host when an owner opens (their first use imports them)', () => {
    const lazy = (f: string) =>
      f.startsWith('src/retention/') ||
      f === BROKER_HOST ||
      ['cleaner', 'cleaner-worker', 'worker-fs', 'compactor', 'checkpoint', 'planner', 'rewrite', 'clean-core'].some(
        (m) => f === `src/compaction/${m}.ts`,
      )
    for (const entry of ['src/main.ts', FACADE, 'src/engine/owner-rooms.ts']) {
      expect([...loadedBy(entry)].filter(lazy), `loaded by importing ${entry}`).toEqual([])
    }
    const housekeeping = fs.readFileSync(path.join(REPO, 'src/engine/housekeeping.ts'), 'utf8')
    expect(housekeeping).toContain("import('../compaction/compactor.js')")
    expect(housekeeping).toContain("import('../retention/retention.js')")
    expect(fs.readFileSync(path.join(REPO, FACADE), 'utf8')).toContain("import('./broker-host.js')")
  })

  it('keeps the CLI to the public API and the internals module', () => {
    const bad = offending(
      (e) =>
        e.from.startsWith(CLI) &&
        !(e.to.startsWith(CLI) || CLI_MAY_IMPORT.includes(e.to) || (e.to === e.specifier && isBuiltin(e.specifier))),
    )
    expect(bad, 'src/cli/ importing modules other than src/main.ts, src/internal.ts and the topic listing').toEqual([])
    // The exception is for `seglog topics` alone.
    const listing = GRAPH.filter((e) => e.from.startsWith(CLI) && e.to === CLI_TOPIC_LISTING).map((e) => e.from)
    expect([...new Set(listing)]).toEqual(['src/cli/topics.ts'])
  })

  it('routes all of compaction’s file access through the injected FileSystem: no node:fs under src/compaction/', () => {
    const bad = offending((e) => e.from.startsWith('src/compaction/') && NODE_FS.has(e.specifier))
    expect(bad, 'src/compaction/ importing node:fs').toEqual([])
  })
})
