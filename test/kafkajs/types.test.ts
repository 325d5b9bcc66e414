/**
 * An app typed against kafkajs compiles unchanged with its import pointed at seglog/kafkajs: the TypeScript compiler
 * is run on the app (test/kafkajs/types/app.ts) and on the example programs with only their `from 'kafkajs'`
 * replaced, and must report nothing. (test/kafkajs/types/contract.ts, checked by `npm run typecheck`, is the
 * member-by-member contract; this is the whole-program check.)
 */
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const FILES = [
  'test/kafkajs/types/app.ts',
  'test/kafkajs/programs/admin.ts',
  'test/kafkajs/programs/consumer.ts',
  'test/kafkajs/programs/producer.ts',
].map((f) => path.join(REPO, f))

/** Diagnostics of compiling `files` with the repo's options, each file's text passed through `rewrite`. */
function diagnostics(files: string[], rewrite: (text: string, file: string) => string): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(REPO, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => {},
    },
  )!
  const options = { ...parsed.options, noEmit: true }
  const host = ts.createCompilerHost(options)
  const read = host.readFile.bind(host)
  const wanted = new Set(files)
  host.readFile = (file) => {
    const text = read(file)
    return text !== undefined && wanted.has(path.resolve(file)) ? rewrite(text, file) : text
  }
  const getSource = host.getSourceFile.bind(host)
  host.getSourceFile = (file, lang, onError, create) => {
    if (!wanted.has(path.resolve(file))) return getSource(file, lang, onError, create)
    const text = host.readFile(file)
    return text === undefined ? undefined : ts.createSourceFile(file, text, lang)
  }
  const program = ts.createProgram(files, options, host)
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${path.relative(REPO, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : ''
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
  })
}

function toFacade(text: string, file: string): string {
  const count = text.split("from 'kafkajs'").length - 1
  if (count !== 1) throw new Error(`${file} must import kafkajs exactly once (found ${count})`)
  const facade = path.relative(path.dirname(file), path.join(REPO, 'src/kafkajs/index.js')).split(path.sep).join('/')
  return text.replace("from 'kafkajs'", `from '${facade.startsWith('.') ? facade : `./${facade}`}'`)
}

describe('an app typed against kafkajs', () => {
  it('compiles as written against kafkajs’s declarations', () => {
    expect(diagnostics(FILES, (t) => t)).toEqual([])
  }, 60_000)

  it('compiles unchanged against seglog/kafkajs with only its import changed', () => {
    expect(diagnostics(FILES, toFacade)).toEqual([])
  }, 60_000)

  it('would not compile against a module that lacks part of the surface (the check can fail)', () => {
    const broken = (text: string, file: string) =>
      toFacade(text, file).replace(/\bKafkaJSNumberOfRetriesExceeded\b/g, 'KafkaJSMissingError')
    expect(diagnostics(FILES.slice(0, 1), broken).join('\n')).toMatch(/KafkaJSMissingError/)
  }, 60_000)
})
