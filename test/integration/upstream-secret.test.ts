/**
 * The operator's upstream credential never reaches the caller through the
 * origin's response headers: an origin that redirects with its query and echoes
 * its URL, query values and request headers (scripts/demo-origin.ts,
 * /api/echo/*) gets the secret, the caller sees "redacted" in its place, raw
 * or encoded, on free, paid and MCP routes.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { createGate } from '../../src/app'
import type { Env } from '../../src/env'
import { createKey, newTag, originRequests, putRoutes, settledState } from '../helpers'

/** A secret with characters a URL encodes: "/", "+", "=", "&", a space, "~", quotes and brackets. */
const QUERY_SECRET = "qs/Sekr3t+val=ue&x y~!'()*"
const HEADER_SECRET = 'hs-Op3rator/Token+=='

beforeEach(async () => {
  await putRoutes([
    {
      path: '/api/echo/free/*',
      origin: env.API_ORIGIN,
      free: true,
      upstreamAuth: { secret: 'ECHO_QUERY_SECRET', query: 'api_key' },
    },
    {
      path: '/api/echo/paid/*',
      origin: env.API_ORIGIN,
      price: '0.02',
      accept: ['credits'],
      upstreamAuth: { secret: 'ECHO_QUERY_SECRET', query: 'api_key' },
    },
    {
      path: '/api/echo/mcp',
      origin: env.API_ORIGIN,
      mcp: { price: '0.001' },
      upstreamAuth: { secret: 'ECHO_QUERY_SECRET', query: 'api_key' },
    },
    {
      path: '/api/echo/header/*',
      origin: env.API_ORIGIN,
      free: true,
      upstreamAuth: { secret: 'ECHO_HEADER_SECRET', header: 'X-Operator-Token', prefix: 'Token ' },
    },
  ])
})

const gateEnv = {
  ...env,
  ECHO_QUERY_SECRET: QUERY_SECRET,
  ECHO_HEADER_SECRET: HEADER_SECRET,
} as unknown as Env

async function call(path: string, headers: Record<string, string> = {}): Promise<Response> {
  const ctx = createExecutionContext()
  const response = await createGate().fetch(
    new Request(`https://gate.test${path}`, { headers }),
    gateEnv,
    ctx
  )
  await waitOnExecutionContext(ctx)
  return response
}

/** Every header value of `response`, each Set-Cookie on its own. */
const headerValues = (response: Response) =>
  [...response.headers].map(([name, value]) => `${name}: ${value}`)

/** The secret as written, and percent-encoded up to three times over, as a component and as a form value. */
function formsOf(secret: string): string[] {
  const forms = [secret]
  for (let form of [
    encodeURIComponent(secret),
    new URLSearchParams({ k: secret }).toString().slice(2),
  ]) {
    for (let depth = 0; depth < 3; depth++, form = encodeURIComponent(form))
      forms.push(
        form,
        form.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase())
      )
  }
  return forms
}

function expectNoSecret(response: Response, secret: string): void {
  const values = headerValues(response)
  for (const form of formsOf(secret)) {
    for (const value of values) expect(value, `"${form}" in ${value}`).not.toContain(form)
  }
}

describe("the operator's upstream query secret", () => {
  it('is in what the origin got, and in none of the headers the caller gets: Location, Content-Location, Link, cookies, echoes', async () => {
    const tag = newTag()
    const response = await call('/api/echo/free/page?city=paris', { 'x-test-tag': tag })
    expect(response.status).toBe(302)
    await response.text()
    // The origin did get the secret (the gate adds it as a form-encoded query value)...
    const [seen] = await originRequests(tag)
    expect(seen?.path).toBe(
      `/api/echo/free/page?city=paris&api_key=${new URLSearchParams({ k: QUERY_SECRET }).toString().slice(2)}`
    )
    // ...and echoed it in every header, which the caller gets with the secret redacted.
    expectNoSecret(response, QUERY_SECRET)
    expect(response.headers.get('location')).toBe('/api/landing?city=paris&api_key=redacted')
    expect(response.headers.get('content-location')).toBe(
      '/api/echo/free/page?city=paris&api_key=redacted'
    )
    expect(response.headers.get('link')).toBe(
      '</api/echo/free/page?city=paris&api_key=redacted>; rel="canonical"'
    )
    expect(response.headers.get('x-echo-params')).toBe('paris | redacted')
    expect(response.headers.getSetCookie()).toEqual([
      `last=${encodeURIComponent('/api/echo/free/page?city=paris&api_key=')}redacted; Path=/`,
      `again=${encodeURIComponent(encodeURIComponent('/api/echo/free/page?city=paris&api_key='))}redacted; Path=/`,
    ])
  })

  it('is scrubbed on a paid route too, and the call is charged as usual', async () => {
    const { id, key } = await createKey('1')
    const response = await call('/api/echo/paid/report', { 'x-api-key': key })
    expect(response.status).toBe(302)
    expect(await response.json()).toEqual({ redirected: true })
    expectNoSecret(response, QUERY_SECRET)
    expect(response.headers.get('location')).toBe('/api/landing?api_key=redacted')
    expect(response.headers.get('x-credits-remaining')).toBe('0.98')
    expect((await settledState(id)).credits).toBe('0.98')
  })

  it('is scrubbed on an MCP route (a GET passes through to the origin)', async () => {
    const response = await call('/api/echo/mcp')
    expect(response.status).toBe(302)
    await response.text()
    expectNoSecret(response, QUERY_SECRET)
    expect(response.headers.get('location')).toBe('/api/landing?api_key=redacted')
  })
})

describe("the operator's upstream header secret", () => {
  it('is in what the origin got, and not in an echo of its request headers', async () => {
    const tag = newTag()
    const response = await call('/api/echo/header/x', { 'x-test-tag': tag })
    await response.text()
    const [seen] = await originRequests(tag)
    expect(seen?.headers['x-operator-token']).toBe(`Token ${HEADER_SECRET}`)
    expectNoSecret(response, HEADER_SECRET)
    expect(response.headers.get('x-echo-headers')).toContain('Token redacted')
  })
})
