/**
 * `seglog groups <dir> [--json]`: the consumer groups with committed offsets in the directory, each with how many
 * partitions it committed and its total lag (log end offsets minus committed offsets). Read-only.
 *
 * `--json` lines: `{ groupId, state, members, partitions, lag }`. A read-only open sees the committed offsets,
 * not the members (they live in the owner's process): `state` is `Empty` and `members` 0 unless this process
 * owns the directory.
 */
import { type Command, UsageError } from './command.js'
import { openReader } from './support/access.js'
import { positionals, printHelp } from './support/args.js'
import { printTable } from './support/output.js'

const HELP = `
Lists the consumer groups that committed offsets in the directory: the number of partitions each committed and
its total lag (log end offset minus committed offset, summed). Read-only: works while another process owns the
directory. The members of a group live in the process that owns the directory and are not shown.
  --json   one JSON object per group: {"groupId", "state", "members", "partitions", "lag"}

Example: seglog groups ./data`

export const command: Command = {
  usage: 'groups <dir> [--json]',
  summary: 'list the consumer groups with their committed partitions and lag',
  options: { help: 'flag' },
  async run(args, io) {
    if (args.options.help === true) return printHelp(io, command, HELP)
    const [dir] = positionals(args, ['directory'])
    if (args.positionals.length !== 1) throw new UsageError('expected just the directory')
    const log = await openReader(dir)
    try {
      const rows = []
      for (const g of await log.listGroups()) {
        const d = await log.describeGroup(g.groupId)
        rows.push({
          groupId: g.groupId,
          state: g.state,
          members: g.members,
          partitions: d.offsets.length,
          lag: d.offsets.reduce((a, o) => a + Math.max(0, o.lag ?? 0), 0),
        })
      }
      if (args.options.json === true) for (const r of rows) io.out(JSON.stringify(r))
      else
        printTable(
          io,
          ['GROUP', 'PARTITIONS', 'LAG'],
          rows.map((r) => [r.groupId, String(r.partitions), String(r.lag)]),
        )
    } finally {
      await log.close()
    }
    return 0
  },
}
