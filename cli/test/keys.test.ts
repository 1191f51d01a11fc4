import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { run } from './helpers'

interface Seen {
  method: string
  url: string
  authorization?: string
  contentType?: string
  body: unknown
}

const TOKEN = 'admin-token-0123456789abcdef'
const KEY = { id: 'key_1', name: 'agent', status: 'active', credits: '5', held: '0', balance: '5' }
let server: Server
let url: string
let seen: Seen[] = []

async function readBody(req: IncomingMessage): Promise<unknown> {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  return text ? JSON.parse(text) : undefined
}

/** Mimics the gate's admin API answers. */
beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req)
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      body,
    })
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(json))
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return send(401, { error: { code: 'unauthorized', message: 'admin token required' } })
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (req.method === 'POST' && path === '/admin/keys')
      return send(201, {
        ...KEY,
        name: (body as { name: string }).name,
        key: 'pg_secret_abc',
        credits: (body as { credits: string }).credits,
      })
    if (req.method === 'GET' && path === '/admin/keys')
      return send(200, { keys: [KEY, { ...KEY, id: 'key_2', status: 'suspended' }], next: null })
    if (req.method === 'GET' && path === '/admin/keys/key_1')
      return send(200, { ...KEY, ledger: [{ kind: 'topup', amount: '5' }] })
    if (req.method === 'POST' && path === '/admin/keys/key_1/topup')
      return send(200, { ...KEY, credits: '6' })
    if (req.method === 'POST' && path === '/admin/keys/key_1/rotate')
      return send(200, { ...KEY, key: 'pg_new_secret' })
    if (req.method === 'PUT' && path === '/admin/keys/key_1/plan') {
      const plan = (body as { plan: string | null }).plan
      return send(200, { ...KEY, plan: plan === null ? null : { name: plan, kind: 'payg' } })
    }
    if (req.method === 'POST' && path === '/admin/keys/key_1/grants')
      return send(200, { ...KEY, credits: '6' })
    const status = /^\/admin\/keys\/key_1\/(suspend|resume|revoke)$/.exec(path)
    if (req.method === 'POST' && status)
      return send(200, {
        ...KEY,
        status: { suspend: 'suspended', resume: 'active', revoke: 'revoked' }[
          status[1] as 'suspend'
        ],
      })
    send(404, { error: { code: 'not_found', message: 'no such key' } })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((done) => server.close(() => done())))
beforeEach(() => {
  seen = []
})

const keys = (args: string[], env: Record<string, string> = { PAY_GATE_ADMIN_TOKEN: TOKEN }) =>
  run(['keys', ...args, '--url', url], { env })

describe('pay-gate keys', () => {
  it.each([
    {
      args: ['create', '--name', 'agent', '--credits', '5'],
      method: 'POST',
      path: '/admin/keys',
      body: { name: 'agent', credits: '5' },
      out: /created key_1 {2}"agent" {2}active {2}\$5 credits\nkey: pg_secret_abc/,
    },
    {
      args: ['list'],
      method: 'GET',
      path: '/admin/keys',
      body: undefined,
      out: /key_1 .*active[\s\S]*key_2 .*suspended/,
    },
    {
      args: ['list', '--limit', '10', '--after', 'key_0'],
      method: 'GET',
      path: '/admin/keys?limit=10&after=key_0',
      body: undefined,
      out: /key_1/,
    },
    {
      args: ['show', 'key_1', '--ledger', '5'],
      method: 'GET',
      path: '/admin/keys/key_1?ledger=5',
      body: undefined,
      out: /key_1[\s\S]*topup/,
    },
    {
      args: ['topup', 'key_1', '--credits', '1'],
      method: 'POST',
      path: '/admin/keys/key_1/topup',
      body: { credits: '1' },
      out: /topped up key_1 .*\$6 credits/,
    },
    {
      args: ['suspend', 'key_1'],
      method: 'POST',
      path: '/admin/keys/key_1/suspend',
      body: undefined,
      out: /suspended key_1 .*suspended/,
    },
    {
      args: ['resume', 'key_1'],
      method: 'POST',
      path: '/admin/keys/key_1/resume',
      body: undefined,
      out: /resumed key_1 .*active/,
    },
    {
      args: ['revoke', 'key_1'],
      method: 'POST',
      path: '/admin/keys/key_1/revoke',
      body: undefined,
      out: /revoked key_1 .*revoked/,
    },
    {
      args: ['rotate', 'key_1'],
      method: 'POST',
      path: '/admin/keys/key_1/rotate',
      body: undefined,
      out: /rotated key_1[\s\S]*new key: pg_new_secret[\s\S]*old key no longer works/,
    },
    {
      args: ['plan', 'key_1', '--plan', 'starter'],
      method: 'PUT',
      path: '/admin/keys/key_1/plan',
      body: { plan: 'starter' },
      out: /plan: starter/,
    },
    {
      args: ['plan', 'key_1', '--plan', 'none'],
      method: 'PUT',
      path: '/admin/keys/key_1/plan',
      body: { plan: null },
      out: /plan: none/,
    },
    {
      args: ['grant', 'key_1', '--credits', '1', '--expires', '2031-01-01T00:00:00Z'],
      method: 'POST',
      path: '/admin/keys/key_1/grants',
      body: { credits: '1', expiresAt: '2031-01-01T00:00:00.000Z' },
      out: /granted key_1/,
    },
  ])('keys $args.0 sends $method $path', async ({ args, method, path, body, out }) => {
    const result = await keys(args)
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(out)
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ method, url: path, authorization: `Bearer ${TOKEN}`, body })
    if (body !== undefined) expect(seen[0]?.contentType).toBe('application/json')
  })

  it('--json prints the answer as it came', async () => {
    const result = await keys(['create', '--name', 'bot', '--credits', '0.50', '--json'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({
      ...KEY,
      name: 'bot',
      key: 'pg_secret_abc',
      credits: '0.50',
    })
  })

  it('reads the token from --token-env', async () => {
    const result = await keys(['list', '--token-env', 'MY_TOKEN'], { MY_TOKEN: TOKEN })
    expect(result.code).toBe(0)
    expect(seen[0]?.authorization).toBe(`Bearer ${TOKEN}`)
  })

  it('refuses to run without a token, and sends nothing', async () => {
    const result = await keys(['list'], {})
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/\$PAY_GATE_ADMIN_TOKEN is not set/)
    expect(seen).toHaveLength(0)
  })

  it('checks credits before sending', async () => {
    const result = await keys(['topup', 'key_1', '--credits', '-1'])
    expect(result.code).toBe(2)
    expect(seen).toHaveLength(0)
  })

  it('shows the gate’s error and a hint on 401 and 404', async () => {
    const denied = await keys(['list'], { PAY_GATE_ADMIN_TOKEN: 'wrong-token-wrong-token' })
    expect(denied.code).toBe(1)
    expect(denied.stderr).toMatch(/401 admin token required[\s\S]*ADMIN_TOKEN/)
    const missing = await keys(['suspend', 'nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/POST \/admin\/keys\/nope\/suspend: 404 no such key/)
  })

  it('says when the gate cannot be reached', async () => {
    const result = await run(['keys', 'list', '--url', 'http://127.0.0.1:1'], {
      env: { PAY_GATE_ADMIN_TOKEN: TOKEN },
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/cannot reach the gate/)
  })
})
