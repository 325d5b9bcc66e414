/**
 * What a `seglog` command is, and the argument parsing every command shares.
 *
 * A command is a module in src/cli/ named after it (`serve.ts` is `seglog serve`) that exports `command: Command`;
 * `main.ts` finds it by that name, so adding a command is adding its file. Arguments are
 * `<positional>... [--name value | --name=value | --flag]...` in any order; `--` ends the options. An option the
 * command does not declare, a value missing after `--name`, or a value given to a flag is a `UsageError`
 * (exit code 2, with the command's usage line). A `list` option may be given several times; its values are kept
 * in order (`--config a=1 --config b=2`).
 */

export type OptionKind = 'value' | 'flag' | 'list'

export interface ParsedArgs {
  positionals: string[]
  /** Values of `value` options as given (the last one wins), and `true` for flags that were given. */
  options: Record<string, string | true>
  /** Every value of each `list` option, in the order given. */
  lists: Record<string, string[]>
}

/** Where a command writes: one call per line (a trailing newline is added). */
export interface CliOutput {
  out(line: string): void
  err(line: string): void
}

export interface Command {
  /** The usage line after `seglog `, e.g. `serve <dir> [--port 9092] [--host 127.0.0.1]`. */
  readonly usage: string
  /** One sentence for the command list. */
  readonly summary: string
  readonly options: Readonly<Record<string, OptionKind>>
  /** Runs the command; resolves with the exit code. Throws UsageError for bad usage, SeglogError for failures. */
  run(args: ParsedArgs, io: CliOutput): Promise<number>
}

/** Bad usage: `main` prints the message and the usage line, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** Options every command accepts: `--json` writes JSON lines on stdout instead of text. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionKind>> = Object.freeze({ json: 'flag' })

export function parseArgs(argv: readonly string[], declared: Readonly<Record<string, OptionKind>>): ParsedArgs {
  const kinds: Record<string, OptionKind> = { ...COMMON_OPTIONS, ...declared }
  const positionals: string[] = []
  const options: Record<string, string | true> = {}
  const lists: Record<string, string[]> = {}
  let onlyPositionals = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (onlyPositionals || !arg.startsWith('--') || arg === '-') {
      positionals.push(arg)
      continue
    }
    if (arg === '--') {
      onlyPositionals = true
      continue
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    const kind = Object.hasOwn(kinds, name) ? kinds[name] : undefined
    if (kind === undefined) throw new UsageError(`unknown option --${name}`)
    if (kind === 'flag') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`)
      options[name] = true
      continue
    }
    let value: string | undefined
    if (eq >= 0) value = arg.slice(eq + 1)
    else {
      value = argv[i + 1]
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`)
      i++
    }
    if (kind === 'list') (lists[name] ??= []).push(value)
    else options[name] = value
  }
  return { positionals, options, lists }
}

/** The command's single directory argument (UsageError when there is none, or more than `max` positionals). */
export function dirArgument(args: ParsedArgs, max = 1): string {
  const dir = args.positionals[0]
  if (dir === undefined || dir === '') throw new UsageError('the directory is missing')
  if (args.positionals.length > max)
    throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[max])}`)
  return dir
}

/** An integer option in [min, max], or `fallback` when it is not given. */
export function integerOption(args: ParsedArgs, name: string, min: number, max: number, fallback: number): number {
  const raw = args.options[name]
  if (raw === undefined) return fallback
  if (raw === true || !/^-?\d+$/.test(raw)) throw new UsageError(`--${name} must be an integer, got ${String(raw)}`)
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be in [${min}, ${max}], got ${raw}`)
  }
  return n
}

/** A string option, or `fallback`. */
export function stringOption(args: ParsedArgs, name: string, fallback: string): string {
  const raw = args.options[name]
  if (raw === undefined) return fallback
  if (raw === true || raw === '') throw new UsageError(`--${name} needs a value`)
  return raw
}
