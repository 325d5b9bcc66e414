/**
 * Compile-time contract between `seglog/kafkajs` and kafkajs 2.2.4's own declarations, checked by `npm run
 * typecheck` (tsc over test/): every assignment below must type-check, in both directions, and `useEverything`
 * calls every member of the surface through the facade's types. Nothing here runs (the functions are never
 * called); a type the facade gets wrong is a tsc error in this file.
 *
 * One direction is left out on purpose: a kafkajs `Kafka` constructor is not a facade constructor, because the
 * facade's config also accepts `dir`/`seglog` and makes `brokers` optional (every kafkajs config is a facade
 * config, which is the direction apps need).
 */
import type * as K from 'kafkajs'
import * as KV from 'kafkajs'
import * as S from '../../../src/kafkajs/index.js'

/** `a` typed as B: compiles only when A is assignable to B. */
function as<B>(a: B): B {
  return a
}
declare function any<T>(): T

// ---- the client and its three factories ----

export function clients(): void {
  const facade = new S.Kafka({ dir: '/tmp/x', brokers: ['localhost:9092'], clientId: 'c' })
  as<K.Kafka>(facade)
  as<S.Kafka>(any<K.Kafka>())
  as<typeof KV.Kafka>(S.Kafka)
  as<S.KafkaConfig>(any<K.KafkaConfig>())

  as<K.Producer>(facade.producer())
  as<S.Producer>(any<K.Producer>())
  as<K.Consumer>(facade.consumer({ groupId: 'g' }))
  as<S.Consumer>(any<K.Consumer>())
  as<K.Admin>(facade.admin())
  as<S.Admin>(any<K.Admin>())
  as<K.Transaction>(any<S.Transaction>())
  as<S.Transaction>(any<K.Transaction>())
  as<K.Logger>(facade.logger())
  as<S.Logger>(any<K.Logger>())

  // Configs, both ways.
  as<K.ProducerConfig>(any<S.ProducerConfig>())
  as<S.ProducerConfig>(any<K.ProducerConfig>())
  as<K.ConsumerConfig>(any<S.ConsumerConfig>())
  as<S.ConsumerConfig>(any<K.ConsumerConfig>())
  as<K.AdminConfig>(any<S.AdminConfig>())
  as<S.AdminConfig>(any<K.AdminConfig>())
  as<K.RetryOptions>(any<S.RetryOptions>())
  as<S.RetryOptions>(any<K.RetryOptions>())
  as<K.SASLOptions>(any<S.SASLOptions>())
  as<S.SASLOptions>(any<K.SASLOptions>())
  as<K.Mechanism>(any<S.Mechanism>())
  as<S.Mechanism>(any<K.Mechanism>())
  as<K.ISocketFactory>(any<S.ISocketFactory>())
  as<S.ISocketFactory>(any<K.ISocketFactory>())
  as<K.logCreator>(any<S.logCreator>())
  as<S.logCreator>(any<K.logCreator>())
  as<K.LogEntry>(any<S.LogEntry>())
  as<S.LogEntry>(any<K.LogEntry>())
}

// ---- messages, payloads, results ----

export function payloads(): void {
  as<K.Message>(any<S.Message>())
  as<S.Message>(any<K.Message>())
  as<K.IHeaders>(any<S.IHeaders>())
  as<S.IHeaders>(any<K.IHeaders>())
  as<K.ProducerRecord>(any<S.ProducerRecord>())
  as<S.ProducerRecord>(any<K.ProducerRecord>())
  as<K.ProducerBatch>(any<S.ProducerBatch>())
  as<S.ProducerBatch>(any<K.ProducerBatch>())
  as<K.RecordMetadata>(any<S.RecordMetadata>())
  as<S.RecordMetadata>(any<K.RecordMetadata>())
  as<K.KafkaMessage>(any<S.KafkaMessage>())
  as<S.KafkaMessage>(any<K.KafkaMessage>())
  as<K.Batch>(any<S.Batch>())
  as<S.Batch>(any<K.Batch>())
  as<K.EachMessagePayload>(any<S.EachMessagePayload>())
  as<S.EachMessagePayload>(any<K.EachMessagePayload>())
  as<K.EachBatchPayload>(any<S.EachBatchPayload>())
  as<S.EachBatchPayload>(any<K.EachBatchPayload>())
  as<K.EachMessageHandler>(any<S.EachMessageHandler>())
  as<S.EachMessageHandler>(any<K.EachMessageHandler>())
  as<K.EachBatchHandler>(any<S.EachBatchHandler>())
  as<S.EachBatchHandler>(any<K.EachBatchHandler>())
  as<K.ConsumerRunConfig>(any<S.ConsumerRunConfig>())
  as<S.ConsumerRunConfig>(any<K.ConsumerRunConfig>())
  as<K.ConsumerSubscribeTopics>(any<S.ConsumerSubscribeTopics>())
  as<S.ConsumerSubscribeTopics>(any<K.ConsumerSubscribeTopics>())
  as<K.ConsumerSubscribeTopic>(any<S.ConsumerSubscribeTopic>())
  as<S.ConsumerSubscribeTopic>(any<K.ConsumerSubscribeTopic>())
  as<K.OffsetsByTopicPartition>(any<S.OffsetsByTopicPartition>())
  as<S.OffsetsByTopicPartition>(any<K.OffsetsByTopicPartition>())
  as<K.Offsets>(any<S.Offsets>())
  as<S.Offsets>(any<K.Offsets>())
  as<K.TopicPartitionOffsetAndMetadata>(any<S.TopicPartitionOffsetAndMetadata>())
  as<S.TopicPartitionOffsetAndMetadata>(any<K.TopicPartitionOffsetAndMetadata>())
  as<K.TopicPartitions>(any<S.TopicPartitions>())
  as<S.TopicPartitions>(any<K.TopicPartitions>())
  as<K.GroupDescription>(any<S.GroupDescription>())
  as<S.GroupDescription>(any<K.GroupDescription>())
  as<K.GroupDescriptions>(any<S.GroupDescriptions>())
  as<S.GroupDescriptions>(any<K.GroupDescriptions>())
  as<K.MemberDescription>(any<S.MemberDescription>())
  as<S.MemberDescription>(any<K.MemberDescription>())
  as<K.ITopicConfig>(any<S.ITopicConfig>())
  as<S.ITopicConfig>(any<K.ITopicConfig>())
  as<K.ITopicPartitionConfig>(any<S.ITopicPartitionConfig>())
  as<S.ITopicPartitionConfig>(any<K.ITopicPartitionConfig>())
  as<K.ITopicMetadata>(any<S.ITopicMetadata>())
  as<S.ITopicMetadata>(any<K.ITopicMetadata>())
  as<K.PartitionMetadata>(any<S.PartitionMetadata>())
  as<S.PartitionMetadata>(any<K.PartitionMetadata>())
  as<K.DescribeConfigResponse>(any<S.DescribeConfigResponse>())
  as<S.DescribeConfigResponse>(any<K.DescribeConfigResponse>())
  as<K.IResourceConfig>(any<S.IResourceConfig>())
  as<S.IResourceConfig>(any<K.IResourceConfig>())
  as<K.ResourceConfigQuery>(any<S.ResourceConfigQuery>())
  as<S.ResourceConfigQuery>(any<K.ResourceConfigQuery>())
  as<K.DeleteGroupsResult>(any<S.DeleteGroupsResult>())
  as<S.DeleteGroupsResult>(any<K.DeleteGroupsResult>())
  as<K.GroupOverview>(any<S.GroupOverview>())
  as<S.GroupOverview>(any<K.GroupOverview>())
  as<K.FetchOffsetsPartition>(any<S.FetchOffsetsPartition>())
  as<S.FetchOffsetsPartition>(any<K.FetchOffsetsPartition>())
  as<K.AclEntry>(any<S.AclEntry>())
  as<S.AclEntry>(any<K.AclEntry>())
  as<K.AclFilter>(any<S.AclFilter>())
  as<S.AclFilter>(any<K.AclFilter>())
  as<K.DescribeAclResponse>(any<S.DescribeAclResponse>())
  as<S.DescribeAclResponse>(any<K.DescribeAclResponse>())
  as<K.DeleteAclResponse>(any<S.DeleteAclResponse>())
  as<S.DeleteAclResponse>(any<K.DeleteAclResponse>())
  as<K.PartitionReassignment>(any<S.PartitionReassignment>())
  as<S.PartitionReassignment>(any<K.PartitionReassignment>())
  as<K.ListPartitionReassignmentsResponse>(any<S.ListPartitionReassignmentsResponse>())
  as<S.ListPartitionReassignmentsResponse>(any<K.ListPartitionReassignmentsResponse>())
  // Assignment.
  as<K.PartitionAssigner>(any<S.PartitionAssigner>())
  as<S.PartitionAssigner>(any<K.PartitionAssigner>())
  as<K.Assigner>(any<S.Assigner>())
  as<S.Assigner>(any<K.Assigner>())
  as<K.Cluster>(any<S.Cluster>())
  as<S.Cluster>(any<K.Cluster>())
  as<K.Broker>(any<S.Broker>())
  as<S.Broker>(any<K.Broker>())
  as<K.MemberMetadata>(any<S.MemberMetadata>())
  as<S.MemberMetadata>(any<K.MemberMetadata>())
  as<K.MemberAssignment>(any<S.MemberAssignment>())
  as<S.MemberAssignment>(any<K.MemberAssignment>())
  as<K.ICustomPartitioner>(any<S.ICustomPartitioner>())
  as<S.ICustomPartitioner>(any<K.ICustomPartitioner>())
  as<K.PartitionerArgs>(any<S.PartitionerArgs>())
  as<S.PartitionerArgs>(any<K.PartitionerArgs>())
}

// ---- events ----

export function events(): void {
  as<K.ConsumerEvents>(any<S.ConsumerEvents>())
  as<S.ConsumerEvents>(any<K.ConsumerEvents>())
  as<K.ProducerEvents>(any<S.ProducerEvents>())
  as<S.ProducerEvents>(any<K.ProducerEvents>())
  as<K.AdminEvents>(any<S.AdminEvents>())
  as<S.AdminEvents>(any<K.AdminEvents>())
  as<K.ConsumerGroupJoinEvent>(any<S.ConsumerGroupJoinEvent>())
  as<S.ConsumerGroupJoinEvent>(any<K.ConsumerGroupJoinEvent>())
  as<K.ConsumerCrashEvent>(any<S.ConsumerCrashEvent>())
  as<S.ConsumerCrashEvent>(any<K.ConsumerCrashEvent>())
  as<K.ConsumerCommitOffsetsEvent>(any<S.ConsumerCommitOffsetsEvent>())
  as<S.ConsumerCommitOffsetsEvent>(any<K.ConsumerCommitOffsetsEvent>())
  as<K.ConsumerHeartbeatEvent>(any<S.ConsumerHeartbeatEvent>())
  as<S.ConsumerHeartbeatEvent>(any<K.ConsumerHeartbeatEvent>())
  as<K.ConsumerFetchEvent>(any<S.ConsumerFetchEvent>())
  as<S.ConsumerFetchEvent>(any<K.ConsumerFetchEvent>())
  as<K.ConsumerFetchStartEvent>(any<S.ConsumerFetchStartEvent>())
  as<S.ConsumerFetchStartEvent>(any<K.ConsumerFetchStartEvent>())
  as<K.ConsumerStartBatchProcessEvent>(any<S.ConsumerStartBatchProcessEvent>())
  as<S.ConsumerStartBatchProcessEvent>(any<K.ConsumerStartBatchProcessEvent>())
  as<K.ConsumerEndBatchProcessEvent>(any<S.ConsumerEndBatchProcessEvent>())
  as<S.ConsumerEndBatchProcessEvent>(any<K.ConsumerEndBatchProcessEvent>())
  as<K.ConsumerRebalancingEvent>(any<S.ConsumerRebalancingEvent>())
  as<S.ConsumerRebalancingEvent>(any<K.ConsumerRebalancingEvent>())
  as<K.ConsumerReceivedUnsubcribedTopicsEvent>(any<S.ConsumerReceivedUnsubcribedTopicsEvent>())
  as<S.ConsumerReceivedUnsubcribedTopicsEvent>(any<K.ConsumerReceivedUnsubcribedTopicsEvent>())
  as<K.ConnectEvent>(any<S.ConnectEvent>())
  as<S.ConnectEvent>(any<K.ConnectEvent>())
  as<K.DisconnectEvent>(any<S.DisconnectEvent>())
  as<S.DisconnectEvent>(any<K.DisconnectEvent>())
  as<K.RequestEvent>(any<S.RequestEvent>())
  as<S.RequestEvent>(any<K.RequestEvent>())
  as<K.RequestTimeoutEvent>(any<S.RequestTimeoutEvent>())
  as<S.RequestTimeoutEvent>(any<K.RequestTimeoutEvent>())
  as<K.RequestQueueSizeEvent>(any<S.RequestQueueSizeEvent>())
  as<S.RequestQueueSizeEvent>(any<K.RequestQueueSizeEvent>())
}

// ---- enums and other values ----

export function values(): void {
  as<K.logLevel>(S.logLevel.INFO)
  as<S.logLevel>(KV.logLevel.INFO)
  as<K.CompressionTypes>(S.CompressionTypes.GZIP)
  as<S.CompressionTypes>(KV.CompressionTypes.GZIP)
  as<K.ConfigResourceTypes>(S.ConfigResourceTypes.TOPIC)
  as<S.ConfigResourceTypes>(KV.ConfigResourceTypes.TOPIC)
  as<K.ConfigSource>(S.ConfigSource.DEFAULT_CONFIG)
  as<S.ConfigSource>(KV.ConfigSource.DEFAULT_CONFIG)
  as<K.AclResourceTypes>(S.AclResourceTypes.TOPIC)
  as<S.AclResourceTypes>(KV.AclResourceTypes.TOPIC)
  as<K.AclOperationTypes>(S.AclOperationTypes.ALL)
  as<S.AclOperationTypes>(KV.AclOperationTypes.ALL)
  as<K.AclPermissionTypes>(S.AclPermissionTypes.ALLOW)
  as<S.AclPermissionTypes>(KV.AclPermissionTypes.ALLOW)
  as<K.ResourcePatternTypes>(S.ResourcePatternTypes.LITERAL)
  as<S.ResourcePatternTypes>(KV.ResourcePatternTypes.LITERAL)
  as<typeof KV.Partitioners>(S.Partitioners)
  as<typeof S.Partitioners>(KV.Partitioners)
  as<typeof KV.PartitionAssigners>(S.PartitionAssigners)
  as<typeof S.PartitionAssigners>(KV.PartitionAssigners)
  as<typeof KV.AssignerProtocol>(S.AssignerProtocol)
  as<typeof S.AssignerProtocol>(KV.AssignerProtocol)
  as<typeof KV.CompressionCodecs>(S.CompressionCodecs)
  as<typeof S.CompressionCodecs>(KV.CompressionCodecs)
}

// ---- error classes ----

export function errors(): void {
  as<K.KafkaJSError>(new S.KafkaJSError('x', { retriable: true }))
  as<S.KafkaJSError>(new KV.KafkaJSError('x', { retriable: true }))
  as<K.KafkaJSNonRetriableError>(new S.KafkaJSNonRetriableError('x'))
  as<S.KafkaJSNonRetriableError>(new KV.KafkaJSNonRetriableError('x'))
  as<K.KafkaJSProtocolError>(new S.KafkaJSProtocolError('x'))
  as<S.KafkaJSProtocolError>(new KV.KafkaJSProtocolError('x'))
  as<K.KafkaJSOffsetOutOfRange>(new S.KafkaJSOffsetOutOfRange(new Error(), { topic: 't', partition: 0 }))
  as<S.KafkaJSOffsetOutOfRange>(new KV.KafkaJSOffsetOutOfRange(new Error(), { topic: 't', partition: 0 }))
  as<K.KafkaJSNumberOfRetriesExceeded>(
    new S.KafkaJSNumberOfRetriesExceeded(new Error(), { retryCount: 0, retryTime: 0 }),
  )
  as<S.KafkaJSNumberOfRetriesExceeded>(
    new KV.KafkaJSNumberOfRetriesExceeded(new Error(), { retryCount: 0, retryTime: 0 }),
  )
  as<K.KafkaJSConnectionError>(new S.KafkaJSConnectionError('x', { broker: 'b', code: 'ECONNREFUSED' }))
  as<S.KafkaJSConnectionError>(new KV.KafkaJSConnectionError('x', { broker: 'b', code: 'ECONNREFUSED' }))
  as<K.KafkaJSRequestTimeoutError>(
    new S.KafkaJSRequestTimeoutError('x', {
      broker: 'b',
      clientId: 'c',
      correlationId: 0,
      createdAt: 0,
      sentAt: 0,
      pendingDuration: 0,
    }),
  )
  as<S.KafkaJSRequestTimeoutError>(any<K.KafkaJSRequestTimeoutError>())
  as<K.KafkaJSTopicMetadataNotLoaded>(new S.KafkaJSTopicMetadataNotLoaded('x', { topic: 't' }))
  as<S.KafkaJSTopicMetadataNotLoaded>(new KV.KafkaJSTopicMetadataNotLoaded('x', { topic: 't' }))
  as<K.KafkaJSStaleTopicMetadataAssignment>(
    new S.KafkaJSStaleTopicMetadataAssignment('x', { topic: 't', unknownPartitions: [] }),
  )
  as<S.KafkaJSStaleTopicMetadataAssignment>(any<K.KafkaJSStaleTopicMetadataAssignment>())
  as<K.KafkaJSServerDoesNotSupportApiKey>(
    new S.KafkaJSServerDoesNotSupportApiKey('x', { apiKey: 0, apiName: 'Produce' }),
  )
  as<S.KafkaJSServerDoesNotSupportApiKey>(any<K.KafkaJSServerDoesNotSupportApiKey>())
  as<K.KafkaJSAggregateError>(new S.KafkaJSAggregateError('x', []))
  as<S.KafkaJSAggregateError>(new KV.KafkaJSAggregateError('x', []))
  as<K.KafkaJSDeleteGroupsError>(new S.KafkaJSDeleteGroupsError('x', []))
  as<S.KafkaJSDeleteGroupsError>(new KV.KafkaJSDeleteGroupsError('x', []))
  as<K.KafkaJSDeleteTopicRecordsError>(new S.KafkaJSDeleteTopicRecordsError({ topic: 't', partitions: [] }))
  as<S.KafkaJSDeleteTopicRecordsError>(any<K.KafkaJSDeleteTopicRecordsError>())
  as<K.KafkaJSAlterPartitionReassignmentsError>(new S.KafkaJSAlterPartitionReassignmentsError('x', 't', 0))
  as<S.KafkaJSAlterPartitionReassignmentsError>(any<K.KafkaJSAlterPartitionReassignmentsError>())
  as<K.KafkaJSNotImplemented>(new S.KafkaJSNotImplemented())
  as<S.KafkaJSNotImplemented>(new KV.KafkaJSNotImplemented())
  as<K.KafkaJSMetadataNotLoaded>(new S.KafkaJSMetadataNotLoaded())
  as<K.KafkaJSBrokerNotFound>(new S.KafkaJSBrokerNotFound())
  as<K.KafkaJSPartialMessageError>(new S.KafkaJSPartialMessageError())
  as<K.KafkaJSSASLAuthenticationError>(new S.KafkaJSSASLAuthenticationError())
  as<K.KafkaJSGroupCoordinatorNotFound>(new S.KafkaJSGroupCoordinatorNotFound())
  as<K.KafkaJSTimeout>(new S.KafkaJSTimeout())
  as<K.KafkaJSLockTimeout>(new S.KafkaJSLockTimeout())
  as<K.KafkaJSUnsupportedMagicByteInMessageSet>(new S.KafkaJSUnsupportedMagicByteInMessageSet())
}

// ---- every member of the surface, through the facade's types ----

export async function useEverything(kafka: S.Kafka): Promise<void> {
  const log: S.Logger = kafka.logger()
  log.info('i', { a: 1 })
  log.warn('w')
  log.error('e')
  log.debug('d')
  log.setLogLevel(S.logLevel.DEBUG)
  log.namespace('ns', S.logLevel.ERROR).info('x')

  // Producer.
  const producer = kafka.producer({
    createPartitioner: S.Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: true,
    retry: { retries: 3 },
  })
  const offConnect = producer.on(producer.events.CONNECT, (e: S.ConnectEvent) => e.timestamp)
  offConnect()
  producer.on(producer.events.DISCONNECT, (e) => e.payload)
  producer.on(producer.events.REQUEST, (e) => e.payload.apiName)
  producer.on(producer.events.REQUEST_TIMEOUT, (e) => e.payload.broker)
  producer.on(producer.events.REQUEST_QUEUE_SIZE, (e) => e.payload.queueSize)
  await producer.connect()
  const meta: S.RecordMetadata[] = await producer.send({
    topic: 't',
    acks: -1,
    timeout: 1000,
    compression: S.CompressionTypes.GZIP,
    messages: [
      {
        key: 'k',
        value: Buffer.from('v'),
        partition: 0,
        headers: { h: 'x', many: ['a', Buffer.from('b')] },
        timestamp: '1',
      },
    ],
  })
  const baseOffset: string | undefined = meta[0].baseOffset
  await producer.sendBatch({ acks: 1, topicMessages: [{ topic: 't', messages: [{ value: null }] }] })
  producer.isIdempotent()
  producer.logger().info('x')
  const tx = await producer.transaction()
  await tx.send({ topic: 't', messages: [] })
  await tx.sendBatch({ topicMessages: [] })
  await tx.sendOffsets({ consumerGroupId: 'g', topics: [{ topic: 't', partitions: [{ partition: 0, offset: '1' }] }] })
  tx.isActive()
  await tx.commit()
  await tx.abort()
  await producer.disconnect()

  // Consumer.
  const consumer = kafka.consumer({
    groupId: 'g',
    partitionAssigners: [S.PartitionAssigners.roundRobin],
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
    retry: { retries: 1, restartOnFailure: async () => false },
  })
  const ev = consumer.events
  consumer.on(ev.HEARTBEAT, (e) => e.payload.groupGenerationId)
  consumer.on(ev.COMMIT_OFFSETS, (e) => e.payload.topics[0].partitions[0].offset)
  consumer.on(ev.GROUP_JOIN, (e) => [
    e.payload.memberAssignment,
    e.payload.isLeader,
    e.payload.leaderId,
    e.payload.groupProtocol,
    e.payload.duration,
  ])
  consumer.on(ev.FETCH_START, (e) => e.payload.nodeId)
  consumer.on(ev.FETCH, (e) => e.payload.numberOfBatches)
  consumer.on(ev.START_BATCH_PROCESS, (e) => e.payload.offsetLagLow)
  consumer.on(ev.END_BATCH_PROCESS, (e) => e.payload.duration)
  consumer.on(ev.CONNECT, (e) => e.payload)
  consumer.on(ev.DISCONNECT, (e) => e.payload)
  consumer.on(ev.STOP, (e) => e.payload)
  consumer.on(ev.CRASH, (e) => [e.payload.error, e.payload.groupId, e.payload.restart])
  consumer.on(ev.REBALANCING, (e) => e.payload.memberId)
  consumer.on(ev.RECEIVED_UNSUBSCRIBED_TOPICS, (e) => e.payload.topicsNotSubscribed)
  consumer.on(ev.REQUEST, (e) => e.payload.size)
  consumer.on(ev.REQUEST_TIMEOUT, (e) => e.payload.sentAt)
  consumer.on(ev.REQUEST_QUEUE_SIZE, (e) => e.payload.queueSize)
  consumer.logger().info('x')
  await consumer.connect()
  await consumer.subscribe({ topics: ['t', /^t-/], fromBeginning: true })
  await consumer.subscribe({ topic: 'u' })
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 5000,
    autoCommitThreshold: 100,
    partitionsConsumedConcurrently: 2,
    eachMessage: async ({ topic, partition, message, heartbeat, pause }: S.EachMessagePayload) => {
      const offset: string = message.offset
      const timestamp: string = message.timestamp
      const key: Buffer | null = message.key
      const value: Buffer | null = message.value
      const headers = message.headers
      void [topic, partition, offset, timestamp, key, value, headers, message.attributes]
      await heartbeat()
      const resume = pause()
      resume()
    },
  })
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({
      batch,
      resolveOffset,
      heartbeat,
      commitOffsetsIfNecessary,
      uncommittedOffsets,
      isRunning,
      isStale,
      pause,
    }: S.EachBatchPayload) => {
      const first: string | null = batch.firstOffset()
      const last: string = batch.lastOffset()
      const lag: string = batch.offsetLag()
      const low: string = batch.offsetLagLow()
      const hwm: string = batch.highWatermark
      void [first, last, lag, low, hwm, batch.isEmpty(), batch.topic, batch.partition]
      for (const m of batch.messages) resolveOffset(m.offset)
      await heartbeat()
      await commitOffsetsIfNecessary()
      await commitOffsetsIfNecessary({ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '5' }] }] })
      const pending: S.OffsetsByTopicPartition = uncommittedOffsets()
      void [pending, isRunning(), isStale()]
      pause()()
    },
  })
  consumer.seek({ topic: 't', partition: 0, offset: '0' })
  consumer.pause([{ topic: 't' }, { topic: 't', partitions: [0] }])
  const paused: S.TopicPartitions[] = consumer.paused()
  void paused
  consumer.resume([{ topic: 't', partitions: [0] }])
  await consumer.commitOffsets([{ topic: 't', partition: 0, offset: '1', metadata: null }])
  const group: S.GroupDescription = await consumer.describeGroup()
  S.AssignerProtocol.MemberAssignment.decode(group.members[0].memberAssignment)
  S.AssignerProtocol.MemberMetadata.decode(group.members[0].memberMetadata)
  await consumer.stop()
  await consumer.disconnect()

  // Admin.
  const admin = kafka.admin({ retry: { retries: 2 } })
  admin.on(admin.events.CONNECT, (e) => e.timestamp)
  admin.on(admin.events.DISCONNECT, (e) => e.timestamp)
  admin.on(admin.events.REQUEST, (e) => e.payload.apiKey)
  admin.on(admin.events.REQUEST_TIMEOUT, (e) => e.payload.apiKey)
  admin.on(admin.events.REQUEST_QUEUE_SIZE, (e) => e.payload.queueSize)
  admin.logger().info('x')
  await admin.connect()
  await admin.listTopics()
  const created: boolean = await admin.createTopics({
    validateOnly: false,
    waitForLeaders: true,
    timeout: 1000,
    topics: [
      {
        topic: 't',
        numPartitions: 3,
        replicationFactor: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
      { topic: 'a', replicaAssignment: [{ partition: 0, replicas: [0] }] },
    ],
  })
  void created
  await admin.deleteTopics({ topics: ['x'], timeout: 1000 })
  await admin.createPartitions({ validateOnly: false, timeout: 1000, topicPartitions: [{ topic: 't', count: 6 }] })
  const md = await admin.fetchTopicMetadata({ topics: ['t'] })
  void md.topics[0].partitions[0].leader
  await admin.fetchTopicMetadata()
  const off = await admin.fetchTopicOffsets('t')
  void [off[0].offset, off[0].high, off[0].low]
  await admin.fetchTopicOffsetsByTimestamp('t', Date.now())
  await admin.fetchTopicOffsetsByTimestamp('t')
  const fo = await admin.fetchOffsets({ groupId: 'g', topics: ['t'], resolveOffsets: false })
  void fo[0].partitions[0].metadata
  await admin.fetchOffsets({ groupId: 'g' })
  await admin.resetOffsets({ groupId: 'g', topic: 't', earliest: true })
  await admin.setOffsets({ groupId: 'g', topic: 't', partitions: [{ partition: 0, offset: '0' }] })
  await admin.deleteTopicRecords({ topic: 't', partitions: [{ partition: 0, offset: '-1' }] })
  const configs = await admin.describeConfigs({
    includeSynonyms: true,
    resources: [{ type: S.ConfigResourceTypes.TOPIC, name: 't', configNames: ['cleanup.policy'] }],
  })
  const source: S.ConfigSource = configs.resources[0].configEntries[0].configSource
  void source
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      { type: S.ConfigResourceTypes.TOPIC, name: 't', configEntries: [{ name: 'retention.ms', value: '1000' }] },
    ],
  })
  const { groups } = await admin.listGroups()
  await admin.describeGroups(groups.map((g) => g.groupId))
  const deleted: S.DeleteGroupsResult[] = await admin.deleteGroups(['g'])
  void deleted
  const cluster = await admin.describeCluster()
  void [cluster.brokers[0].host, cluster.controller, cluster.clusterId]
  const acl: S.AclFilter = {
    resourceType: S.AclResourceTypes.TOPIC,
    resourceName: 't',
    resourcePatternType: S.ResourcePatternTypes.LITERAL,
    principal: 'User:x',
    host: '*',
    operation: S.AclOperationTypes.ALL,
    permissionType: S.AclPermissionTypes.ALLOW,
  }
  await admin.describeAcls(acl)
  await admin.createAcls({
    acl: [
      {
        resourceType: S.AclResourceTypes.TOPIC,
        resourceName: 't',
        resourcePatternType: S.ResourcePatternTypes.LITERAL,
        principal: 'User:x',
        host: '*',
        operation: S.AclOperationTypes.ALL,
        permissionType: S.AclPermissionTypes.DENY,
      },
    ],
  })
  await admin.deleteAcls({ filters: [acl] })
  await admin.alterPartitionReassignments({
    topics: [{ topic: 't', partitionAssignment: [{ partition: 0, replicas: [0] }] }],
  })
  await admin.listPartitionReassignments({ topics: [{ topic: 't', partitions: [0] }] })
  await admin.disconnect()

  // The other exports.
  const codec = S.CompressionCodecs[S.CompressionTypes.GZIP]()
  void codec
  S.CompressionCodecs[S.CompressionTypes.Snappy] = () => ({})
  const assigner = S.PartitionAssigners.roundRobin({ cluster: any<S.Cluster>(), groupId: 'g', logger: log })
  await assigner.assign({ members: [{ memberId: 'm', memberMetadata: Buffer.alloc(0) }], topics: ['t'] })
  assigner.protocol({ topics: ['t'] })
  S.Partitioners.LegacyPartitioner()({ topic: 't', partitionMetadata: [], message: { value: null } })
  S.Partitioners.JavaCompatiblePartitioner()
  void baseOffset
}
