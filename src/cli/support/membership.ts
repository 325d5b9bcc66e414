/**
 * Group membership as a read-only command can know it. A read-only open sees committed offsets only: members
 * live in the process that owns the directory. So:
 * - nobody owns the directory: no group has members (`known`, every group Empty);
 * - the owner has a listener that answers for the directory: its ListGroups/DescribeGroups (in-process and wire
 *   groups alike) give each group's state and members (`known`);
 * - the owner has none: membership is unknown, and output says so (`state` "Unknown") rather than claim Empty.
 */
import { ownerOf } from './access.js'
import type { OwnerGroupView } from './wire-client.js'

export type Membership =
  | { known: true; groups: Map<string, OwnerGroupView> | null; listedByOwner: string[] }
  | { known: false; pid: number | null }

/**
 * What the owner of `dir` says of `groupIds`, and with `listAll` of every group it knows (`listedByOwner`, also
 * described); see the header.
 */
export async function membershipOf(dir: string, groupIds: readonly string[], listAll = false): Promise<Membership> {
  const owner = await ownerOf(dir)
  if (owner === null) return { known: true, groups: null, listedByOwner: [] }
  if (owner.client === null) return { known: false, pid: owner.pid }
  try {
    const listed = listAll ? (await owner.client.listGroups()).map((g) => g.groupId) : []
    const ids = [...new Set([...groupIds, ...listed])]
    const groups = ids.length === 0 ? new Map<string, OwnerGroupView>() : await owner.client.describeGroups(ids)
    return { known: true, groups, listedByOwner: listed }
  } finally {
    await owner.client.close()
  }
}

/**
 * A group's state and members under `m`, for a group whose committed offsets a read-only open found (`fromOffsets`
 * is that open's state: Empty). An owner that does not know the group calls it Dead; with committed offsets it is
 * Empty, as the engine describes it.
 */
export function groupState(
  m: Membership,
  groupId: string,
  fromOffsets: string,
): { state: string; members: OwnerGroupView['members'] | null } {
  if (!m.known) return { state: 'Unknown', members: null }
  const view = m.groups?.get(groupId)
  if (view === undefined || view.state === 'Dead') return { state: fromOffsets, members: [] }
  return { state: view.state, members: view.members }
}

/** The line that explains an unknown membership. */
export function unknownMembershipNote(m: Membership & { known: false }): string {
  const who = m.pid === null ? 'another process' : `process ${m.pid}`
  return `members unknown: the directory is owned by ${who}, which has no listener (open it with listen, or run it as seglog serve, to see them)`
}
