/**
 * The gate as a real local HTTP server for browser tests: wrangler's
 * `unstable_startWorker` (Miniflare, workerd) with this repository's
 * wrangler.toml (so USAGE_DB is the real D1 binding), on a random loopback
 * port, its storage in a fresh temporary directory, and ADMIN_TOKEN set. No
 * operator webhooks. Its route table is written to the worker's own ROUTES KV
 * through the Miniflare instance wrangler runs it in.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unstable_startWorker } from 'wrangler'

/** The KV key the gate reads its routes file from (src/pricing/store.ts). */
const ROUTES_KV_KEY = 'pay-gate/routes'

export interface GateServer {
  url: URL
  adminToken: string
  /** Call the admin API with the bearer token. */
  admin(
    path: string,
    init?: { method?: string; body?: unknown }
  ): Promise<{ status: number; body: any }>
  /** Write a routes file (`{ routes: [...] }`, as routes.json) to the gate's ROUTES KV. */
  putRoutes(file: { routes: unknown[] } & Record<string, unknown>): Promise<void>
  close(): Promise<void>
}

export async function startGateServer(adminToken: string): Promise<GateServer> {
  const state = mkdtempSync(join(tmpdir(), 'pay-gate-ui-'))
  const worker = await unstable_startWorker({
    config: join(import.meta.dirname, '..', '..', 'wrangler.toml'),
    bindings: { ADMIN_TOKEN: { type: 'plain_text', value: adminToken } },
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      persist: state,
      logLevel: 'error',
    },
  })
  await worker.ready
  const url = await worker.url
  const admin: GateServer['admin'] = async (path, init = {}) => {
    const response = await fetch(new URL(`/admin${path}`, url), {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    })
    return { status: response.status, body: await response.json().catch(() => null) }
  }
  // `ready` means wrangler's proxy is up; the first request waits for the worker itself.
  const first = await admin('/keys?limit=1')
  if (first.status !== 200) throw new Error(`the gate's admin API answered ${first.status}`)
  // The local runtime controller owns the Miniflare instance that runs the worker;
  // its KV is the very namespace the worker's ROUTES binding reads.
  const miniflare = worker.raw.runtimes.map((runtime) => runtime.mf).find((mf) => mf !== undefined)
  if (!miniflare) throw new Error('wrangler started the worker without a local Miniflare runtime')
  return {
    url,
    adminToken,
    admin,
    async putRoutes(file) {
      const kv = await miniflare.getKVNamespace('ROUTES')
      await kv.put(ROUTES_KV_KEY, JSON.stringify({ version: 1, ...file }))
    },
    async close() {
      await worker.dispose()
      rmSync(state, { recursive: true, force: true })
    },
  }
}
