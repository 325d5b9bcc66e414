/**
 * One phase of `peers.ts` in its own process: one store, one workload. Started by `peers.ts` as
 * `node build/bench/peers-child.js '<PhaseRequest JSON>'`; prints one line, RESULT_PREFIX + PhaseResult JSON, on
 * stdout (written synchronously, then the process exits).
 *
 * How each store is used (each the way its documentation recommends for durable data):
 * - seglog: the package entry only (`Seglog` from what package.json `exports` resolves, dist/main.js by default);
 *   one topic of one partition, `format: 'binary'`, 16-byte Buffer keys, 100-byte Buffer values. W1 = awaited
 *   `append(topic, 1,000 messages, { acks: 1 })` then `flush()`; W2 = awaited `append(topic, [one], { acks: -1 })`;
 *   W3 = `read(topic, 0, next, { maxRecords: 1000 })`; W4 = `read(topic, 0, o, { maxRecords: 1 })`; W5 =
 *   `Seglog.open` + `offsets()` + `read` of the last offset.
 * - raw fs: the limit of the method, as in partition-log.ts: frames `[u32 length][key][value]` in one file,
 *   `writeSync` of a 1 MiB buffer, `fsyncSync`; W2 = `writeSync` of one frame + `fsyncSync`; W3 = `readSync` of 1 MiB
 *   chunks making one `{ offset, key, value }` per frame; W4 = `readSync` of one frame at its position (positions
 *   kept from W1 in a side file, loaded before the clock starts); W5 has no index to open, so it is a full scan of
 *   the frame lengths to the last frame.
 * - lmdb (lmdb-js, default options: sync on commit with `overlappingSync`): `open(dir, { encoding: 'binary',
 *   keyEncoding: 'uint32' })`, key = offset, value = key bytes + value bytes. W1 = 1,000 `put`s in one event turn
 *   (one transaction), the last one's promise awaited (committed), `await db.flushed` at the end; W2 = `await
 *   put()` then `await db.flushed` (with overlappingSync the put resolves at commit, `flushed` at the fsync); W3 =
 *   `getRange({ start: next, limit: 1000 })`; W4 = `get(o)`; W5 = `open` + `getRange({ reverse: true, limit: 1 })`.
 * - better-sqlite3 (v12): `log(seq INTEGER PRIMARY KEY, key BLOB, value BLOB)`, `journal_mode = WAL`. W1 = one
 *   `db.transaction()` of 1,000 prepared INSERTs per batch under `synchronous = NORMAL` (a WAL commit does not
 *   fsync), then `wal_checkpoint(FULL)` (syncs the WAL, copies it into the database file and syncs that: durable);
 *   W2 = one INSERT in autocommit under `synchronous = FULL` (each commit fsyncs the WAL); W3 = `SELECT … WHERE
 *   seq >= ? ORDER BY seq LIMIT 1000`; W4 = `SELECT … WHERE seq = ?`; W5 = `new Database` + `… ORDER BY seq DESC
 *   LIMIT 1`. The native addon loads at the first `new Database`, so W5 children load it (`:memory:`) before the
 *   clock starts, as lmdb's import does.
 */
import * as fs from 'node:fs'
import { join } from 'node:path'
import { mulberry32, percentile, RAW_CHUNK_BYTES, writeRawFrames } from './common.js'
import {
  BATCH,
  KEY_BYTES,
  MANY_PARTITIONS,
  makeData,
  type PhaseRequest,
  type PhaseResult,
  packageEntry,
  RECORD_BYTES,
  RESULT_PREFIX,
  type RecordData,
  SLOTS,
  TOPIC,
  VALUE_BYTES,
  W2_ITERATIONS,
  W2_WARMUP,
  W3_CHUNK,
  W4_READS,
  W4_SEED,
} from './peers-shared.js'

type SeglogModule = typeof import('../src/main.js')
type SeglogEngine = Awaited<ReturnType<SeglogModule['Seglog']['open']>>

const req: PhaseRequest = JSON.parse(process.argv[2] ?? '{}')
const N = req.records
const data: RecordData = makeData()

/** One store as every workload uses it. Reads return the number of records consumed; sync where the API is. */
interface Store {
  /** Opens (creating when `create`) the store in req.dir. */
  open(create: boolean): Promise<void> | void
  /** W1: all N records in batches of BATCH, durable at the end. */
  bulkLoad(): Promise<void> | void
  /** W2: record `i`, durable when this returns/resolves. */
  appendDurable(i: number): Promise<void> | void
  /** W3: up to W3_CHUNK records from `next`; adds their value bytes to `sink.bytes`. */
  readChunk(next: number, sink: { bytes: number }): Promise<number> | number
  /** W4: the record at `o`; throws when it is not that record. */
  readOne(o: number): Promise<void> | void
  /** W5: the last record's offset. */
  readLast(): Promise<number> | number
  close(): Promise<void> | void
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`${req.store} ${req.phase}: ${what}`)
}

// ------------------------------------------------------------------------------------------------ seglog

async function seglogStore(): Promise<Store> {
  const { Seglog } = (await import(req.seglogEntry)) as SeglogModule
  let log: SeglogEngine
  const batch = data.keys.map((key, j) => ({ key, value: data.values[j] }))
  return {
    async open(create) {
      log = await Seglog.open(req.dir)
      if (create) await log.createTopic(TOPIC, { partitions: 1, config: { format: 'binary' } })
    },
    async bulkLoad() {
      for (let i = 0; i < N; i += BATCH) await log.append(TOPIC, batch, { acks: 1 })
      await log.flush()
      check(log.offsets(TOPIC, 0).logEndOffset === N, 'log end after W1')
    },
    async appendDurable(i) {
      await log.append(TOPIC, [batch[i % SLOTS]], { acks: -1 })
    },
    async readChunk(next, sink) {
      const records = await log.read(TOPIC, 0, next, { maxRecords: W3_CHUNK })
      for (const r of records) sink.bytes += (r.value as Buffer).length
      check(records.length > 0 && records[0].offset === next, `read at ${next}`)
      return records.length
    },
    async readOne(o) {
      const records = await log.read(TOPIC, 0, o, { maxRecords: 1 })
      check(records.length === 1 && records[0].offset === o, `read(${o})`)
    },
    async readLast() {
      const end = log.offsets(TOPIC, 0).logEndOffset
      const records = await log.read(TOPIC, 0, end - 1, { maxRecords: 1 })
      check(records.length === 1, 'last record')
      return records[0].offset
    },
    async close() {
      await log.close()
    },
  }
}

// ------------------------------------------------------------------------------------------------ raw fs

const FRAME_BYTES = 4 + RECORD_BYTES

function rawStore(): Store {
  const path = join(req.dir, 'log.dat')
  const positionsPath = join(req.dir, 'positions.f64')
  let fd = -1
  let positions = new Float64Array(0)
  let writePos = 0
  const frame = Buffer.allocUnsafe(FRAME_BYTES)
  const writeFrame = (buf: Buffer, at: number, i: number): void => {
    buf.writeUInt32BE(RECORD_BYTES, at)
    data.records[i % SLOTS].copy(buf, at + 4)
  }
  return {
    open(create) {
      if (create) {
        fs.mkdirSync(req.dir, { recursive: true })
        fd = fs.openSync(path, 'w')
      } else {
        fd = fs.openSync(path, 'r')
      }
    },
    bulkLoad() {
      const written = writeRawFrames(fd, N, FRAME_BYTES, writeFrame, writePos)
      positions = written.positions
      writePos = written.end
    },
    appendDurable(i) {
      writeFrame(frame, 0, i)
      fs.writeSync(fd, frame, 0, FRAME_BYTES, writePos)
      fs.fsyncSync(fd)
      writePos += FRAME_BYTES
    },
    readChunk() {
      throw new Error('raw W3 reads the whole file in rawScan')
    },
    readOne(o) {
      if (positions.length === 0) positions = new Float64Array(fs.readFileSync(positionsPath).buffer.slice(0))
      const n = fs.readSync(fd, frame, 0, FRAME_BYTES, positions[o])
      check(n === FRAME_BYTES && frame.readUInt32BE(0) === RECORD_BYTES, `frame ${o}`)
    },
    readLast() {
      // No index: walk the frame lengths from the start of the file to the last frame.
      const size = fs.fstatSync(fd).size
      const chunk = Buffer.allocUnsafe(RAW_CHUNK_BYTES)
      let filePos = 0
      let last = -1
      let count = 0
      let lastPos = -1
      while (filePos < size) {
        const n = fs.readSync(fd, chunk, 0, chunk.length, filePos)
        let p = 0
        while (p + 4 <= n) {
          const len = chunk.readUInt32BE(p)
          if (p + 4 + len > n) break
          lastPos = filePos + p
          count++
          p += 4 + len
        }
        if (p === 0) break
        filePos += p
      }
      const got = fs.readSync(fd, frame, 0, FRAME_BYTES, lastPos)
      check(got === FRAME_BYTES, 'last frame')
      last = count - 1
      return last
    },
    close() {
      if (positions.length > 0 && req.phase === 'w1') {
        fs.writeFileSync(positionsPath, new Uint8Array(positions.buffer))
      }
      fs.closeSync(fd)
    },
  }
}

/** W3 raw: 1 MiB chunks, a fresh chunk per read, one `{ offset, key, value }` (views) per frame, as partition-log.ts. */
function rawScan(sink: { bytes: number }): number {
  const fd = fs.openSync(join(req.dir, 'log.dat'), 'r')
  let chunk = Buffer.allocUnsafe(RAW_CHUNK_BYTES)
  let filePos = 0
  let carry = 0
  let count = 0
  for (;;) {
    const n = fs.readSync(fd, chunk, carry, chunk.length - carry, filePos)
    if (n === 0) break
    filePos += n
    const avail = carry + n
    let p = 0
    const out: { offset: number; key: Buffer; value: Buffer }[] = []
    while (p + 4 <= avail) {
      const len = chunk.readUInt32BE(p)
      if (p + 4 + len > avail) break
      const k = p + 4
      out.push({
        offset: count + out.length,
        key: chunk.subarray(k, k + KEY_BYTES),
        value: chunk.subarray(k + KEY_BYTES, k + len),
      })
      p += 4 + len
    }
    for (const r of out) sink.bytes += r.value.length
    count += out.length
    carry = avail - p
    const fresh = Buffer.allocUnsafe(RAW_CHUNK_BYTES)
    if (carry > 0) chunk.copy(fresh, 0, p, avail)
    chunk = fresh
  }
  fs.closeSync(fd)
  return count
}

// ------------------------------------------------------------------------------------------------ lmdb

interface LmdbDb {
  put(key: number, value: Buffer): Promise<boolean>
  get(key: number): Buffer | undefined
  getRange(options: { start?: number; limit?: number; reverse?: boolean }): Iterable<{ key: number; value: Buffer }>
  readonly flushed: Promise<unknown>
  close(): Promise<void>
}

async function lmdbStore(): Promise<Store> {
  const { open } = (await import(packageEntry('lmdb', req.peersPackage))) as {
    open(path: string, options: object): LmdbDb
  }
  let db: LmdbDb
  const split = (v: Buffer) => ({ key: v.subarray(0, KEY_BYTES), value: v.subarray(KEY_BYTES) })
  return {
    open() {
      db = open(req.dir, { encoding: 'binary', keyEncoding: 'uint32' })
    },
    async bulkLoad() {
      for (let i = 0; i < N; i += BATCH) {
        let last: Promise<boolean> | undefined
        for (let j = 0; j < BATCH; j++) last = db.put(i + j, data.records[j])
        await last
      }
      await db.flushed
    },
    async appendDurable(i) {
      await db.put(i, data.records[i % SLOTS])
      await db.flushed
    },
    readChunk(next, sink) {
      let n = 0
      for (const { key, value } of db.getRange({ start: next, limit: W3_CHUNK })) {
        if (n === 0) check(key === next, `range at ${next}`)
        sink.bytes += split(value).value.length
        n++
      }
      return n
    },
    readOne(o) {
      const v = db.get(o)
      check(v !== undefined && v.length === RECORD_BYTES && v[0] === data.records[o % SLOTS][0], `get(${o})`)
    },
    readLast() {
      for (const { key, value } of db.getRange({ reverse: true, limit: 1 })) {
        check(value.length === RECORD_BYTES, 'last value')
        return key
      }
      return -1
    },
    async close() {
      await db.close()
    },
  }
}

// ------------------------------------------------------------------------------------------------ better-sqlite3

interface SqliteStatement {
  run(...params: unknown[]): unknown
  get(...params: unknown[]): { seq: number; key: Buffer; value: Buffer } | undefined
  all(...params: unknown[]): { seq: number; key: Buffer; value: Buffer }[]
}
interface SqliteDb {
  pragma(source: string): unknown
  exec(source: string): unknown
  prepare(source: string): SqliteStatement
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void
  close(): void
}
type SqliteCtor = new (path: string) => SqliteDb

async function sqliteStore(): Promise<Store> {
  const mod = (await import(packageEntry('better-sqlite3', req.peersPackage))) as { default: SqliteCtor }
  const Database = mod.default
  const path = join(req.dir, 'log.db')
  let db: SqliteDb
  let insert: SqliteStatement
  let byRange: SqliteStatement
  let bySeq: SqliteStatement
  if (req.phase === 'w5') new Database(':memory:').close()
  return {
    open(create) {
      if (create) fs.mkdirSync(req.dir, { recursive: true })
      db = new Database(path)
      if (create) {
        db.pragma('journal_mode = WAL')
        db.exec('CREATE TABLE log (seq INTEGER PRIMARY KEY, key BLOB NOT NULL, value BLOB NOT NULL)')
      }
      insert = db.prepare('INSERT INTO log (seq, key, value) VALUES (?, ?, ?)')
      byRange = db.prepare('SELECT seq, key, value FROM log WHERE seq >= ? ORDER BY seq LIMIT ?')
      bySeq = db.prepare('SELECT seq, key, value FROM log WHERE seq = ?')
      db.pragma(req.phase === 'w2' ? 'synchronous = FULL' : 'synchronous = NORMAL')
    },
    bulkLoad() {
      const batch = db.transaction((first: number) => {
        for (let j = 0; j < BATCH; j++) insert.run(first + j, data.keys[j], data.values[j])
      })
      for (let i = 0; i < N; i += BATCH) batch(i)
      db.pragma('wal_checkpoint(FULL)')
    },
    appendDurable(i) {
      insert.run(i, data.keys[i % SLOTS], data.values[i % SLOTS])
    },
    readChunk(next, sink) {
      const rows = byRange.all(next, W3_CHUNK)
      for (const r of rows) sink.bytes += r.value.length
      check(rows.length > 0 && rows[0].seq === next, `range at ${next}`)
      return rows.length
    },
    readOne(o) {
      const r = bySeq.get(o)
      check(r !== undefined && r.seq === o && r.value.length === VALUE_BYTES, `get(${o})`)
    },
    readLast() {
      const r = db.prepare('SELECT seq, key, value FROM log ORDER BY seq DESC LIMIT 1').get()
      check(r !== undefined, 'last row')
      return r!.seq
    },
    close() {
      db.close()
    },
  }
}

// ------------------------------------------------------------------------------------------------ phases

const ms = (t0: number): number => performance.now() - t0

function dirBytes(dir: string): number {
  let total = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(join(e.parentPath, e.name)).size
  }
  return total
}

async function makeStore(): Promise<Store> {
  switch (req.store) {
    case 'seglog':
      return seglogStore()
    case 'raw':
      return rawStore()
    case 'lmdb':
      return lmdbStore()
    case 'sqlite':
      return sqliteStore()
  }
}

async function runPhase(): Promise<Omit<PhaseResult, 'maxRssMB'>> {
  if (req.phase.startsWith('many-')) return manyPartitions()
  const store = await makeStore()
  switch (req.phase) {
    case 'w1': {
      await store.open(true)
      const t0 = performance.now()
      await store.bulkLoad()
      const seconds = ms(t0) / 1000
      await store.close()
      return { seconds, recordsPerSec: N / seconds, diskBytes: dirBytes(req.dir) }
    }
    case 'w2': {
      await store.open(true)
      const sample: number[] = []
      for (let i = 0; i < W2_WARMUP + W2_ITERATIONS; i++) {
        const t0 = performance.now()
        const r = store.appendDurable(i)
        if (r instanceof Promise) await r
        if (i >= W2_WARMUP) sample.push(ms(t0))
      }
      await store.close()
      return latency(sample)
    }
    case 'w3': {
      const sink = { bytes: 0 }
      let count = 0
      let seconds: number
      if (req.store === 'raw') {
        const t0 = performance.now()
        count = rawScan(sink)
        seconds = ms(t0) / 1000
      } else {
        await store.open(false)
        const t0 = performance.now()
        while (count < N) {
          const r = store.readChunk(count, sink)
          count += r instanceof Promise ? await r : r
        }
        seconds = ms(t0) / 1000
        await store.close()
      }
      check(count === N && sink.bytes === N * VALUE_BYTES, `W3 read ${count} records, ${sink.bytes} value bytes`)
      return { seconds, recordsPerSec: N / seconds }
    }
    case 'w4': {
      await store.open(false)
      const rand = mulberry32(W4_SEED)
      const offsets = Array.from({ length: W4_READS }, () => Math.floor(rand() * N))
      if (req.store === 'raw') store.readOne(0) // loads the positions kept from W1 before the clock starts
      const sample: number[] = []
      for (const o of offsets) {
        const t0 = performance.now()
        const r = store.readOne(o)
        if (r instanceof Promise) await r
        sample.push(ms(t0) * 1000)
      }
      await store.close()
      return latency(sample)
    }
    case 'w5': {
      const t0 = performance.now()
      await store.open(false)
      const openMs = ms(t0)
      const r = store.readLast()
      const last = r instanceof Promise ? await r : r
      const total = ms(t0)
      check(last === N - 1, `last offset ${last}, expected ${N - 1}`)
      await store.close()
      return { ms: total, openMs }
    }
    default:
      throw new Error(`unknown phase ${req.phase}`)
  }
}

function latency(sample: number[]): Omit<PhaseResult, 'maxRssMB'> {
  return {
    samples: sample.length,
    p50: percentile(sample, 50),
    p99: percentile(sample, 99),
    mean: sample.reduce((a, b) => a + b, 0) / sample.length,
  }
}

/** seglog at MANY_PARTITIONS partitions of one record each: build, open/read/close, open/write/close. */
async function manyPartitions(): Promise<Omit<PhaseResult, 'maxRssMB'>> {
  const { Seglog } = (await import(req.seglogEntry)) as SeglogModule
  const topic = 'many'
  const one = Array.from({ length: MANY_PARTITIONS }, (_, p) => ({
    partition: p,
    key: data.keys[p % SLOTS],
    value: data.values[p % SLOTS],
  }))
  if (req.phase === 'many-build') {
    const log = await Seglog.open(req.dir)
    await log.createTopic(topic, { partitions: MANY_PARTITIONS, config: { format: 'binary' } })
    await log.append(topic, one, { acks: -1 })
    await log.close()
    return {}
  }
  const t0 = performance.now()
  const log = await Seglog.open(req.dir)
  const openMs = ms(t0)
  if (req.phase === 'many-open') {
    const p = MANY_PARTITIONS - 1
    const end = log.offsets(topic, p).logEndOffset
    const records = await log.read(topic, p, end - 1, { maxRecords: 1 })
    const total = ms(t0)
    check(records.length === 1 && records[0].offset === end - 1, 'last record of the last partition')
    const t1 = performance.now()
    await log.close()
    return { openMs, ms: total, closeMs: ms(t1) }
  }
  // many-write: one append call carrying one message for each partition (acks 1: written, not yet fsynced), then
  // close, which must fsync the 1,000 dirty partitions.
  await log.append(topic, one, { acks: 1 })
  const t1 = performance.now()
  await log.close()
  return { openMs, closeMs: ms(t1) }
}

const result: PhaseResult = { ...(await runPhase()), maxRssMB: (process.resourceUsage().maxRSS * 1024) / 1e6 }
fs.writeSync(1, `${RESULT_PREFIX}${JSON.stringify(result)}\n`)
process.exit(0)
