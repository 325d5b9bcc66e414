/**
 * The rooms only an owner uses (appends, background work, the topic registry and its metadata store, producers,
 * consumers, group admin), in one module that `Seglog.open` loads before it builds its first owner. A process that
 * never owns a directory (a read-only open, the CLI listing topics) does not load them. What an owner may never
 * need is loaded at its first use instead: the wire host by `listen`, retention and compaction by their first pass.
 */
export { Consumer } from '../clients/consumer.js'
export { Groups } from '../clients/group-admin.js'
export { OffsetStore } from '../clients/offset-store.js'
export { Producer } from '../clients/producer.js'
export { AppendPath, cancelFlush } from './append.js'
export { Housekeeping } from './housekeeping.js'
export { TopicRegistry } from './topics.js'
