/**
 * Small JSON checkpoint files (`partition.state`, `cleaner.checkpoint`), replaced atomically; their readers parse
 * and check them themselves, and treat a missing or unparsable file as "no checkpoint",
 * which costs work (a recovery scan, a re-read), never data. I/O failures are IO_ERROR.
 */
import { ioError } from '../errors.js'
import { type FileSystem, writeFileAtomic, writeFileAtomicAsync } from './file-system.js'

/** Replaces `dir/name` with `value` as JSON: tmp → fsync → rename → fsync directory. */
export function writeJsonFile(fsys: FileSystem, dir: string, name: string, value: unknown): void {
  try {
    writeFileAtomic(fsys, dir, name, Buffer.from(JSON.stringify(value)))
  } catch (err) {
    throw ioError(err, 'write', `${dir}/${name}`)
  }
}

/** `writeJsonFile` with its fsyncs on the thread pool. */
export async function writeJsonFileAsync(fsys: FileSystem, dir: string, name: string, value: unknown): Promise<void> {
  try {
    await writeFileAtomicAsync(fsys, dir, name, Buffer.from(JSON.stringify(value)))
  } catch (err) {
    throw ioError(err, 'write', `${dir}/${name}`)
  }
}
