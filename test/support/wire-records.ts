/**
 * The record content and output lines the wire tests' client scripts share (test/support/clients/common.py and the
 * kafkajs scripts): record i of a run tagged TAG has key `k<i>`, value `<TAG>:v<i>:` + a filler derived from i, and
 * headers `i` = `<i>`, `src` = `<TAG>`. Parsers for the scripts' lines: `acked P O I`, `m P O KEY`, `assigned P,P|-`.
 */

export function wireKey(i: number): Buffer {
  return Buffer.from(`k${i}`)
}

export function wireValue(tag: string, i: number): Buffer {
  const head = Buffer.from(`${tag}:v${i}:`)
  const filler = Buffer.alloc(i % 40)
  for (let j = 0; j < filler.length; j++) filler[j] = (i * 31 + j * 7 + 13) & 0xff
  return Buffer.concat([head, filler])
}

export function wireHeaders(tag: string, i: number): { i: Buffer; src: Buffer } {
  return { i: Buffer.from(String(i)), src: Buffer.from(tag) }
}

export interface Acked {
  partition: number
  offset: number
  i: number
}

/** Every `acked P O I` line. */
export function ackedLines(lines: readonly string[]): Acked[] {
  const out: Acked[] = []
  for (const l of lines) {
    if (!l.startsWith('acked ')) continue
    const [, p, o, i] = l.split(' ')
    out.push({ partition: Number(p), offset: Number(o), i: Number(i) })
  }
  return out
}

export interface Consumed {
  partition: number
  offset: number
  key: string
}

/** Every `m P O KEY` line from index `from` on. */
export function consumedLines(lines: readonly string[], from = 0): Consumed[] {
  const out: Consumed[] = []
  for (let n = from; n < lines.length; n++) {
    const l = lines[n]
    if (!l.startsWith('m ')) continue
    const [, p, o, key] = l.split(' ')
    out.push({ partition: Number(p), offset: Number(o), key })
  }
  return out
}

/** The partitions of the last `assigned` line (after which no `revoked` came), or null when none is held. */
export function currentAssignment(lines: readonly string[], from = 0): number[] | null {
  for (let n = lines.length - 1; n >= from; n--) {
    const l = lines[n]
    if (l.startsWith('revoked ')) return null
    if (l.startsWith('assigned ')) {
      const list = l.slice('assigned '.length)
      return list === '-' ? [] : list.split(',').map(Number)
    }
  }
  return null
}

export const tp = (partition: number, offset: number): string => `${partition}/${offset}`
