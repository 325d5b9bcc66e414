/**
 * `seglog serve` as users run it: the CLI in a child process (`node --import tsx src/cli/main.ts serve …`), its
 * first stdout line, its exit codes, and the directory it leaves behind (reopened here to see that it was closed
 * cleanly). Bad usage exits 2 with a message and the usage line; a SeglogError exits 1 printed as `CODE: message`.
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EngineEvent } from '../../src/main.js'
import { Seglog } from '../../src/main.js'
import { CLI_ENTRY, killAll, runToEnd, spawnLines } from '../support/wire-harness.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-cli-serve-'))
})
afterEach(async () => {
  await killAll()
  fs.rmSync(dir, { recursive: true, force: true })
})

const TSX = ['--import', 'tsx']

function serve(...args: string[]) {
  return spawnLines('seglog serve', process.execPath, [...TSX, CLI_ENTRY, 'serve', ...args])
}

function cli(...args: string[]) {
  return runToEnd('seglog', process.execPath, [...TSX, CLI_ENTRY, ...args])
}

/** ApiVersions v0 over a fresh connection: the error code of the answer (0 from a Kafka broker). */
function apiVersionsError(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const req = Buffer.alloc(14)
    req.writeInt32BE(10, 0)
    req.writeInt16BE(18, 4)
    req.writeInt16BE(0, 6)
    req.writeInt32BE(1, 8)
    req.writeInt16BE(-1, 12)
    let got = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk])
      if (got.length >= 10) {
        socket.destroy()
        resolve(got.readInt16BE(8))
      }
    })
    socket.on('error', reject)
    socket.write(req)
  })
}

/** Reopens the directory and returns what the open reported (a cleanly closed one reports no recovery). */
async function reopen(): Promise<{ events: EngineEvent[]; log: Seglog }> {
  const events: EngineEvent[] = []
  const log = await Seglog.open(dir, { onEvent: (e) => events.push(e) })
  return { events, log }
}

describe('seglog serve', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`prints "listening on HOST:PORT" first, serves Kafka, and on ${signal} closes the directory cleanly and exits 0`, async () => {
      const before = await Seglog.open(dir)
      await before.createTopic('orders', { partitions: 2 })
      await before.append('orders', [{ key: 'a', value: 1 }])
      await before.close()
      const p = serve(dir, '--port', '0')
      const first = await p.waitForLine(() => true, 30_000)
      const m = /^listening on 127\.0\.0\.1:(\d+)$/.exec(first)
      expect(m, p.describe()).not.toBeNull()
      const port = Number(m![1])
      expect(port).toBeGreaterThan(0)
      expect(await apiVersionsError(port)).toBe(0)
      const owner = JSON.parse(fs.readFileSync(path.join(dir, '.seglog', 'owner.json'), 'utf8'))
      expect(owner.listener).toEqual({ host: '127.0.0.1', port })
      expect(owner.pid).toBe(p.proc.pid)
      const exit = await p.stop(signal, 30_000)
      expect(exit, p.describe()).toMatchObject({ code: 0, signal: null })
      expect(p.lines).toEqual([first])
      const { events, log } = await reopen()
      try {
        // After a clean close the partitions open on first use (here), each from its clean-shutdown mark.
        expect(log.offsets('orders', 0).logEndOffset + log.offsets('orders', 1).logEndOffset).toBe(1)
        expect(events.filter((e) => e.type === 'recovered')).toEqual([])
        expect(events.filter((e) => e.type === 'opened')).toHaveLength(2)
      } finally {
        await log.close()
      }
      expect(JSON.parse(fs.readFileSync(path.join(dir, '.seglog', 'owner.json'), 'utf8')).listener).toBeUndefined()
    }, 90_000)
  }

  it('prints a JSON line with --json', async () => {
    const p = serve(dir, '--port=0', '--json')
    const first = await p.waitForLine(() => true, 30_000)
    const { listening } = JSON.parse(first) as { listening: { host: string; port: number } }
    expect(listening.host).toBe('127.0.0.1')
    expect(await apiVersionsError(listening.port)).toBe(0)
    expect((await p.stop('SIGTERM', 30_000)).code).toBe(0)
  }, 60_000)

  it('exits 2 with a one-line message and the usage on bad usage', async () => {
    const cases: { args: string[]; message: RegExp }[] = [
      { args: ['serve'], message: /^seglog serve: the directory is missing$/ },
      { args: ['serve', dir, '--port', '70000'], message: /^seglog serve: --port must be in \[0, 65535\], got 70000$/ },
      { args: ['serve', dir, '--port', 'x'], message: /^seglog serve: --port must be an integer, got x$/ },
      { args: ['serve', dir, '--port'], message: /^seglog serve: --port needs a value$/ },
      { args: ['serve', dir, '--prot', '1'], message: /^seglog serve: unknown option --prot$/ },
      { args: ['serve', dir, 'extra'], message: /^seglog serve: unexpected argument "extra"$/ },
    ]
    for (const c of cases) {
      const r = await cli(...c.args)
      const lines = r.stderr.trimEnd().split('\n')
      expect(r.code, `${c.args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(lines[0]).toMatch(c.message)
      expect(lines[1]).toBe('usage: seglog serve <dir> [--port 9092] [--host 127.0.0.1]')
      expect(lines).toHaveLength(2)
      expect(r.stdout).toBe('')
    }
    const unknown = await cli('frobnicate', dir)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.split('\n')[0]).toBe('seglog: unknown command "frobnicate"')
    expect(unknown.stderr).toContain('seglog serve <dir>')
    expect((await cli()).code).toBe(2)
    const help = await cli('--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('seglog serve <dir> [--port 9092] [--host 127.0.0.1]')
    // Nothing was created by a refused command.
    expect(fs.existsSync(path.join(dir, '.seglog'))).toBe(false)
  }, 120_000)

  it('exits 1 printing CODE: message for a SeglogError (a directory another owner holds, a port in use)', async () => {
    const owner = await Seglog.open(dir)
    try {
      const locked = await cli('serve', dir, '--port', '0')
      expect(locked.code, locked.stderr).toBe(1)
      expect(locked.stderr.trimEnd().split('\n')).toHaveLength(1)
      expect(locked.stderr).toMatch(/^ENGINE_LOCKED: .*is already open in this process|^ENGINE_LOCKED: .*owned by/)
    } finally {
      await owner.close()
    }
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()))
    try {
      const port = (blocker.address() as net.AddressInfo).port
      const busy = await cli('serve', dir, '--port', String(port))
      expect(busy.code, busy.stderr).toBe(1)
      expect(busy.stderr).toMatch(/^IO_ERROR: .*EADDRINUSE/)
      expect(busy.stdout).toBe('')
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }
    // The failed serve released the directory.
    const { log } = await reopen()
    await log.close()
  }, 90_000)
})
