/**
 * Everything the bench measures, started once on loopback: the fixed-answer origin
 * (fixed-origin.ts) in its own process, and one workerd running three Workers in
 * front of it — the bare pass-through, the pass-through plus one debit, and the gate
 * bundled from src/index.ts. With `sdk`, also the SDK demo origin (sdk-origin.ts) in
 * a process of its own and the same three Workers again in front of it (sockets and
 * services named with `-sdk`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { ROUTES_KV_KEY, validateRoutesText } from '../src/pricing'
import { startWorkerd, stopProcess, track, type OriginSet, type Workerd } from './workerd'
import { readWranglerToml } from './wrangler-config'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef'
export const SIDECAR_TOKEN = 'bench-sidecar-token-0123456789abcdef'
/** Price of the paid tool: one micro-dollar, so charged calls = micro-dollars spent. */
export const PRICE = '0.000001'
export const PRICE_MICROS = 1
export const INITIAL_CREDITS = '1000000'

/** What the route table needs to take x402 on GET /api/* (see x402.ts). */
export interface X402Routing {
  facilitatorUrl: string
  payTo: string
  token: { address: string; name: string; version: string; decimals: number }
}

/** x402 route (GET /api/*): long enough validity for payments signed before the timed window. */
export const X402_MAX_TIMEOUT_SECONDS = 600

/** What a scenario is sent to: an origin alone, or one of the Workers in front of it. */
export type Target =
  'origin' | 'pass' | 'debit' | 'gate' | 'origin-sdk' | 'pass-sdk' | 'debit-sdk' | 'gate-sdk'

export interface Stack {
  /** The fixed-answer origin: POST /mcp-json, and GET /api/health for the x402 scenarios. */
  originUrl: string
  apiUrl: string
  passUrl: string
  debitUrl: string
  gateUrl: string
  /** Every target's base URL (the -sdk ones only when started with `sdk`). */
  urls: Partial<Record<Target, string>>
  /** For CPU accounting; sdkOrigin only when started with `sdk`. */
  pids: { origin: number; workerd: number; sdkOrigin?: number }
  /** Where workerd's config and the bundled Workers are (removed by close()). */
  dir: string
  close(): Promise<void>
}

/** Bundle one Worker entry to a single ES module, as wrangler would. */
async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    // Node built-ins workerd provides at the Worker's compatibility date (@x402/extensions imports 'url').
    external: ['cloudflare:*', 'node:*', 'url'],
    minify: false, // readable names in a CPU profile
    logLevel: 'error',
  })
  const [file] = result.outputFiles
  if (!file) throw new Error(`esbuild produced nothing for ${entry}`)
  return file.text
}

/**
 * The route table: one MCP route on the origin's stateless JSON endpoint, so every
 * call is a self-contained POST. Checked here with the gate's own validator, so a
 * schema change fails the bench at once rather than as a run of errors.
 */
function routesJson(mcpOrigin: string, apiOrigin: string, x402?: X402Routing): string {
  const mcp = {
    path: '/mcp-json',
    origin: mcpOrigin,
    mcp: { price: PRICE, tools: { search: PRICE, echo: 'free' } },
  }
  // With x402 on, /mcp-json stays credits-only, so the MCP scenarios measure what they do without it;
  // /api/* takes both, so one route gives the x402 figures and a credits comparison on the same origin.
  const table = x402
    ? {
        version: 1,
        x402: {
          network: 'eip155:31337',
          payTo: x402.payTo,
          facilitator: { url: x402.facilitatorUrl },
          maxTimeoutSeconds: X402_MAX_TIMEOUT_SECONDS,
          asset: x402.token,
        },
        routes: [
          { ...mcp, accept: ['credits'] },
          {
            path: '/api/*',
            method: 'GET',
            origin: apiOrigin,
            price: PRICE,
            accept: ['x402', 'credits'],
          },
        ],
      }
    : { version: 1, routes: [mcp] }
  const text = JSON.stringify(table)
  const validation = validateRoutesText(text)
  if (!validation.ok)
    throw new Error(`bench: invalid route table: ${JSON.stringify(validation.issues)}`)
  return text
}

/** Start an origin script of bench/ in its own Node process; resolves with the port it listens on. */
async function startOrigin(script: string): Promise<{ child: ChildProcess; port: number }> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', script)], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
    })
  )
  const lines = createInterface({ input: child.stdout! })
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => line as string),
    once(child, 'exit').then(([code]) =>
      Promise.reject(new Error(`the origin exited with ${code} before listening`))
    ),
  ])
  lines.close()
  return { child, port: (JSON.parse(first) as { port: number }).port }
}

export async function startStack(
  options: { inspectorPort?: number; x402?: X402Routing; sdk?: boolean; v8Flags?: string[] } = {}
): Promise<Stack> {
  // The gate as wrangler.toml deploys it: its entry, its date, its Durable Objects.
  const wrangler = readWranglerToml(join(root, 'wrangler.toml'))
  const notSqlite = wrangler.durableObjects.filter((o) => !wrangler.sqliteClasses.has(o.className))
  if (notSqlite.length > 0)
    throw new Error(
      `bench: not SQLite-backed in wrangler.toml: ${notSqlite.map((o) => o.className).join(', ')}`
    )
  const [gate, pass, debit] = await Promise.all([
    bundle(wrangler.main),
    bundle('bench/workers/pass-through.ts'),
    bundle('bench/workers/debit.ts'),
  ])
  let origin: Awaited<ReturnType<typeof startOrigin>> | undefined
  let sdkOrigin: Awaited<ReturnType<typeof startOrigin>> | undefined
  let workerd: Workerd | undefined
  const dir = mkdtempSync(join(tmpdir(), 'pay-gate-bench-'))
  const close = async () => {
    if (workerd) await stopProcess(workerd.child)
    if (origin) await stopProcess(origin.child)
    if (sdkOrigin) await stopProcess(sdkOrigin.child)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const url = (port: number) => `http://127.0.0.1:${port}`
    ;[origin, sdkOrigin] = await Promise.all([
      startOrigin('fixed-origin.ts'),
      options.sdk ? startOrigin('sdk-origin.ts') : undefined,
    ])
    const originUrl = url(origin.port)
    const origins: OriginSet[] = [
      { suffix: '', url: originUrl, routesJson: routesJson(originUrl, originUrl, options.x402) },
    ]
    if (sdkOrigin)
      origins.push({
        suffix: '-sdk',
        url: url(sdkOrigin.port),
        routesJson: routesJson(url(sdkOrigin.port), url(sdkOrigin.port)),
      })
    // Durable Object SQLite files go to a temp directory on disk, removed by close().
    workerd = await startWorkerd({
      dir,
      compatibilityDate: wrangler.compatibilityDate,
      gateDurableObjects: wrangler.durableObjects,
      sources: { pass, debit, gate },
      origins,
      adminToken: ADMIN_TOKEN,
      sidecarToken: SIDECAR_TOKEN,
      routesKey: ROUTES_KV_KEY,
      inspectorPort: options.inspectorPort,
      v8Flags: options.v8Flags,
    })
    const urls: Stack['urls'] = { origin: originUrl }
    if (sdkOrigin) urls['origin-sdk'] = url(sdkOrigin.port)
    for (const [socket, port] of Object.entries(workerd.ports)) urls[socket as Target] = url(port)
    return {
      originUrl,
      apiUrl: originUrl,
      passUrl: urls.pass as string,
      debitUrl: urls.debit as string,
      gateUrl: urls.gate as string,
      urls,
      pids: {
        origin: origin.child.pid as number,
        workerd: workerd.child.pid as number,
        sdkOrigin: sdkOrigin?.child.pid,
      },
      dir,
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}

export interface BenchKey {
  id: string
  key: string
}

async function admin(gateUrl: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${gateUrl}/admin${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
  })
}

/** Create `count` funded keys through the gate's admin API, a few at a time. */
export async function createKeys(gateUrl: string, count: number): Promise<BenchKey[]> {
  const keys: BenchKey[] = []
  for (let start = 0; start < count; start += 16) {
    const batch = Array.from({ length: Math.min(16, count - start) }, async (_, i) => {
      const body = JSON.stringify({ name: `bench-${start + i}`, credits: INITIAL_CREDITS })
      const response = await admin(gateUrl, '/keys', { method: 'POST', body })
      if (response.status !== 201)
        throw new Error(`POST /admin/keys → ${response.status}: ${await response.text()}`)
      const { id, key } = (await response.json()) as BenchKey
      return { id, key }
    })
    keys.push(...(await Promise.all(batch)))
  }
  return keys
}

/** Micro-dollars of a decimal-dollar string such as "999999.99875". */
export function micros(dollars: string): number {
  const [whole = '0', fraction = ''] = dollars.split('.')
  return Number(whole) * 1_000_000 + Number(fraction.padEnd(6, '0').slice(0, 6))
}

/**
 * How many calls the gate charged a key: (initial − credits) ÷ price, read once
 * nothing is held any more (settlement runs in waitUntil, after the response).
 */
export async function chargedCalls(
  gateUrl: string,
  id: string,
  timeoutMs = 15_000
): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const response = await admin(gateUrl, `/keys/${id}`)
    if (response.status !== 200) throw new Error(`GET /admin/keys/${id} → ${response.status}`)
    const state = (await response.json()) as { credits: string; held: string }
    if (state.held === '0' || Date.now() > deadline) {
      if (state.held !== '0') console.warn(`bench: key ${id} still holds $${state.held}`)
      return (micros(INITIAL_CREDITS) - micros(state.credits)) / PRICE_MICROS
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
