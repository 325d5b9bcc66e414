/**
 * A serving process built on the library instead of the CLI: `Seglog.open(dir, { listen: { port: 0 } })`, then the
 * same first stdout line as `seglog serve` (`listening on HOST:PORT`, from `log.address()`); SIGTERM/SIGINT close
 * the engine (listener first) and exit 0. Run as `node --import tsx test/support/wire-listen-child.ts <dir>
 * [<group> <topic>]`: with a group and topic, an in-process consumer of that group joins first (the line is
 * printed once it has its assignment).
 */
import { Seglog } from '../../src/main.js'

async function main(dir: string, group?: string, topic?: string): Promise<void> {
  const log = await Seglog.open(dir, { listen: { port: 0 } })
  if (group !== undefined && topic !== undefined) {
    const consumer = log.consumer({ groupId: group })
    const joined = new Promise<void>((resolve) => consumer.on('consumer.group_join', () => resolve()))
    await consumer.subscribe({ topics: [topic] })
    await consumer.run({ eachMessage: async () => {} })
    await joined
  }
  const address = log.address()
  if (address === null) throw new Error('address() is null while listening')
  process.stdout.write(`listening on ${address.host}:${address.port}\n`)
  let closing = false
  const stop = (): void => {
    if (closing) return
    closing = true
    log.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`close failed: ${String(err)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main(process.argv[2], process.argv[3], process.argv[4]).catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
