/**
 * The OAuth authorization code flow against the gate in workerd, by hand, as an
 * MCP client and a person at the consent page would drive it without a browser:
 * registration (RFC 7591), the consent page and its form, the code exchange with
 * PKCE (RFC 7636 S256) and a resource indicator (RFC 8707). Each step returns the
 * raw response so tests can assert refusals.
 */
import { expect } from 'vitest'
import { GATE, gate } from './helpers'

export const REDIRECT_URI = 'http://127.0.0.1:7777/callback'

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)))
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)))
  )
  return { verifier, challenge }
}

export async function register(
  redirectUris = [REDIRECT_URI],
  name = 'Test <b>Client</b>'
): Promise<string> {
  const response = await gate('/oauth/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: name,
      redirect_uris: redirectUris,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    }),
  })
  expect(response.status).toBe(201)
  return ((await response.json()) as { client_id: string }).client_id
}

export interface AuthorizeParams {
  clientId: string
  challenge?: string
  method?: string
  redirectUri?: string
  resource?: string
  state?: string
}

export function authorizeUrl(params: AuthorizeParams): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: params.clientId,
    redirect_uri: params.redirectUri ?? REDIRECT_URI,
    state: params.state ?? 'state-1',
    scope: 'mcp',
  })
  if (params.challenge !== undefined) query.set('code_challenge', params.challenge)
  if (params.method !== undefined) query.set('code_challenge_method', params.method)
  query.set('resource', params.resource ?? `${GATE}/mcp-json`)
  return `/oauth/authorize?${query}`
}

/** The consent page: its HTML, the form's handle and the browser-binding cookie. */
export async function openConsent(
  path: string
): Promise<{ response: Response; html: string; handle: string; cookie: string }> {
  const response = await gate(path, { redirect: 'manual' })
  const html = await response.text()
  const handle = /name="handle" value="([^"]+)"/.exec(html)?.[1] ?? ''
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ')
  return { response, html, handle, cookie }
}

export async function submitConsent(
  page: { handle: string; cookie: string },
  fields: Record<string, string>
): Promise<Response> {
  return gate('/oauth/authorize', {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: page.cookie,
      origin: GATE,
    },
    body: new URLSearchParams({ handle: page.handle, ...fields }),
  })
}

/** Sign in with a key (the page then shows the account and its tool lists), and allow. */
export async function signInAndAllow(
  page: { handle: string; cookie: string },
  key: string
): Promise<Response> {
  const confirm = await submitConsent(page, { decision: 'key', key })
  expect(confirm.status).toBe(200)
  const html = await confirm.text()
  const signin = /name="signin" value="([^"]+)"/.exec(html)?.[1] ?? ''
  return submitConsent(page, { decision: 'allow', signin })
}

export function tokenRequest(fields: Record<string, string>): Promise<Response> {
  return gate('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  })
}

export interface Tokens {
  access_token: string
  refresh_token: string
  clientId: string
}

/** The whole flow for a key: a client registered, the key signed in on the consent page, the code exchanged. */
export async function authorizeWithKey(
  key: string,
  resource = `${GATE}/mcp-json`,
  client?: string
): Promise<Tokens> {
  const clientId = client ?? (await register())
  const { verifier, challenge } = await pkce()
  const page = await openConsent(authorizeUrl({ clientId, challenge, method: 'S256', resource }))
  expect(page.response.status).toBe(200)
  const answer = await signInAndAllow(page, key)
  expect(answer.status).toBe(302)
  const code = new URL(answer.headers.get('location') ?? '').searchParams.get('code') ?? ''
  const response = await tokenRequest({
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT_URI,
    client_id: clientId,
    resource,
  })
  expect(response.status).toBe(200)
  return { ...((await response.json()) as Tokens), clientId }
}
