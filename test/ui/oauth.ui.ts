/**
 * OAuth for MCP clients end to end: the official MCP SDK client's OAuth support
 * (an `OAuthClientProvider`) against the real gate (a local server, test/ui/
 * gate-server.ts) in front of the demo MCP origin. The client is challenged,
 * discovers the resource and the authorization server, registers (RFC 7591) and
 * sends a person to the consent page with PKCE; the person, in headless
 * Chromium, signs in with an API key (or takes the free trial). Then the client's
 * paid calls are charged to that account (balance and ledger), a refresh works,
 * and revoking the grant stops the client.
 */
import { randomBytes } from 'node:crypto'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  auth,
  UnauthorizedError,
  type OAuthClientProvider,
} from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDemoOrigin, type DemoOrigin } from '../../scripts/demo-origin'
import { startGateServer, type GateServer } from './gate-server'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** Where the authorization server sends the browser back; nothing listens, the test reads the request. */
const REDIRECT_URL = 'http://127.0.0.1:9/callback'

/** An MCP client's OAuth state, in memory, as a desktop client keeps it. */
class MemoryProvider implements OAuthClientProvider {
  client?: OAuthClientInformationMixed
  saved?: OAuthTokens
  verifier = ''
  authorizationUrl?: URL
  constructor(private readonly name: string) {}
  get redirectUrl(): string {
    return REDIRECT_URL
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.name,
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  }
  clientInformation() {
    return this.client
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier
  }
  codeVerifier() {
    return this.verifier
  }
}

let origin: DemoOrigin
let gate: GateServer
let browser: Browser
let mcpUrl: URL
const clients: Client[] = []

beforeAll(async () => {
  origin = await startDemoOrigin({ mcpPort: 0, apiPort: 0, quiet: true })
  gate = await startGateServer(`ui-${randomBytes(16).toString('hex')}`)
  await gate.putRoutes({
    routes: [
      {
        path: '/mcp',
        origin: `http://127.0.0.1:${origin.mcpPort}`,
        mcp: {
          price: '0.001',
          tools: { search: '0.01', echo: 'free' },
          oauth: { trial: { credits: '0.05', days: 3 } },
        },
      },
    ],
  })
  mcpUrl = new URL('/mcp', gate.url)
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
})

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()))
  await browser?.close()
  await gate?.close()
  await origin?.close()
})

/** Connect with OAuth: challenged, then the person at the consent page does `consent`, then connected. */
async function connectWithOAuth(
  provider: MemoryProvider,
  consent: (page: import('playwright-core').Page) => Promise<void>
): Promise<Client> {
  const first = new Client({ name: 'oauth-ui-test', version: '1.0.0' })
  const challenged = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider })
  await expect(first.connect(challenged)).rejects.toBeInstanceOf(UnauthorizedError)
  expect(provider.authorizationUrl?.pathname).toBe('/oauth/authorize')
  expect(provider.authorizationUrl?.searchParams.get('code_challenge_method')).toBe('S256')
  expect(provider.authorizationUrl?.searchParams.get('resource')).toBe(mcpUrl.href)
  const context = await browser.newContext()
  const page = await context.newPage()
  const redirected = page.waitForRequest((request) => request.url().startsWith(REDIRECT_URL))
  await page.goto(provider.authorizationUrl!.href)
  await consent(page)
  const code = new URL((await redirected).url()).searchParams.get('code')
  await context.close()
  expect(code).toBeTruthy()
  await challenged.finishAuth(code!)
  const client = new Client({ name: 'oauth-ui-test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }))
  clients.push(client)
  return client
}

describe('an MCP client with OAuth, and a person at the consent page', () => {
  it('signs in with an API key; the calls are charged to its account; refresh works; revoking the grant stops it', async () => {
    const created = await gate.admin('/keys', {
      method: 'POST',
      body: { name: 'OAuth holder', credits: '1' },
    })
    expect(created.status).toBe(201)
    const provider = new MemoryProvider('Desk <i>Client</i>')
    let shown = ''
    let confirmed = ''
    const client = await connectWithOAuth(provider, async (page) => {
      shown = await page.content()
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(
        'Allow Desk <i>Client</i> to use /mcp?'
      )
      expect(await page.getByText('Access goes to an app on this computer').count()).toBe(1)
      expect(await page.getByRole('row', { name: /search/ }).textContent()).toContain('$0.01')
      await page.getByLabel(/API key/).fill(created.body.key)
      await page.getByRole('button', { name: 'Sign in' }).click()
      // The account it signed in to, and what the client may use with it: the key's tool lists.
      await page
        .getByRole('heading', { name: 'Allow Desk <i>Client</i> to use this account?' })
        .waitFor()
      expect(await page.getByText('Signed in to OAuth holder').count()).toBe(1)
      expect(await page.getByRole('listitem').textContent()).toContain('every tool of this server')
      confirmed = await page.content()
      await page.getByRole('button', { name: 'Allow' }).click()
    })
    expect(confirmed).not.toContain(created.body.key)
    expect(shown).not.toContain(created.body.key)
    expect(shown).toContain('127.0.0.1')

    const result = await client.callTool({ name: 'search', arguments: { query: 'oauth' } })
    expect(result.isError).toBeFalsy()
    await client.callTool({ name: 'echo', arguments: { text: 'free' } })
    const state = await settledKey(created.body.id)
    expect(state.credits).toBe('0.99')
    expect(
      state.ledger
        .filter((row: { kind: string }) => row.kind === 'charge')
        .map((row: { amount: string }) => row.amount)
    ).toEqual(['-0.01'])

    // Refresh: new tokens (rotated), and they pay.
    const before = provider.saved!
    expect(await auth(provider, { serverUrl: mcpUrl })).toBe('AUTHORIZED')
    expect(provider.saved!.access_token).not.toBe(before.access_token)
    expect(provider.saved!.refresh_token).not.toBe(before.refresh_token)
    await client.callTool({ name: 'search', arguments: { query: 'after refresh' } })
    expect((await settledKey(created.body.id)).credits).toBe('0.98')

    // Revoking the grant (RFC 7009) stops the client: its next call is refused (401), and so is its refresh token.
    const revoked = await fetch(new URL('/oauth/token', gate.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: provider.saved!.refresh_token!,
        token_type_hint: 'refresh_token',
        client_id: provider.client!.client_id,
      }),
    })
    expect(revoked.status).toBe(200)
    await expect(
      client.callTool({ name: 'search', arguments: { query: 'revoked' } })
    ).rejects.toThrow()
    const refresh = await fetch(new URL('/oauth/token', gate.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: provider.saved!.refresh_token!,
        client_id: provider.client!.client_id,
      }),
    })
    expect(refresh.status).toBe(400)
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await settledKey(created.body.id)).credits).toBe('0.98')
  })

  it('takes the free trial: a new account with the trial credits pays the calls', async () => {
    const provider = new MemoryProvider('Trial Client')
    const client = await connectWithOAuth(provider, async (page) => {
      expect(await page.getByText('$0.05 of credits for 3 days').count()).toBe(1)
      await page.getByRole('button', { name: 'Start the trial and allow' }).click()
    })
    await client.callTool({ name: 'search', arguments: { query: 'trial' } })
    const keys = await gate.admin('/keys?limit=100')
    const trial = keys.body.keys.find((key: { name: string }) => key.name.startsWith('OAuth trial'))
    expect(trial).toBeDefined()
    expect((await settledKey(trial.id)).credits).toBe('0.04')
  })
})

/** The key's state once nothing is held (settlement runs after the response). */
async function settledKey(
  id: string
): Promise<{ credits: string; ledger: Array<{ kind: string; amount: string }> }> {
  for (let tries = 0; ; tries++) {
    const state = await gate.admin(`/keys/${id}?ledger=100`)
    if ((state.body.held === '0' && state.body.inFlight === 0) || tries > 300) return state.body
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
