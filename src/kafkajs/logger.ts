/**
 * KafkaJS's logging: `logCreator(level)` is called once per `Kafka` with the effective level and returns the
 * function every entry goes to; entries are `{ namespace, level, label, log: { timestamp, logger, message, ... } }`.
 * The default writes one JSON line per entry to the console (`console.error` for errors, `console.warn`,
 * `console.info`, `console.log` for debug). The `KAFKAJS_LOG_LEVEL` environment variable (NOTHING, ERROR, WARN,
 * INFO, DEBUG) overrides the configured level, for a namespace's own level too. `setLogLevel` changes the level
 * of every logger made from that root.
 */
import { logLevel } from './enums.js'
import type { LogEntry, Logger, logCreator } from './types.js'

const LABELS: Readonly<Record<number, string>> = {
  [logLevel.ERROR]: 'ERROR',
  [logLevel.WARN]: 'WARN',
  [logLevel.INFO]: 'INFO',
  [logLevel.DEBUG]: 'DEBUG',
}

/** `level`, unless KAFKAJS_LOG_LEVEL names a level. */
function effectiveLevel(level: logLevel): logLevel {
  const name = (process.env.KAFKAJS_LOG_LEVEL ?? '').toUpperCase()
  const fromEnv = (logLevel as unknown as Record<string, unknown>)[name]
  return typeof fromEnv === 'number' && name !== '' ? (fromEnv as logLevel) : level
}

/** The console logger: one JSON line per entry, the namespace as a `[prefix]` of the message. */
export const consoleLogCreator: logCreator =
  () =>
  ({ namespace, level, label, log }: LogEntry) => {
    const line = JSON.stringify({
      level: label,
      ...log,
      message: `${namespace ? `[${namespace}] ` : ''}${log.message}`,
    })
    if (level === logLevel.ERROR) console.error(line)
    else if (level === logLevel.WARN) console.warn(line)
    else if (level === logLevel.INFO) console.info(line)
    else if (level === logLevel.DEBUG) console.log(line)
  }

export function createLogger(options: { level?: logLevel; logCreator?: logCreator } = {}): Logger {
  const root = { level: effectiveLevel(options.level ?? logLevel.INFO) }
  const write = (options.logCreator ?? consoleLogCreator)(root.level)
  if (typeof write !== 'function') throw new TypeError('logCreator(level) must return a function (entry) => void')

  const make = (namespace: string, own: logLevel | null): Logger => {
    const at =
      (level: logLevel) =>
      (message: string, extra: object = {}): void => {
        if (level > (own ?? root.level)) return
        write({
          namespace,
          level,
          label: LABELS[level],
          log: { timestamp: new Date().toISOString(), logger: 'kafkajs', message, ...extra },
        })
      }
    return {
      error: at(logLevel.ERROR),
      warn: at(logLevel.WARN),
      info: at(logLevel.INFO),
      debug: at(logLevel.DEBUG),
      namespace: (name: string, level?: logLevel) => make(name, level === undefined ? null : effectiveLevel(level)),
      setLogLevel: (level: logLevel) => {
        root.level = level
      },
    }
  }
  return make('', null)
}
