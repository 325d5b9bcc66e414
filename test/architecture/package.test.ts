/**
 * The built package as a user gets it. src/ is compiled with tsconfig.build.json into a temp package
 * (the repo's package.json, `dist/`, and the repo's node_modules linked in), and a child `node` imports
 * `seglog` by name from inside it: Node resolves a package's own name through its `exports`, so this is the
 * entry point `import { Seglog } from 'seglog'` reaches, nothing else.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** The runtime names of `import('seglog')`: the engine and its error type, codes and guard. */
const PUBLIC_VALUES = ['ERROR_CODES', 'Seglog', 'SeglogError', 'isSeglogError']

/**
 * The type-only names of the entry: the shapes of the options, records, events and results the public API takes and
 * returns (producer, consumer and group types included; the clients are reached through `Seglog`).
 */
const PUBLIC_TYPES = [
  'Acks',
  'AppendOptions',
  'Batch',
  'CleanupPolicy',
  'Codec',
  'CommittedOffset',
  'CompressionType',
  'Consumer',
  'ConsumerEventMap',
  'ConsumerOptions',
  'CreateTopicOptions',
  'EachBatchPayload',
  'EachMessagePayload',
  'EngineEvent',
  'EngineStatus',
  'GroupDescription',
  'GroupState',
  'HeaderInput',
  'HeaderValue',
  'Message',
  'MessageHeaders',
  'OffsetCommit',
  'PartitionAssigner',
  'PartitionCompaction',
  'PartitionDescription',
  'PartitionLag',
  'PartitionMetadata',
  'PartitionRetention',
  'Partitioner',
  'PartitionerFn',
  'Producer',
  'ProducerOptions',
  'ProducerRecordMetadata',
  'ReadOptions',
  'RecordHeaders',
  'RecordMetadata',
  'ResetOffsetsTo',
  'RunOptions',
  'SeglogErrorCode',
  'SeglogOptions',
  'SeglogRecord',
  'StreamFrom',
  'StreamOptions',
  'TimestampTypeName',
  'TopicConfig',
  'TopicDescription',
  'TopicPartition',
  'ValueFormatName',
]

/** The runtime names of `import('seglog/kafkajs')`: kafkajs 2.2.4's runtime exports. */
const KAFKAJS_VALUES = [
  'AclOperationTypes',
  'AclPermissionTypes',
  'AclResourceTypes',
  'AssignerProtocol',
  'CompressionCodecs',
  'CompressionTypes',
  'ConfigResourceTypes',
  'ConfigSource',
  'Kafka',
  'KafkaJSAggregateError',
  'KafkaJSAlterPartitionReassignmentsError',
  'KafkaJSBrokerNotFound',
  'KafkaJSConnectionClosedError',
  'KafkaJSConnectionError',
  'KafkaJSCreateTopicError',
  'KafkaJSDeleteGroupsError',
  'KafkaJSDeleteTopicRecordsError',
  'KafkaJSError',
  'KafkaJSFetcherRebalanceError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSInvalidLongError',
  'KafkaJSInvalidVarIntError',
  'KafkaJSInvariantViolation',
  'KafkaJSLockTimeout',
  'KafkaJSMemberIdRequired',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSNonRetriableError',
  'KafkaJSNotImplemented',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSOffsetOutOfRange',
  'KafkaJSPartialMessageError',
  'KafkaJSProtocolError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSSASLAuthenticationError',
  'KafkaJSServerDoesNotSupportApiKey',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSTimeout',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSUnsupportedMagicByteInMessageSet',
  'PartitionAssigners',
  'Partitioners',
  'ResourcePatternTypes',
  'logLevel',
]

/** Storage internals and test hooks that must not be reachable through the package entry, as values or types. */
const INTERNALS = [
  'PartitionLog',
  'encodeBatch',
  'decodeRecords',
  'nodeFileSystem',
  'DEFAULT_LOG_CONFIG',
  'LogConfig',
  'FileSystem',
  'PartitionLogOptions',
]

let pkg: string

/** Runs an ES module snippet with `node` inside the temp package; returns its stdout. */
function runInPackage(code: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: pkg, encoding: 'utf8' })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

function filesUnder(dir: string, suffix: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name), suffix) : [path.join(dir, e.name)]))
    .filter((f) => f.endsWith(suffix))
}

/** The `exports["."]` entry of the package: `{ types, import }`. */
function rootExport(): { types: string; import: string } {
  const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'))
  return manifest.exports['.']
}

/** The symbols the package's types entry exports, read with the TypeScript checker. */
function typesEntry(): { checker: ts.TypeChecker; exports: ts.Symbol[] } {
  const entry = path.join(pkg, rootExport().types)
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
  })
  const checker = program.getTypeChecker()
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!
  return { checker, exports: checker.getExportsOfModule(moduleSymbol) }
}

beforeAll(() => {
  pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-package-'))
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(pkg, 'package.json'))
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(pkg, 'node_modules'), 'dir')
  const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc')
  try {
    execFileSync(
      process.execPath,
      [tsc, '-p', path.join(REPO, 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist'), '--sourceMap', 'false'],
      { cwd: REPO, encoding: 'utf8', stdio: 'pipe' },
    )
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string }
    throw new Error(`npm run build (tsc -p tsconfig.build.json) failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
  }
}, 120_000)

afterAll(() => {
  if (pkg) fs.rmSync(pkg, { recursive: true, force: true })
})

describe('the built package', () => {
  it('resolves `seglog` through package.json exports to files the build emitted', () => {
    const entry = rootExport()
    expect(fs.existsSync(path.join(pkg, entry.import)), entry.import).toBe(true)
    expect(fs.existsSync(path.join(pkg, entry.types)), entry.types).toBe(true)
    const r = runInPackage(`console.log(import.meta.resolve('seglog'))`)
    expect(r.stderr).toBe('')
    expect(fileURLToPath(r.stdout.trim())).toBe(fs.realpathSync(path.join(pkg, entry.import)))
  })

  it("exposes exactly the documented runtime names through import('seglog')", () => {
    const r = runInPackage(`const m = await import('seglog'); console.log(JSON.stringify(Object.keys(m).sort()))`)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual([...PUBLIC_VALUES].sort())
  })

  it("exposes kafkajs's runtime names through import('seglog/kafkajs'), and its declarations need no kafkajs", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'))
    const entry = manifest.exports['./kafkajs'] as { types: string; import: string }
    expect(fs.existsSync(path.join(pkg, entry.import)), entry.import).toBe(true)
    expect(fs.existsSync(path.join(pkg, entry.types)), entry.types).toBe(true)
    const r = runInPackage(
      `const m = await import('seglog/kafkajs'); console.log(JSON.stringify(Object.keys(m).sort()))`,
    )
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout)).toEqual([...KAFKAJS_VALUES].sort())
    const declarations = filesUnder(path.join(pkg, 'dist/kafkajs'), '.d.ts')
    expect(declarations.length).toBeGreaterThan(5)
    const naming = declarations.filter((f) =>
      ts
        .preProcessFile(fs.readFileSync(f, 'utf8'), true, true)
        .importedFiles.some((i) => i.fileName === 'kafkajs' || i.fileName.startsWith('kafkajs/')),
    )
    expect(
      naming.map((f) => path.relative(pkg, f)),
      '.d.ts files that reference the kafkajs package',
    ).toEqual([])
  })

  it('refuses deep imports of internals (only the entry is exported)', () => {
    for (const specifier of [
      'seglog/internal',
      'seglog/dist/internal.js',
      'seglog/dist/log/partition-log.js',
      'seglog/kafkajs/remote',
      'seglog/dist/kafkajs/remote.js',
    ]) {
      const r = runInPackage(
        `try { await import(${JSON.stringify(specifier)}); console.log('imported') } catch (e) { console.log(e.code) }`,
      )
      expect(r.stdout.trim(), specifier).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED')
    }
  })

  it('declares exactly the documented names in the types entry, and no internal one', () => {
    const declared = typesEntry().exports.map((s) => s.getName())
    expect([...declared].sort()).toEqual([...PUBLIC_VALUES, ...PUBLIC_TYPES].sort())
    expect(
      declared.filter((n) => INTERNALS.includes(n)),
      'internals in the types entry',
    ).toEqual([])
  })

  it('offers no test hook (fs, crashPoint) as a SeglogOptions field', () => {
    const { checker, exports } = typesEntry()
    const options = exports.find((s) => s.getName() === 'SeglogOptions')
    expect(options, 'SeglogOptions is exported').toBeDefined()
    const target = options!.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(options!) : options!
    const names = checker
      .getDeclaredTypeOfSymbol(target)
      .getProperties()
      .map((p) => p.getName())
    expect(names).toContain('defaults')
    expect(
      names.filter((n) => n === 'fs' || n === 'crashPoint'),
      'test hooks in SeglogOptions',
    ).toEqual([])
  })

  it('keeps every @internal member out of dist/**/*.d.ts', () => {
    const all = filesUnder(path.join(pkg, 'dist'), '.d.ts')
    expect(all.length).toBeGreaterThan(10)
    const withInternal = all
      .filter((f) => fs.readFileSync(f, 'utf8').includes('@internal'))
      .map((f) => path.relative(pkg, f))
    expect(withInternal, '.d.ts files that still carry @internal').toEqual([])
  })
})
