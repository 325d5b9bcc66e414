/**
 * The consumer protocol's member assignment (the bytes a leader sends in SyncGroup for protocol type
 * "consumer"), decoded only to show which partitions a wire member holds, and encoded (version 0, no user data)
 * to show an in-process member's partitions in DescribeGroups. The coordinator itself never needs it: it passes
 * assignment bytes through untouched.
 *
 * | field          | type                                                |
 * |----------------|-----------------------------------------------------|
 * | version        | int16 (0–3 in the wild; later fields are ignored)   |
 * | assigned       | [topic string, partitions [int32]]                  |
 * | user_data      | nullable bytes (not read)                           |
 */
import { MalformedRequest, Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'

/** Version 0 bytes of an assignment (partitions grouped by topic, in first-seen order), user data null. */
export function encodeConsumerAssignment(assigned: readonly { topic: string; partition: number }[]): Buffer {
  const byTopic = new Map<string, number[]>()
  for (const { topic, partition } of assigned) {
    let list = byTopic.get(topic)
    if (list === undefined) byTopic.set(topic, (list = []))
    list.push(partition)
  }
  const w = new Writer(64)
  w.int16(0)
  w.array([...byTopic], (w, [topic, partitions]) => {
    w.string(topic)
    w.array(partitions, (w, p) => void w.int32(p))
  })
  w.bytes(null)
  return w.toBuffer()
}

/** The assigned partitions, or null when the bytes are not a consumer-protocol assignment. */
export function decodeConsumerAssignment(bytes: Buffer): { topic: string; partition: number }[] | null {
  if (bytes.length === 0) return []
  try {
    const r = new Reader(bytes)
    if (r.int16() < 0) return null
    const out: { topic: string; partition: number }[] = []
    const topics = r.array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32(), 4) }), 6)
    for (const t of topics) for (const partition of t.partitions) out.push({ topic: t.topic, partition })
    return out
  } catch (err) {
    if (err instanceof MalformedRequest) return null
    throw err
  }
}
