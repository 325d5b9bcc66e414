/**
 * What the commands print: JSON lines (`--json`), or tables for people, sized to the terminal.
 *
 * Tables: columns as wide as their widest cell, two spaces apart; on a terminal the last column is cut (with `…`)
 * so no line is wider than the terminal; into a pipe or a file nothing is cut. A streaming table (`RowWriter`, for
 * records that keep coming) fixes its column widths up front instead.
 *
 * `LineSink` writes many lines with few system calls (stdout writes to a file or a pipe are synchronous on Linux,
 * one per call). `Progress` is one line on stderr, rewritten in place at most five times a second, shown only when
 * stderr is a terminal and stdout is not (so it never mixes with what is printed), and erased when done.
 */
import { isUtf8 } from 'node:buffer'
import type { CliOutput } from '../command.js'

/** The terminal's width when stdout is one, else null (nothing is cut). */
export function terminalWidth(): number | null {
  return process.stdout.isTTY ? process.stdout.columns || 80 : null
}

function clip(text: string, width: number): string {
  if (text.length <= width) return text
  return width <= 1 ? text.slice(0, Math.max(width, 0)) : `${text.slice(0, width - 1)}…`
}

/** Prints `rows` under `headers` (see the header), in one `io.out` call. */
export function printTable(io: CliOutput, headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const max = terminalWidth()
  const line = (cells: readonly string[]): string => {
    const text = cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
    return max === null ? text : clip(text, max)
  }
  // One write for the whole table: stdout into a pipe or a file is written synchronously, a system call per
  // write (1,001 lines of `seglog topics`: ~35 ms as one write each).
  const lines = [line(headers)]
  for (const r of rows) lines.push(line(r))
  io.out(lines.join('\n'))
}

/** A table printed as its rows come, with fixed column widths; the last column takes what is left. */
export class RowWriter {
  private readonly max: number | null = terminalWidth()

  constructor(
    private readonly sink: LineSink,
    private readonly widths: readonly number[],
    headers: readonly string[],
  ) {
    sink.line(this.format(headers))
  }

  private format(cells: readonly string[]): string {
    const parts = cells.map((c, i) => (i === cells.length - 1 ? c : clip(c, this.widths[i]).padEnd(this.widths[i])))
    const text = parts.join('  ').trimEnd()
    return this.max === null ? text : clip(text, this.max)
  }

  row(cells: readonly string[]): void {
    this.sink.line(this.format(cells))
  }
}

/** Lines for stdout, written in chunks of about 64 KiB (and whenever `flush` is called). */
export class LineSink {
  private parts: string[] = []
  private bytes = 0

  line(text: string): void {
    this.parts.push(text)
    this.bytes += text.length + 1
    if (this.bytes >= 64 * 1024) this.flush()
  }

  flush(): void {
    if (this.parts.length === 0) return
    process.stdout.write(`${this.parts.join('\n')}\n`)
    this.parts = []
    this.bytes = 0
  }
}

/** A UTF-8 string when the bytes are valid UTF-8, else null. */
export function utf8OrNull(bytes: Buffer): string | null {
  return isUtf8(bytes) ? bytes.toString('utf8') : null
}

/** A byte count for people: 1.5 KiB, 3.2 MiB. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`
}

/** The progress line (see the header). */
export class Progress {
  private readonly enabled: boolean
  private last = 0
  private shown = false
  private readonly started = performance.now()

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    stdoutIsTTY: boolean = process.stdout.isTTY === true,
  ) {
    this.enabled = stream.isTTY === true && !stdoutIsTTY
  }

  /** Redraws the line with `text` (at most every 200 ms unless `force`). */
  update(text: () => string, force = false): void {
    if (!this.enabled) return
    const now = performance.now()
    if (!force && now - this.last < 200) return
    this.last = now
    this.shown = true
    const width = this.stream.columns || 80
    this.stream.write(`\r${clip(text(), width - 1)}\x1b[K`)
  }

  /** Seconds since it started. */
  get seconds(): number {
    return (performance.now() - this.started) / 1000
  }

  /** Erases the line. */
  done(): void {
    if (this.shown) this.stream.write('\r\x1b[K')
    this.shown = false
  }
}
