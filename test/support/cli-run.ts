/**
 * Runs the `seglog` CLI as users run it, in a child process (`node --import tsx src/cli/main.ts <args>`, no build
 * needed), and reads what it printed: exit code, stdout lines, stderr, and the stdout lines parsed as JSON.
 */
import { CLI_ENTRY, type RunResult, runToEnd } from './wire-harness.js'

export interface CliResult extends RunResult {
  /** stdout lines parsed as JSON (throws, naming the line, when one is not JSON). */
  json(): Record<string, unknown>[]
}

export async function seglog(
  args: readonly string[],
  opts: { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<CliResult> {
  const r = await runToEnd('seglog', process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 60_000,
  })
  return {
    ...r,
    json() {
      return r.lines
        .filter((l) => l !== '')
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>
          } catch {
            throw new Error(`stdout line is not JSON: ${l}\nstderr: ${r.stderr}`)
          }
        })
    },
  }
}

/** Fails with the command's output unless it exited 0. */
export function ok(r: CliResult, what = 'seglog'): CliResult {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}
