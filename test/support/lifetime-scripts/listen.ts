/**
 * A script whose only pending work is a listener: it prints `listening HOST:PORT`, and must stay alive until it
 * closes the engine (on SIGUSR2, whose listener keeps nothing alive), then print `closed` and exit 0 by itself.
 */
import { Seglog } from '../../../src/main.js'

const log = await Seglog.open(process.argv[2], { listen: { port: 0 } })
const { host, port } = log.address()!
console.log(`listening ${host}:${port}`)
process.once('SIGUSR2', () => {
  void log.close().then(() => console.log('closed'))
})
