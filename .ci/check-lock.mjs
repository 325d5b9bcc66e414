// Fails when package-lock.json lacks an optional dependency that some package in it declares.
// A lock that keeps only the current platform's native packages (@biomejs/cli-*, @esbuild/*,
// @msgpackr-extract/*, @node-rs/crc32-*, @rolldown/binding-*) is refused by `npm ci` on every machine,
// so a clean install is no longer reproducible anywhere. Needs only node: it runs before the install.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const lockPath = join(root, 'package-lock.json')
const lock = JSON.parse(readFileSync(lockPath, 'utf8'))
if (lock.lockfileVersion < 2 || typeof lock.packages !== 'object') {
  console.error(`${lockPath}: lockfileVersion ${lock.lockfileVersion} has no "packages" map (need 2 or 3)`)
  process.exit(1)
}
const packages = lock.packages

// Node's resolution from a package's folder: its own node_modules, then each enclosing node_modules up to the root.
function resolve(from, name) {
  let dir = from
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`
    if (candidate in packages) return candidate
    if (dir === '') return undefined
    const at = dir.lastIndexOf('/node_modules/')
    dir = at === -1 ? '' : dir.slice(0, at)
  }
}

const problems = []
let optionals = 0
let otherPlatform = 0
for (const [location, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    optionals++
    const found = resolve(location, name)
    const owner = location === '' ? 'the project' : location
    if (found === undefined) {
      problems.push(`${owner} declares optional ${name}@${spec}, which the lock does not contain`)
      continue
    }
    const version = packages[found].version
    // Platform packages are pinned to the exact version of their parent; a mismatch means a stale entry.
    if (/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec) && version !== spec) {
      problems.push(`${owner} pins optional ${name}@${spec}, but the lock has ${version} at ${found}`)
    }
    const { os, cpu } = packages[found]
    if ((os && !os.includes(process.platform)) || (cpu && !cpu.includes(process.arch))) otherPlatform++
  }
}

if (problems.length > 0) {
  console.error(`${lockPath} is incomplete for other platforms (npm ci would refuse it):`)
  for (const p of problems) console.error(`  ${p}`)
  console.error('`npm install --package-lock-only` (npm 11) adds the missing entries and keeps every locked version.')
  process.exit(1)
}
console.log(`lock file complete: ${optionals} optional dependencies present, ${otherPlatform} of them for other platforms`)
