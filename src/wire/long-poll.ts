/**
 * Long polls that should end early. While a group member must rejoin its group (the group started a join
 * phase), Fetch long polls from the same client (same remote host and client id: a client's fetch and group
 * requests often use different connections) wait at most `HURRIED_WAIT_MS`, and the ones waiting now are woken.
 * Clients such as kafkajs send their Heartbeat only after their Fetch returns, so without this a member would
 * learn of a rebalance only after a full max_wait_ms; with it, at its next heartbeat.
 *
 * Invariants: a client is hurried exactly while at least one hold taken by `hurryLongPolls` for it is
 * unreleased; each hold releases once; the map holds only clients with holds. Waking is broadcast (one signal
 * for all): a woken poll checks whether its own client is hurried and otherwise waits on.
 */

/** The longest a Fetch long poll of a hurried client waits. */
export const HURRIED_WAIT_MS = 50

const holds = new Map<string, number>()
let wake = new AbortController()

const clientKey = (remoteHost: string, clientId: string | null): string => `${remoteHost}\0${clientId ?? ''}`

/** Hurries a client's long polls (waking those waiting now); returns the release of this hold. */
export function hurryLongPolls(remoteHost: string, clientId: string | null): () => void {
  const key = clientKey(remoteHost, clientId)
  holds.set(key, (holds.get(key) ?? 0) + 1)
  const woken = wake
  wake = new AbortController()
  woken.abort()
  let released = false
  return () => {
    if (released) return
    released = true
    const left = (holds.get(key) ?? 1) - 1
    if (left > 0) holds.set(key, left)
    else holds.delete(key)
  }
}

/** The longest a long poll of this client may wait now (Infinity when it is not hurried). */
export function longPollLimitMs(remoteHost: string, clientId: string | null): number {
  return holds.has(clientKey(remoteHost, clientId)) ? HURRIED_WAIT_MS : Number.POSITIVE_INFINITY
}

/** Aborts at the next `hurryLongPolls` of any client. */
export function hurrySignal(): AbortSignal {
  return wake.signal
}
