/**
 * `tsx scripts/routes.ts validate [file] [--json]`
 * `tsx scripts/routes.ts push [--local | --remote] [--file routes.json] [--namespace-id ID]`
 *
 * Validates routes.json with the worker's own schema, then uploads it to the
 * ROUTES KV namespace in wrangler's bulk format, as one key, so an upload is
 * atomic: the worker sees the old table or the new one, never half of each.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ROUTES_KV_KEY, validateRoutesText } from '../src/pricing'

const USAGE = `usage:
  routes validate [routes.json] [--json]
  routes push [--local | --remote] [--file routes.json] [--namespace-id ID] [--binding ROUTES]`

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name)
  return index === -1 ? undefined : args[index + 1]
}

function load(file: string, json: boolean): { text: string } {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    console.error(`cannot read ${file}: ${(error as Error).message}`)
    process.exit(1)
  }
  const result = validateRoutesText(text)
  if (!result.ok) {
    if (json) console.log(JSON.stringify({ ok: false, file, issues: result.issues }, null, 2))
    else {
      console.error(`${file}: ${result.issues.length} problem(s)`)
      for (const issue of result.issues) console.error(`  ${issue.path}: ${issue.message}`)
    }
    process.exit(1)
  }
  if (json) console.log(JSON.stringify({ ok: true, file, routes: result.file.routes.length }))
  else console.log(`${file}: valid, ${result.file.routes.length} route(s)`)
  return { text }
}

function push(args: string[]): void {
  const file = option(args, '--file') ?? 'routes.json'
  const { text } = load(file, false)
  const target = args.includes('--remote') ? '--remote' : '--local'
  const bulk = resolve('.wrangler', 'routes.kv.json')
  mkdirSync(resolve('.wrangler'), { recursive: true })
  // Stored compact, as parsed: the worker validates it again on every load.
  writeFileSync(
    bulk,
    JSON.stringify([{ key: ROUTES_KV_KEY, value: JSON.stringify(JSON.parse(text)) }])
  )
  const namespaceId = option(args, '--namespace-id')
  const where = namespaceId
    ? ['--namespace-id', namespaceId]
    : ['--binding', option(args, '--binding') ?? 'ROUTES']
  const wrangler = join('node_modules', '.bin', 'wrangler')
  const run = spawnSync(wrangler, ['kv', 'bulk', 'put', bulk, ...where, target], {
    stdio: 'inherit',
  })
  if (run.status !== 0) {
    console.error(`upload failed (wrangler exited ${run.status ?? run.signal})`)
    process.exit(1)
  }
  console.log(`uploaded ${file} to KV key "${ROUTES_KV_KEY}" (${target.slice(2)})`)
}

const [command, ...rest] = process.argv.slice(2)
if (command === 'validate') {
  load(rest.find((arg) => !arg.startsWith('--')) ?? 'routes.json', rest.includes('--json'))
} else if (command === 'push') {
  push(rest)
} else {
  console.error(USAGE)
  process.exit(command === undefined || command === '--help' ? 0 : 2)
}
