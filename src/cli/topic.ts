/**
 * `seglog topic <dir> create|describe|alter|delete <name> [--partitions N] [--config key=value]... [--json]`.
 *
 * - `create`: a new topic (`--partitions`, default the engine's; `--config` settings, `seglog.format` / `format`
 *   included). A missing directory is created.
 * - `describe`: the full effective config and per partition its log start and end offsets, segments and bytes;
 *   `--json` prints `describeTopic`'s object as one line. Read-only.
 * - `alter`: `--config` settings change (the others stay), `--partitions N` grows the topic.
 * - `delete`: the topic and its committed offsets.
 *
 * `--config` takes Kafka's dotted names or the camelCase fields (`retention.ms=86400000`, `retentionMs=86400000`);
 * an unknown name or a value out of range is bad usage (exit 2). Writing actions open the directory as its owner
 * when nobody owns it, go through the owner's listener when it has one, and fail with ENGINE_LOCKED otherwise
 * (support/access.ts). `--json` lines for writes: `{ topic, action, via }` (`via`: directory or listener).
 */
import { DEFAULT_TOPIC_CONFIG, KAFKA_NAMES, validateTopicConfig } from '../internal.js'
import type { TopicConfig } from '../main.js'
import { type Command, type ParsedArgs, UsageError } from './command.js'
import { closeAccess, openReader, openWriter, readOwner, via, type WriteAccess } from './support/access.js'
import { actionArguments, parseConfigs, printHelp } from './support/args.js'
import { humanBytes, printTable } from './support/output.js'

const ACTIONS = ['create', 'describe', 'alter', 'delete'] as const

const HELP = `
Actions (the action may also come before the directory: seglog topic create ./data orders):
  create    a new topic; --partitions N (default 1, or the engine's), --config name=value... (format=json,
            retention.ms=..., cleanup.policy=compact, ...). Creates the directory when it is missing.
  describe  the topic's effective config and each partition's log start/end offsets, segments and bytes (read-only)
  alter     --config name=value... changes those settings (the others stay); --partitions N grows the topic
  delete    the topic, its data and its committed offsets

--config takes Kafka's names (retention.ms) or seglog's (retentionMs); see the README's config table.
--json    describe: describeTopic()'s object on one line; the others: {"topic", "action", "via"}
A write on a directory another process owns goes through that owner's listener (Seglog.open(dir, { listen })
or seglog serve); without one it fails with ENGINE_LOCKED naming the owner's pid.

Examples:
  seglog topic ./data create orders --partitions 3 --config retention.ms=86400000 --config format=json
  seglog topic ./data describe orders --json
  seglog topic ./data alter orders --config retention.ms=3600000 --partitions 6`

const CONFIG_NAMES = { kafkaNames: KAFKA_NAMES, defaults: DEFAULT_TOPIC_CONFIG, validate: validateTopicConfig }

function configArgs(args: ParsedArgs): Partial<TopicConfig> {
  return parseConfigs(args.lists.config ?? [], CONFIG_NAMES)
}

function partitionsArg(args: ParsedArgs): number | undefined {
  const raw = args.options.partitions
  if (raw === undefined) return undefined
  if (raw === true || !/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 100_000) {
    throw new UsageError(`--partitions must be an integer in [1, 100000], got ${String(raw)}`)
  }
  return Number(raw)
}

/** A config as Kafka name/value strings, for the listener (Kafka's forever is Long.MAX_VALUE). */
function kafkaEntries(config: Partial<TopicConfig>): { name: string; value: string }[] {
  return (Object.entries(config) as [keyof TopicConfig, unknown][]).map(([field, value]) => ({
    name: KAFKA_NAMES[field],
    value: value === Number.MAX_SAFE_INTEGER ? '9223372036854775807' : String(value),
  }))
}

async function create(
  access: WriteAccess,
  dir: string,
  name: string,
  partitions: number | undefined,
  config: Partial<TopicConfig>,
): Promise<void> {
  if (access.kind === 'directory') {
    await access.log.createTopic(name, { partitions, config })
    return
  }
  // The listener creates binary topics unless told: say the format a native createTopic would give.
  const ownerDefaults = readOwner(dir)?.defaults
  const format =
    config.format ?? (ownerDefaults?.format as TopicConfig['format'] | undefined) ?? DEFAULT_TOPIC_CONFIG.format
  const count = partitions ?? config.partitions ?? -1
  const { partitions: _p, ...rest } = config
  await access.client.createTopic(name, count, kafkaEntries({ ...rest, format }))
}

async function alter(
  access: WriteAccess,
  name: string,
  partitions: number | undefined,
  config: Partial<TopicConfig>,
): Promise<void> {
  if (access.kind === 'directory') {
    if (Object.keys(config).length > 0) await access.log.alterTopicConfig(name, config)
    if (partitions !== undefined) await access.log.createPartitions(name, partitions)
    return
  }
  if (Object.keys(config).length > 0) {
    // AlterConfigs replaces the topic's own settings: send the ones it has, with the changes.
    const own = (await access.client.describeTopicConfig(name)).filter((c) => c.source === 1 && c.value !== null)
    const merged = new Map(own.map((c) => [c.name, c.value as string]))
    for (const e of kafkaEntries(config)) merged.set(e.name, e.value)
    await access.client.alterTopicConfig(
      name,
      [...merged].map(([n, value]) => ({ name: n, value })),
    )
  }
  if (partitions !== undefined) await access.client.createPartitions(name, partitions)
}

async function describe(dir: string, name: string, json: boolean, io: Parameters<Command['run']>[1]): Promise<void> {
  const log = await openReader(dir)
  try {
    const d = log.describeTopic(name)
    if (json) {
      io.out(JSON.stringify(d))
      return
    }
    const { config } = d
    io.out(
      `topic ${name}: ${d.partitions.length} partition${d.partitions.length === 1 ? '' : 's'}, format ${config.format}`,
    )
    io.out('')
    printTable(
      io,
      ['SETTING', 'VALUE'],
      (Object.keys(KAFKA_NAMES) as (keyof TopicConfig)[])
        .filter((f) => f !== 'partitions' && f !== 'format')
        .map((f) => [KAFKA_NAMES[f], config[f] === Number.MAX_SAFE_INTEGER ? 'unlimited' : String(config[f])]),
    )
    io.out('')
    printTable(
      io,
      ['PARTITION', 'LOG START', 'LOG END', 'RECORDS', 'SEGMENTS', 'SIZE'],
      d.partitions.map((p) => [
        String(p.partition),
        String(p.logStartOffset),
        String(p.logEndOffset),
        String(p.logEndOffset - p.logStartOffset),
        String(p.segments),
        humanBytes(p.bytes),
      ]),
    )
  } finally {
    await log.close()
  }
}

export const command: Command = {
  usage: 'topic <dir> create|describe|alter|delete <name> [--partitions N] [--config key=value]... [--json]',
  summary: 'create, describe, alter or delete a topic',
  options: { partitions: 'value', config: 'list', help: 'flag' },
  async run(args, io) {
    if (args.options.help === true) return printHelp(io, command, HELP)
    const { dir, action, name } = actionArguments(args, ACTIONS, 'topic name')
    const json = args.options.json === true
    const partitions = partitionsArg(args)
    const config = configArgs(args)
    if (action === 'describe' || action === 'delete') {
      if (partitions !== undefined || Object.keys(config).length > 0) {
        throw new UsageError(`${action} takes no --partitions or --config`)
      }
    }
    if (action === 'alter' && partitions === undefined && Object.keys(config).length === 0) {
      throw new UsageError('alter needs --config name=value or --partitions N')
    }
    if (action === 'describe') {
      await describe(dir, name, json, io)
      return 0
    }
    const access = await openWriter(dir, `${action} of topic '${name}'`, { create: action === 'create' })
    try {
      if (action === 'create') await create(access, dir, name, partitions, config)
      else if (action === 'alter') await alter(access, name, partitions, config)
      else if (access.kind === 'directory') await access.log.deleteTopic(name)
      else await access.client.deleteTopic(name)
    } finally {
      await closeAccess(access)
    }
    const done = { create: 'created', alter: 'altered', delete: 'deleted' }[action as 'create' | 'alter' | 'delete']
    if (json) io.out(JSON.stringify({ topic: name, action: done, via: via(access) }))
    else {
      const where =
        access.kind === 'listener'
          ? ` through the owner's listener at ${access.address.host}:${access.address.port}`
          : ''
      io.out(`${done} topic ${name}${where}`)
    }
    return 0
  },
}
