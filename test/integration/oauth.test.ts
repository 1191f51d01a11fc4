/**
 * OAuth 2.1 on an MCP route (src/oauth), at the protocol level inside workerd:
 * discovery, the challenge, the code flow with PKCE and a resource indicator, paid
 * calls charged to the signed-in key's account, refresh rotation, revocation of
 * the grant and of the key, and the refusals RFC 6749 / RFC 9700 name.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  admin,
  charges,
  createKey,
  GATE,
  gate,
  keyState,
  mcpHeaders,
  mcpMessages,
  newTag,
  originRequests,
  putRoutes,
  settledState,
} from '../helpers'
import {
  authorizeUrl,
  authorizeWithKey,
  openConsent,
  pkce,
  REDIRECT_URI,
  register,
  signInAndAllow,
  submitConsent,
  tokenRequest,
} from '../oauth-flow'

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 't', version: '1' },
  },
}
const SEARCH = {
  jsonrpc: '2.0',
  id: 2,
  method: 'tools/call',
  params: { name: 'search', arguments: { query: 'oauth' } },
}

beforeEach(async () => {
  await putRoutes([
    // The demo origin's stateless JSON endpoint: calls need no session.
    {
      path: '/mcp-json',
      origin: env.MCP_ORIGIN,
      mcp: {
        price: '0.001',
        tools: { search: '0.01', echo: 'free' },
        oauth: { trial: { credits: '0.05', perAddressPerDay: 1 } },
      },
    },
    { path: '/mcp', origin: env.MCP_ORIGIN, mcp: { price: '0.001', oauth: { challenge: 'paid' } } },
  ])
})

function call(token: string | undefined, body: unknown, tag = newTag()): Promise<Response> {
  return gate('/mcp-json', {
    method: 'POST',
    headers: mcpHeaders(token, tag),
    body: JSON.stringify(body),
  })
}

describe('OAuth discovery and the challenge', () => {
  it('challenges a credential-less initialize with the resource metadata, and publishes both metadata documents', async () => {
    const response = await call(undefined, INITIALIZE)
    expect(response.status).toBe(401)
    const challenge = response.headers.get('www-authenticate') ?? ''
    expect(challenge).toContain(
      `resource_metadata="${GATE}/.well-known/oauth-protected-resource/mcp-json"`
    )
    const resource = (await (
      await gate('/.well-known/oauth-protected-resource/mcp-json')
    ).json()) as Record<string, unknown>
    expect(resource).toMatchObject({
      resource: `${GATE}/mcp-json`,
      authorization_servers: [GATE],
      scopes_supported: ['mcp'],
    })
    const server = (await (await gate('/.well-known/oauth-authorization-server')).json()) as Record<
      string,
      unknown
    >
    expect(server).toMatchObject({
      issuer: GATE,
      authorization_endpoint: `${GATE}/oauth/authorize`,
      token_endpoint: `${GATE}/oauth/token`,
      registration_endpoint: `${GATE}/oauth/register`,
      code_challenge_methods_supported: ['S256'],
      // Client ID Metadata Documents: on, with the global_fetch_strictly_public flag of wrangler.toml.
      client_id_metadata_document_supported: true,
    })
  })

  it('lets key holders through, and challenges nobody on a "paid" route until a priced call', async () => {
    const { key } = await createKey('1')
    expect((await call(key, INITIALIZE)).status).toBe(200)
    const free = await gate('/mcp', {
      method: 'POST',
      headers: mcpHeaders(undefined, newTag()),
      body: JSON.stringify(INITIALIZE),
    })
    expect(free.status).toBe(200)
    const priced = await gate('/mcp', {
      method: 'POST',
      headers: mcpHeaders(undefined, newTag()),
      body: JSON.stringify(SEARCH),
    })
    expect(priced.status).toBe(401)
    expect(priced.headers.get('www-authenticate')).toContain(
      '/.well-known/oauth-protected-resource/mcp"'
    )
  })
})

describe('an access token pays from its key account', () => {
  it('charges calls made with the token to the account, exactly as the key, and never forwards the token', async () => {
    const { id, key } = await createKey('1')
    const tokens = await authorizeWithKey(key)
    const tag = newTag()
    const answer = await call(tokens.access_token, SEARCH, tag)
    expect(answer.status).toBe(200)
    const [message] = await mcpMessages(answer)
    expect(message).toHaveProperty('result')
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01'])
    expect(state.credits).toBe('0.99')
    expect(state.ledger[0]?.label).toContain('tools/call search')
    const seen = await originRequests(tag)
    expect(seen.length).toBeGreaterThan(0)
    for (const request of seen)
      expect(JSON.stringify(request.headers)).not.toContain(tokens.access_token.split(':')[2])
  })

  it('refreshes with rotation: the new tokens pay, the old refresh token is refused once the new one is used', async () => {
    const { id, key } = await createKey('1')
    const tokens = await authorizeWithKey(key)
    const refreshed = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: tokens.clientId,
    })
    expect(refreshed.status).toBe(200)
    const next = (await refreshed.json()) as { access_token: string; refresh_token: string }
    expect(next.refresh_token).not.toBe(tokens.refresh_token)
    expect((await call(next.access_token, SEARCH)).status).toBe(200)
    const again = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: next.refresh_token,
      client_id: tokens.clientId,
    })
    expect(again.status).toBe(200)
    const old = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: tokens.clientId,
    })
    expect(old.status).toBe(400)
    expect(await old.json()).toMatchObject({ error: 'invalid_grant' })
    expect(charges(await settledState(id))).toEqual(['-0.01'])
  })

  it('stops at once when the grant is revoked (RFC 7009), and charges nothing more', async () => {
    const { id, key } = await createKey('1')
    const tokens = await authorizeWithKey(key)
    const revoked = await tokenRequest({
      token: tokens.refresh_token,
      token_type_hint: 'refresh_token',
      client_id: tokens.clientId,
    })
    expect(revoked.status).toBe(200)
    const tag = newTag()
    const refused = await call(tokens.access_token, SEARCH, tag)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"')
    expect(await originRequests(tag)).toEqual([])
    expect(charges(await keyState(id))).toEqual([])
  })

  it('revokes the whole grant when an access token of it is revoked (RFC 7009 §2.1)', async () => {
    const { key } = await createKey('1')
    const tokens = await authorizeWithKey(key)
    expect(
      (await tokenRequest({ token: tokens.access_token, client_id: tokens.clientId })).status
    ).toBe(200)
    expect((await call(tokens.access_token, SEARCH)).status).toBe(401)
    const refresh = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: tokens.clientId,
    })
    expect(refresh.status).toBe(400)
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('does not revoke anything for a token it cannot vouch for', async () => {
    const { key } = await createKey('1')
    const tokens = await authorizeWithKey(key)
    const [user, grant] = tokens.access_token.split(':')
    expect(
      (await tokenRequest({ token: `${user}:${grant}:forged`, client_id: tokens.clientId })).status
    ).toBe(200)
    expect((await call(tokens.access_token, SEARCH)).status).toBe(200)
  })

  it('stops at once when the account revokes the grant, while KV still holds its tokens', async () => {
    const { id, key } = await createKey('1')
    const tokens = await authorizeWithKey(key)
    const keyHash = Array.from(
      new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key))),
      (byte) => byte.toString(16).padStart(2, '0')
    ).join('')
    const grant = tokens.access_token.split(':')[1] ?? ''
    expect(await env.CREDITS.getByName(keyHash).revokeGrant(grant)).toBe(true)
    const tag = newTag()
    const refused = await call(tokens.access_token, SEARCH, tag)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"')
    expect(await originRequests(tag)).toEqual([])
    expect(charges(await keyState(id))).toEqual([])
  })

  it('re-authorizing a client replaces its grant: the earlier one stops paying at once', async () => {
    const { id, key } = await createKey('1')
    const first = await authorizeWithKey(key)
    const second = await authorizeWithKey(key, undefined, first.clientId)
    const keyHash = Array.from(
      new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key))),
      (byte) => byte.toString(16).padStart(2, '0')
    ).join('')
    // Revoked in the account itself, not only in KV.
    const revokedAt = await runInDurableObject(
      env.CREDITS.getByName(keyHash),
      (_account, state) =>
        state.storage.sql
          .exec<{ revoked_at: number | null }>(
            'SELECT revoked_at FROM oauth_grants WHERE id = ?',
            first.access_token.split(':')[1] ?? ''
          )
          .one().revoked_at
    )
    expect(revokedAt).not.toBeNull()
    expect((await call(first.access_token, SEARCH)).status).toBe(401)
    expect((await call(second.access_token, SEARCH)).status).toBe(200)
    expect(charges(await settledState(id))).toEqual(['-0.01'])
  })

  it('stops at once when the key is revoked or rotated', async () => {
    const first = await createKey('1')
    const a = await authorizeWithKey(first.key)
    expect((await admin(`/keys/${first.id}/revoke`, { method: 'POST' })).status).toBe(200)
    const refused = await call(a.access_token, SEARCH)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"')

    const second = await createKey('1')
    const b = await authorizeWithKey(second.key)
    expect((await admin(`/keys/${second.id}/rotate`, { method: 'POST' })).status).toBe(200)
    expect((await call(b.access_token, SEARCH)).status).toBe(401)
    expect(charges(await keyState(second.id))).toEqual([])
  })
})

describe('refusals', () => {
  it('refuses a token for another resource (audience), a made-up token, and a replayed code', async () => {
    const { key } = await createKey('1')
    const other = await authorizeWithKey(key, `${GATE}/mcp`)
    const wrong = await call(other.access_token, SEARCH)
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token')
    expect((await call('user:grant:not-a-token', SEARCH)).status).toBe(401)

    const clientId = await register()
    const { verifier, challenge } = await pkce()
    const page = await openConsent(authorizeUrl({ clientId, challenge, method: 'S256' }))
    const answer = await signInAndAllow(page, key)
    const code = new URL(answer.headers.get('location') ?? '').searchParams.get('code') ?? ''
    const exchange = {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
      client_id: clientId,
    }
    expect((await tokenRequest(exchange)).status).toBe(200)
    const replay = await tokenRequest(exchange)
    expect(replay.status).toBe(400)
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('refuses a wrong redirect URI on the page itself, and a missing or plain PKCE challenge back at the client', async () => {
    const clientId = await register()
    const wrong = await openConsent(
      authorizeUrl({
        clientId,
        challenge: (await pkce()).challenge,
        method: 'S256',
        redirectUri: 'https://evil.example/cb',
      })
    )
    expect(wrong.response.status).toBe(400)
    expect(wrong.response.headers.get('location')).toBeNull()
    for (const params of [
      {},
      { challenge: 'plain-challenge-plain-challenge-plain-challenge-1234', method: 'plain' },
    ]) {
      const page = await openConsent(authorizeUrl({ clientId, ...params }))
      expect(page.response.status).toBe(302)
      const location = new URL(page.response.headers.get('location') ?? '')
      expect(location.origin + location.pathname).toBe(REDIRECT_URI)
      expect(location.searchParams.get('error')).toBe('invalid_request')
      expect(location.searchParams.get('state')).toBe('state-1')
    }
  })

  it('shows the signed-in account and its tool lists as what the client may use, never the key', async () => {
    const { key } = await createKey('1', {
      name: 'Tool-limited',
      policy: { allowTools: ['search', 'echo'], denyTools: ['echo'] },
    })
    const clientId = await register()
    const page = await openConsent(
      authorizeUrl({ clientId, challenge: (await pkce()).challenge, method: 'S256' })
    )
    const confirm = await submitConsent(page, { decision: 'key', key })
    const html = await confirm.text()
    expect(html).toContain('Signed in to <strong>Tool-limited</strong>, with $1 available')
    expect(html).toContain('only <code>search</code>, <code>echo</code>, never <code>echo</code>')
    expect(html).not.toContain(key)
    // A sign-in is for its own page only.
    const other = await openConsent(
      authorizeUrl({ clientId, challenge: (await pkce()).challenge, method: 'S256' })
    )
    const signin = /name="signin" value="([^"]+)"/.exec(html)?.[1] ?? ''
    expect((await submitConsent(other, { decision: 'allow', signin })).status).toBe(400)
  })

  it('refuses a wrong key before the page is used, and a denial sends access_denied', async () => {
    const clientId = await register()
    const page = await openConsent(
      authorizeUrl({ clientId, challenge: (await pkce()).challenge, method: 'S256' })
    )
    expect(page.html).toContain('Test &#60;b&#62;Client&#60;/b&#62;')
    expect(page.html).toContain('127.0.0.1')
    expect(page.html).toContain('$0.01')
    const wrong = await submitConsent(page, { decision: 'key', key: `pg_${'x'.repeat(43)}` })
    expect(wrong.status).toBe(400)
    const denied = await submitConsent(page, { decision: 'deny' })
    expect(denied.status).toBe(302)
    expect(new URL(denied.headers.get('location') ?? '').searchParams.get('error')).toBe(
      'access_denied'
    )
  })
})

async function trialKeys(): Promise<number> {
  let count = 0
  let cursor: string | null = ''
  while (cursor !== null) {
    const page = (await (
      await admin(
        `/keys?q=${encodeURIComponent('OAuth trial')}&limit=100${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`
      )
    ).json()) as { keys: Array<{ name: string }>; next: string | null }
    count += page.keys.filter((key) => key.name.startsWith('OAuth trial')).length
    cursor = page.next
  }
  return count
}

describe('the free trial', () => {
  it('makes a new account with the trial credits, once per address per day', async () => {
    const before = await trialKeys()
    const address = { 'cf-connecting-ip': `198.51.100.${Math.floor(Math.random() * 250)}` }
    const clientId = await register()
    const { verifier, challenge } = await pkce()
    const page = await openConsent(authorizeUrl({ clientId, challenge, method: 'S256' }))
    expect(page.html).toContain('$0.05 of credits')
    const answer = await gate('/oauth/authorize', {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: page.cookie,
        ...address,
      },
      body: new URLSearchParams({ handle: page.handle, decision: 'trial' }),
    })
    expect(answer.status).toBe(302)
    const code = new URL(answer.headers.get('location') ?? '').searchParams.get('code') ?? ''
    const tokens = (await (
      await tokenRequest({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: REDIRECT_URI,
        client_id: clientId,
      })
    ).json()) as { access_token: string }
    const paid = await call(tokens.access_token, SEARCH)
    expect(paid.status).toBe(200)
    expect(paid.headers.get('x-credits-remaining')).toBe('0.04')

    const second = await openConsent(authorizeUrl({ clientId, challenge, method: 'S256' }))
    const refused = await gate('/oauth/authorize', {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: second.cookie,
        ...address,
      },
      body: new URLSearchParams({ handle: second.handle, decision: 'trial' }),
    })
    expect(refused.status).toBe(429)
    expect(await trialKeys()).toBe(before + 1)
  })
})

describe('secrets stay secret', () => {
  const lines: string[] = []
  beforeEach(() => {
    for (const level of ['log', 'info', 'warn', 'error'] as const) {
      vi.spyOn(console, level).mockImplementation(
        (...args: unknown[]) => void lines.push(args.map(String).join(' '))
      )
    }
  })
  afterEach(() => {
    vi.restoreAllMocks()
    lines.length = 0
  })

  it('logs no key and no token, and pages never show them, through the flow and its refusals', async () => {
    const { key } = await createKey('1')
    const tokens = await authorizeWithKey(key)
    await call(tokens.access_token, SEARCH)
    await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: tokens.clientId,
    })
    await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: tokens.clientId,
    })
    await call(`${tokens.access_token}x`, SEARCH)
    await tokenRequest({
      grant_type: 'authorization_code',
      code: `${tokens.access_token}`,
      code_verifier: 'x'.repeat(43),
      redirect_uri: REDIRECT_URI,
      client_id: tokens.clientId,
    })
    const clientId = await register()
    const page = await openConsent(
      authorizeUrl({ clientId, challenge: (await pkce()).challenge, method: 'S256' })
    )
    const wrong = await (
      await submitConsent(page, { decision: 'key', key: `${key.slice(0, -1)}A` })
    ).text()
    const secrets = [
      key,
      tokens.access_token.split(':')[2] ?? '',
      tokens.refresh_token.split(':')[2] ?? '',
    ]
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(20)
      for (const line of lines) expect(line).not.toContain(secret)
      expect(page.html).not.toContain(secret)
      expect(wrong).not.toContain(secret)
    }
    expect(wrong).not.toContain(key.slice(3, 20))
    // The gate's own log lines were seen (the spy works in the worker's isolate).
    expect(lines.some((line) => line.startsWith('pay-gate: OAuth invalid_grant'))).toBe(true)
  })
})
