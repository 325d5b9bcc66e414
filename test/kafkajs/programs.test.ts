/**
 * The example programs (test/kafkajs/programs/: an admin, a producer loop with keyed messages and headers, a group
 * consumer), written against kafkajs, run as plain child processes:
 * - unchanged, against `seglog serve` (what they do on any Kafka broker);
 * - with only their import changed to seglog/kafkajs, in one process (admin first, then consumer and producer
 *   together on one directory, sharing one engine), and the process exits by itself;
 * - with only their import changed, as separate processes on one directory: the consumer owns it and listens
 *   (SEGLOG_LISTEN), the producer reaches it through that listener.
 * In every run the consumer prints exactly what the producer sent, and every process exits 0 by itself.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from './support.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const PROGRAMS = path.join(REPO, 'test/kafkajs/programs')
const FACADE_ENTRY = path.join(REPO, 'src/kafkajs/index.ts')
const SENDS = 10
const PER_SEND = 3
const COUNT = SENDS * PER_SEND

interface Proc {
  name: string
  child: ChildProcess
  lines: string[]
  stderr: () => string
  exited: Promise<number | null>
  line(pred: (l: string) => boolean, ms?: number): Promise<string>
}

const running: Proc[] = []
const dirs: string[] = []
afterEach(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

function start(name: string, file: string, env: Record<string, string>, args: string[] = []): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: REPO,
    env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let partial = ''
  let err = ''
  const watchers = new Set<() => void>()
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
    for (const w of [...watchers]) w()
  })
  child.stderr!.on('data', (chunk: string) => {
    err += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const p: Proc = {
    name,
    child,
    lines,
    stderr: () => err,
    exited,
    line: (pred, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = lines.find(pred)
          if (hit === undefined) return false
          watchers.delete(check)
          clearTimeout(timer)
          resolve(hit)
          return true
        }
        const timer = setTimeout(() => {
          watchers.delete(check)
          reject(new Error(`${name}: no matching line within ${ms} ms\nstdout: ${lines.join('\n')}\nstderr: ${err}`))
        }, ms)
        if (!check()) watchers.add(check)
        void exited.then(() => {
          if (!check()) {
            clearTimeout(timer)
            reject(new Error(`${name} exited before the line\nstdout: ${lines.join('\n')}\nstderr: ${err}`))
          }
        })
      }),
  }
  running.push(p)
  return p
}

/** Waits for a process to exit by itself (no signal), within `ms`; returns its exit code. */
async function exitOf(p: Proc, ms = 60_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`${p.name} did not exit within ${ms} ms\nstdout: ${p.lines.join('\n')}\nstderr: ${p.stderr()}`),
        ),
      ms,
    )
  })
  try {
    return await Promise.race([p.exited, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The program with its import of kafkajs pointed at seglog/kafkajs: the one line that changes. */
function facadeCopy(program: string, into: string): string {
  const text = fs.readFileSync(path.join(PROGRAMS, `${program}.ts`), 'utf8')
  const imports = text.split('\n').filter((l) => l.includes("from 'kafkajs'"))
  expect(imports, `${program}.ts imports kafkajs once`).toHaveLength(1)
  const changed = text.replace("from 'kafkajs'", `from '${FACADE_ENTRY}'`)
  const diff = text.split('\n').filter((l, i) => changed.split('\n')[i] !== l)
  expect(diff).toEqual(imports)
  const file = path.join(into, `${program}.mts`)
  fs.writeFileSync(file, changed)
  return file
}

/** What the consumer printed, as `key value correlation-id source`, sorted; and what the producer sent. */
function received(lines: string[]): string[] {
  return lines
    .filter((l) => l.startsWith('{"partition"'))
    .map((l) => JSON.parse(l) as { key: string; value: string; headers: Record<string, string> })
    .map((m) => `${m.key} ${m.value} ${m.headers['correlation-id']} ${m.headers.source}`)
    .sort()
}

const EXPECTED = Array.from({ length: COUNT }, (_, n) => `key-${n} value-${n} corr-${n} example-producer`).sort()

function checkProducer(lines: string[]): void {
  const sends = lines.filter((l) => l.startsWith('{"send"')).map((l) => JSON.parse(l))
  expect(sends).toHaveLength(SENDS)
  for (const s of sends) {
    for (const r of s.response) {
      expect(r.topicName).toBe('example-topic')
      expect(r.baseOffset).toMatch(/^\d+$/)
    }
  }
}

function checkAdmin(lines: string[]): void {
  expect(lines).toContain('{"created":true}')
  expect(lines).toContain('{"topic":"example-topic","partitions":[0,1,2]}')
}

const ENV = { SENDS: String(SENDS), PER_SEND: String(PER_SEND), EXPECT: String(COUNT) }

describe('kafkajs-shaped example programs', () => {
  it('run unchanged on kafkajs against seglog serve', async () => {
    const dir = tempDir('programs-serve')
    dirs.push(dir)
    const serve = start('serve', 'src/cli/main.ts', {}, ['serve', dir, '--port', '0'])
    const listening = await serve.line((l) => l.startsWith('listening on '))
    const broker = listening.slice('listening on '.length)
    const env = { ...ENV, BROKER: broker }
    const admin = start('admin', path.join(PROGRAMS, 'admin.ts'), env)
    expect(await exitOf(admin), admin.stderr()).toBe(0)
    checkAdmin(admin.lines)
    const consumer = start('consumer', path.join(PROGRAMS, 'consumer.ts'), env)
    await consumer.line((l) => l === '{"running":true}')
    const producer = start('producer', path.join(PROGRAMS, 'producer.ts'), env)
    expect(await exitOf(producer), producer.stderr()).toBe(0)
    expect(await exitOf(consumer), consumer.stderr()).toBe(0)
    checkProducer(producer.lines)
    expect(received(consumer.lines)).toEqual(EXPECTED)
    serve.child.kill('SIGTERM')
    expect(await exitOf(serve)).toBe(0)
  }, 180_000)

  it('run with only the import changed in one process on one directory, which then exits by itself', async () => {
    const dir = tempDir('programs-one')
    const work = tempDir('programs-one-src')
    dirs.push(dir, work)
    for (const p of ['admin', 'consumer', 'producer']) facadeCopy(p, work)
    const launcher = path.join(work, 'all.mts')
    fs.writeFileSync(
      launcher,
      [
        "await import('./admin.mts')",
        "await Promise.all([import('./consumer.mts'), import('./producer.mts')])",
        "console.log('all done')",
        '',
      ].join('\n'),
    )
    const all = start('one process', launcher, { ...ENV, SEGLOG_DIR: dir })
    expect(await exitOf(all), all.stderr()).toBe(0)
    expect(all.lines).toContain('all done')
    checkAdmin(all.lines)
    checkProducer(all.lines)
    expect(received(all.lines)).toEqual(EXPECTED)
  }, 120_000)

  it('run with only the import changed as separate processes on one directory, through the owner’s listener', async () => {
    const dir = tempDir('programs-two')
    const work = tempDir('programs-two-src')
    dirs.push(dir, work)
    const files = Object.fromEntries(['admin', 'consumer', 'producer'].map((p) => [p, facadeCopy(p, work)]))
    const env = { ...ENV, SEGLOG_DIR: dir }
    const admin = start('admin', files.admin, env)
    expect(await exitOf(admin), admin.stderr()).toBe(0)
    checkAdmin(admin.lines)
    const consumer = start('consumer (owner, listening)', files.consumer, { ...env, SEGLOG_LISTEN: '0' })
    await consumer.line((l) => l === '{"running":true}')
    const owner = JSON.parse(fs.readFileSync(path.join(dir, '.seglog', 'owner.json'), 'utf8'))
    expect(owner.pid).toBe(consumer.child.pid)
    expect(owner.listener.port).toBeGreaterThan(0)
    const producer = start('producer (through the listener)', files.producer, env)
    expect(await exitOf(producer), producer.stderr()).toBe(0)
    expect(await exitOf(consumer), consumer.stderr()).toBe(0)
    checkProducer(producer.lines)
    expect(received(consumer.lines)).toEqual(EXPECTED)
  }, 120_000)
})
