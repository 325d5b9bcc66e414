/**
 * The directories the facade works on, shared by every `Kafka` instance and client of this process.
 *
 * A client's `connect()` takes a lease on its directory and `disconnect()` returns it. The first lease opens the
 * directory: as its owner (`Seglog.open`, a *local* directory) or, when another process owns it and serves Kafka's
 * wire protocol there (`.seglog/owner.json` names the listener's address), as a *remote* directory reached through
 * that listener. The last lease returned closes the engine (or forgets the address), so a script that connects,
 * works and disconnects leaves nothing open and exits by itself. A lease asked for while the last close is still
 * running waits for it and opens the directory again.
 *
 * Invariants: at most one `Shared` per real path; `leases` counts the leases handed out and not returned; the
 * engine of a local directory is open exactly while `leases > 0` (or while it is being opened or closed).
 *
 * Why node:fs here: only to create the directory and resolve its real path before the engine opens it, exactly as
 * `Seglog.open` does itself; `owner.json` is read through the engine's file-system layer.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { DEFAULT_TOPIC_CONFIG, nodeFileSystem, validateTopicConfig } from '../internal.js'
import { isSeglogError, Seglog, type SeglogOptions, type TopicConfig } from '../main.js'
import { KafkaJSConnectionError, KafkaJSNonRetriableError } from './errors.js'

/** What another process's `owner.json` says. */
export interface Owner {
  pid: number | null
  hostname: string | null
  listener: { host: string; port: number } | null
}

export type Backend =
  | {
      kind: 'local'
      log: Seglog
      realDir: string
      groups: LocalGroups
      /** The topic defaults the engine was opened with (Kafka's, then the `defaults` option's). */
      defaults: TopicConfig
    }
  | { kind: 'remote'; broker: string; owner: Owner; realDir: string }

/** Facade members of the in-process groups of one directory (the engine has no other members: see consumer.ts). */
export interface LocalMember {
  memberId: string
  clientId: string
  /** The assignor (group protocol) this member joined with. */
  protocol: string
  /** The consumer-protocol metadata this member's assignor sends for a subscription to `topics`. */
  metadata(topics: string[]): Buffer
  /** The topics this member subscribes to now. */
  topics(): string[]
}

/** The facade's view of in-process groups: members in join order (the first is the leader, as Kafka picks). */
export class LocalGroups {
  private readonly groups = new Map<string, Map<string, LocalMember>>()

  add(groupId: string, member: LocalMember): void {
    let g = this.groups.get(groupId)
    if (g === undefined) {
      g = new Map()
      this.groups.set(groupId, g)
    }
    g.set(member.memberId, member)
  }

  remove(groupId: string, memberId: string): void {
    const g = this.groups.get(groupId)
    g?.delete(memberId)
    if (g?.size === 0) this.groups.delete(groupId)
  }

  members(groupId: string): LocalMember[] {
    return [...(this.groups.get(groupId)?.values() ?? [])]
  }

  member(groupId: string, memberId: string): LocalMember | undefined {
    return this.groups.get(groupId)?.get(memberId)
  }
}

export interface Lease {
  readonly backend: Backend
  /** Returns the lease; the last one closes the directory. Calling it again does nothing. */
  release(): Promise<void>
}

interface Shared {
  realDir: string
  leases: number
  opening: Promise<Backend> | null
  backend: Backend | null
  closing: Promise<void> | null
}

const shared = new Map<string, Shared>()

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The directory's real path, creating it if missing. */
function realPathOf(dir: string): string {
  try {
    fs.mkdirSync(dir, { recursive: true })
    return fs.realpathSync(dir)
  } catch (err) {
    throw new KafkaJSNonRetriableError(`cannot use ${dir} as the seglog directory: ${(err as Error).message}`, {
      cause: err as Error,
    })
  }
}

/** `.seglog/owner.json` of a directory, or null when it cannot be read. */
export function readOwner(realDir: string): Owner | null {
  try {
    const raw = nodeFileSystem.readFile(path.join(realDir, '.seglog', 'owner.json'))
    if (raw === null) return null
    const o = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
    const l = o.listener as { host?: unknown; port?: unknown } | undefined
    return {
      pid: typeof o.pid === 'number' ? o.pid : null,
      hostname: typeof o.hostname === 'string' ? o.hostname : null,
      listener: l && typeof l.host === 'string' && typeof l.port === 'number' ? { host: l.host, port: l.port } : null,
    }
  } catch {
    return null
  }
}

/** Where to connect to a listener bound to `host` (an any-address bind is reached on loopback). */
export function brokerAddress(listener: { host: string; port: number }): string {
  const host = listener.host === '0.0.0.0' ? '127.0.0.1' : listener.host === '::' ? '::1' : listener.host
  return host.includes(':') ? `[${host}]:${listener.port}` : `${host}:${listener.port}`
}

export interface OpenSettings {
  /** Engine options for the open (only the lease that opens the directory uses them). */
  engine: SeglogOptions
  /** How long to wait for another owner's listener address to appear, or for the owner to go. */
  waitForOwnerMs: number
}

async function open(realDir: string, settings: OpenSettings): Promise<Backend> {
  const deadline = Date.now() + settings.waitForOwnerMs
  for (;;) {
    try {
      const log = await Seglog.open(realDir, settings.engine)
      const defaults = { ...DEFAULT_TOPIC_CONFIG, ...validateTopicConfig(settings.engine.defaults, 'defaults') }
      return { kind: 'local', log, realDir, groups: new LocalGroups(), defaults }
    } catch (err) {
      if (!isSeglogError(err, 'ENGINE_LOCKED')) throw err
      const owner = readOwner(realDir)
      if (owner?.listener) {
        return { kind: 'remote', broker: brokerAddress(owner.listener), owner, realDir }
      }
      // The owner may be about to listen (it writes the address once its listener is up), or about to exit.
      if (Date.now() >= deadline) throw notListening(realDir, owner, err)
      await sleep(50)
    }
  }
}

function notListening(realDir: string, owner: Owner | null, cause: unknown): KafkaJSConnectionError {
  const who =
    owner?.pid === process.pid
      ? `this process (pid ${owner.pid}), through Seglog.open`
      : owner?.pid
        ? `process ${owner.pid}${owner.hostname ? ` on ${owner.hostname}` : ''}`
        : 'another process'
  const err = new KafkaJSConnectionError(
    `${realDir} is owned by ${who}, which does not serve Kafka's wire protocol, so this process cannot reach it. ` +
      `Let the owner listen: Seglog.open(dir, { listen: { port: 0 } }) or log.listen({ port: 0 }), ` +
      `new Kafka({ dir, seglog: { listen: { port: 0 } } }) or SEGLOG_LISTEN=0 for a seglog/kafkajs owner, ` +
      `or run \`seglog serve ${realDir}\` as the owner`,
    { code: 'ENGINE_LOCKED', retriable: false },
  )
  Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true })
  return err
}

/**
 * A lease on `dir`: opens it on the first lease (see the module header). Rejects with KafkaJSConnectionError
 * (code ENGINE_LOCKED) when another owner does not listen, or with the engine's error when the open fails.
 */
export async function acquire(dir: string, settings: OpenSettings): Promise<Lease> {
  const realDir = realPathOf(dir)
  for (;;) {
    const s = shared.get(realDir)
    if (s?.closing) {
      await s.closing.catch(() => {})
      continue
    }
    const entry: Shared = s ?? { realDir, leases: 0, opening: null, backend: null, closing: null }
    if (s === undefined) shared.set(realDir, entry)
    entry.leases++
    if (entry.backend === null && entry.opening === null) {
      entry.opening = open(realDir, settings)
      entry.opening.then(
        (b) => {
          entry.backend = b
          entry.opening = null
        },
        () => {
          entry.opening = null
        },
      )
    }
    let backend: Backend
    try {
      backend = entry.backend ?? (await entry.opening!)
    } catch (err) {
      entry.leases--
      if (entry.leases === 0 && entry.backend === null && shared.get(realDir) === entry) shared.delete(realDir)
      throw err
    }
    let returned = false
    return {
      backend,
      release: async () => {
        if (returned) return
        returned = true
        if (--entry.leases > 0) return
        await close(entry)
      },
    }
  }
}

async function close(entry: Shared): Promise<void> {
  const backend = entry.backend
  entry.backend = null
  const done = (async () => {
    try {
      if (backend?.kind === 'local') await backend.log.close()
    } finally {
      if (shared.get(entry.realDir) === entry) shared.delete(entry.realDir)
    }
  })()
  entry.closing = done
  await done
}
