import { describe, expect, it } from 'vitest'
import {
  decodeMetadataRequest,
  encodeMetadataResponse,
  type MetadataResponse,
} from '../../../src/wire/codecs/metadata.js'
import { Reader } from '../../../src/wire/protocol/reader.js'
import { kafkajsDecodeResponse, kafkajsRequestBody } from '../../support/kafkajs-protocol.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

const response: MetadataResponse = {
  throttleTimeMs: 0,
  brokers: [{ nodeId: 0, host: '127.0.0.1', port: 9092, rack: null }],
  clusterId: 'AAAAAAAAAAAAAAAAAAAAAA',
  controllerId: 0,
  topics: [
    {
      errorCode: 0,
      name: 'orders',
      isInternal: false,
      partitions: [0, 1].map((i) => ({
        errorCode: 0,
        partitionIndex: i,
        leaderId: 0,
        replicaNodes: [0],
        isrNodes: [0],
        offlineReplicas: [],
      })),
    },
    { errorCode: 3, name: 'missing', isInternal: false, partitions: [] },
  ],
}

describe('Metadata codec', () => {
  it('decodes the topic list kafkajs sends at every version 0-6', async () => {
    for (let v = 0; v <= 6; v++) {
      const body = await kafkajsRequestBody('metadata', v, { topics: ['orders', 'b'], allowAutoTopicCreation: false })
      const r = new Reader(body)
      expect(decodeMetadataRequest(r, v)).toEqual({ topics: ['orders', 'b'], allowAutoTopicCreation: v < 4 })
      expect(r.remaining).toBe(0)
    }
  })

  it('reads an empty v0 list and a null v1+ list as all topics, an empty v1+ list as none', async () => {
    expect(decodeMetadataRequest(new Reader(hex('00000000')), 0).topics).toBeNull()
    expect(decodeMetadataRequest(new Reader(hex('ffffffff')), 1).topics).toBeNull()
    expect(decodeMetadataRequest(new Reader(hex('00000000')), 3).topics).toEqual([])
    expect(decodeMetadataRequest(new Reader(hex('ffffffff 01')), 4)).toEqual({
      topics: null,
      allowAutoTopicCreation: true,
    })
    // kafkajs asks for all topics with an empty list, which it encodes as null.
    const body = await kafkajsRequestBody('metadata', 6, { topics: [] })
    expect(decodeMetadataRequest(new Reader(body), 6).topics).toBeNull()
  })

  it('encodes responses that kafkajs decodes field for field at every version 0-6', async () => {
    for (let v = 0; v <= 6; v++) {
      const d = (await kafkajsDecodeResponse('metadata', v, encodeMetadataResponse(response, v))) as {
        brokers: { nodeId: number; host: string; port: number; rack?: string | null }[]
        clusterId?: string
        controllerId?: number
        topicMetadata: {
          topicErrorCode: number
          topic: string
          partitionMetadata: {
            partitionId: number
            leader: number
            replicas: number[]
            isr: number[]
            offlineReplicas?: number[]
          }[]
        }[]
      }
      expect(d.brokers.map((b) => [b.nodeId, b.host, b.port])).toEqual([[0, '127.0.0.1', 9092]])
      if (v >= 1) expect(d.controllerId).toBe(0)
      if (v >= 2) expect(d.clusterId).toBe('AAAAAAAAAAAAAAAAAAAAAA')
      expect(d.topicMetadata.map((t) => [t.topicErrorCode, t.topic, t.partitionMetadata.length])).toEqual([
        [0, 'orders', 2],
        [3, 'missing', 0],
      ])
      const p1 = d.topicMetadata[0].partitionMetadata[1]
      expect([p1.partitionId, p1.leader, p1.replicas, p1.isr]).toEqual([1, 0, [0], [0]])
      if (v >= 5) expect(p1.offlineReplicas).toEqual([])
    }
  })

  it('writes the v0 and v6 layouts byte for byte', () => {
    const small: MetadataResponse = {
      ...response,
      brokers: [{ nodeId: 0, host: 'h', port: 1, rack: null }],
      clusterId: 'c',
      topics: [{ errorCode: 0, name: 't', isInternal: false, partitions: [response.topics[0].partitions[0]] }],
    }
    const partitionV0 = '0000 00000000 00000000 00000001 00000000 00000001 00000000'
    expect(encodeMetadataResponse(small, 0)).toEqual(
      hex(`00000001 00000000 0001 68 00000001  00000001 0000 0001 74 00000001 ${partitionV0}`),
    )
    expect(encodeMetadataResponse(small, 6)).toEqual(
      hex(
        `00000000 00000001 00000000 0001 68 00000001 ffff 0001 63 00000000 ` +
          `00000001 0000 0001 74 00 00000001 ${partitionV0} 00000000`,
      ),
    )
  })
})
