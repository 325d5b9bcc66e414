/**
 * The floor under a durable append of one record, for three ways of making one 120-byte frame durable (W2's raw-fs
 * frame: 4-byte length, 16-byte key, 100-byte value):
 *   append + fsync      `writeSync` at the end of the file, then `fsyncSync` (what an append-only log does; W2's
 *                       raw-fs baseline)
 *   append + fdatasync  the same with `fdatasyncSync` (the file's size still changes, so its inode is still written)
 *   overwrite           `writeSync` in place over blocks written and fsynced beforehand, then `fdatasyncSync`: no
 *                       size or block-allocation change reaches the journal (what SQLite's WAL does once it starts
 *                       reusing its file after a checkpoint)
 *
 *   npm run build:scripts && node build/bench/fsync-modes.js
 *
 * 2,000 iterations after 20 warm-up per mode, the modes alternating in blocks of 100 so all see the same machine
 * noise; p50/p99 µs. Prints a table, then one JSON line. Temp files in a `mkdtemp` dir under os.tmpdir(), removed
 * at the end.
 */
import * as fs from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { percentile, printTable, sig } from './common.js'

const FRAME_BYTES = 120
const ITERATIONS = 2000
const WARMUP = 20
const BLOCK = 100

interface Mode {
  name: string
  fd: number
  step(i: number): void
  sample: number[]
}

const root = fs.mkdtempSync(join(tmpdir(), 'seglog-fsync-'))
const frame = Buffer.alloc(FRAME_BYTES, 0x5a)

function appendMode(name: string, sync: (fd: number) => void): Mode {
  const fd = fs.openSync(join(root, `${name.replace(/\W+/g, '-')}.dat`), 'a')
  return {
    name,
    fd,
    step: () => {
      fs.writeSync(fd, frame)
      sync(fd)
    },
    sample: [],
  }
}

function overwriteMode(): Mode {
  const path = join(root, 'overwrite.dat')
  const span = (ITERATIONS + WARMUP) * FRAME_BYTES
  fs.writeFileSync(path, Buffer.alloc(span))
  const fd = fs.openSync(path, 'r+')
  fs.fsyncSync(fd)
  return {
    name: 'overwrite + fdatasync',
    fd,
    step: (i) => {
      fs.writeSync(fd, frame, 0, FRAME_BYTES, i * FRAME_BYTES)
      fs.fdatasyncSync(fd)
    },
    sample: [],
  }
}

const modes = [
  appendMode('append + fsync', fs.fsyncSync),
  appendMode('append + fdatasync', fs.fdatasyncSync),
  overwriteMode(),
]
try {
  for (let start = 0; start < WARMUP + ITERATIONS; start += BLOCK) {
    for (const m of modes) {
      for (let i = start; i < Math.min(start + BLOCK, WARMUP + ITERATIONS); i++) {
        const t0 = performance.now()
        m.step(i)
        if (i >= WARMUP) m.sample.push((performance.now() - t0) * 1000)
      }
    }
  }
  const base = percentile(modes[0].sample, 50)
  const rows = modes.map((m) => {
    const p50 = percentile(m.sample, 50)
    return [m.name, String(sig(p50)), String(sig(percentile(m.sample, 99))), `${sig(p50 / base, 3)}×`]
  })
  printTable(['mode', 'p50 µs', 'p99 µs', 'p50 vs append + fsync'], rows)
  console.log(
    JSON.stringify({
      bench: 'seglog-fsync-modes',
      node: process.version,
      frameBytes: FRAME_BYTES,
      iterations: ITERATIONS,
      modes: modes.map((m) => ({
        name: m.name,
        p50Us: sig(percentile(m.sample, 50)),
        p99Us: sig(percentile(m.sample, 99)),
      })),
    }),
  )
} finally {
  for (const m of modes) fs.closeSync(m.fd)
  fs.rmSync(root, { recursive: true, force: true })
}
