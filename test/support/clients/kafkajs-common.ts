/**
 * What the kafkajs client scripts share: a `Kafka` client tuned for tests (short retries and timeouts, logs to
 * stderr so stdout carries only the scripts' own lines), the line writer, and SIGTERM/SIGINT handling.
 */
import { Kafka, type LogEntry, logLevel } from 'kafkajs'

export function out(line: string): void {
  process.stdout.write(`${line}\n`)
}

export function kafka(broker: string, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [broker],
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log }: LogEntry) => {
        const { message, ...rest } = log
        process.stderr.write(`[${logLevel[level]}] ${namespace}: ${message} ${JSON.stringify(rest)}\n`)
      },
  })
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits 0 (1 if `stop` failed). */
export function onSignal(stop: () => Promise<void>): void {
  let stopping = false
  const handler = (): void => {
    if (stopping) return
    stopping = true
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stop failed: ${String(err)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', handler)
  process.on('SIGINT', handler)
}

/** Runs `main`, printing an error and exiting 1 if it rejects. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  })
}
