/**
 * The facade's place in the import graph: src/kafkajs/ sees the engine only through the package entry
 * (src/main.ts) and the internals module (src/internal.ts); nothing else in src/ imports it; and it loads the
 * kafkajs package only with a dynamic import (in remote.ts, for a directory another process owns), so the facade
 * works where kafkajs, an optional peer dependency, is not installed.
 */
import * as fs from 'node:fs'
import { builtinModules } from 'node:module'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SRC = path.join(REPO, 'src')
const FACADE = 'src/kafkajs/'

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(full)
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : []
  })
}

const rel = (file: string): string => path.relative(REPO, file).split(path.sep).join('/')

function resolve(from: string, specifier: string): string {
  return rel(path.resolve(path.dirname(from), specifier).replace(/\.js$/, '.ts'))
}

interface Edge {
  from: string
  specifier: string
  to: string
  dynamic: boolean
}

function edges(): Edge[] {
  const out: Edge[] = []
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8')
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
    const visit = (node: ts.Node): void => {
      let specifier: string | null = null
      let dynamic = false
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
        specifier = (node.moduleSpecifier as ts.StringLiteral).text
      } else if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        specifier = node.arguments[0].text
        dynamic = true
      } else if (
        ts.isImportTypeNode(node) &&
        ts.isLiteralTypeNode(node.argument) &&
        ts.isStringLiteral(node.argument.literal)
      ) {
        specifier = node.argument.literal.text
      }
      if (specifier !== null) {
        out.push({
          from: rel(file),
          specifier,
          to: specifier.startsWith('.') ? resolve(file, specifier) : specifier,
          dynamic,
        })
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return out
}

const GRAPH = edges()
const show = (e: Edge): string => `${e.from} → ${e.specifier}`
const isBuiltin = (s: string): boolean => s.startsWith('node:') || builtinModules.includes(s)

describe('src/kafkajs in the import graph', () => {
  it('imports only itself, the package entry, the internals module and node builtins (and kafkajs, dynamically)', () => {
    const facadeEdges = GRAPH.filter((e) => e.from.startsWith(FACADE))
    expect(facadeEdges.length).toBeGreaterThan(20)
    const bad = facadeEdges.filter(
      (e) =>
        !(
          e.to.startsWith(FACADE) ||
          e.to === 'src/main.ts' ||
          e.to === 'src/internal.ts' ||
          isBuiltin(e.specifier) ||
          (e.specifier === 'kafkajs' && e.dynamic)
        ),
    )
    expect(bad.map(show)).toEqual([])
  })

  it('loads kafkajs in exactly one place, with a dynamic import', () => {
    const kafkajs = GRAPH.filter((e) => e.specifier === 'kafkajs' || e.specifier.startsWith('kafkajs/'))
    expect(kafkajs.map((e) => [e.from, e.dynamic])).toEqual([['src/kafkajs/remote.ts', true]])
  })

  it('is imported by nothing else in src/', () => {
    const bad = GRAPH.filter((e) => !e.from.startsWith(FACADE) && e.to.startsWith(FACADE))
    expect(bad.map(show)).toEqual([])
  })
})
