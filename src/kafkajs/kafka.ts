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

export class Kafka {
  readonly #ctx: KafkaContext

  constructor(config: KafkaConfig) {
    if (config === null || typeof config !== 'object') {
      throw new KafkaJSNonRetriableError('new Kafka(config) needs a config object')
    }
    const logger = createLogger({ level: config.logLevel, logCreator: config.logCreator })
    this.#ctx = new KafkaContext({ ...config }, logger)
  }

  producer(config?: ProducerConfig): Producer {
    return new FacadeProducer(this.#ctx, config)
  }

  consumer(config: ConsumerConfig): Consumer {
    return new FacadeConsumer(this.#ctx, config)
  }

  admin(config?: AdminConfig): Admin {
    return new FacadeAdmin(this.#ctx, config)
  }

  logger(): Logger {
    return this.#ctx.logger
  }
}
