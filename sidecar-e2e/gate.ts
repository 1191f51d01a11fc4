/**
 * The gate as a real local server for the sidecar tests, in either of the two
 * ways an operator runs it next to a proxy: `wrangler dev` on the repository's
 * wrangler.toml (Miniflare, as `npm run dev`), or `pay-gate serve` (workerd, as
 * on a self-hosted box, from the built CLI). Each has its own persistence
 * folder, SIDECAR_TOKEN and ADMIN_TOKEN, and the route table given.
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
  keyState: (
    id: string
  ) => Promise<{ balance: string; held: string; ledger: Array<{ kind: string; amount: string }> }>
  stop: () => Promise<void>
}

const env = () => ({
  ...process.env,
  PATH: `${BIN}${delimiter}${process.env.PATH ?? ''}`,
  WRANGLER_SEND_METRICS: 'false',
  CI: '1',
})

/** The gate under `wrangler dev`, its route table put into its local KV first. */
export async function startGate(routes: unknown, stateDir: string): Promise<GateServer> {
  mkdirSync(stateDir, { recursive: true })
  const routesFile = join(stateDir, 'routes.json')
  writeFileSync(routesFile, JSON.stringify(routes))
  const put = spawnSync(
    join(BIN, 'wrangler'),
    [
      'kv',
      'key',
      'put',
      ROUTES_KV_KEY,
      '--path',
      routesFile,
      '--binding',
      'ROUTES',
      '--local',
      '--persist-to',
      stateDir,
    ],
    {
      cwd: ROOT,
      env: env(),
      encoding: 'utf8',
    }
  )
  if (put.status !== 0) throw new Error(`wrangler kv key put failed:\n${put.stdout}${put.stderr}`)

  const port = await freePort()
  const tokens = newTokens()
  const args = [
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--persist-to',
    stateDir,
    '--show-interactive-dev-session=false',
    '--log-level',
    'warn',
  ]
  for (const [name, value] of Object.entries({
    ...tokens,
    ROUTES_CACHE_TTL_SECONDS: '0',
    SETTLE_BATCH_MS: '0',
  })) {
    args.push('--var', `${name}:${value}`)
  }
  // wrangler stops its own workerd on SIGTERM; SIGKILL would orphan it.
  return running(start(join(BIN, 'wrangler'), args, { cwd: ROOT, env: env() }), port, tokens)
}

/** The gate under `pay-gate serve` (bin/pay-gate.mjs; `npm run build:cli` first), secrets from its environment. */
export async function startServedGate(routes: unknown, stateDir: string): Promise<GateServer> {
  mkdirSync(stateDir, { recursive: true })
  const routesFile = join(stateDir, 'routes.json')
  writeFileSync(routesFile, JSON.stringify(routes))
  const port = await freePort()
  const tokens = newTokens()
  const args = [
    join(ROOT, 'bin', 'pay-gate.mjs'),
    'serve',
    '--routes',
    routesFile,
    '--data',
    join(stateDir, 'data'),
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
  ]
  const served = start(process.execPath, args, {
    cwd: ROOT,
    env: { ...env(), ...tokens, SETTLE_BATCH_MS: '0', NO_COLOR: '1' },
  })
  return running(served, port, tokens)
}

function newTokens() {
  return {
    SIDECAR_TOKEN: randomBytes(24).toString('hex'),
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
  }
}

async function running(
  server: Started,
  port: number,
  tokens: ReturnType<typeof newTokens>
): Promise<GateServer> {
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/balance`, server, 90_000)
  const admin = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}/admin${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${tokens.ADMIN_TOKEN}`,
        'content-type': 'application/json',
      },
    })
    if (!response.ok) throw new Error(`admin ${path}: ${response.status} ${await response.text()}`)
    return response.json() as Promise<Record<string, unknown>>
  }
  return {
    url,
    sidecarToken: tokens.SIDECAR_TOKEN,
    adminToken: tokens.ADMIN_TOKEN,
    process: server,
    createKey: async (credits) =>
      (await admin('/keys', {
        method: 'POST',
        body: JSON.stringify({ name: 'sidecar-test', credits }),
      })) as { id: string; key: string },
    keyState: async (id) =>
      (await admin(`/keys/${id}?ledger=100`)) as Awaited<ReturnType<GateServer['keyState']>>,
    stop: () => server.stop(),
  }
}
