/**
 * `npm run dev`: the gate on http://127.0.0.1:$PORT (default 8787) in front of the
 * bundled demo origin, with routes.json loaded and a funded demo key, ready to curl.
 *
 * Steps: an ADMIN_TOKEN in .dev.vars; the demo origin on $DEMO_MCP_PORT and
 * $DEMO_API_PORT (3001 and 8080 unless set; 0 picks free ones), with the routes
 * of routes.json to those default ports sent to the ones it runs on; routes.json
 * into local KV; `wrangler dev`; a demo key (reused across runs); a banner with
 * the gate's and the dashboard's URLs. Ctrl-C stops everything this script
 * started. Arguments after `npm run dev --` go to `wrangler dev` as they are (for
 * example `--config other.toml`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  DEFAULT_DEMO_PORTS,
  demoPorts,
  parsePort,
  startDemoOrigin,
  type DemoOrigin,
} from './demo-origin'

// Before anything else: wrangler, which this starts, refuses older Node deep inside.
const nodeMajor = Number(process.versions.node.split('.')[0])
if (nodeMajor < 22) {
  console.error(
    `pay-gate needs Node.js 22 or later (this is Node ${nodeMajor}.x). Run it with the node from node_modules/.bin (npm run …) or install Node 22.`
  )
  process.exit(1)
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const binDir = join(root, 'node_modules', '.bin')
// Children find the project's Node 22 (the `node` dev dependency) first, as under
// `npm run`, even when this script was started some other way: wrangler refuses older Node.
const childEnv = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` }

function exitWith(message: string): never {
  console.error(`dev: ${message}`)
  process.exit(1)
}

/** PORT (the gate's), and DEMO_MCP_PORT / DEMO_API_PORT (the demo origin's). */
function settings(): { port: number; mcpPort: number; apiPort: number } {
  const port = parsePort(process.env.PORT?.trim() || '8787')
  if (port === undefined || port === 0)
    exitWith(`PORT must be a port number (1-65535), not "${process.env.PORT}"`)
  const ports = demoPorts(process.env)
  if (!ports.ok) exitWith(ports.message)
  return { port, mcpPort: ports.mcpPort, apiPort: ports.apiPort }
}
const { port, ...wanted } = settings()
const gate = `http://127.0.0.1:${port}`
const dashboard = `${gate}/admin/ui`
const READY_TIMEOUT_MS = 60_000

let origin: DemoOrigin | undefined
let wrangler: ChildProcess | undefined
let stopping = false

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    if (wrangler && wrangler.exitCode === null && wrangler.signalCode === null) {
      const exited = once(wrangler, 'exit')
      wrangler.kill('SIGTERM') // wrangler stops its workerd itself; SIGKILL would orphan it
      if (
        (await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)])) === false
      ) {
        wrangler.kill('SIGKILL')
      }
    }
    await origin?.close()
    process.exit(code)
  }
  return new Promise<never>(() => {}) // a second signal while stopping: let the first finish
}

function fail(message: string): Promise<never> {
  console.error(`\ndev: ${message}`)
  return shutdown(1)
}

/** The admin token from .dev.vars, creating one (and keeping other lines) when there is none. */
function ensureAdminToken(): string {
  const file = join(root, '.dev.vars')
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split(/\r?\n/) : []
  for (const line of lines) {
    const value = /^\s*ADMIN_TOKEN\s*=\s*(.*?)\s*$/.exec(line)?.[1]?.replace(/^(["'])(.*)\1$/, '$2')
    if (value) {
      if (value.length < 16)
        console.warn(
          'dev: ADMIN_TOKEN in .dev.vars is under 16 characters; the admin API will refuse it'
        )
      return value
    }
  }
  const token = randomBytes(24).toString('hex')
  const kept = lines.filter((line) => !/^\s*ADMIN_TOKEN\s*=/.test(line)) // an empty ADMIN_TOKEN= line
  while (kept.at(-1) === '') kept.pop()
  writeFileSync(file, [...kept, `ADMIN_TOKEN=${token}`, ''].join('\n'), { mode: 0o600 })
  console.log('dev: wrote a new ADMIN_TOKEN to .dev.vars')
  return token
}

/** Where the demo origin listens (its ports, once started), or what kept it from starting. */
let originPorts = { ...wanted, started: false }

async function startOrigin(): Promise<void> {
  try {
    origin = await startDemoOrigin({ mcpPort: wanted.mcpPort, apiPort: wanted.apiPort })
    originPorts = { mcpPort: origin.mcpPort, apiPort: origin.apiPort, started: true }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
    // Maybe the operator's own origin: leave it be and let routes.json point at it.
    console.warn(`dev: ${(error as Error).message}.`)
    console.warn(
      `dev: not starting the bundled demo origin; whatever listens on ${originPorts.mcpPort}/${originPorts.apiPort} will serve routes.json` +
        ' (DEMO_MCP_PORT and DEMO_API_PORT start it on other ports).'
    )
  }
}

/**
 * routes.json as the gate should get it: a route to the demo origin's default
 * port (127.0.0.1:3001 or :8080) goes to the port it runs on instead. Undefined
 * when that changes nothing, or the file is not JSON (the push reports it).
 */
function routesForDemoPorts(text: string): string | undefined {
  const moved: Record<string, number> = {
    [DEFAULT_DEMO_PORTS.mcpPort]: originPorts.mcpPort,
    [DEFAULT_DEMO_PORTS.apiPort]: originPorts.apiPort,
  }
  let file: { routes?: Array<{ origin?: unknown }> }
  try {
    file = JSON.parse(text) as typeof file
  } catch {
    return undefined
  }
  let changed = false
  for (const route of Array.isArray(file.routes) ? file.routes : []) {
    if (typeof route?.origin !== 'string') continue
    const origin = route.origin.replace(
      /^(http:\/\/(?:127\.0\.0\.1|localhost)):(\d+)(?=\/|$)/,
      (all, host: string, from: string) =>
        moved[from] !== undefined && moved[from] !== Number(from) ? `${host}:${moved[from]}` : all
    )
    changed ||= origin !== route.origin
    route.origin = origin
  }
  return changed ? `${JSON.stringify(file, null, 2)}\n` : undefined
}

async function pushRoutes(): Promise<void> {
  const text = existsSync(join(root, 'routes.json'))
    ? readFileSync(join(root, 'routes.json'), 'utf8')
    : '' // else the push says so
  const moved = routesForDemoPorts(text)
  let file = 'routes.json'
  if (moved !== undefined) {
    file = join('.wrangler', 'dev-routes.json')
    mkdirSync(join(root, '.wrangler'), { recursive: true })
    writeFileSync(join(root, file), moved)
    console.log(
      `dev: routes.json's routes to the demo origin go to ports ${originPorts.mcpPort} and ${originPorts.apiPort} (pushed from ${file})`
    )
  }
  // Say so when routes.json sends traffic elsewhere than the demo origin.
  try {
    const { routes } = JSON.parse(moved ?? text) as { routes: Array<{ origin?: string }> }
    const ours = new RegExp(
      `^http://(127\\.0\\.0\\.1|localhost):(${originPorts.mcpPort}|${originPorts.apiPort})/?$`
    )
    const elsewhere = [...new Set(routes.map((route) => route.origin))].filter(
      (url) => !ours.test(url ?? '')
    )
    if (elsewhere.length > 0)
      console.log(
        `dev: note: routes.json also routes to ${elsewhere.join(', ')}, not the demo origin`
      )
  } catch {
    // routes.json is missing or broken: the push below says so properly
  }
  const run = spawnSync(
    join(binDir, 'tsx'),
    [join(root, 'scripts', 'routes.ts'), 'push', '--local', '--file', file],
    {
      cwd: root,
      env: childEnv,
      encoding: 'utf8',
    }
  )
  if (run.status !== 0) {
    process.stderr.write(
      `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? `${run.error.message}\n` : ''}`
    )
    await fail('loading routes.json into local KV failed (see above)')
  }
  console.log('dev: routes.json loaded into local KV')
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
      .once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

async function startWrangler(): Promise<void> {
  // Otherwise the readiness check below could be answered by whatever already holds the port.
  if (!(await portFree(port)))
    await fail(`port ${port} is in use; stop what runs there or set PORT`)
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), ...process.argv.slice(2)]
  wrangler = spawn(join(binDir, 'wrangler'), args, {
    cwd: root,
    env: childEnv,
    stdio: 'inherit',
  })
  wrangler.once('exit', (code, signal) => {
    if (!stopping) console.error(`dev: wrangler exited (${code ?? signal})`)
    void shutdown(code ?? 0)
  })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    try {
      await fetch(`${gate}/balance`, { signal: AbortSignal.timeout(2_000) })
      return // any HTTP answer means the worker is up
    } catch {
      await sleep(500)
    }
  }
  await fail(`the gate did not answer at ${gate} within ${READY_TIMEOUT_MS / 1000} s`)
}

interface DemoKey {
  id: string
  key: string
}

async function balanceOf(key: string): Promise<{ credits: string } | null> {
  const response = await fetch(`${gate}/balance`, { headers: { authorization: `Bearer ${key}` } })
  return response.status === 200 ? ((await response.json()) as { credits: string }) : null
}

/** The demo key from .wrangler/demo-key.json while the local gate still knows it, else a new one. */
async function demoKey(adminToken: string): Promise<DemoKey & { credits: string }> {
  const file = join(root, '.wrangler', 'demo-key.json')
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as DemoKey
    const balance = await balanceOf(saved.key)
    if (balance) return { id: saved.id, key: saved.key, credits: balance.credits }
  } catch {
    // missing or unreadable: make a new one
  }
  const response = await fetch(`${gate}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'demo', credits: '5' }),
  })
  const created = (await response.json().catch(() => ({}))) as Partial<DemoKey> & {
    credits?: string
  }
  if (response.status !== 201 || !created.id || !created.key) {
    return fail(`creating the demo key failed: HTTP ${response.status} ${JSON.stringify(created)}`)
  }
  mkdirSync(join(root, '.wrangler'), { recursive: true })
  writeFileSync(file, `${JSON.stringify({ id: created.id, key: created.key }, null, 2)}\n`, {
    mode: 0o600,
  })
  return { id: created.id, key: created.key, credits: created.credits ?? '?' }
}

function banner(adminToken: string, demo: DemoKey & { credits: string }): string {
  const mcp = `$GATE/mcp`
  const post = `curl -s ${mcp} -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H "Authorization: Bearer $KEY"`
  const init =
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
  const config = {
    mcpServers: {
      'pay-gate-demo': { url: `${gate}/mcp`, headers: { Authorization: `Bearer ${demo.key}` } },
    },
  }
  const { mcpPort, apiPort, started } = originPorts
  const origin = `MCP http://127.0.0.1:${mcpPort}/mcp, API http://127.0.0.1:${apiPort}/api${started ? '' : '   (not started: ports in use)'}`
  return `
──────────────────────────── pay-gate dev ────────────────────────────
  Gate          ${gate}
  Dashboard     ${dashboard}   (sign in with the admin token)
  Key holders   ${gate}/account   (a holder's portal: sign in with the demo key)
  Admin token   ${adminToken}   (from .dev.vars)
  Demo key      ${demo.key}
                id ${demo.id}, balance $${demo.credits}   (kept in .wrangler/demo-key.json)
  Demo origin   ${origin}
  OAuth         ${gate}/mcp asks MCP clients without a key to sign in (OAuth 2.1): the consent
                page takes the demo key or a free trial   (docs/oauth.md)

Try it (paste the whole block into a shell):

  GATE=${gate}
  KEY=${demo.key}
  curl -s -w '\\n' $GATE/balance -H "Authorization: Bearer $KEY"
  # MCP sessions start with initialize (free); keep the session id it returns
  SID=$(${post} -o /dev/null -D - -d '${init}' | tr -d '\\r' | awk 'tolower($1)=="mcp-session-id:" {print $2}')
  # list the tools, each with its price in _meta["pay-gate/price"] (free)
  ${post} -H "Mcp-Session-Id: $SID" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
  # call the search tool (priced: check the balance again afterwards)
  ${post} -H "Mcp-Session-Id: $SID" -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search","arguments":{"query":"pay-gate"}}}'
  # top up the demo key (admin API)
  curl -s -w '\\n' -X POST $GATE/admin/keys/${demo.id}/topup -H "Authorization: Bearer ${adminToken}" -H 'Content-Type: application/json' -d '{"credits":"5"}'

MCP client config (with the key; a client with OAuth needs only the URL):
  ${JSON.stringify(config)}

Ctrl-C stops the gate and the demo origin.
──────────────────────────────────────────────────────────────────────
`
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(0))

const adminToken = ensureAdminToken()
await startOrigin()
await pushRoutes()
await startWrangler()
const demo = await demoKey(adminToken)
console.log(banner(adminToken, demo))
