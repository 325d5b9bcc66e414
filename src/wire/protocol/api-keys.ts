/**
 * Kafka's API keys and the version range seglog advertises for each (non-flexible versions only: no client seglog
 * supports needs KIP-482's compact encodings when the broker advertises none). Ranges start low enough for
 * librdkafka's feature checks (Produce 3 and Fetch 4 inside the range for RecordBatch v2; the group APIs from v0,
 * OffsetCommit overlapping 1–2, OffsetFetch including 1). RecordBatch v2 is the stored format, so Fetch 4 is the
 * floor (older versions return MessageSets). Produce starts at 0 all the same: librdkafka (up to 2.11) compresses
 * gzip, snappy and lz4 batches only when the broker's Produce range includes v0; what clients send at v0–v2
 * (magic 0/1 MessageSets) is refused per partition with UNSUPPORTED_FOR_MESSAGE_FORMAT.
 */

export const ApiKey = Object.freeze({
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  DeleteRecords: 21,
  InitProducerId: 22,
  DescribeConfigs: 32,
  AlterConfigs: 33,
  CreatePartitions: 37,
  DeleteGroups: 42,
} as const)

export type ApiName = keyof typeof ApiKey

export interface VersionRange {
  readonly min: number
  readonly max: number
}

/** The versions advertised (and implemented) per API. */
export const VERSIONS: Readonly<Record<ApiName, VersionRange>> = Object.freeze({
  Produce: { min: 0, max: 7 },
  Fetch: { min: 4, max: 11 },
  ListOffsets: { min: 1, max: 3 },
  Metadata: { min: 0, max: 6 },
  OffsetCommit: { min: 2, max: 5 },
  OffsetFetch: { min: 1, max: 5 },
  FindCoordinator: { min: 0, max: 2 },
  JoinGroup: { min: 0, max: 5 },
  Heartbeat: { min: 0, max: 3 },
  LeaveGroup: { min: 0, max: 3 },
  SyncGroup: { min: 0, max: 3 },
  DescribeGroups: { min: 0, max: 2 },
  ListGroups: { min: 0, max: 2 },
  ApiVersions: { min: 0, max: 2 },
  CreateTopics: { min: 0, max: 3 },
  DeleteTopics: { min: 0, max: 1 },
  DeleteRecords: { min: 0, max: 1 },
  InitProducerId: { min: 0, max: 1 },
  DescribeConfigs: { min: 0, max: 2 },
  AlterConfigs: { min: 0, max: 1 },
  CreatePartitions: { min: 0, max: 1 },
  DeleteGroups: { min: 0, max: 1 },
})

const NAMES = new Map<number, ApiName>(Object.entries(ApiKey).map(([name, key]) => [key, name as ApiName]))

/** The API's name for logs and errors ("api 57" for keys seglog does not know). */
export function apiName(key: number): string {
  return NAMES.get(key) ?? `api ${key}`
}
