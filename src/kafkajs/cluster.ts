/**
 * The `cluster` a KafkaJS assignor is created with (`PartitionAssigner({ cluster, groupId, logger })`), for a local
 * directory: one broker, node 0, leading every partition. Assignors use its metadata calls (above all
 * `findTopicPartitionMetadata`); the broker-object calls have no broker to return and throw KafkaJSNotImplemented.
 */
import type { Seglog } from '../main.js'
import { partitionMetadata, topicFacts } from './context.js'
import { KafkaJSNotImplemented } from './errors.js'
import type { Broker, BrokerMetadata, Cluster, TopicOffsets } from './types.js'

/** Where the local broker is: the engine's listener when it has one, else loopback with port 0. */
export function localBroker(log: Seglog): { nodeId: number; host: string; port: number } {
  const a = log.address()
  return { nodeId: 0, host: a?.host ?? '127.0.0.1', port: a?.port ?? 0 }
}

export function localCluster(log: Seglog): Cluster {
  const noBroker = async (): Promise<Broker> => {
    throw new KafkaJSNotImplemented('seglog/kafkajs has no broker connections to hand out (the directory is local)')
  }
  const metadata = async (): Promise<BrokerMetadata> => ({
    brokers: [localBroker(log)],
    topicMetadata: log.listTopics().map((topic) => ({
      topicErrorCode: 0,
      topic,
      partitionMetadata: partitionMetadata(topicFacts(log, topic)?.partitions ?? 0),
    })),
  })
  const nothing = async (): Promise<void> => {}
  return {
    getNodeIds: () => [0],
    metadata,
    removeBroker: () => {},
    addMultipleTargetTopics: nothing,
    isConnected: () => log.status === 'open',
    connect: nothing,
    disconnect: nothing,
    refreshMetadata: nothing,
    refreshMetadataIfNecessary: nothing,
    addTargetTopic: nothing,
    findBroker: noBroker,
    findControllerBroker: noBroker,
    findGroupCoordinator: noBroker,
    findTopicPartitionMetadata: (topic) => partitionMetadata(topicFacts(log, topic)?.partitions ?? 0),
    findLeaderForPartitions: (_topic, partitions) => ({ '0': [...partitions] }),
    findGroupCoordinatorMetadata: async () => {
      const { nodeId, host, port } = localBroker(log)
      return { errorCode: 0, coordinator: { nodeId, host, port } }
    },
    defaultOffset: ({ fromBeginning }) => (fromBeginning ? -2 : -1),
    fetchTopicsOffset: async (topics): Promise<TopicOffsets[]> =>
      Promise.all(
        topics.map(async (t) => ({
          topic: t.topic,
          partitions: await Promise.all(
            t.partitions.map(async ({ partition }) => {
              const { logStartOffset, logEndOffset } = log.offsets(t.topic, partition)
              let offset = t.fromBeginning ? logStartOffset : logEndOffset
              if (typeof t.fromTimestamp === 'number') {
                offset = (await log.offsetForTimestamp(t.topic, partition, t.fromTimestamp)) ?? -1
              }
              return { partition, offset: String(offset) }
            }),
          ),
        })),
      ),
  }
}
