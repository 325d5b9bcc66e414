/**
 * The smaller codecs: ApiVersions, ListOffsets, CreateTopics, DeleteTopics, DescribeConfigs, DeleteRecords,
 * InitProducerId, CreatePartitions. Each against kafkajs's encoders/decoders and a hand-written vector.
 */
import { describe, expect, it } from 'vitest'
import { encodeApiVersionsResponse } from '../../../src/wire/codecs/api-versions.js'
import {
  decodeCreatePartitionsRequest,
  encodeCreatePartitionsResponse,
} from '../../../src/wire/codecs/create-partitions.js'
import { decodeCreateTopicsRequest, encodeCreateTopicsResponse } from '../../../src/wire/codecs/create-topics.js'
import { decodeDeleteRecordsRequest, encodeDeleteRecordsResponse } from '../../../src/wire/codecs/delete-records.js'
import { decodeDeleteTopicsRequest, encodeDeleteTopicsResponse } from '../../../src/wire/codecs/delete-topics.js'
import {
  ConfigSource,
  type DescribeConfigsResponse,
  decodeDescribeConfigsRequest,
  encodeDescribeConfigsResponse,
} from '../../../src/wire/codecs/describe-configs.js'
import { decodeInitProducerIdRequest, encodeInitProducerIdResponse } from '../../../src/wire/codecs/init-producer-id.js'
import { decodeListOffsetsRequest, encodeListOffsetsResponse } from '../../../src/wire/codecs/list-offsets.js'
import { Reader } from '../../../src/wire/protocol/reader.js'
import { kafkajsDecodeResponse, kafkajsRequestBody } from '../../support/kafkajs-protocol.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

function decodeAll<T>(body: Buffer, decode: (r: Reader) => T): T {
  const r = new Reader(body)
  const out = decode(r)
  expect(r.remaining).toBe(0)
  return out
}

describe('ApiVersions codec', () => {
  const apiKeys = [
    { apiKey: 0, minVersion: 3, maxVersion: 7 },
    { apiKey: 18, minVersion: 0, maxVersion: 2 },
  ]

  it('encodes v0-v2 responses that kafkajs decodes', async () => {
    for (let v = 0; v <= 2; v++) {
      const d = await kafkajsDecodeResponse(
        'apiVersions',
        v,
        encodeApiVersionsResponse({ errorCode: 0, apiKeys, throttleTimeMs: 0 }, v),
      )
      expect(d.apiVersions).toEqual(apiKeys)
      expect(d.errorCode).toBe(0)
    }
  })

  it('writes v0 without and v1 with throttle_time_ms', () => {
    const res = { errorCode: 35, apiKeys: [apiKeys[1]], throttleTimeMs: 0 }
    expect(encodeApiVersionsResponse(res, 0)).toEqual(hex('0023 00000001 0012 0000 0002'))
    expect(encodeApiVersionsResponse(res, 1)).toEqual(hex('0023 00000001 0012 0000 0002 00000000'))
  })
})

describe('ListOffsets codec', () => {
  it('decodes kafkajs requests at v1-v3', async () => {
    for (let v = 1; v <= 3; v++) {
      const body = await kafkajsRequestBody('listOffsets', v, {
        replicaId: -1,
        isolationLevel: 1,
        topics: [
          {
            topic: 't',
            partitions: [
              { partition: 0, timestamp: -2 },
              { partition: 1, timestamp: 1700000000000 },
            ],
          },
        ],
      })
      const req = decodeAll(body, (r) => decodeListOffsetsRequest(r, v))
      expect(req.replicaId).toBe(-1)
      expect(req.isolationLevel).toBe(v >= 2 ? 1 : 0)
      expect(req.topics).toEqual([
        {
          name: 't',
          partitions: [
            { partitionIndex: 0, timestamp: -2 },
            { partitionIndex: 1, timestamp: 1700000000000 },
          ],
        },
      ])
    }
  })

  it('encodes responses kafkajs decodes, throttle time first from v2', async () => {
    const res = {
      throttleTimeMs: 0,
      topics: [{ name: 't', partitions: [{ partitionIndex: 1, errorCode: 0, timestamp: -1, offset: 99 }] }],
    }
    for (let v = 1; v <= 3; v++) {
      const d = (await kafkajsDecodeResponse('listOffsets', v, encodeListOffsetsResponse(res, v))) as {
        responses: { topic: string; partitions: Record<string, unknown>[] }[]
      }
      expect(d.responses).toEqual([
        { topic: 't', partitions: [{ partition: 1, errorCode: 0, timestamp: '-1', offset: '99' }] },
      ])
    }
    expect(encodeListOffsetsResponse(res, 1)).toEqual(
      hex('00000001 0001 74 00000001 00000001 0000 ffffffffffffffff 0000000000000063'),
    )
  })
})

describe('CreateTopics codec', () => {
  it('decodes kafkajs requests at v0-v3 with assignments and config entries', async () => {
    for (let v = 0; v <= 3; v++) {
      const body = await kafkajsRequestBody('createTopics', v, {
        topics: [
          {
            topic: 'a',
            numPartitions: 3,
            replicationFactor: 1,
            configEntries: [
              { name: 'cleanup.policy', value: 'compact' },
              { name: 'retention.ms', value: '1000' },
            ],
          },
          { topic: 'b', replicaAssignment: [{ partition: 0, replicas: [0] }] },
        ],
        validateOnly: true,
        timeout: 1234,
      })
      const req = decodeAll(body, (r) => decodeCreateTopicsRequest(r, v))
      expect(req.timeoutMs).toBe(1234)
      expect(req.validateOnly).toBe(v >= 1)
      expect(req.topics[0]).toEqual({
        name: 'a',
        numPartitions: 3,
        replicationFactor: 1,
        assignments: [],
        configs: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'retention.ms', value: '1000' },
        ],
      })
      expect(req.topics[1]).toMatchObject({ name: 'b', numPartitions: -1, replicationFactor: -1 })
      expect(req.topics[1].assignments).toEqual([{ partitionIndex: 0, brokerIds: [0] }])
    }
  })

  it('reads a null config value', () => {
    const body = hex('00000001 0001 61 ffffffff ffff 00000000 00000001 0002 6b6b ffff 00000064 00')
    const req = decodeAll(body, (r) => decodeCreateTopicsRequest(r, 1))
    expect(req.topics[0].configs).toEqual([{ name: 'kk', value: null }])
  })

  it('encodes responses kafkajs decodes at v0-v3', async () => {
    const res = { throttleTimeMs: 0, topics: [{ name: 'a', errorCode: 36, errorMessage: 'exists' }] }
    for (let v = 0; v <= 3; v++) {
      const d = (await kafkajsDecodeResponse('createTopics', v, encodeCreateTopicsResponse(res, v))) as {
        topicErrors: Record<string, unknown>[]
      }
      expect(d.topicErrors[0]).toMatchObject({ topic: 'a', errorCode: 36 })
      if (v >= 1) expect(d.topicErrors[0].errorMessage).toBe('exists')
    }
    expect(encodeCreateTopicsResponse(res, 0)).toEqual(hex('00000001 0001 61 0024'))
    expect(encodeCreateTopicsResponse({ ...res, topics: [{ ...res.topics[0], errorMessage: null }] }, 2)).toEqual(
      hex('00000000 00000001 0001 61 0024 ffff'),
    )
  })
})

describe('DeleteTopics codec', () => {
  it('decodes kafkajs requests and encodes responses it decodes, v0-v1', async () => {
    for (let v = 0; v <= 1; v++) {
      const body = await kafkajsRequestBody('deleteTopics', v, { topics: ['a', 'b'], timeout: 500 })
      expect(decodeAll(body, (r) => decodeDeleteTopicsRequest(r, v))).toEqual({
        topicNames: ['a', 'b'],
        timeoutMs: 500,
      })
      const res = {
        throttleTimeMs: 0,
        responses: [
          { name: 'a', errorCode: 0 },
          { name: 'b', errorCode: 3 },
        ],
      }
      const d = (await kafkajsDecodeResponse('deleteTopics', v, encodeDeleteTopicsResponse(res, v))) as {
        topicErrors: Record<string, unknown>[]
      }
      expect(d.topicErrors).toEqual([
        { topic: 'a', errorCode: 0 },
        { topic: 'b', errorCode: 3 },
      ])
    }
    expect(encodeDeleteTopicsResponse({ throttleTimeMs: 0, responses: [{ name: 'a', errorCode: 3 }] }, 1)).toEqual(
      hex('00000000 00000001 0001 61 0003'),
    )
  })
})

describe('DescribeConfigs codec', () => {
  const res: DescribeConfigsResponse = {
    throttleTimeMs: 0,
    results: [
      {
        errorCode: 0,
        errorMessage: null,
        resourceType: 2,
        resourceName: 't',
        configs: [
          {
            name: 'retention.ms',
            value: '1000',
            readOnly: false,
            configSource: ConfigSource.DYNAMIC_TOPIC_CONFIG,
            isSensitive: false,
            synonyms: [{ name: 'retention.ms', value: '1000', source: ConfigSource.DYNAMIC_TOPIC_CONFIG }],
          },
          {
            name: 'cleanup.policy',
            value: 'delete',
            readOnly: false,
            configSource: ConfigSource.DEFAULT_CONFIG,
            isSensitive: false,
            synonyms: [],
          },
        ],
      },
    ],
  }

  it('decodes kafkajs requests at v0-v2 (an empty key list arrives as null: all keys)', async () => {
    for (let v = 0; v <= 2; v++) {
      const body = await kafkajsRequestBody('describeConfigs', v, {
        resources: [
          { type: 2, name: 't', configNames: ['retention.ms'] },
          { type: 4, name: '0' },
        ],
        includeSynonyms: true,
      })
      const req = decodeAll(body, (r) => decodeDescribeConfigsRequest(r, v))
      expect(req.resources).toEqual([
        { resourceType: 2, resourceName: 't', configurationKeys: ['retention.ms'] },
        { resourceType: 4, resourceName: '0', configurationKeys: null },
      ])
      expect(req.includeSynonyms).toBe(v >= 1)
    }
  })

  it('encodes responses kafkajs decodes, is_default in v0 and config_source with synonyms from v1', async () => {
    for (let v = 0; v <= 2; v++) {
      const d = (await kafkajsDecodeResponse('describeConfigs', v, encodeDescribeConfigsResponse(res, v))) as {
        resources: { resourceName: string; configEntries: Record<string, unknown>[] }[]
      }
      const [a, b] = d.resources[0].configEntries
      expect([a.configName, a.configValue, a.isDefault, b.configName, b.isDefault]).toEqual([
        'retention.ms',
        '1000',
        false,
        'cleanup.policy',
        true,
      ])
      if (v >= 1) {
        expect(a.configSource).toBe(ConfigSource.DYNAMIC_TOPIC_CONFIG)
        expect(a.configSynonyms).toEqual([{ configName: 'retention.ms', configValue: '1000', configSource: 1 }])
      }
    }
    const one = { ...res, results: [{ ...res.results[0], configs: [res.results[0].configs[1]] }] }
    const entryV0 = '0001 74 00000001 000e 636c65616e75702e706f6c696379 0006 64656c657465 00 01 00'
    expect(encodeDescribeConfigsResponse(one, 0)).toEqual(hex(`00000000 00000001 0000 ffff 02 ${entryV0}`))
  })
})

describe('DeleteRecords codec', () => {
  it('decodes kafkajs requests and encodes responses it decodes, v0-v1', async () => {
    for (let v = 0; v <= 1; v++) {
      const body = await kafkajsRequestBody('deleteRecords', v, {
        topics: [
          {
            topic: 't',
            partitions: [
              { partition: 0, offset: '7' },
              { partition: 1, offset: '-1' },
            ],
          },
        ],
        timeout: 100,
      })
      expect(decodeAll(body, (r) => decodeDeleteRecordsRequest(r, v))).toEqual({
        topics: [
          {
            name: 't',
            partitions: [
              { partitionIndex: 0, offset: 7 },
              { partitionIndex: 1, offset: -1 },
            ],
          },
        ],
        timeoutMs: 100,
      })
      const res = {
        throttleTimeMs: 0,
        topics: [{ name: 't', partitions: [{ partitionIndex: 0, lowWatermark: 7, errorCode: 0 }] }],
      }
      const d = (await kafkajsDecodeResponse('deleteRecords', v, encodeDeleteRecordsResponse(res, v))) as {
        topics: { topic: string; partitions: { partition: number; lowWatermark: unknown; errorCode: number }[] }[]
      }
      expect(d.topics[0].topic).toBe('t')
      expect([d.topics[0].partitions[0].partition, String(d.topics[0].partitions[0].lowWatermark)]).toEqual([0, '7'])
    }
  })
})

describe('InitProducerId codec', () => {
  it('decodes kafkajs requests and encodes responses it decodes, v0-v1', async () => {
    for (let v = 0; v <= 1; v++) {
      const body = await kafkajsRequestBody('initProducerId', v, { transactionalId: null, transactionTimeout: 60000 })
      expect(decodeAll(body, (r) => decodeInitProducerIdRequest(r, v))).toEqual({
        transactionalId: null,
        transactionTimeoutMs: 60000,
      })
      const res = { throttleTimeMs: 0, errorCode: 0, producerId: 1700000000000, producerEpoch: 0 }
      const d = await kafkajsDecodeResponse('initProducerId', v, encodeInitProducerIdResponse(res, v))
      expect([d.errorCode, d.producerId, d.producerEpoch]).toEqual([0, '1700000000000', 0])
    }
    expect(
      encodeInitProducerIdResponse({ throttleTimeMs: 0, errorCode: 42, producerId: -1, producerEpoch: -1 }, 0),
    ).toEqual(hex('00000000 002a ffffffffffffffff ffff'))
  })
})

describe('CreatePartitions codec', () => {
  it('decodes kafkajs requests and encodes responses it decodes, v0-v1', async () => {
    for (let v = 0; v <= 1; v++) {
      const body = await kafkajsRequestBody('createPartitions', v, {
        topicPartitions: [
          { topic: 't', count: 4 },
          { topic: 'u', count: 2, assignments: [[0]] },
        ],
        validateOnly: true,
        timeout: 10,
      })
      expect(decodeAll(body, (r) => decodeCreatePartitionsRequest(r, v))).toEqual({
        topics: [
          { name: 't', count: 4, assignments: null },
          { name: 'u', count: 2, assignments: [[0]] },
        ],
        timeoutMs: 10,
        validateOnly: true,
      })
      const res = { throttleTimeMs: 0, results: [{ name: 't', errorCode: 37, errorMessage: 'too few' }] }
      const d = (await kafkajsDecodeResponse('createPartitions', v, encodeCreatePartitionsResponse(res, v))) as {
        topicErrors: Record<string, unknown>[]
      }
      expect(d.topicErrors).toEqual([{ topic: 't', errorCode: 37, errorMessage: 'too few' }])
    }
  })
})
