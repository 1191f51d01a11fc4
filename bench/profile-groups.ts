/**
 * Self time of a V8 CPU profile, grouped by where the code comes from: a folder of
 * our src/, a library bundled in, the bench's own Workers, or the runtime (GC,
 * builtins and the native API functions JavaScript calls, such as SQL exec or fetch;
 * "(program)": native work in the isolate's thread outside JavaScript).
 */
import type { CpuProfile } from './inspector'

export interface JsSummary {
  /** Microseconds the profile covers, and of them the isolate was idle (or its thread busy elsewhere). */
  totalUs: number
  idleUs: number
  /** Self time by group (idle excluded), µs. */
  groups: Map<string, number>
  /** Self time by function ("name  module:line"), µs. */
  functions: Map<string, number>
}

/** The bundle's module of each line: esbuild marks every module's start with a `// path` comment. */
export function moduleOfLine(source: string): (line: number) => string {
  const starts: Array<[number, string]> = []
  source.split('\n').forEach((text, index) => {
    const marker = /^\/\/ ((?:src|node_modules|bench)\/\S+)$/.exec(text)
    if (marker?.[1]) starts.push([index, marker[1]])
  })
  return (line) => {
    let found = '(bundle prelude)'
    for (const [start, name] of starts) {
      if (start > line) break
      found = name
    }
    return found
  }
}

/** src/credits/account-sql.ts → "src/credits"; node_modules/hono/dist/… → "hono"; @scoped packages kept whole. */
export function groupOfModule(module: string): string {
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(module)?.[1]
  if (pkg) return `lib: ${pkg}`
  const src = /^src\/([^/]+)\//.exec(module)?.[1]
  if (src) return `src/${src}`
  if (/^src\/[^/]+$/.test(module)) return 'src (top level)'
  if (module.startsWith('bench/')) return 'bench Worker'
  return module
}

const RUNTIME: Record<string, string> = {
  '(program)': 'runtime: (program), native outside JS',
  '(garbage collector)': 'runtime: garbage collector',
  '(root)': 'runtime: (root)',
}

/** Summarise a profile of the isolate that runs `source` (the bundled Worker's text). */
export function summariseJs(profile: CpuProfile, source: string): JsSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const moduleOf = moduleOfLine(source)
  const groups = new Map<string, number>()
  const functions = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  const add = (map: Map<string, number>, key: string, us: number) =>
    map.set(key, (map.get(key) ?? 0) + us)
  profile.samples.forEach((id, index) => {
    const frame = byId.get(id)?.callFrame
    const us = profile.timeDeltas[index] ?? 0
    if (!frame) return
    totalUs += us
    if (frame.functionName === '(idle)') {
      idleUs += us
      return
    }
    const bundled = frame.url.endsWith('.mjs') && !frame.url.includes('kv.mjs')
    let group: string
    let name: string
    if (bundled) {
      const module = moduleOf(frame.lineNumber)
      group = groupOfModule(module)
      name = `${frame.functionName || '(anonymous)'}  ${module}:${frame.lineNumber + 1}`
    } else if (frame.url === '') {
      group = RUNTIME[frame.functionName] ?? 'runtime: builtins and native API'
      name = frame.functionName || '(anonymous native)'
    } else {
      group = 'runtime: workerd JS'
      name = `${frame.functionName || '(anonymous)'}  ${frame.url}`
    }
    add(groups, group, us)
    add(functions, name, us)
  })
  return { totalUs, idleUs, groups, functions }
}
