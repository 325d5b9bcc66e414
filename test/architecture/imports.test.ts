/**
 * The import graph of src/ points one way: engine → log → segment → index → io. Every module specifier in
 * every src/ file is read with TypeScript's own pre-processor (`ts.preProcessFile`: `import … from`,
 * `export … from`, side-effect imports, dynamic `import('…')`, `import('…')` types and `require('…')`), each
 * relative one is resolved to the src/ file it names, and the rules below are checked edge by edge. A failing
 * rule lists every offending edge as `file → specifier (target)`.
 */
import * as fs from 'node:fs'
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

  it('routes all of compaction’s file access through the injected FileSystem: no node:fs under src/compaction/', () => {
    const bad = offending((e) => e.from.startsWith('src/compaction/') && NODE_FS.has(e.specifier))
    expect(bad, 'src/compaction/ importing node:fs').toEqual([])
  })
})
