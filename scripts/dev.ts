/**
 * `npm run dev`: the gate on http://127.0.0.1:$PORT (default 8787) in front of the
 * bundled demo origin, with routes.json loaded and a funded demo key, ready to curl.
 *
 * Steps: an ADMIN_TOKEN in .dev.vars; the demo origin on 3001/8080; routes.json
 * into local KV; `wrangler dev`; a demo key (reused across runs); a banner.
 * Ctrl-C stops everything this script started. Arguments after `npm run dev --`
 * go to `wrangler dev` as they are (for example `--config other.toml`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDemoOrigin, type DemoOrigin } from './demo-origin'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const binDir = join(root, 'node_modules', '.bin')
// Children find the project's Node 22 (the `node` dev dependency) first, as under
// `npm run`, even when this script was started some other way: wrangler refuses older Node.
const childEnv = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` }
const port = Number(process.env.PORT ?? 8787)
const gate = `http://127.0.0.1:${port}`
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
      if ((await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)])) === false) {
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
      if (value.length < 16) console.warn('dev: ADMIN_TOKEN in .dev.vars is under 16 characters; the admin API will refuse it')
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

async function startOrigin(): Promise<void> {
  try {
    origin = await startDemoOrigin({ mcpPort: 3001, apiPort: 8080 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
    // Maybe the operator's own origin: leave it be and let routes.json point at it.
    console.warn(`dev: ${(error as Error).message}.`)
    console.warn('dev: not starting the bundled demo origin; whatever listens on 3001/8080 will serve routes.json.')
  }
  // Started either way (harmless); say so when routes.json sends traffic elsewhere.
  try {
    const { routes } = JSON.parse(readFileSync(join(root, 'routes.json'), 'utf8')) as { routes: Array<{ origin?: string }> }
    const elsewhere = [...new Set(routes.map((route) => route.origin))].filter(
      (url) => !/^http:\/\/(127\.0\.0\.1|localhost):(3001|8080)\/?$/.test(url ?? '')
    )
    if (elsewhere.length > 0) console.log(`dev: note: routes.json also routes to ${elsewhere.join(', ')}, not the demo origin`)
  } catch {
    // routes.json is missing or broken: the push below says so properly
  }
}

async function pushRoutes(): Promise<void> {
  const run = spawnSync(join(binDir, 'tsx'), [join(root, 'scripts', 'routes.ts'), 'push', '--local'], {
    cwd: root,
    env: childEnv,
    encoding: 'utf8',
  })
  if (run.status !== 0) {
    process.stderr.write(`${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? `${run.error.message}\n` : ''}`)
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
  if (!(await portFree(port))) await fail(`port ${port} is in use; stop what runs there or set PORT`)
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
  const created = (await response.json().catch(() => ({}))) as Partial<DemoKey> & { credits?: string }
  if (response.status !== 201 || !created.id || !created.key) {
    return fail(`creating the demo key failed: HTTP ${response.status} ${JSON.stringify(created)}`)
  }
  mkdirSync(join(root, '.wrangler'), { recursive: true })
  writeFileSync(file, `${JSON.stringify({ id: created.id, key: created.key }, null, 2)}\n`, { mode: 0o600 })
  return { id: created.id, key: created.key, credits: created.credits ?? '?' }
}

function banner(adminToken: string, demo: DemoKey & { credits: string }): string {
  const mcp = `$GATE/mcp`
  const post = `curl -s ${mcp} -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H "Authorization: Bearer $KEY"`
  const init = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
  const config = { mcpServers: { 'pay-gate-demo': { url: `${gate}/mcp`, headers: { Authorization: `Bearer ${demo.key}` } } } }
  return `
──────────────────────────── pay-gate dev ────────────────────────────
  Gate          ${gate}
  Admin token   ${adminToken}   (from .dev.vars)
  Demo key      ${demo.key}
                id ${demo.id}, balance $${demo.credits}   (kept in .wrangler/demo-key.json)

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

MCP client config:
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
