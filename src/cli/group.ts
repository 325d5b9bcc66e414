/**
 * `seglog group <dir> describe|reset|delete <id> [--topic T] [--partition N] [--to earliest|latest|OFFSET|@EPOCH_MS]
 * [--json]`:
 * - `describe`: the group's state and members, and per committed partition the committed offset, the log end and
 *   the lag (`--topic` narrows it); `--json` prints `describeGroup`'s object on one line (with `membersKnown:
 *   false` added when the members cannot be known).
 *   Read-only; the members come from the owner's listener (support/membership.ts), `state` "Unknown" when the
 *   directory's owner has none.
 * - `reset`: sets the group's committed offsets of `--topic` (every partition, or `--partition N`) to the log start,
 *   the log end, an offset (OFFSET_OUT_OF_RANGE outside a partition's log) or the first record at or after a time.
 * - `delete`: the group and all its committed offsets.
 * `reset` and `delete` refuse a group with active members (GROUP_NOT_EMPTY) and need the directory's owner: this
 * process when nobody owns it, else the owner's listener (OffsetCommit outside group management, DeleteGroups),
 * else ENGINE_LOCKED (support/access.ts). `--json` for them: `{ groupId, action, topic?, offsets?, via }`.
 */
import type { GroupDescription, Seglog } from '../main.js'
import { SeglogError } from '../main.js'
import { type Command, type ParsedArgs, UsageError } from './command.js'
import { closeAccess, openReader, openWriter, via, type WriteAccess } from './support/access.js'
import { actionArguments, type Position, parsePosition, printHelp } from './support/args.js'
import { groupState, type Membership, membershipOf, unknownMembershipNote } from './support/membership.js'
import { printTable } from './support/output.js'

const ACTIONS = ['describe', 'reset', 'delete'] as const

const HELP = `
Actions (the action may also come before the directory: seglog group reset ./data billing ...):
  describe  each partition the group committed: committed offset, log end offset, lag (read-only; --topic T)
  reset     --topic T --to earliest|latest|OFFSET|@EPOCH_MS [--partition N]: set the group's committed
            offsets of T (every partition, or N) to the log start, the log end, an offset, or the first record
            at or after a time (ms since the epoch)
  delete    the group and all its committed offsets
reset and delete refuse a group with active members (GROUP_NOT_EMPTY). On a directory another process owns they
go through its listener, or fail with ENGINE_LOCKED naming the owner's pid.
  --json    describe: describeGroup()'s object on one line; reset/delete: {"groupId", "action", ..., "via"}

Examples:
  seglog group ./data describe billing
  seglog group ./data reset billing --topic orders --to earliest`

function stringArg(args: ParsedArgs, name: string): string | null {
  const raw = args.options[name]
  if (raw === undefined) return null
  if (raw === true || raw === '') throw new UsageError(`--${name} needs a value`)
  return raw
}

function describeTable(io: Parameters<Command['run']>[1], d: GroupDescription, m: Membership): void {
  if (m.known) {
    io.out(`group ${d.groupId}: ${d.state}, ${d.members.length} member${d.members.length === 1 ? '' : 's'}`)
    for (const member of d.members) {
      const parts = member.assignment.map((a) => `${a.topic}-${a.partition}`).join(' ')
      io.out(`  ${member.memberId}${member.clientId ? ` (${member.clientId})` : ''}: ${parts || 'no partitions'}`)
    }
  } else io.out(`group ${d.groupId}: ${unknownMembershipNote(m)}`)
  printTable(
    io,
    ['TOPIC', 'PARTITION', 'COMMITTED', 'LOG END', 'LAG'],
    d.offsets.map((o) => [o.topic, String(o.partition), String(o.committed), String(o.logEndOffset), String(o.lag)]),
  )
}

/** The offsets `to` means for each partition, as the log sees them now. */
async function targets(
  log: Seglog,
  topic: string,
  partitions: number[],
  to: Position,
): Promise<{ partition: number; offset: number }[]> {
  const out: { partition: number; offset: number }[] = []
  for (const partition of partitions) {
    const { logStartOffset, logEndOffset } = log.offsets(topic, partition)
    let offset: number
    if (to === 'earliest') offset = logStartOffset
    else if (to === 'latest') offset = logEndOffset
    else if ('timestamp' in to) offset = (await log.offsetForTimestamp(topic, partition, to.timestamp)) ?? logEndOffset
    else {
      offset = to.offset
      if (offset < logStartOffset || offset > logEndOffset) {
        throw new SeglogError(
          'OFFSET_OUT_OF_RANGE',
          `offset ${offset} is outside [${logStartOffset}, ${logEndOffset}] of ${topic}-${partition}`,
          { offset },
        )
      }
    }
    out.push({ partition, offset })
  }
  return out
}

async function reset(
  access: WriteAccess,
  reader: Seglog,
  group: string,
  topic: string,
  partitions: number[],
  to: Position,
): Promise<{ partition: number; offset: number }[]> {
  if (access.kind === 'directory') {
    const offsets = await targets(access.log, topic, partitions, to)
    await access.log.resetOffsets({ groupId: group, topic, to: { offsets } })
    return offsets
  }
  // The owner resolves -2 and -1 to its log start and end at the commit; explicit offsets are checked here.
  const sent =
    to === 'earliest' || to === 'latest'
      ? partitions.map((partition) => ({ partition, offset: to === 'earliest' ? -2 : -1 }))
      : await targets(reader, topic, partitions, to)
  await access.client.commitOffsets(group, topic, sent)
  const now = await access.client.fetchOffsets(group, topic, partitions)
  return partitions.map((partition) => ({ partition, offset: now.get(partition) ?? -1 }))
}

export const command: Command = {
  usage:
    'group <dir> describe|reset|delete <id> [--topic T] [--partition N] [--to earliest|latest|OFFSET|@EPOCH_MS] [--json]',
  summary: 'describe a consumer group, reset its committed offsets, or delete it',
  options: { topic: 'value', partition: 'value', to: 'value', help: 'flag' },
  async run(args, io) {
    if (args.options.help === true) return printHelp(io, command, HELP)
    const { dir, action, name: group } = actionArguments(args, ACTIONS, 'group id')
    const json = args.options.json === true
    const topic = stringArg(args, 'topic')
    const rawTo = stringArg(args, 'to')
    const rawPartition = stringArg(args, 'partition')
    if (rawPartition !== null && !/^\d+$/.test(rawPartition)) {
      throw new UsageError(`--partition must be an integer >= 0, got ${rawPartition}`)
    }
    if (action !== 'reset' && (rawTo !== null || rawPartition !== null)) {
      throw new UsageError(`${action} takes no --to or --partition`)
    }
    if (action === 'delete' && topic !== null)
      throw new UsageError('delete takes no --topic (it deletes the whole group)')
    if (action === 'describe') {
      const log = await openReader(dir)
      try {
        const d = await log.describeGroup(group)
        const m = await membershipOf(dir, [group])
        const { state, members } = groupState(m, group, d.state)
        const shown = {
          ...d,
          state: state as GroupDescription['state'],
          members: members ?? [],
          // Only when unknown: a known membership prints exactly describeGroup's object.
          ...(m.known ? {} : { membersKnown: false }),
          offsets: topic === null ? d.offsets : d.offsets.filter((o) => o.topic === topic),
        }
        if (json) io.out(JSON.stringify(shown))
        else describeTable(io, shown, m)
      } finally {
        await log.close()
      }
      return 0
    }
    if (action === 'reset') {
      if (topic === null) throw new UsageError('reset needs --topic T')
      if (rawTo === null) throw new UsageError('reset needs --to earliest|latest|OFFSET|@EPOCH_MS')
      const to = parsePosition('to', rawTo)
      const reader = await openReader(dir)
      try {
        const count = reader.describeTopic(topic).partitions.length
        const partitions = rawPartition === null ? Array.from({ length: count }, (_, p) => p) : [Number(rawPartition)]
        for (const p of partitions) reader.offsets(topic, p)
        const access = await openWriter(dir, `reset of group '${group}'`)
        let offsets: { partition: number; offset: number }[]
        try {
          offsets = await reset(access, reader, group, topic, partitions, to)
        } finally {
          await closeAccess(access)
        }
        if (json) io.out(JSON.stringify({ groupId: group, action: 'reset', topic, offsets, via: via(access) }))
        else {
          io.out(`reset group ${group} on ${topic}:`)
          printTable(
            io,
            ['PARTITION', 'COMMITTED'],
            offsets.map((o) => [String(o.partition), String(o.offset)]),
          )
        }
      } finally {
        await reader.close()
      }
      return 0
    }
    const access = await openWriter(dir, `delete of group '${group}'`)
    try {
      if (access.kind === 'directory') await access.log.deleteGroup(group)
      else await access.client.deleteGroup(group)
    } finally {
      await closeAccess(access)
    }
    if (json) io.out(JSON.stringify({ groupId: group, action: 'deleted', via: via(access) }))
    else io.out(`deleted group ${group}`)
    return 0
  },
}
