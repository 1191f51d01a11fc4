/**
 * Helpers for tests that drive the real gate in workerd: seed the route table,
 * create keys through the admin API, read what the origin received, and wait for
 * settlement (which runs after the response, in waitUntil).
 */
import { env, exports } from 'cloudflare:workers'
import { expect } from 'vitest'
import { ROUTES_KV_KEY } from '../src/pricing'
import { TEST_ADMIN_TOKEN } from './constants'

export { TEST_ADMIN_TOKEN }

export const GATE = 'https://gate.test'

/** Send a request to the gate, as a caller on the internet would. */
export function gate(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`${GATE}${path}`, init))
}

/** Replace the route table in KV. */
export async function putRoutes(routes: unknown[]): Promise<void> {
  await putRouteTable({ routes })
}

/** Replace the whole routes file in KV: routes and any table-wide block (x402, plans, stripe). */
export async function putRouteTable(
  file: { routes: unknown[] } & Record<string, unknown>
): Promise<void> {
  await env.ROUTES.put(ROUTES_KV_KEY, JSON.stringify({ version: 1, ...file }))
}

export function admin(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  headers.set('authorization', `Bearer ${TEST_ADMIN_TOKEN}`)
  if (init.body) headers.set('content-type', 'application/json')
  return gate(`/admin${path}`, { ...init, headers })
}

export interface TestKey {
  id: string
  key: string
}

/** Create a key with `credits` dollars through the admin API. */
export async function createKey(
  credits: string,
  extra: Record<string, unknown> = {}
): Promise<TestKey> {
  const response = await admin('/keys', {
    method: 'POST',
    body: JSON.stringify({ name: 'test', credits, ...extra }),
  })
  expect(response.status).toBe(201)
  const body = (await response.json()) as TestKey
  return { id: body.id, key: body.key }
}

export interface KeyState {
  status: string
  credits: string
  held: string
  balance: string
  inFlight: number
  ledger: Array<{ kind: string; amount: string; balanceAfter: string; label: string | null }>
}

export async function keyState(id: string): Promise<KeyState> {
  const response = await admin(`/keys/${id}?ledger=1000`)
  expect(response.status).toBe(200)
  return (await response.json()) as KeyState
}

/**
 * The key's state once nothing is held any more: every call it paid for has
 * settled. Settlement runs in waitUntil after the response, so it is awaited
 * here rather than assumed. Fails after `ms`.
 */
export async function settledState(id: string, ms = 5_000): Promise<KeyState> {
  const deadline = Date.now() + ms
  for (;;) {
    const state = await keyState(id)
    if (state.held === '0' && state.inFlight === 0) return state
    if (Date.now() > deadline) throw new Error(`key ${id} still holds ${state.held} after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The charges in a ledger, as decimal strings. */
export function charges(state: KeyState): string[] {
  return state.ledger.filter((row) => row.kind === 'charge').map((row) => row.amount)
}

export interface OriginRequest {
  server: 'mcp' | 'api'
  method: string
  path: string
  headers: Record<string, string>
  body: string
}

/** Every request the demo origin received carrying `x-test-tag: tag`. */
export async function originRequests(tag: string): Promise<OriginRequest[]> {
  const response = await fetch(`${env.API_ORIGIN}/__origin/requests?tag=${encodeURIComponent(tag)}`)
  return (await response.json()) as OriginRequest[]
}

/** Requests the scripted MCP origin (test/origins/scripted-mcp.ts) received with this tag. */
export async function scriptedRequests(tag: string): Promise<OriginRequest[]> {
  const response = await fetch(
    `${env.SCRIPTED_ORIGIN}/__origin/requests?tag=${encodeURIComponent(tag)}`
  )
  return (await response.json()) as OriginRequest[]
}

/** A tag unique to one test, sent as `x-test-tag` so the origin's log can be filtered. */
export function newTag(): string {
  return crypto.randomUUID()
}

/** Headers of an MCP POST with a key and a tag. */
export function mcpHeaders(
  key: string | undefined,
  tag: string,
  extra: Record<string, string> = {}
): Headers {
  const headers = new Headers({
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'x-test-tag': tag,
    ...extra,
  })
  if (key) headers.set('authorization', `Bearer ${key}`)
  return headers
}

/** Read every JSON-RPC message from an MCP response, JSON or SSE. */
export async function mcpMessages(response: Response): Promise<Array<Record<string, unknown>>> {
  const text = await response.text()
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    return text
      .split(/\r?\n\r?\n/)
      .flatMap((event) => {
        const data = event
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n')
        return data ? [JSON.parse(data)] : []
      })
      .flat()
  }
  const value = JSON.parse(text)
  return Array.isArray(value) ? value : [value]
}
