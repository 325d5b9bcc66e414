/**
 * The checks on `Seglog.open`'s options, run before anything is created or locked: a wrong type is a TypeError
 * naming the option; a topic default out of range, or a clock that does not tell the time, is INVALID_CONFIG.
 *
 * The clock is called once here, and every later reading goes through `checkedClock`, so a clock that starts
 * returning NaN, a fraction or a negative number fails the operation that read it with INVALID_CONFIG instead of
 * writing a timestamp that cannot be stored (or throwing a RangeError from `Date`).
 */
import { MIN_OFFSET_MAP_BYTES } from '../compaction/offset-map.js'
import { CodecRegistry } from '../compression.js'
import { type TopicConfig, validateTopicConfig } from '../config.js'
import { SeglogError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import { MAX_TIMESTAMP } from '../messages.js'
import { checkAcks } from '../records.js'
import { type ListenOptions, type SeglogOptions, TEST_HOOKS, type TestHooks } from './options.js'

/** The methods a FileSystem must have (`unlinkAsync` is optional). */
const FILE_SYSTEM_METHODS: readonly (keyof FileSystem)[] = [
  'open',
  'exists',
  'readdir',
  'mkdir',
  'rename',
  'unlink',
  'rmdir',
  'fileSize',
  'readFile',
  'syncDir',
  'syncDirNow',
]

function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x)
  if (typeof x === 'function') return 'a function'
  if (typeof x === 'bigint') return `${x}n`
  if (x === null || typeof x !== 'object') return String(x)
  return Array.isArray(x) ? 'an array' : 'an object'
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false
  const proto = Object.getPrototypeOf(x)
  return proto === Object.prototype || proto === null
}

function optionalFunction(options: object, name: string): void {
  const v = (options as Record<string, unknown>)[name]
  if (v !== undefined && typeof v !== 'function') throw new TypeError(`${name} must be a function, got ${show(v)}`)
}

function optionalInteger(options: SeglogOptions, name: keyof SeglogOptions & string, min: number): void {
  const v = options[name]
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)) {
    throw new TypeError(`${name} must be an integer >= ${min}, got ${show(v)}`)
  }
}

/** The test hooks (`TEST_HOOKS`): `fs` must be a FileSystem, `crashPoint` a function. */
function checkTestHooks(hooks: TestHooks): void {
  if (hooks === null || typeof hooks !== 'object')
    throw new TypeError(`test hooks must be an object, got ${show(hooks)}`)
  optionalFunction(hooks, 'crashPoint')
  if (hooks.fs !== undefined) {
    if (hooks.fs === null || typeof hooks.fs !== 'object') {
      throw new TypeError(`fs must be a FileSystem, got ${show(hooks.fs)}`)
    }
    for (const m of FILE_SYSTEM_METHODS) {
      if (typeof hooks.fs[m] !== 'function') throw new TypeError(`fs must be a FileSystem: its ${m} is not a function`)
    }
  }
}

/** Loopback, where a listener binds unless told otherwise. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1'

/**
 * Checks `listen` options (a TypeError names the option) and fills in the default host. The server checks them
 * again; checking here lets `Seglog.open` reject them before it creates or locks anything.
 */
export function checkListenOptions(options: unknown): ListenOptions & { host: string } {
  if (!isPlainObject(options)) throw new TypeError(`listen options must be an object, got ${show(options)}`)
  const o = options as unknown as ListenOptions
  const { port, host = DEFAULT_LISTEN_HOST, maxRequestBytes, idleMs } = o
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`listen port must be an integer in [0, 65535], got ${show(port)}`)
  }
  if (typeof host !== 'string' || host.length === 0) {
    throw new TypeError(`listen host must be a non-empty string, got ${show(host)}`)
  }
  for (const [name, v] of [
    ['maxRequestBytes', maxRequestBytes],
    ['idleMs', idleMs],
  ] as const) {
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)) {
      throw new TypeError(`listen ${name} must be a positive integer, got ${show(v)}`)
    }
  }
  for (const key of Object.keys(o)) {
    if (!['port', 'host', 'maxRequestBytes', 'idleMs'].includes(key)) {
      throw new TypeError(`unknown listen option ${JSON.stringify(key)} (port, host, maxRequestBytes, idleMs)`)
    }
  }
  return { port, host, maxRequestBytes, idleMs }
}

/** A clock reading that a record timestamp can hold: an integer number of ms in [0, 2^53 − 1]. */
function checkReading(t: unknown): number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > MAX_TIMESTAMP) {
    throw new SeglogError(
      'INVALID_CONFIG',
      `clock() must return an integer number of ms in [0, ${MAX_TIMESTAMP}], got ${show(t)}`,
    )
  }
  return t
}

/** `clock` wrapped so each reading is checked (INVALID_CONFIG for one that is not a storable timestamp). */
export function checkedClock(clock: () => number): () => number {
  if (clock === Date.now) return clock
  return () => checkReading(clock())
}

/**
 * Checks `options` (TypeError / INVALID_CONFIG, see the module header) and returns them with `clock` checked,
 * plus the validated topic defaults.
 */
export function checkOpenOptions(options: unknown): {
  options: SeglogOptions
  defaults: Partial<TopicConfig>
} {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`options must be an object, got ${show(options)}`)
  }
  const o = options as SeglogOptions
  const defaults = validateTopicConfig(o.defaults, 'defaults')
  if (o.acks !== undefined) checkAcks(o.acks)
  optionalInteger(o, 'maxOpenFiles', 16)
  optionalInteger(o, 'retentionCheckIntervalMs', 0)
  optionalInteger(o, 'cleanerBackoffMs', 0)
  optionalInteger(o, 'cleanerMapBytes', MIN_OFFSET_MAP_BYTES)
  optionalFunction(o, 'clock')
  optionalFunction(o, 'onEvent')
  if (o.codecs !== undefined) {
    if (!isPlainObject(o.codecs)) throw new TypeError(`codecs must be an object, got ${show(o.codecs)}`)
    // Registering into a throwaway registry checks names and shapes with the registry's own errors.
    const probe = new CodecRegistry()
    for (const [name, codec] of Object.entries(o.codecs)) {
      if (codec !== undefined) probe.register(name as 'gzip', codec)
    }
  }
  if (o.listen !== undefined) checkListenOptions(o.listen)
  if (o.autoCreateTopics !== undefined && typeof o.autoCreateTopics !== 'boolean') {
    throw new TypeError(`autoCreateTopics must be a boolean, got ${show(o.autoCreateTopics)}`)
  }
  if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') {
    throw new TypeError(`readOnly must be a boolean, got ${show(o.readOnly)}`)
  }
  if (o.readOnly === true && o.listen !== undefined) {
    throw new SeglogError('INVALID_CONFIG', 'a read-only open cannot listen: serve the directory from its owner')
  }
  const hooks = o[TEST_HOOKS]
  if (hooks !== undefined) checkTestHooks(hooks)
  let clock = o.clock
  if (clock !== undefined) {
    clock = checkedClock(clock)
    clock()
  }
  return { options: { ...o, clock }, defaults }
}
