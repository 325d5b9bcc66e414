/**
 * How a command reaches a directory.
 *
 * - Reading: always a read-only open (`Seglog.open(dir, { readOnly: true })`): it works whether another process
 *   owns the directory or nobody does, and changes nothing.
 * - Writing: the directory is opened normally when nobody owns it (the command is its owner until it ends). When
 *   another process owns it (ENGINE_LOCKED) and `.seglog/owner.json` names a listener that answers, with the
 *   cluster id of this directory (`.seglog/cluster.json`, so a port reused by another broker is not mistaken for
 *   it), the write goes through that listener over Kafka's protocol. Otherwise the command fails with
 *   ENGINE_LOCKED naming the owner's pid and how to give it a listener. The lock is never taken from a running
 *   owner, and nothing is written before one of the two ways is settled.
 *
 * Whether another process owns the directory is found out before any open is tried, because trying is not free:
 * LevelDB rotates the lock store's info log (`.seglog/lock/LOG`) before it finds the lock taken. On Linux the
 * kernel's table of file locks (`/proc/locks`) tells whether a process holds the lock of `.seglog/lock/LOCK`, and
 * which; elsewhere a live pid in `owner.json` counts as an owner. Only a directory found free is opened (and an
 * owner that came in between is still told apart by the open's own ENGINE_LOCKED).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { isSeglogError, Seglog, SeglogError } from '../../main.js'
import type { WireClient } from './wire-client.js'

/** What `.seglog/owner.json` says (informational: the OS lock is what decides ownership). */
export interface OwnerInfo {
  pid?: number
  hostname?: string
  listener?: { host: string; port: number }
  defaults?: Record<string, unknown>
}

export function readOwner(dir: string): OwnerInfo | null {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(dir, '.seglog', 'owner.json'), 'utf8')) as unknown
    return o !== null && typeof o === 'object' ? (o as OwnerInfo) : null
  } catch {
    return null
  }
}

function clusterIdOf(dir: string): string | null {
  try {
    const id = (
      JSON.parse(fs.readFileSync(path.join(dir, '.seglog', 'cluster.json'), 'utf8')) as { clusterId?: unknown }
    ).clusterId
    return typeof id === 'string' ? id : null
  } catch {
    return null
  }
}

/**
 * The pid holding the ownership lock of `dir`: a number, null when nobody holds it, undefined when this system
 * cannot tell (no `/proc/locks`).
 */
function lockHolder(dir: string): number | null | undefined {
  let locks: string
  try {
    locks = fs.readFileSync('/proc/locks', 'utf8')
  } catch {
    return undefined
  }
  const st = fs.statSync(path.join(dir, '.seglog', 'lock', 'LOCK'), { throwIfNoEntry: false })
  if (st === undefined) return null
  const major = ((st.dev >> 8) & 0xfff) | (Math.floor(st.dev / 2 ** 32) & ~0xfff)
  const minor = (st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)
  for (const line of locks.split('\n')) {
    const m = /^\d+:\s+POSIX\s+\S+\s+\S+\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line)
    if (m === null) continue
    if (Number(m[4]) === st.ino && Number.parseInt(m[2], 16) === major && Number.parseInt(m[3], 16) === minor) {
      return Number(m[1])
    }
  }
  return null
}

/** True when another live process owns `dir` (see the header). */
function ownedElsewhere(dir: string, owner: OwnerInfo | null): boolean {
  const holder = lockHolder(dir)
  if (holder !== undefined) return holder !== null && holder !== process.pid
  const pid = owner?.pid
  if (typeof pid !== 'number' || pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Who owns `dir` now, for a read-only command that shows what only the owner knows (group members): null when
 * nobody does, else its pid (null if unknown) and a client of its listener when one answers for the directory.
 */
export async function ownerOf(dir: string): Promise<{ pid: number | null; client: WireClient | null } | null> {
  const owner = readOwner(dir)
  if (!ownedElsewhere(dir, owner)) return null
  return { pid: typeof owner?.pid === 'number' ? owner.pid : null, client: await listenerOf(dir, owner) }
}

/** A read-only open; IO_ERROR (ENOENT) when the directory does not exist. */
export function openReader(dir: string): Promise<Seglog> {
  return Seglog.open(dir, { readOnly: true })
}

export type WriteAccess =
  | { kind: 'directory'; log: Seglog }
  | { kind: 'listener'; client: WireClient; address: { host: string; port: number }; owner: OwnerInfo }

/** How a line of output says where a write went. */
export function via(access: WriteAccess): string {
  return access.kind === 'directory' ? 'directory' : 'listener'
}

export async function closeAccess(access: WriteAccess): Promise<void> {
  if (access.kind === 'directory') await access.log.close()
  else await access.client.close()
}

/** The owner's listener when it answers for this directory, else null. */
async function listenerOf(dir: string, owner: OwnerInfo | null): Promise<WireClient | null> {
  const l = owner?.listener
  if (l === undefined || typeof l.host !== 'string' || !Number.isInteger(l.port)) return null
  let client: WireClient
  try {
    // Loaded only for a directory that is owned and names a listener.
    const { WireClient } = await import('./wire-client.js')
    client = await WireClient.connect(l)
  } catch {
    return null
  }
  try {
    const expected = clusterIdOf(dir)
    const served = await client.clusterId()
    if (expected === null || served === expected) return client
  } catch {
    // Not a broker that answers Metadata: not this directory's owner.
  }
  await client.close()
  return null
}

/**
 * The way to write to `dir` for `what` (see the header). `create`: a missing directory is created (topic create);
 * otherwise it must exist (IO_ERROR, ENOENT).
 */
export async function openWriter(dir: string, what: string, options: { create?: boolean } = {}): Promise<WriteAccess> {
  if (options.create !== true && !fs.existsSync(dir)) {
    throw new SeglogError('IO_ERROR', `${dir} does not exist`, { path: dir, errno: 'ENOENT' })
  }
  let locked: SeglogError | null = null
  const known = readOwner(dir)
  if (ownedElsewhere(dir, known)) {
    const holder = lockHolder(dir) ?? known?.pid
    const host = known?.pid === holder && typeof known?.hostname === 'string' ? ` on ${known.hostname}` : ''
    locked = new SeglogError('ENGINE_LOCKED', `${realPath(dir)} is owned by process ${holder ?? '(unknown)'}${host}`, {
      path: dir,
    })
  } else {
    try {
      return { kind: 'directory', log: await Seglog.open(dir) }
    } catch (err) {
      if (!isSeglogError(err, 'ENGINE_LOCKED')) throw err
      locked = err
    }
  }
  const owner = readOwner(dir)
  const client = await listenerOf(dir, owner)
  if (client !== null && owner !== null) return { kind: 'listener', client, address: client.address, owner }
  throw lockedError(locked, dir, owner, what)
}

function realPath(dir: string): string {
  try {
    return fs.realpathSync(dir)
  } catch {
    return dir
  }
}

function lockedError(err: SeglogError, dir: string, owner: OwnerInfo | null, what: string): SeglogError {
  const who = err.message.replace(/^ENGINE_LOCKED: /, '')
  const listener = owner?.listener
  const why =
    listener === undefined
      ? 'it has no listener'
      : `its listener ${listener.host}:${listener.port} (in .seglog/owner.json) does not answer for this directory`
  return new SeglogError(
    'ENGINE_LOCKED',
    `${who}, and ${why}, so ${what} cannot go through it. ` +
      `Give the owner a listener (Seglog.open(dir, { listen: { port: 9092 } }), or log.listen({ port: 9092 })), ` +
      `or serve the directory with \`seglog serve ${dir}\` instead of opening it in an app; or stop the owner`,
    { cause: err, path: err.path },
  )
}
