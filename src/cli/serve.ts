/**
 * `seglog serve <dir> [--port 9092] [--host 127.0.0.1]`: opens the directory (its owner from now on), serves it as
 * a one-broker Kafka cluster and runs until SIGINT or SIGTERM, then closes it cleanly (exit 0).
 *
 * The first stdout line is `listening on HOST:PORT` (with `--json`: `{"listening":{"host":…,"port":…}}`), printed
 * once the listener accepts connections, so a script can wait for it; `--port 0` picks a free port and the line
 * says which. Unknown topics are created when a client asks for them (format `binary`, the engine's defaults). A
 * second signal while the directory is closing exits at once (code 1): what was acknowledged is on disk, and the
 * next open recovers the rest.
 */
import { Seglog } from '../main.js'
import { type Command, dirArgument, integerOption, stringOption } from './command.js'

const DEFAULT_PORT = 9092
const DEFAULT_HOST = '127.0.0.1'

function hostPort(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}

export const command: Command = {
  usage: 'serve <dir> [--port 9092] [--host 127.0.0.1]',
  summary: "serve the directory over Kafka's wire protocol until SIGINT or SIGTERM",
  options: { port: 'value', host: 'value' },
  async run(args, io) {
    const dir = dirArgument(args)
    const port = integerOption(args, 'port', 0, 65535, DEFAULT_PORT)
    const host = stringOption(args, 'host', DEFAULT_HOST)
    // Signals that arrive while the directory opens are kept: they close it as soon as it is open.
    let signalled: NodeJS.Signals | null = null
    let wake: (() => void) | null = null
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled !== null) {
        io.err(`seglog: ${signal} again while closing; exiting without a clean close`)
        process.exit(1)
      }
      signalled = signal
      wake?.()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    try {
      const log = await Seglog.open(dir, { autoCreateTopics: true, listen: { port, host } })
      try {
        const address = log.address()!
        io.out(
          args.options.json === true ? JSON.stringify({ listening: address }) : `listening on ${hostPort(address)}`,
        )
        if (signalled === null) {
          await new Promise<void>((resolve) => {
            wake = resolve
          })
        }
      } finally {
        await log.close()
      }
      return 0
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  },
}
