/**
 * `npm run lint`: the boundaries the codebase keeps, checked (issue 12).
 * - A leaf (pricing, credits, x402, mcp, proxy, usage, notify) imports no other leaf.
 * - A module reaches another folder only through its index.ts, never its internals.
 * - A source file stays within 300 lines.
 * - Every TypeScript file is formatted as prettier formats it with the project's
 *   .prettierrc (`npx prettier --write "**\/*.ts"` fixes that; .prettierignore says what is not ours).
 * Prints every violation with its file and line, and exits 1 if there is any.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..')
const SRC = join(ROOT, 'src')
const LEAVES = new Set(['pricing', 'credits', 'x402', 'mcp', 'proxy', 'usage', 'notify'])
const MAX_LINES = 300

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

/** The top folder of src a path is in ('' for src's own files). */
function folderOf(path: string): string {
  const parts = relative(SRC, path).split(sep)
  return parts.length > 1 ? (parts[0] as string) : ''
}

const problems: string[] = []
for (const file of sourceFiles(SRC)) {
  const text = readFileSync(file, 'utf8')
  const lines = text.split('\n')
  const where = relative(ROOT, file)
  if (lines.length > MAX_LINES)
    problems.push(`${where}: ${lines.length} lines (at most ${MAX_LINES}): split it by concern`)
  const from = folderOf(file)
  lines.forEach((line, index) => {
    // One-line imports and exports, the closing line of a multi-line one, and bare imports.
    const match =
      /^\s*(?:import\b|export\b|\})[^'"]*?from\s+['"](\.[^'"]*)['"]/.exec(line) ??
      /^\s*import\s+['"](\.[^'"]*)['"]/.exec(line)
    if (!match) return
    const target = resolve(dirname(file), match[1] as string)
    if (!target.startsWith(SRC)) return
    const to = folderOf(`${target}.ts`)
    if (to === from || to === '') return
    const at = `${where}:${index + 1}`
    if (LEAVES.has(from) && LEAVES.has(to))
      problems.push(
        `${at}: the ${from} leaf imports the ${to} leaf (leaves never import each other; compose them in gate/)`
      )
    const inside = relative(join(SRC, to), target)
    if (inside !== '' && inside !== 'index')
      problems.push(`${at}: imports ${to}/${inside} (reach ${to}/ through its index.ts)`)
  })
}

// Formatting: prettier lists the files it would change (--list-different), and nothing else.
const prettier = spawnSync(
  join(ROOT, 'node_modules', '.bin', 'prettier'),
  ['--list-different', '**/*.ts'],
  { cwd: ROOT, encoding: 'utf8' }
)
if (prettier.error || (prettier.status !== 0 && prettier.status !== 1)) {
  problems.push(`prettier could not run: ${prettier.error?.message ?? prettier.stderr.trim()}`)
} else {
  for (const file of prettier.stdout.split('\n').filter(Boolean))
    problems.push(`${file}: not formatted (npx prettier --write ${file})`)
}

for (const problem of problems) console.log(problem)
console.log(problems.length === 0 ? 'lint: clean' : `lint: ${problems.length} problem(s)`)
process.exit(problems.length === 0 ? 0 : 1)
