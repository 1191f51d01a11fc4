/**
 * `pay-gate routes push|pull`: the route table in KV, through wrangler, as one
 * key (ROUTES_KV_KEY) so an upload is atomic. Push shows what changed against
 * the live table, by path and method.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROUTES_KV_KEY } from '../../src/pricing/store'
import type { RoutesFile } from '../../src/pricing/schema'
import { CliError } from './ui'

export interface WranglerResult {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs `wrangler <args>` in the project folder. Tests pass a fake. */
export type Wrangler = (args: string[]) => WranglerResult

export function processWrangler(cwd: string): Wrangler {
  return (args) => {
    const local = join(
      cwd,
      'node_modules',
      '.bin',
      process.platform === 'win32' ? 'wrangler.cmd' : 'wrangler'
    )
    const [cmd, pre] = existsSync(local) ? [local, []] : ['npx', ['--yes', 'wrangler']]
    const run = spawnSync(cmd, [...pre, ...args], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: process.platform === 'win32',
    })
    if (run.error)
      throw new CliError(
        `cannot run wrangler: ${run.error.message}`,
        'Install it in the project: npm install -D wrangler'
      )
    return { status: run.status, stdout: run.stdout ?? '', stderr: run.stderr ?? '' }
  }
}

export interface KvTarget {
  remote: boolean
  binding?: string
  namespaceId?: string
}

function where(target: KvTarget): string[] {
  const ns = target.namespaceId
    ? ['--namespace-id', target.namespaceId]
    : ['--binding', target.binding ?? 'ROUTES']
  return [...ns, target.remote ? '--remote' : '--local']
}

/** The live table's text, or undefined when KV holds none. */
export function readLive(wrangler: Wrangler, target: KvTarget): string | undefined {
  const run = wrangler(['kv', 'key', 'get', ROUTES_KV_KEY, ...where(target)])
  const text = run.stdout.trim()
  if (run.status !== 0 || text === '' || /^value not found/i.test(text)) return undefined
  return text
}

export function upload(wrangler: Wrangler, target: KvTarget, text: string, cwd: string): void {
  const dir = join(cwd, '.wrangler')
  mkdirSync(dir, { recursive: true })
  const bulk = join(dir, 'routes.kv.json')
  // Stored compact, as parsed: the worker validates it again on every load.
  writeFileSync(
    bulk,
    JSON.stringify([{ key: ROUTES_KV_KEY, value: JSON.stringify(JSON.parse(text)) }])
  )
  const run = wrangler(['kv', 'bulk', 'put', bulk, ...where(target)])
  if (run.status !== 0) {
    throw new CliError(
      `upload failed (wrangler exited ${run.status ?? 'on a signal'})`,
      run.stderr.trim().split('\n').slice(-3).join('\n  ') || undefined
    )
  }
}

export interface RoutesDiff {
  added: string[]
  changed: string[]
  removed: string[]
}

type LooseRoute = { path?: unknown; method?: unknown }

function keyOf(route: LooseRoute): string {
  const method = typeof route.method === 'string' ? route.method.toUpperCase() : '*'
  return `${method} ${String(route.path)}`
}

function byKey(routes: unknown): Map<string, string> {
  const map = new Map<string, string>()
  if (Array.isArray(routes))
    for (const route of routes as LooseRoute[]) map.set(keyOf(route), JSON.stringify(route))
  return map
}

/** What pushing `next` does to the live table, route by route (`GET /api/*`, `* /mcp`). */
export function diffRoutes(
  live: { routes?: unknown } | undefined,
  next: RoutesFile | { routes: unknown }
): RoutesDiff {
  const before = byKey(live?.routes)
  const after = byKey(next.routes)
  const added = [...after.keys()].filter((k) => !before.has(k))
  const removed = [...before.keys()].filter((k) => !after.has(k))
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k))
  return { added, changed, removed }
}
