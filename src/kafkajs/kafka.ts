/**
 * `Kafka`, the entry of the KafkaJS API: it holds the config and the root logger, and makes producers, consumers
 * and admins for the directory (`dir`, else the `SEGLOG_DIR` environment variable). Making a client opens nothing:
 * the directory is opened by the first `connect()` of any client of any `Kafka` on it in this process, and closed
 * when the last one disconnects (see directory.ts).
 */
import { FacadeAdmin } from './admin.js'
import { FacadeConsumer } from './consumer.js'
import { KafkaContext } from './context.js'
import { KafkaJSNonRetriableError } from './errors.js'
import { createLogger } from './logger.js'
import { FacadeProducer } from './producer.js'
import type {
  Admin,
  AdminConfig,
  Consumer,
  ConsumerConfig,
  KafkaConfig,
  Logger,
  Producer,
  ProducerConfig,
} from './types.js'

/**
 * Each instance's context, kept outside the instance: a private field would make the class nominal, and an
 * instance must be assignable to kafkajs's `Kafka` type and back.
 */
const contexts = new WeakMap<Kafka, KafkaContext>()

function contextOf(kafka: Kafka): KafkaContext {
  const ctx = contexts.get(kafka)
  if (ctx === undefined) throw new TypeError('not a seglog/kafkajs Kafka instance')
  return ctx
}

export class Kafka {
  constructor(config: KafkaConfig) {
    if (config === null || typeof config !== 'object') {
      throw new KafkaJSNonRetriableError('new Kafka(config) needs a config object')
    }
    const logger = createLogger({ level: config.logLevel, logCreator: config.logCreator })
    contexts.set(this, new KafkaContext({ ...config }, logger))
  }

  producer(config?: ProducerConfig): Producer {
    return new FacadeProducer(contextOf(this), config)
  }

  consumer(config: ConsumerConfig): Consumer {
    return new FacadeConsumer(contextOf(this), config)
  }

  admin(config?: AdminConfig): Admin {
    return new FacadeAdmin(contextOf(this), config)
  }

  logger(): Logger {
    return contextOf(this).logger
  }
}
