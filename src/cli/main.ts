#!/usr/bin/env node
/**
 * The `seglog` command line: `seglog <command> <dir> [options]`. Each command is the module of its name in this
 * folder, exporting `command` (see command.ts): `seglog serve` runs `serve.ts`. Nothing else here knows the
 * commands, so adding one is adding its file.
 *
 * Exit codes: what the command returns (0 on success, 1 on a failed check); 2 on bad usage, with a one-line
 * message and the usage on stderr; 1 for a `SeglogError`, printed as `CODE: message`. `seglog`, `seglog help` and
 * `seglog --help` list the commands (exit 0 for the last two, 2 for none at all).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { isSeglogError } from '../main.js'
import { type CliOutput, type Command, parseArgs, UsageError } from './command.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
/** `.js` when built, `.ts` when run from source: command modules have the extension this one has. */
const EXT = path.extname(fileURLToPath(import.meta.url))
const NOT_COMMANDS = new Set(['main', 'command'])
const COMMAND_NAME = /^[a-z][a-z0-9-]*$/

const io: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}

// A reader that stops early (`seglog dump DIR | head`) ends the command quietly, as other shell tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

/** The command named `name`, or undefined when this folder has none. */
async function load(name: string): Promise<Command | undefined> {
  if (!COMMAND_NAME.test(name) || NOT_COMMANDS.has(name)) return undefined
  const file = path.join(HERE, name + EXT)
  if (!fs.existsSync(file)) return undefined
  const mod = (await import(pathToFileURL(file).href)) as { command?: Command }
  return mod.command
}

async function allCommands(): Promise<[string, Command][]> {
  const names = fs
    .readdirSync(HERE)
    .filter((f) => f.endsWith(EXT) && !f.endsWith(`.d${EXT}`))
    .map((f) => f.slice(0, -EXT.length))
    .sort()
  const out: [string, Command][] = []
  for (const name of names) {
    const c = await load(name)
    if (c !== undefined) out.push([name, c])
  }
  return out
}

async function commandList(): Promise<string> {
  const lines = (await allCommands()).map(([, c]) => `  seglog ${c.usage}\n      ${c.summary}`)
  return `usage: seglog <command> <dir> [options]   (--json: JSON lines on stdout)\n${lines.join('\n')}`
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) {
    io.err(`seglog: no command given\n${await commandList()}`)
    return 2
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    io.out(await commandList())
    return 0
  }
  const command = await load(name)
  if (command === undefined) {
    io.err(`seglog: unknown command ${JSON.stringify(name)}\n${await commandList()}`)
    return 2
  }
  try {
    return await command.run(parseArgs(rest, command.options), io)
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`seglog ${name}: ${err.message}\nusage: seglog ${command.usage}`)
      return 2
    }
    if (isSeglogError(err)) {
      // A SeglogError's message already begins with its code.
      io.err(err.message)
      return 1
    }
    throw err
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    io.err(`seglog: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    process.exitCode = 1
  },
)
