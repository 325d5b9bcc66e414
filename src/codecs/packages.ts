/**
 * The optional packages behind the snappy, lz4 and zstd codecs (declared in `optionalDependencies`), loaded on the
 * first compression or decompression that needs one, never when seglog is imported: a `require` from an ES module
 * through `createRequire`, synchronous because decoding a batch is (the read path and compaction's worker decode
 * inside synchronous walks). Each package is tried once per process; the outcome (the module, or why it did not
 * load) is kept.
 *
 * A package that is missing (an install with `--omit=optional`) or whose prebuilt binary has no build for this
 * platform makes its codec unavailable: the registry reports `COMPRESSION_UNSUPPORTED` with `why()`, which names
 * the package and the install command.
 */
import { createRequire } from 'node:module'
import type { BoundedCodec } from './limit.js'

/** Loads a package by name the way `require` does; tests pass one that fails, to stand for a missing package. */
export type PackageLoader = (name: string) => unknown

const nodeRequire = createRequire(import.meta.url)

export const requirePackage: PackageLoader = (name) => nodeRequire(name)

/** What one package gives a codec, built from its module on first use. */
export class OptionalPackage<T> {
  #state: { ok: true; value: T } | { ok: false; why: string } | null = null

  /**
   * `build` turns the loaded module into what the codec calls; it throws when the module lacks the functions the
   * codec needs (another major version), which counts as "did not load".
   */
  constructor(
    readonly name: string,
    private readonly build: (mod: unknown) => T,
    private readonly load: PackageLoader,
  ) {}

  /** The package's functions, or null when it cannot be loaded here (`why()` says why). */
  get(): T | null {
    if (this.#state === null) {
      try {
        this.#state = { ok: true, value: this.build(this.load(this.name)) }
      } catch (err) {
        const message = err instanceof Error ? err.message.split('\n')[0] : String(err)
        this.#state = { ok: false, why: message }
      }
    }
    return this.#state.ok ? this.#state.value : null
  }

  /** Why the package did not load, with the command that installs it; '' when it loaded (or was not tried). */
  why(): string {
    const s = this.#state
    if (s === null || s.ok) return ''
    return `the optional package ${this.name} did not load (${s.why}); install it with \`npm install ${this.name}\``
  }
}

/** A function of a loaded module, or a TypeError naming what is missing (`build` helpers use it). */
export function functionOf<F>(mod: unknown, pkg: string, name: string): F {
  const f = (mod as Record<string, unknown> | null)?.[name]
  if (typeof f !== 'function') throw new TypeError(`${pkg} has no function ${name}`)
  return f as F
}

export type Direction = 'compress' | 'decompress'

/**
 * A built-in codec whose implementation may come from an optional package: `compress`/`decompress` call it once
 * `missing` said it is there (each loads its package on first use).
 */
export interface LoadableCodec extends BoundedCodec {
  /** Null when `direction` works here; else why not (the missing package and how to install it). */
  missing(direction: Direction): string | null
}

/** A Buffer over a Uint8Array's bytes, without a copy. */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)
}
