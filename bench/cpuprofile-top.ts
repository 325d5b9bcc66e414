/**
 * Prints the top self-time functions of a V8 `.cpuprofile` (from `node --cpu-prof` or `bench/profile.ts`).
 *
 *   node --import tsx bench/cpuprofile-top.ts file.cpuprofile... [count=15]
 *
 * `node --cpu-prof --import tsx` writes one profile per thread: tsx's module-loader thread is the one that is
 * ~100% idle; the other is the main thread.
 */
import * as fs from 'node:fs'
import { printTable } from './common.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

const args = process.argv.slice(2)
const files = args.filter((a) => !/^\d+$/.test(a))
const count = Number(args.find((a) => /^\d+$/.test(a)) ?? 15)
if (files.length === 0) {
  console.error('usage: bench/cpuprofile-top.ts <file.cpuprofile>... [count]')
  process.exit(2)
}

function label(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame
  const name = functionName === '' ? '(anonymous)' : functionName
  if (url === '') return name
  const short = url.replace(/^file:\/\//, '').replace(/^.*\/(src|bench|node_modules)\//, '$1/')
  return lineNumber > 0 ? `${name} ${short}:${lineNumber + 1}` : `${name} ${short}`
}

function report(file: string): void {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  for (const n of profile.nodes) byId.set(n.id, n)

  // Self time per node: each sample's delta is attributed to the node sampled (V8 convention: delta i belongs to
  // sample i).
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }

  const byLabel = new Map<string, number>()
  let total = 0
  for (const [id, us] of selfUs) {
    const n = byId.get(id)
    if (n === undefined) continue
    const key = label(n)
    byLabel.set(key, (byLabel.get(key) ?? 0) + us)
    total += us
  }

  const rows = [...byLabel.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => [name, (us / 1000).toFixed(1), `${((100 * us) / total).toFixed(1)}%`])
  console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`)
  printTable(['function (self time)', 'ms', 'share'], rows)
}

for (const f of files) report(f)
