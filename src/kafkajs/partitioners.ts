/**
 * KafkaJS's partitioners. Both take a message's explicit `partition` first; a keyed message goes to
 * `toPositive(hash(key)) % partitions` (the key's bytes; a non-Buffer key is converted with `String`); a message
 * without a key goes round-robin, per topic, over the partitions that have a leader, starting at a random point.
 *
 * - `DefaultPartitioner` (also `JavaCompatiblePartitioner`): Kafka's murmur2, so a key lands where the Java
 *   client, librdkafka's murmur2 partitioner and the engine's own append put it.
 * - `LegacyPartitioner`: the hash of KafkaJS 1.x, which computes murmur2's multiplications in floating point and
 *   so places keys elsewhere; kept for apps that pinned it.
 */
import { randomBytes } from 'node:crypto'
import { murmur2 } from '../internal.js'
import type { ICustomPartitioner, PartitionerArgs } from './types.js'

const toPositive = (n: number): number => n & 0x7fffffff

function keyBytes(key: unknown): Buffer {
  return Buffer.isBuffer(key) ? key : Buffer.from(String(key))
}

/** KafkaJS 1.x's hash: murmur2's steps with `*` on doubles (not 32-bit multiplication), as that release shipped. */
function legacyHash(data: Buffer): number {
  const M = 0x5bd1e995
  const length = data.length
  let h = 0x9747b28c ^ length
  // The loop bound is fractional on purpose: a length that is not a multiple of 4 runs one more block, reading
  // past the end as undefined (→ 0), as the legacy code did.
  for (let i = 0; i < length / 4; i++) {
    const at = i * 4
    let k =
      (data[at] & 0xff) + ((data[at + 1] & 0xff) << 8) + ((data[at + 2] & 0xff) << 16) + ((data[at + 3] & 0xff) << 24)
    k *= M
    k ^= k >>> 24
    k *= M
    h *= M
    h ^= k
  }
  const tail = length & ~3
  const rest = length % 4
  if (rest === 3) h ^= (data[tail + 2] & 0xff) << 16
  if (rest >= 2) h ^= (data[tail + 1] & 0xff) << 8
  if (rest >= 1) {
    h ^= data[tail] & 0xff
    h *= M
  }
  h ^= h >>> 13
  h *= M
  h ^= h >>> 15
  return h
}

function partitionerWith(hash: (key: Buffer) => number): ICustomPartitioner {
  return () => {
    const counters = new Map<string, number>()
    return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
      if (message.partition !== null && message.partition !== undefined) return message.partition
      const count = partitionMetadata.length
      if (message.key !== null && message.key !== undefined) return toPositive(hash(keyBytes(message.key))) % count
      let n = counters.get(topic)
      if (n === undefined) n = randomBytes(4).readUInt32BE(0)
      n = (n + 1) >>> 0
      counters.set(topic, n)
      const available = partitionMetadata.filter((p) => p.leader >= 0)
      if (available.length > 0) return available[toPositive(n) % available.length].partitionId
      return toPositive(n) % count
    }
  }
}

const DefaultPartitioner = partitionerWith(murmur2)
const LegacyPartitioner = partitionerWith(legacyHash)

export const Partitioners: {
  DefaultPartitioner: ICustomPartitioner
  LegacyPartitioner: ICustomPartitioner
  /** @deprecated kafkajs's old name for DefaultPartitioner. */
  JavaCompatiblePartitioner: ICustomPartitioner
} = { DefaultPartitioner, LegacyPartitioner, JavaCompatiblePartitioner: DefaultPartitioner }
