/**
 * What `peers.ts` (the parent) and `peers-child.ts` (one phase per process) share: the stores, the phases, the
 * record data, and the message a child prints. No store is loaded here.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { mulberry32 } from './common.js'

export const STORES = ['seglog', 'raw', 'lmdb', 'sqlite'] as const
export type StoreName = (typeof STORES)[number]
/** The peers, npm packages installed on demand into bench/peers/node_modules (never dependencies of seglog). */
export const PEER_PACKAGES: Partial<Record<StoreName, string>> = { lmdb: 'lmdb', sqlite: 'better-sqlite3' }

export const KEY_BYTES = 16
export const VALUE_BYTES = 100
export const RECORD_BYTES = KEY_BYTES + VALUE_BYTES
/** Distinct keys/values; record i uses slot i % SLOTS, so a batch of 1,000 is the same 1,000 records each time. */
export const SLOTS = 1000
/** Every process makes the same bytes from this seed: "random bytes made once, reused", across processes too. */
export const DATA_SEED = 0x00c0ffee
export const BATCH = 1000
export const W2_WARMUP = 20
export const W2_ITERATIONS = 2000
export const W3_CHUNK = 1000
export const W4_READS = 10_000
export const W4_SEED = 0x5eed2024
/** seglog topic (one partition, binary values) and the partition-count scenario. */
export const TOPIC = 't'
export const MANY_PARTITIONS = 1000

export interface RecordData {
  keys: Buffer[]
  values: Buffer[]
  /** Record j of a slot as one buffer (key then value): what lmdb stores under the offset. */
  records: Buffer[]
}

export function makeData(): RecordData {
  const rand = mulberry32(DATA_SEED)
  const pool = Buffer.allocUnsafe(SLOTS * RECORD_BYTES)
  for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(rand() * 256)
  const keys: Buffer[] = []
  const values: Buffer[] = []
  const records: Buffer[] = []
  for (let j = 0; j < SLOTS; j++) {
    const at = j * RECORD_BYTES
    keys.push(pool.subarray(at, at + KEY_BYTES))
    values.push(pool.subarray(at + KEY_BYTES, at + RECORD_BYTES))
    records.push(pool.subarray(at, at + RECORD_BYTES))
  }
  return { keys, values, records }
}

export type Phase =
  | 'w1'
  | 'w2'
  | 'w3'
  | 'w4'
  | 'w5'
  /** seglog only: a directory of MANY_PARTITIONS partitions of one record each. */
  | 'many-build'
  /** open, read the last record of the last partition, close (no writes) */
  | 'many-open'
  /** open, one append of one record to each partition, close */
  | 'many-write'

export interface PhaseRequest {
  store: StoreName
  phase: Phase
  /** The store's directory (created by w1 / w2 / many-build). */
  dir: string
  records: number
  /** Where the seglog package entry is (a file URL or a bare specifier). */
  seglogEntry: string
  /** bench/peers/package.json, from which the peers resolve. */
  peersPackage: string
}

/** What a child prints, on one line after RESULT_PREFIX. Figures are ms unless named otherwise. */
export interface PhaseResult {
  /** process.resourceUsage().maxRSS of the child, in MB (10^6 bytes). */
  maxRssMB: number
  seconds?: number
  recordsPerSec?: number
  /** W2 ms, W4 µs. */
  p50?: number
  p99?: number
  mean?: number
  samples?: number
  /** W5: open + read last, ms; `openMs` the open alone. */
  ms?: number
  openMs?: number
  closeMs?: number
  /** W5 raw: bytes scanned to find the last frame. */
  scannedBytes?: number
  /** bytes on disk after W1 */
  diskBytes?: number
}

export const RESULT_PREFIX = 'PEERS-RESULT '

/**
 * The file URL an ESM `import` of package `name` gets (its `exports` '.' entry under the node/import/default
 * conditions, else `main`), for a package installed in the node_modules beside `packageJson` (or, with
 * `name` = null, the package of `packageJson` itself, as a self-reference resolves).
 */
export function packageEntry(name: string | null, packageJson: string): string {
  const dir = name === null ? dirname(packageJson) : join(dirname(packageJson), 'node_modules', name)
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    exports?: unknown
    main?: string
  }
  const conditions = ['node', 'import', 'default']
  const pick = (target: unknown): string | undefined => {
    if (typeof target === 'string') return target
    if (target === null || typeof target !== 'object' || Array.isArray(target)) return undefined
    for (const [k, v] of Object.entries(target)) {
      if (!conditions.includes(k)) continue
      const found = pick(v)
      if (found !== undefined) return found
    }
    return undefined
  }
  let exp = pkg.exports
  if (exp !== null && typeof exp === 'object' && '.' in exp) exp = (exp as Record<string, unknown>)['.']
  const rel = pick(exp) ?? pkg.main ?? 'index.js'
  return pathToFileURL(join(dir, rel)).href
}

/** The version in a package's package.json (installed beside `packageJson`), or null when it is not installed. */
export function packageVersion(name: string, packageJson: string): string | null {
  try {
    const file = join(dirname(packageJson), 'node_modules', name, 'package.json')
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
  } catch {
    return null
  }
}
