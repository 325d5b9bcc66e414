/**
 * `seglog produce <dir> <topic> [--partition N] [--key-separator S] [--input text|json] [--acks -1|1|0] [--json]`:
 * one record per stdin line (see support/records.ts for how a line becomes a record; `--input json` lines are
 * records as `consume --json` prints them), appended in order; the lines of each stdin read go in one call, so one
 * batch per partition. Partition: `--partition`, else a JSON line's `partition`, else the key's murmur2 hash as
 * Kafka's producers do, else one partition per call, round robin.
 *
 * Where it writes: the directory as its owner when nobody owns it, else through the owner's listener (Produce
 * requests of RecordBatch v2 batches, values already in the topic's format, as the native path stores them), else
 * ENGINE_LOCKED before reading stdin (support/access.ts).
 *
 * Prints one summary line: `produced N records to TOPIC` / `{ topic, records, offsets: [{ partition, first, last }],
 * via }`. A line that is not a record (bad JSON, a json topic's value that is not JSON) stops it with
 * INVALID_RECORD naming the line: the lines before it were produced.
 */
import { encodeBatch, partitionForKey } from '../internal.js'
import { type Message, type Seglog, SeglogError, type ValueFormatName } from '../main.js'
import { type Command, type ParsedArgs, UsageError } from './command.js'
import { closeAccess, openReader, openWriter, via, type WriteAccess } from './support/access.js'
import { positionals, printHelp } from './support/args.js'
import {
  type InputRecord,
  jsonRecord,
  nativeMessage,
  nativeValue,
  plainRecord,
  storedValue,
} from './support/records.js'
import type { WireClient } from './support/wire-client.js'

const HELP = `
Reads stdin, one record per line, and appends the records to the topic in order.
  --key-separator S   the text before the first S is the key, the rest the value (a line without S: no key)
  --partition N       every record to partition N (default: by key, as Kafka's producers; no key: round robin)
  --acks -1|1|0       -1 (default): after fsync; 1: after the write to the OS; 0: as 1 (see Durability)
  --input json        each line is a record as consume --json prints it: {"key", "value", "headers",
                      "partition", "timestamp"} (keyBase64/valueBase64/headersBase64 for bytes); default text
  --json              the summary as a JSON line: {"topic", "records", "offsets": [{"partition", "first",
                      "last"}], "via"}
Values take the topic's format: a string (msgpack, string), the JSON text parsed (json), the bytes (binary).
On a directory another process owns, the records go through its listener, or the command fails with
ENGINE_LOCKED naming the owner's pid.

Examples:
  seglog produce ./data orders --key-separator : < orders.txt
  seglog consume ./old orders --json | seglog produce ./new orders --input json`

/** Lines per append call at most (stdin reads of 64 KiB hold fewer small lines). */
const MAX_CALL_RECORDS = 5000
/** Bytes of values per Produce batch at most, below the default max.message.bytes. */
const MAX_BATCH_BYTES = 512 * 1024

function acksArg(args: ParsedArgs): -1 | 0 | 1 {
  const raw = args.options.acks
  if (raw === undefined) return -1
  if (raw === '-1' || raw === 'all') return -1
  if (raw === '0') return 0
  if (raw === '1') return 1
  throw new UsageError(`--acks must be -1, 1 or 0, got ${String(raw)}`)
}

async function* lines(): AsyncGenerator<string[]> {
  process.stdin.setEncoding('utf8')
  let partial = ''
  for await (const chunk of process.stdin as AsyncIterable<string>) {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    for (let i = 0; i < parts.length; i += MAX_CALL_RECORDS) {
      yield parts.slice(i, i + MAX_CALL_RECORDS).map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    }
  }
  if (partial !== '') yield [partial.endsWith('\r') ? partial.slice(0, -1) : partial]
}

interface Sent {
  partition: number
  offset: number
}

/** Appends through the owner engine this process opened. */
async function sendNative(
  log: Seglog,
  topic: string,
  format: ValueFormatName,
  batch: { r: InputRecord; line: number }[],
  partition: number | null,
  acks: -1 | 0 | 1,
): Promise<Sent[]> {
  const messages: Message[] = batch.map(({ r, line }) => {
    const m = nativeMessage(format, r, line)
    if (partition !== null) m.partition = partition
    return m
  })
  return (await log.append(topic, messages, { acks })).map((m) => ({ partition: m.partition, offset: m.offset }))
}

/** Produces through the owner's listener: batches per partition, values in the topic's format. */
class WireProducer {
  private nextPartition = 0

  constructor(
    private readonly client: WireClient,
    private readonly topic: string,
    private readonly format: ValueFormatName,
    private readonly partitions: number,
  ) {}

  async send(batch: { r: InputRecord; line: number }[], partition: number | null, acks: -1 | 0 | 1): Promise<Sent[]> {
    const sticky = this.nextPartition++ % this.partitions
    const byPartition = new Map<number, { index: number; input: Parameters<typeof encodeBatch>[0][number] }[]>()
    batch.forEach(({ r, line }, index) => {
      const p = partition ?? r.partition ?? (r.key === null ? sticky : partitionForKey(r.key, this.partitions))
      if (p >= this.partitions) {
        throw new SeglogError(
          'PARTITION_NOT_FOUND',
          `stdin line ${line}: topic '${this.topic}' has partitions 0..${this.partitions - 1}, not ${p}`,
        )
      }
      const list = byPartition.get(p) ?? []
      byPartition.set(p, list)
      list.push({
        index,
        input: {
          timestamp: r.timestamp ?? Date.now(),
          key: r.key,
          value: storedValue(this.format, r.value, line),
          headers: r.headers,
        },
      })
    })
    const out: Sent[] = new Array(batch.length)
    const sets: { partition: number; records: Buffer }[] = []
    const owners: { partition: number; indexes: number[] }[] = []
    for (const [p, list] of byPartition) {
      let start = 0
      while (start < list.length) {
        let bytes = 0
        let end = start
        while (end < list.length && (end === start || bytes < MAX_BATCH_BYTES)) {
          bytes += (list[end].input.value?.length ?? 0) + (list[end].input.key?.length ?? 0)
          end++
        }
        sets.push({ partition: p, records: encodeBatch(list.slice(start, end).map((x) => x.input)) })
        owners.push({ partition: p, indexes: list.slice(start, end).map((x) => x.index) })
        start = end
      }
    }
    // One request per batch: a partition's batches must land in order, and each answer gives its base offset.
    for (let i = 0; i < sets.length; i++) {
      const [res] = await this.client.produce(this.topic, [sets[i]], acks)
      owners[i].indexes.forEach((index, k) => {
        out[index] = { partition: owners[i].partition, offset: res.baseOffset < 0 ? -1 : res.baseOffset + k }
      })
    }
    return out
  }
}

export const command: Command = {
  usage: 'produce <dir> <topic> [--partition N] [--key-separator S] [--input text|json] [--acks -1|1|0] [--json]',
  summary: 'append one record per stdin line to a topic',
  options: { partition: 'value', 'key-separator': 'value', input: 'value', acks: 'value', help: 'flag' },
  async run(args, io) {
    if (args.options.help === true) return printHelp(io, command, HELP)
    const [dir, topic] = positionals(args, ['directory', 'topic'])
    const json = args.options.json === true
    const acks = acksArg(args)
    const input = args.options.input ?? 'text'
    if (input !== 'text' && input !== 'json') throw new UsageError(`--input must be text or json, got ${String(input)}`)
    const jsonInput = input === 'json'
    const sepRaw = args.options['key-separator']
    if (sepRaw === true || sepRaw === '') throw new UsageError('--key-separator needs a value')
    const separator = sepRaw ?? null
    if (jsonInput && separator !== null) {
      throw new UsageError('--key-separator is for text input (JSON lines carry their key)')
    }
    let partition: number | null = null
    const rawPartition = args.options.partition
    if (rawPartition !== undefined) {
      if (rawPartition === true || !/^\d+$/.test(rawPartition)) {
        throw new UsageError(`--partition must be an integer >= 0, got ${String(rawPartition)}`)
      }
      partition = Number(rawPartition)
    }
    // The topic's format and partition count, from a read-only look (TOPIC_NOT_FOUND before anything is read).
    const reader = await openReader(dir)
    let format: ValueFormatName
    let partitions: number
    try {
      const d = reader.describeTopic(topic)
      format = d.config.format
      partitions = d.partitions.length
      if (partition !== null) reader.offsets(topic, partition)
    } finally {
      await reader.close()
    }
    const access: WriteAccess = await openWriter(dir, `produce to '${topic}'`)
    const offsets = new Map<number, { first: number; last: number }>()
    let records = 0
    let lineNo = 0
    try {
      const wire = access.kind === 'listener' ? new WireProducer(access.client, topic, format, partitions) : null
      for await (const chunk of lines()) {
        const batch: { r: InputRecord; line: number }[] = []
        let bad: unknown = null
        for (const line of chunk) {
          lineNo++
          if (jsonInput && line.trim() === '') continue
          try {
            const r = jsonInput ? jsonRecord(line, lineNo) : plainRecord(line, separator)
            nativeValue(format, r.value, lineNo)
            batch.push({ r, line: lineNo })
          } catch (err) {
            // The lines before a bad one are produced; the bad one ends the command.
            bad = err
            break
          }
        }
        if (batch.length > 0) {
          const sent =
            wire === null
              ? await sendNative((access as { log: Seglog }).log, topic, format, batch, partition, acks)
              : await wire.send(batch, partition, acks)
          for (const s of sent) {
            const o = offsets.get(s.partition)
            if (o === undefined) offsets.set(s.partition, { first: s.offset, last: s.offset })
            else o.last = s.offset
          }
          records += batch.length
        }
        if (bad !== null) throw bad
      }
    } finally {
      await closeAccess(access)
    }
    if (json) {
      const list = [...offsets].sort((a, b) => a[0] - b[0]).map(([p, o]) => ({ partition: p, ...o }))
      io.out(JSON.stringify({ topic, records, offsets: list, via: via(access) }))
    } else {
      const where =
        access.kind === 'listener'
          ? ` through the owner's listener at ${access.address.host}:${access.address.port}`
          : ''
      io.out(`produced ${records} record${records === 1 ? '' : 's'} to ${topic}${where}`)
    }
    return 0
  },
}
