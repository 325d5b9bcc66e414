/**
 * Every file and directory under a root with its bytes (as a hash), size and mtime, so a test can show that
 * something left a directory exactly as it was: no file written, created, renamed, removed or touched.
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

export interface Entry {
  kind: 'file' | 'dir'
  size: number
  mtimeNs: string
  sha256: string | null
}

/** Relative path → entry, for the whole tree under `root` (sorted). */
export function snapshotDir(root: string): Record<string, Entry> {
  const out: Record<string, Entry> = {}
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name)
      const st = fs.statSync(full, { bigint: true })
      const rel = path.relative(root, full)
      if (st.isDirectory()) {
        out[rel] = { kind: 'dir', size: 0, mtimeNs: String(st.mtimeNs), sha256: null }
        walk(full)
      } else {
        const sha256 = createHash('sha256').update(fs.readFileSync(full)).digest('hex')
        out[rel] = { kind: 'file', size: Number(st.size), mtimeNs: String(st.mtimeNs), sha256 }
      }
    }
  }
  walk(root)
  return out
}
