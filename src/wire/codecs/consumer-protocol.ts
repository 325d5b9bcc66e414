/**
 * The consumer protocol's member assignment (the bytes a leader sends in SyncGroup for protocol type
 * "consumer"), decoded only to show which partitions a wire member holds. The coordinator itself never needs
 * it: it passes assignment bytes through untouched.
 *
 * | field          | type                                                |
 * |----------------|-----------------------------------------------------|
 * | version        | int16 (0–3 in the wild; later fields are ignored)   |
 * | assigned       | [topic string, partitions [int32]]                  |
 * | user_data      | nullable bytes (not read)                           |
 */
import { MalformedRequest, Reader } from '../protocol/reader.js'

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
