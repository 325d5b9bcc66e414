/**
 * Child process for test/io/bounded-fs.test.ts, run under a low fd limit:
 *   bash -c 'ulimit -n 64 && exec node --import tsx test/support/bounded-fs-child.ts <dir> [--unbounded]'
 * Opens 300 files (through `BoundedFileSystem({ maxOpenFiles: 32 })` over `nodeFileSystem`, or with
 * `--unbounded` through `nodeFileSystem` directly), writes and reads each one round-robin several times, fsyncs
 * all of them (async, all at once, then `syncNow`), checks the contents from disk and prints 'ok'. On failure it
 * prints `error <code>` to stderr and exits 1.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { BoundedFileSystem } from '../../src/io/bounded-fs.js'
import { type FileHandle, type FileSystem, nodeFileSystem } from '../../src/io/file-system.js'

const FILES = 300
const ROUNDS = 4
const MAX_OPEN = 32

async function main(): Promise<void> {
  const dir = process.argv[2]
  if (!dir) throw new TypeError('usage: bounded-fs-child.ts <dir> [--unbounded]')
  const unbounded = process.argv.includes('--unbounded')
  const bounded = unbounded ? null : new BoundedFileSystem(nodeFileSystem, { maxOpenFiles: MAX_OPEN })
  const fsys: FileSystem = bounded ?? nodeFileSystem
  const check = (): void => {
    if (bounded && bounded.openCount > MAX_OPEN) throw new Error(`openCount ${bounded.openCount} > ${MAX_OPEN}`)
  }

  const handles: FileHandle[] = []
  for (let i = 0; i < FILES; i++) {
    handles.push(fsys.open(path.join(dir, `f${i}.log`), 'rw'))
    check()
  }
  const line = (i: number, round: number): Buffer => Buffer.from(`file ${i} round ${round}\n`)
  const expected: string[] = new Array(FILES).fill('')
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < FILES; i++) {
      const h = handles[i]
      const b = line(i, round)
      h.write(b, 0, b.length, h.size())
      expected[i] += b.toString()
      check()
      const back = Buffer.alloc(expected[i].length)
      const n = h.read(back, 0, back.length, 0)
      if (back.toString('utf8', 0, n) !== expected[i]) throw new Error(`file ${i}: read back wrong data`)
      check()
    }
  }
  await Promise.all(handles.map((h) => h.sync()))
  check()
  for (const h of handles) {
    h.syncNow()
    check()
  }
  for (const h of handles) h.close()
  for (let i = 0; i < FILES; i++) {
    if (fs.readFileSync(path.join(dir, `f${i}.log`), 'utf8') !== expected[i]) throw new Error(`file ${i}: bad on disk`)
  }
  if (bounded && bounded.stats.evictions === 0) throw new Error('expected evictions')
  process.stdout.write('ok\n')
}

main().catch((err: unknown) => {
  const code = (err as { code?: unknown } | null)?.code
  process.stderr.write(`error ${typeof code === 'string' ? code : 'UNKNOWN'}: ${String(err)}\n`)
  process.exitCode = 1
})
