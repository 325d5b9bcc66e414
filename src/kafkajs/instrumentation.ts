/**
 * KafkaJS's instrumentation events for one client: `on(name, listener)` accepts only the client's event names
 * (KafkaJSNonRetriableError otherwise) and returns the function that removes the listener; each event is
 * `{ id, type, timestamp, payload }`. A listener that throws or rejects is logged and never reaches the client.
 */
import { EventEmitter } from 'node:events'
import { KafkaJSNonRetriableError } from './errors.js'
import type { InstrumentationEvent, Logger } from './types.js'

let nextId = 0

export class Instrumentation {
  private readonly emitter = new EventEmitter()
  private readonly names: ReadonlySet<string>

  constructor(
    private readonly events: Readonly<Record<string, string>>,
    private readonly prefix: 'consumer' | 'producer' | 'admin',
    private readonly logger: () => Logger,
  ) {
    this.names = new Set(Object.values(events))
    this.emitter.setMaxListeners(0)
  }

  on(eventName: string, listener: (event: InstrumentationEvent<unknown>) => void): () => void {
    if (!this.names.has(eventName)) {
      const keys = Object.keys(this.events)
        .map((k) => `${this.prefix}.events.${k}`)
        .join(', ')
      throw new KafkaJSNonRetriableError(`Event name should be one of ${keys}`)
    }
    if (typeof listener !== 'function') throw new KafkaJSNonRetriableError('listener must be a function')
    const wrapped = (event: InstrumentationEvent<unknown>): void => {
      try {
        Promise.resolve(listener(event)).catch((e: unknown) => this.failed(eventName, e))
      } catch (e) {
        this.failed(eventName, e)
      }
    }
    this.emitter.on(eventName, wrapped)
    return () => {
      this.emitter.off(eventName, wrapped)
    }
  }

  private failed(eventName: string, e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e))
    this.logger().error(`Failed to execute listener: ${err.message}`, { eventName, stack: err.stack })
  }

  /** Emits `{ id, type, timestamp, payload }`; kafkajs's connect, disconnect and stop events carry no payload. */
  emit<T>(eventName: string, payload: T): void {
    if (this.emitter.listenerCount(eventName) === 0) return
    const event: InstrumentationEvent<T> = { id: String(nextId++), type: eventName, timestamp: Date.now(), payload }
    this.emitter.emit(eventName, event)
  }

  /** Re-emits an event another client (kafkajs, for a remote directory) emitted, as it is. */
  forward(event: InstrumentationEvent<unknown>): void {
    this.emitter.emit(event.type, event)
  }
}
