/**
 * Small JSON checkpoint files (`partition.state`, `cleaner.checkpoint`): read tolerantly, replaced atomically.
 * A missing file and a file that does not parse both read as `null` — callers treat that as "no checkpoint",
 * which costs work (a recovery scan, a re-read), never data. I/O failures are IO_ERROR.
 */
import { ioError } from '../errors.js'
import { type FileSystem, writeFileAtomic } from './file-system.js'

/** The parsed content of `dir/name`, or null when it is missing or not JSON. */
export function readJsonFile(fsys: FileSystem, dir: string, name: string): unknown {
  const path = `${dir}/${name}`
  let raw: Buffer | null
  try {
    raw = fsys.readFile(path)
  } catch (err) {
    throw ioError(err, 'read', path)
  }
  if (raw === null) return null
  try {
    return JSON.parse(raw.toString('utf8')) as unknown
  } catch {
    return null
  }
}

/** Replaces `dir/name` with `value` as JSON: tmp → fsync → rename → fsync directory. */
export function writeJsonFile(fsys: FileSystem, dir: string, name: string, value: unknown): void {
  try {
    writeFileAtomic(fsys, dir, name, Buffer.from(JSON.stringify(value)))
  } catch (err) {
    throw ioError(err, 'write', `${dir}/${name}`)
  }
}
