/**
 * Group assignment in KafkaJS's shape: `AssignerProtocol` (the consumer protocol's member metadata and assignment
 * in Kafka's wire format: int16 version, then the topics or the per-topic partitions, then the user data bytes),
 * and `PartitionAssigners.roundRobin`, the default assignor.
 *
 * The round-robin assignor deals every partition of the subscribed topics (topics by name, partitions in order)
 * to the members in member-id order, skipping members not subscribed to the topic. Its name, RoundRobinAssigner,
 * is kafkajs's, so it can share a group with kafkajs members over the wire.
 */
import type {
  Assigner,
  Assignment,
  GroupMemberAssignment,
  ISerializer,
  MemberAssignment as MemberAssignmentShape,
  MemberMetadata as MemberMetadataShape,
  PartitionAssigner,
} from './types.js'

class Writer {
  private readonly parts: Buffer[] = []
  int16(n: number): this {
    const b = Buffer.alloc(2)
    b.writeInt16BE(n)
    this.parts.push(b)
    return this
  }
  int32(n: number): this {
    const b = Buffer.alloc(4)
    b.writeInt32BE(n)
    this.parts.push(b)
    return this
  }
  string(s: string): this {
    const bytes = Buffer.from(s, 'utf8')
    return this.int16(bytes.length).raw(bytes)
  }
  bytes(b: Buffer | null | undefined): this {
    if (b === null || b === undefined) return this.int32(0)
    return this.int32(b.length).raw(b)
  }
  raw(b: Buffer): this {
    this.parts.push(b)
    return this
  }
  done(): Buffer {
    return Buffer.concat(this.parts)
  }
}

class Reader {
  private at = 0
  constructor(private readonly buf: Buffer) {}
  canRead(n: number): boolean {
    return this.at + n <= this.buf.length
  }
  private need(n: number): void {
    if (!this.canRead(n)) throw new RangeError(`truncated consumer protocol data: need ${n} bytes at ${this.at}`)
  }
  int16(): number {
    this.need(2)
    const v = this.buf.readInt16BE(this.at)
    this.at += 2
    return v
  }
  int32(): number {
    this.need(4)
    const v = this.buf.readInt32BE(this.at)
    this.at += 4
    return v
  }
  string(): string {
    const n = this.int16()
    if (n < 0) return ''
    this.need(n)
    const s = this.buf.toString('utf8', this.at, this.at + n)
    this.at += n
    return s
  }
  bytes(): Buffer {
    if (!this.canRead(4)) return Buffer.alloc(0)
    const n = this.int32()
    if (n < 0) return Buffer.alloc(0)
    this.need(n)
    const b = Buffer.from(this.buf.subarray(this.at, this.at + n))
    this.at += n
    return b
  }
  array<T>(item: (r: Reader) => T): T[] {
    const n = this.int32()
    const out: T[] = []
    for (let i = 0; i < n; i++) out.push(item(this))
    return out
  }
}

const MemberMetadata: ISerializer<MemberMetadataShape> = {
  encode({ version, topics, userData }) {
    const w = new Writer().int16(version).int32(topics.length)
    for (const t of topics) w.string(t)
    return w.bytes(userData).done()
  },
  decode(buffer) {
    const r = new Reader(buffer)
    return { version: r.int16(), topics: r.array((x) => x.string()), userData: r.bytes() }
  },
}

const MemberAssignment: ISerializer<MemberAssignmentShape> = {
  encode({ version, assignment, userData }) {
    const topics = Object.keys(assignment)
    const w = new Writer().int16(version).int32(topics.length)
    for (const t of topics) {
      w.string(t).int32(assignment[t].length)
      for (const p of assignment[t]) w.int32(p)
    }
    return w.bytes(userData).done()
  },
  decode(buffer) {
    const r = new Reader(buffer)
    // An empty assignment (a member given nothing) is sent as no bytes at all.
    if (!r.canRead(2)) return null
    const version = r.int16()
    const assignment: Assignment = {}
    for (const { topic, partitions } of r.array((x) => ({
      topic: x.string(),
      partitions: x.array((y) => y.int32()),
    }))) {
      assignment[topic] = partitions
    }
    return { version, assignment, userData: r.bytes() }
  },
}

export const AssignerProtocol: {
  MemberMetadata: ISerializer<MemberMetadataShape>
  MemberAssignment: ISerializer<MemberAssignmentShape>
} = { MemberMetadata, MemberAssignment }

const roundRobin: PartitionAssigner = ({ cluster }) => {
  const assigner: Assigner = {
    name: 'RoundRobinAssigner',
    version: 0,
    async assign({ members, topics }) {
      const ids = members.map((m) => m.memberId).sort()
      const subscribed = new Map<string, Set<string> | null>()
      for (const m of members) {
        let wanted: Set<string> | null = null
        try {
          const meta = MemberMetadata.decode(m.memberMetadata)
          if (meta !== null) wanted = new Set(meta.topics)
        } catch {
          // Metadata that does not decode: treat the member as subscribed to every topic of the group.
        }
        subscribed.set(m.memberId, wanted)
      }
      const plan = new Map<string, Assignment>(ids.map((id) => [id, {}]))
      let next = 0
      for (const topic of [...topics].sort()) {
        const partitions = cluster
          .findTopicPartitionMetadata(topic)
          .map((p) => p.partitionId)
          .sort((a, b) => a - b)
        for (const partition of partitions) {
          for (let tries = 0; tries < ids.length; tries++) {
            const id = ids[next++ % ids.length]
            const wanted = subscribed.get(id)
            if (wanted === null || wanted?.has(topic)) {
              const mine = plan.get(id)!
              mine[topic] ??= []
              mine[topic].push(partition)
              break
            }
          }
        }
      }
      return ids.map(
        (memberId): GroupMemberAssignment => ({
          memberId,
          memberAssignment: MemberAssignment.encode({
            version: assigner.version,
            assignment: plan.get(memberId)!,
            userData: Buffer.alloc(0),
          }),
        }),
      )
    },
    protocol({ topics }) {
      return {
        name: assigner.name,
        metadata: MemberMetadata.encode({ version: assigner.version, topics, userData: Buffer.alloc(0) }),
      }
    },
  }
  return assigner
}

export const PartitionAssigners: { roundRobin: PartitionAssigner } = { roundRobin }
