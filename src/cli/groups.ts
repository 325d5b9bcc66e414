/**
 * `seglog groups <dir> [--json]`: the consumer groups with committed offsets in the directory, each with how many
 * partitions it committed and its total lag (log end offsets minus committed offsets). Read-only.
 *
 * `--json` lines: `{ groupId, state, members, partitions, lag }`. A read-only open sees the committed offsets, not
 * the members (they live in the owner's process): they come from the owner's listener, and when the owner has
 * none `state` is "Unknown" and `members` null (support/membership.ts). Groups the owner knows without committed
 * offsets are listed too.
 */
import { type Command, UsageError } from './command.js'
import { openReader } from './support/access.js'
import { positionals, printHelp } from './support/args.js'
import { groupState, membershipOf, unknownMembershipNote } from './support/membership.js'
import { printTable } from './support/output.js'

const HELP = `
Lists the consumer groups that committed offsets in the directory: the number of partitions each committed and
its total lag (log end offset minus committed offset, summed). Read-only: works while another process owns the
directory. Members live in the process that owns the directory: they are asked of its listener, and shown as
unknown when it has none.
  --json   one JSON object per group: {"groupId", "state", "members", "partitions", "lag"} (members null: unknown)

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
      const committed = (await log.listGroups()).map((g) => g.groupId)
      const m = await membershipOf(dir, committed, true)
      const ids = [...new Set([...committed, ...(m.known ? m.listedByOwner : [])])].sort()
      const rows = []
      for (const groupId of ids) {
        const d = await log.describeGroup(groupId)
        const { state, members } = groupState(m, groupId, 'Empty')
        rows.push({
          groupId,
          state,
          members: members === null ? null : members.length,
          partitions: d.offsets.length,
          lag: d.offsets.reduce((a, o) => a + Math.max(0, o.lag ?? 0), 0),
        })
      }
      if (args.options.json === true) for (const r of rows) io.out(JSON.stringify(r))
      else {
        printTable(
          io,
          ['GROUP', 'STATE', 'MEMBERS', 'PARTITIONS', 'LAG'],
          rows.map((r) => [
            r.groupId,
            r.state,
            r.members === null ? '?' : String(r.members),
            String(r.partitions),
            String(r.lag),
          ]),
        )
        if (!m.known) io.out(unknownMembershipNote(m))
      }
    } finally {
      await log.close()
    }
    return 0
  },
}
