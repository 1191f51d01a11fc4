/**
 * The gate as a real local HTTP server for browser tests: wrangler's
 * `unstable_startWorker` (Miniflare, workerd) with this repository's
 * wrangler.toml, on a random loopback port, its storage in a fresh temporary
 * directory, and ADMIN_TOKEN set. No operator webhooks.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unstable_startWorker } from 'wrangler'

export interface GateServer {
  url: URL
  adminToken: string
  /** Call the admin API with the bearer token. */
  admin(path: string, init?: { method?: string; body?: unknown }): Promise<{ status: number; body: any }>
  close(): Promise<void>
}

export async function startGateServer(adminToken: string): Promise<GateServer> {
  const state = mkdtempSync(join(tmpdir(), 'pay-gate-ui-'))
  const worker = await unstable_startWorker({
    config: join(import.meta.dirname, '..', '..', 'wrangler.toml'),
    bindings: { ADMIN_TOKEN: { type: 'plain_text', value: adminToken } },
    dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, persist: state, logLevel: 'error' },
  })
  await worker.ready
  const url = await worker.url
  return {
    url,
    adminToken,
    async admin(path, init = {}) {
      const response = await fetch(new URL(`/admin${path}`, url), {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${adminToken}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      })
      return { status: response.status, body: await response.json().catch(() => null) }
    },
    async close() {
      await worker.dispose()
      rmSync(state, { recursive: true, force: true })
    },
  }
}
