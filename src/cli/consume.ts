/**
 * `seglog consume <dir> <topic> [--partition N] [--from earliest|latest|OFFSET|@EPOCH_MS] [--max N] [--follow]
 * [--group G] [--json]`: prints a topic's records, partition by partition, from `--from` (default earliest) to the
 * end of the log, or with `--follow` every partition as records arrive until SIGINT/SIGTERM (exit 0). `--max N`
 * stops after N records. `--json` lines are support/records.ts's `{ topic, partition, offset, timestamp, key,
 * value, headers }`; otherwise a table whose value column fits the terminal.
 *
 * Reading is read-only (it works while another process owns the directory). With `--group G` the group's committed
 * offset is where each partition starts (`--from` is for partitions without one), and what was printed is
 * committed (stdout flushed first) at least every second and at the end, so the next run goes on after it. The
 * commits need the directory's owner: this process opens the directory as owner when nobody owns it, else they go
 * through the owner's listener, else ENGINE_LOCKED before anything is printed. An `OFFSET` in `--from` is an offset
 * of one partition: with several partitions it needs `--partition`.
 *
 * A progress line on stderr (records so far, rate, share of the total) shows while stdout goes to a file or a pipe
 * and stderr is a terminal.
 */
import type { Seglog, SeglogRecord, ValueFormatName } from '../main.js'
import { SeglogError } from '../main.js'
import { type Command, type ParsedArgs, UsageError } from './command.js'
import { closeAccess, openReader, openWriter, type WriteAccess } from './support/access.js'
import { type Position, parsePosition, positionals, printHelp } from './support/args.js'
import { LineSink, Progress, RowWriter } from './support/output.js'
import { recordJson } from './support/records.js'

const HELP = `
Prints the records of a topic, by default every partition from the start to the end of the log.
  --from POS      where to start: earliest (default), latest, an OFFSET (of the partition given by --partition),
                  or @EPOCH_MS (the first record at or after that time, in ms since the epoch)
  --partition N   only partition N
  --max N         stop after N records
  --follow        keep waiting for new records (until Ctrl-C / SIGTERM, exit 0)
  --group G       start where group G committed (--from applies where it has no commit) and commit what is
                  printed, so the next run continues after it; needs the directory's owner (this process when
                  nobody owns it, else the owner's listener, else ENGINE_LOCKED)
  --json          one JSON object per record: {"topic", "partition", "offset", "timestamp", "key", "value",
                  "headers"}; keys and values as UTF-8 text, or keyBase64/valueBase64 when not UTF-8
Reads open the directory read-only: consuming works while another process owns it and changes nothing.

Examples:
  seglog consume ./data orders --json | jq -r .value
  seglog consume ./data orders --from @1767225600000 --max 10
  seglog consume ./data orders --group billing --follow`

const PAGE = 500
const COMMIT_EVERY_MS = 1000

function maxArg(args: ParsedArgs): number {
  const raw = args.options.max
  if (raw === undefined) return Number.POSITIVE_INFINITY
  if (raw === true || !/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`--max must be an integer >= 1, got ${String(raw)}`)
  }
  return Number(raw)
}

/** Where a partition starts: inside its log, or OFFSET_OUT_OF_RANGE for an explicit offset outside it. */
async function startOf(log: Seglog, topic: string, partition: number, from: Position): Promise<number> {
  const { logStartOffset, logEndOffset } = log.offsets(topic, partition)
  if (from === 'earliest') return logStartOffset
  if (from === 'latest') return logEndOffset
  if ('timestamp' in from) return (await log.offsetForTimestamp(topic, partition, from.timestamp)) ?? logEndOffset
  if (from.offset < logStartOffset || from.offset > logEndOffset) {
    throw new SeglogError(
      'OFFSET_OUT_OF_RANGE',
      `offset ${from.offset} is outside [${logStartOffset}, ${logEndOffset}] of ${topic}-${partition}`,
      { offset: from.offset },
    )
  }
  return from.offset
}

/** Committed offsets of the group for these partitions (null: none), through whichever way reaches the owner. */
async function committed(
  access: WriteAccess,
  group: string,
  topic: string,
  partitions: number[],
): Promise<Map<number, number | null>> {
  if (access.kind === 'listener') return access.client.fetchOffsets(group, topic, partitions)
  const out = new Map<number, number | null>(partitions.map((p) => [p, null]))
  for (const c of await access.log.fetchOffsets(group, topic)) if (out.has(c.partition)) out.set(c.partition, c.offset)
  return out
}

async function commit(access: WriteAccess, group: string, topic: string, offsets: Map<number, number>): Promise<void> {
  if (offsets.size === 0) return
  const list = [...offsets].map(([partition, offset]) => ({ partition, offset }))
  if (access.kind === 'listener') await access.client.commitOffsets(group, topic, list)
  else await access.log.resetOffsets({ groupId: group, topic, to: { offsets: list } })
}

/** How one record is printed. */
function printer(json: boolean, format: ValueFormatName, sink: LineSink): (r: SeglogRecord) => void {
  if (json) return (r) => sink.line(JSON.stringify(recordJson(format, r)))
  const rows = new RowWriter(sink, [9, 10, 24, 20], ['PARTITION', 'OFFSET', 'TIMESTAMP', 'KEY', 'VALUE'])
  const show = (o: Record<string, unknown>, field: string): string => {
    if (o[`${field}Base64`] !== undefined) return `base64:${o[`${field}Base64`] as string}`
    return o[field] === null ? '(null)' : (o[field] as string)
  }
  return (r) => {
    const o = recordJson(format, r)
    const ts =
      Number.isSafeInteger(r.timestamp) && r.timestamp >= 0 ? new Date(r.timestamp).toISOString() : String(r.timestamp)
    rows.row([String(r.partition), String(r.offset), ts, show(o, 'key'), show(o, 'value')])
  }
}

export const command: Command = {
  usage:
    'consume <dir> <topic> [--partition N] [--from earliest|latest|OFFSET|@EPOCH_MS] [--max N] [--follow] [--group G] [--json]',
  summary: "print a topic's records (to the end of the log, or --follow), optionally as a committing group",
  options: { partition: 'value', from: 'value', max: 'value', follow: 'flag', group: 'value', help: 'flag' },
  async run(args, io) {
    if (args.options.help === true) return printHelp(io, command, HELP)
    const [dir, topic] = positionals(args, ['directory', 'topic'])
    const json = args.options.json === true
    const follow = args.options.follow === true
    const max = maxArg(args)
    const rawFrom = args.options.from
    if (rawFrom === true || rawFrom === '') throw new UsageError('--from needs a value')
    const from = rawFrom === undefined ? 'earliest' : parsePosition('from', rawFrom)
    const rawGroup = args.options.group
    if (rawGroup === true || rawGroup === '') throw new UsageError('--group needs a group id')
    const group = rawGroup ?? null
    let only: number | null = null
    const rawPartition = args.options.partition
    if (rawPartition !== undefined) {
      if (rawPartition === true || !/^\d+$/.test(rawPartition)) {
        throw new UsageError(`--partition must be an integer >= 0, got ${String(rawPartition)}`)
      }
      only = Number(rawPartition)
    }

    const reader = await openReader(dir)
    let access: WriteAccess | null = null
    const sink = new LineSink()
    const progress = new Progress()
    const stop = new AbortController()
    const onSignal = (): void => stop.abort()
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    try {
      const d = reader.describeTopic(topic)
      const format = d.config.format
      const partitions = only === null ? d.partitions.map((p) => p.partition) : [only]
      if (only !== null) reader.offsets(topic, only)
      if (typeof from === 'object' && 'offset' in from && only === null && d.partitions.length > 1) {
        throw new UsageError('--from OFFSET is an offset of one partition: give --partition too')
      }
      // The group's commits need the owner: settled before anything is printed.
      if (group !== null) access = await openWriter(dir, `committing offsets of group '${group}'`)
      const log = access?.kind === 'directory' ? access.log : reader
      const start = new Map<number, number>()
      const done = group === null || access === null ? null : await committed(access, group, topic, partitions)
      for (const p of partitions) {
        const c = done?.get(p) ?? null
        if (c === null) start.set(p, await startOf(log, topic, p, from))
        else {
          const { logStartOffset, logEndOffset } = log.offsets(topic, p)
          start.set(p, Math.min(Math.max(c, logStartOffset), logEndOffset))
        }
      }
      const total = follow
        ? null
        : partitions.reduce((a, p) => a + log.offsets(topic, p).logEndOffset - (start.get(p) ?? 0), 0)
      const print = printer(json, format, sink)
      const printed = new Map<number, number>()
      let count = 0
      let lastCommit = performance.now()
      const flushAndCommit = async (): Promise<void> => {
        sink.flush()
        if (group !== null && access !== null) await commit(access, group, topic, printed)
        lastCommit = performance.now()
      }
      const emit = async (r: SeglogRecord): Promise<void> => {
        print(r)
        printed.set(r.partition, r.offset + 1)
        count++
        progress.update(() => {
          const rate = Math.round(count / Math.max(progress.seconds, 0.001))
          const share = total === null || total === 0 ? '' : ` of ${total} (${Math.floor((100 * count) / total)}%)`
          return `consumed ${count} records${share}, ${rate} records/s`
        })
        if (count >= max) stop.abort()
        if (performance.now() - lastCommit >= COMMIT_EVERY_MS) await flushAndCommit()
      }
      if (!follow) {
        for (const p of partitions) {
          let next = start.get(p) as number
          while (!stop.signal.aborted) {
            const page = await log.read(topic, p, next, { maxRecords: Math.min(PAGE, max - count) })
            if (page.length === 0) break
            for (const r of page) {
              await emit(r)
              if (stop.signal.aborted) break
            }
            next = page[page.length - 1].offset + 1
          }
          if (stop.signal.aborted) break
        }
      } else {
        const tick = setInterval(() => {
          if (performance.now() - lastCommit >= COMMIT_EVERY_MS) void flushAndCommit().catch(() => {})
        }, COMMIT_EVERY_MS)
        tick.unref()
        try {
          await Promise.all(
            partitions.map(async (p) => {
              try {
                for await (const r of log.stream(topic, p, { from: start.get(p), live: true, signal: stop.signal })) {
                  await emit(r)
                  if (stop.signal.aborted) break
                }
              } catch (err) {
                if (!(err instanceof SeglogError && err.code === 'ABORTED')) throw err
              }
            }),
          )
        } finally {
          clearInterval(tick)
        }
      }
      progress.done()
      await flushAndCommit()
    } finally {
      progress.done()
      sink.flush()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      if (access !== null) await closeAccess(access)
      await reader.close()
    }
    return 0
  },
}
