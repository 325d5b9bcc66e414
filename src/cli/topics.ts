/**
 * `seglog topics <dir> [--json]`: the directory's topics, one per line: name, partition count, value format,
 * cleanup policy, retention. Read-only (works on a directory another process owns) and quick: it reads the topic
 * files (engine/topic-listing.ts: the read-only open's rules, without opening the engine or loading the partition
 * log) and opens no partition (`topic describe` shows offsets and sizes).
 *
 * `--json` lines: `{ name, partitions, format, cleanupPolicy, retentionMs, retentionBytes }`.
 */
import { listTopicFiles } from '../engine/topic-listing.js'
import { type Command, UsageError } from './command.js'
import { positionals, printHelp } from './support/args.js'
import { printTable } from './support/output.js'

const HELP = `
Lists the topics of a seglog directory: name, partitions, format, cleanup policy and retention. It opens the
directory read-only, so it works while another process owns it, and changes nothing.

  --json   one JSON object per topic: {name, partitions, format, cleanupPolicy, retentionMs, retentionBytes}

Example: seglog topics ./data`

function retention(ms: number): string {
  if (ms < 0 || ms >= Number.MAX_SAFE_INTEGER) return 'forever'
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ]
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`
  return `${ms} ms`
}

export const command: Command = {
  usage: 'topics <dir> [--json]',
  summary: 'list the topics (name, partitions, format, cleanup policy, retention)',
  options: { help: 'flag' },
  async run(args, io) {
    if (args.options.help === true) return printHelp(io, command, HELP)
    const [dir] = positionals(args, ['directory'])
    if (args.positionals.length !== 1) throw new UsageError('expected just the directory')
    // Not a read-only open: the same listing from the topic files alone, without loading the partition log's modules
    // or opening the engine. bench/cli-startup.ts, paired runs, medians of 31: 1,000 one-partition topics 217 -> 147
    // ms, 10 topics of 100 187 -> 144 ms (a bare node start: 80-92 ms on the loaded 2-core machine).
    const topics = listTopicFiles(dir).map(({ name, partitions, config }) => ({
      name,
      partitions,
      format: config.format,
      cleanupPolicy: config.cleanupPolicy,
      retentionMs: config.retentionMs,
      retentionBytes: config.retentionBytes,
    }))
    // One write for every line (see printTable).
    if (args.options.json === true) {
      if (topics.length > 0) io.out(topics.map((t) => JSON.stringify(t)).join('\n'))
    } else {
      printTable(
        io,
        ['TOPIC', 'PARTITIONS', 'FORMAT', 'CLEANUP', 'RETENTION'],
        topics.map((t) => [
          t.name,
          String(t.partitions),
          t.format,
          t.cleanupPolicy,
          t.retentionBytes >= 0 ? `${retention(t.retentionMs)}, ${t.retentionBytes} B` : retention(t.retentionMs),
        ]),
      )
    }
    return 0
  },
}
