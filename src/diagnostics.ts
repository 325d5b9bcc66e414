/**
 * `node:diagnostics_channel` channels for metrics and tracing. Publishing costs nothing when no one subscribes
 * (`hasSubscribers` is checked first).
 *
 * | channel            | message                                                                 |
 * |--------------------|-------------------------------------------------------------------------|
 * | `seglog:engine`    | every engine event (`onEvent` payloads: recovered, rolled, retention, compaction, ...) plus `dir` of the engine |
 * | `seglog:append`    | `{ topic, partitions, records, acks }` after each append call wrote its batches |
 * | `seglog:consumer`  | every consumer event (`consumer.group_join`, `consumer.commit_offsets`, `consumer.crash`, ...) as `{ event, payload }` |
 */
import diagnostics from 'node:diagnostics_channel'

export const engineChannel = diagnostics.channel('seglog:engine')
export const appendChannel = diagnostics.channel('seglog:append')
export const consumerChannel = diagnostics.channel('seglog:consumer')
