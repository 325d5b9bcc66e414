/**
 * Tools for tests that damage a closed partition directory on purpose: find its segments and batches, flip
 * bits, truncate, overwrite, swap files. Plain `node:fs` on purpose: the damage must not go through the code
 * under test.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { INDEX_SUFFIX, LOG_SUFFIX, segmentFileName, TIME_INDEX_SUFFIX } from '../../src/segment/file-names.js'
import { batchBaseOffset, batchLastOffset, batchSizeAt } from '../../src/segment/record-batch.js'

export interface BatchLoc {
  position: number
  size: number
  baseOffset: number
  lastOffset: number
}

/** The complete batches of a segment file, in order. */
export function batchesOf(file: string): BatchLoc[] {
  const buf = fs.readFileSync(file)
  const out: BatchLoc[] = []
  let pos = 0
  for (;;) {
    const size = batchSizeAt(buf, pos)
    if (size < 61 || pos + size > buf.length) break
    out.push({ position: pos, size, baseOffset: batchBaseOffset(buf, pos), lastOffset: batchLastOffset(buf, pos) })
    pos += size
  }
  return out
}

/** Segment base offsets in a partition directory, from the `.log` names, ascending. */
export function segmentBases(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b)
}

export const logFile = (dir: string, base: number): string => path.join(dir, segmentFileName(base, LOG_SUFFIX))
export const indexFile = (dir: string, base: number): string => path.join(dir, segmentFileName(base, INDEX_SUFFIX))
export const timeIndexFile = (dir: string, base: number): string =>
  path.join(dir, segmentFileName(base, TIME_INDEX_SUFFIX))

/** Overwrites bytes of a file in place. */
export function patchFile(file: string, position: number, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'r+')
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, position)
  } finally {
    fs.closeSync(fd)
  }
}

/** Flips bit `bit` (0 = least significant) of the byte at `position`. */
export function flipBit(file: string, position: number, bit: number): void {
  const fd = fs.openSync(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    fs.readSync(fd, b, 0, 1, position)
    b[0] ^= 1 << bit
    fs.writeSync(fd, b, 0, 1, position)
  } finally {
    fs.closeSync(fd)
  }
}

/** Flips bit `bit` (0 = least significant) of the big-endian int64 base offset of the batch at `position`. */
export function flipBaseOffsetBit(file: string, position: number, bit: number): void {
  flipBit(file, position + 7 - Math.floor(bit / 8), bit % 8)
}

/** Swaps the contents of two files (both must exist). */
export function swapFiles(a: string, b: string): void {
  const tmp = `${a}.swap-tmp`
  fs.renameSync(a, tmp)
  fs.renameSync(b, a)
  fs.renameSync(tmp, b)
}

/** Copies a directory tree (a pristine template into a case directory). */
export function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true })
}

/**
 * Makes the tree `to` hold exactly what `from` holds, rewriting only the files that differ (cheaper than deleting
 * and copying a case directory again: unlinks and copies are what a fuzz case spends its time on).
 */
export function restoreTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true })
  const want = new Set(fs.readdirSync(from))
  for (const name of fs.readdirSync(to)) {
    if (!want.has(name)) fs.rmSync(path.join(to, name), { recursive: true, force: true })
  }
  for (const name of want) {
    const src = path.join(from, name)
    const dst = path.join(to, name)
    if (fs.statSync(src).isDirectory()) {
      if (fs.existsSync(dst) && !fs.statSync(dst).isDirectory()) fs.rmSync(dst, { force: true })
      restoreTree(src, dst)
      continue
    }
    if (fs.existsSync(dst)) {
      const d = fs.statSync(dst)
      if (d.isDirectory()) fs.rmSync(dst, { recursive: true, force: true })
      else if (d.size === fs.statSync(src).size && fs.readFileSync(dst).equals(fs.readFileSync(src))) continue
    }
    fs.copyFileSync(src, dst)
  }
}
