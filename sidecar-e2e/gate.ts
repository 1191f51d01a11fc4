/**
 * The gate as a real local server for the sidecar tests: `wrangler dev` on the
 * repository's wrangler.toml (Miniflare, the same runtime as `npm run dev`), with
 * its own persistence folder, SIDECAR_TOKEN and ADMIN_TOKEN, and a route table
 * put into its local KV first.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { freePort, start, waitForHttp, type Started } from './processes'

const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'node_modules', '.bin')
/** Where the gate reads its route table (src/pricing/store.ts). */
const ROUTES_KV_KEY = 'pay-gate/routes'

export interface GateServer {
  url: string
  sidecarToken: string
  adminToken: string
  process: Started
  /** Create a key with `credits` dollars; returns its id and secret. */
  createKey: (credits: string) => Promise<{ id: string; key: string }>
  /** The key's state and ledger through the admin API. */
  keyState: (id: string) => Promise<{ balance: string; held: string; ledger: Array<{ kind: string; amount: string }> }>
  stop: () => Promise<void>
}

const env = () => ({ ...process.env, PATH: `${BIN}${delimiter}${process.env.PATH ?? ''}`, WRANGLER_SEND_METRICS: 'false', CI: '1' })

export async function startGate(routes: unknown, stateDir: string): Promise<GateServer> {
  mkdirSync(stateDir, { recursive: true })
  const routesFile = join(stateDir, 'routes.json')
  writeFileSync(routesFile, JSON.stringify(routes))
  const put = spawnSync(join(BIN, 'wrangler'), ['kv', 'key', 'put', ROUTES_KV_KEY, '--path', routesFile, '--binding', 'ROUTES', '--local', '--persist-to', stateDir], {
    cwd: ROOT,
    env: env(),
    encoding: 'utf8',
  })
  if (put.status !== 0) throw new Error(`wrangler kv key put failed:\n${put.stdout}${put.stderr}`)

  const port = await freePort()
  const sidecarToken = randomBytes(24).toString('hex')
  const adminToken = randomBytes(24).toString('hex')
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', stateDir, '--show-interactive-dev-session=false', '--log-level', 'warn']
  for (const [name, value] of Object.entries({ SIDECAR_TOKEN: sidecarToken, ADMIN_TOKEN: adminToken, ROUTES_CACHE_TTL_SECONDS: '0', SETTLE_BATCH_MS: '0' })) {
    args.push('--var', `${name}:${value}`)
  }
  const wrangler = start(join(BIN, 'wrangler'), args, { cwd: ROOT, env: env() })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/balance`, wrangler, 90_000)

  const admin = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}/admin${path}`, {
      ...init,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    })
    if (!response.ok) throw new Error(`admin ${path}: ${response.status} ${await response.text()}`)
    return response.json() as Promise<Record<string, unknown>>
  }
  return {
    url,
    sidecarToken,
    adminToken,
    process: wrangler,
    createKey: async (credits) => (await admin('/keys', { method: 'POST', body: JSON.stringify({ name: 'sidecar-test', credits }) })) as { id: string; key: string },
    keyState: async (id) => (await admin(`/keys/${id}?ledger=100`)) as Awaited<ReturnType<GateServer['keyState']>>,
    // wrangler stops its own workerd on SIGTERM; SIGKILL would orphan it.
    stop: () => wrangler.stop(),
  }
}
