/**
 * `npm run imports -- <file.ts> [more.ts…]`: the source files a module pulls in,
 * directly and through what those import (type-only imports included: a reader
 * follows them too), grouped by folder, with the count. `--tree` prints each
 * file's own imports instead. It answers "what must I read to follow this
 * path?": e.g. `npm run imports -- src/gate/mcp-route.ts` for a paid MCP call.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..')
const args = process.argv.slice(2)
const tree = args.includes('--tree')
const entries = args
  .filter((arg) => !arg.startsWith('--'))
  .map((arg) => resolve(process.cwd(), arg))
if (entries.length === 0) {
  console.error('usage: npm run imports -- <file.ts> [more.ts…] [--tree]')
  process.exit(2)
}

function resolveSpec(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec.replace(/\.js$/, ''))
  return [`${base}.ts`, `${base}/index.ts`].find((candidate) => existsSync(candidate))
}

const IMPORT =
  /(?:^|\n)\s*(import|export)\s+(type\s+)?(\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*\{[^}]*\})?)\s*from\s+['"](\.[^'"]+)['"]|(?:^|\n)\s*import\s+['"](\.[^'"]+)['"]/g

/** The names in `{ a, type b, c as d }` as the exporting module calls them. */
function namesIn(clause: string): string[] | undefined {
  const braces = /\{([^}]*)\}/.exec(clause)
  if (!braces) return undefined
  return (braces[1] as string)
    .split(',')
    .map(
      (part) =>
        part
          .trim()
          .replace(/^type\s+/, '')
          .split(/\s+as\s+/)[0] as string
    )
    .filter(Boolean)
}

/** Where an index.ts gets each name it re-exports. */
function reExports(index: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const match of readFileSync(index, 'utf8').matchAll(IMPORT)) {
    if (match[1] !== 'export' || !match[4]) continue
    const target = resolveSpec(index, match[4])
    if (!target) continue
    for (const name of namesIn(match[3] as string) ?? []) map.set(name, target)
  }
  return map
}

/**
 * The project files a file imports (relative specifiers only: packages are not
 * ours to read). A named import through a folder's index.ts counts the file that
 * defines the name (and the index), not everything the index re-exports.
 */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found = new Set<string>()
  for (const match of text.matchAll(IMPORT)) {
    const target = resolveSpec(file, (match[4] ?? match[5]) as string)
    if (!target) continue
    found.add(target)
    const names = match[3] ? namesIn(match[3]) : undefined
    if (!target.endsWith('/index.ts') || !names) continue
    const exported = reExports(target)
    for (const name of names) {
      const defined = exported.get(name)
      if (defined) found.add(defined)
    }
  }
  return [...found]
}

const seen = new Map<string, string[]>()
// An index.ts is followed only through the names taken from it (importsOf), not as a whole.
const followIndex = false
const queue = [...entries]
while (queue.length > 0) {
  const file = queue.shift() as string
  if (seen.has(file)) continue
  const imports =
    file.endsWith('/index.ts') && !followIndex && !entries.includes(file) ? [] : importsOf(file)
  seen.set(file, imports)
  queue.push(...imports.filter((next) => !seen.has(next)))
}

const name = (file: string) => relative(ROOT, file)
if (tree) {
  for (const [file, imports] of [...seen].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(name(file))
    for (const imported of imports) console.log(`  → ${name(imported)}`)
  }
} else {
  const byFolder = new Map<string, string[]>()
  for (const file of seen.keys()) {
    const folder = dirname(name(file))
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), name(file).slice(folder.length + 1)])
  }
  for (const [folder, files] of [...byFolder].sort(([a], [b]) => a.localeCompare(b)))
    console.log(`${folder}/ (${files.length}): ${files.sort().join(' ')}`)
}
console.log(`${seen.size} files reachable from ${entries.map(name).join(', ')}`)
