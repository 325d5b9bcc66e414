/**
 * Argument rules the data commands share, each a `UsageError` (exit 2) when broken: positionals, offsets and
 * timestamps (`--from`, `--to`), `--config key=value` (Kafka's dotted names or the camelCase fields, values checked
 * by the one config check), `--help`.
 */
import { SeglogError, type TopicConfig } from '../../main.js'
import { type CliOutput, type Command, type ParsedArgs, UsageError } from '../command.js'

/** `seglog <command> --help`: the usage line, the summary and the details, on stdout; exit 0. */
export function printHelp(io: CliOutput, c: Command, details: string): number {
  io.out(`usage: seglog ${c.usage}\n${c.summary}\n\n${details.trim()}`)
  return 0
}

/** Exactly the positionals `names` (UsageError naming the first missing one, or an extra one). */
export function positionals(args: ParsedArgs, names: readonly string[]): string[] {
  const got = args.positionals
  for (let i = 0; i < names.length; i++) {
    if (got[i] === undefined || got[i] === '') throw new UsageError(`the ${names[i]} is missing`)
  }
  if (got.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(got[names.length])}`)
  return got.slice(0, names.length)
}

/**
 * `<dir> <action> <name>` (also accepted: `<action> <dir> <name>`), with `action` one of `actions`. Returns the
 * three.
 */
export function actionArguments(
  args: ParsedArgs,
  actions: readonly string[],
  nameLabel: string,
): { dir: string; action: string; name: string } {
  const [a, b] = args.positionals
  const actionFirst = a !== undefined && actions.includes(a) && b !== undefined && !actions.includes(b)
  const ordered = actionFirst ? [b, a, ...args.positionals.slice(2)] : args.positionals
  const [dir, action] = ordered
  if (dir === undefined || dir === '') throw new UsageError('the directory is missing')
  if (action === undefined) throw new UsageError(`the action is missing (${actions.join(', ')})`)
  if (!actions.includes(action))
    throw new UsageError(`unknown action ${JSON.stringify(action)} (${actions.join(', ')})`)
  const name = ordered[2]
  if (name === undefined || name === '') throw new UsageError(`the ${nameLabel} is missing`)
  if (ordered.length > 3) throw new UsageError(`unexpected argument ${JSON.stringify(ordered[3])}`)
  return { dir, action, name }
}

export type Position = 'earliest' | 'latest' | { offset: number } | { timestamp: number }

const DIGITS = /^\d+$/

/** `earliest`, `latest`, an offset, or `@` and a timestamp in ms since the epoch. */
export function parsePosition(
  option: string,
  raw: string,
  allowed = 'earliest, latest, OFFSET or @EPOCH_MS',
): Position {
  if (raw === 'earliest' || raw === 'latest') return raw
  const ts = raw.startsWith('@') ? raw.slice(1) : null
  const digits = ts ?? raw
  const n = Number(digits)
  if (!DIGITS.test(digits) || !Number.isSafeInteger(n)) {
    throw new UsageError(`--${option} must be ${allowed}, got ${JSON.stringify(raw)}`)
  }
  return ts === null ? { offset: n } : { timestamp: n }
}

export interface ConfigNames {
  /** Kafka's dotted name of each field. */
  kafkaNames: Readonly<Record<keyof TopicConfig, string>>
  /** Numeric fields (their values are parsed as numbers). */
  defaults: Readonly<TopicConfig>
  validate(config: Record<string, unknown>): Partial<TopicConfig>
}

const LONG_MAX = '9223372036854775807'

/**
 * `--config` values (`name=value`; the name in Kafka's dotted form or camelCase) as a checked partial config.
 * UsageError for a missing `=`, an unknown name or a value out of range (the config check's own message).
 */
export function parseConfigs(raw: readonly string[], names: ConfigNames): Partial<TopicConfig> {
  const byName = new Map<string, keyof TopicConfig>()
  for (const [field, kafka] of Object.entries(names.kafkaNames) as [keyof TopicConfig, string][]) {
    byName.set(field, field)
    byName.set(kafka, field)
  }
  const out: Record<string, unknown> = {}
  for (const item of raw) {
    const eq = item.indexOf('=')
    if (eq <= 0) throw new UsageError(`--config needs name=value, got ${JSON.stringify(item)}`)
    const name = item.slice(0, eq)
    const value = item.slice(eq + 1)
    const field = byName.get(name)
    if (field === undefined) throw new UsageError(`--config: unknown topic setting ${JSON.stringify(name)}`)
    let parsed: unknown = value
    if (typeof names.defaults[field] === 'number') {
      const s = value.trim()
      if (s === LONG_MAX) parsed = Number.MAX_SAFE_INTEGER
      else if (s !== '' && Number.isFinite(Number(s))) parsed = Number(s)
    }
    try {
      names.validate({ [field]: parsed })
    } catch (err) {
      if (!(err instanceof SeglogError)) throw err
      throw new UsageError(`--config ${name}=${value}: ${err.message.replace(/^INVALID_CONFIG: /, '')}`)
    }
    out[field] = parsed
  }
  return names.validate(out)
}
