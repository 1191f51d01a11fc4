import { describe, expect, it } from 'vitest'
import { GOOD, run, tempDir } from './helpers'

const route = (path: string, extra: Record<string, unknown> = {}) => ({
  path,
  origin: 'http://127.0.0.1:8080',
  price: '0.01',
  ...extra,
})
const file = (routes: unknown[]) => JSON.stringify({ version: 1, routes })

const CASES: Array<{
  name: string
  text: string
  ok: boolean
  issues: Array<{ path: string; message: RegExp }>
}> = [
  { name: 'a good file', text: GOOD, ok: true, issues: [] },
  {
    name: 'invalid JSON',
    text: '{ "version": 1,',
    ok: false,
    issues: [{ path: '(root)', message: /./ }],
  },
  {
    name: 'a bad price, with its path',
    text: file([route('/a', { price: '0.0000001' })]),
    ok: false,
    issues: [{ path: 'routes[0].price', message: /6 decimals/ }],
  },
  {
    name: 'an unknown field',
    text: file([route('/a', { prise: '1' })]),
    ok: false,
    issues: [{ path: 'routes[0].prise', message: /unknown field/ }],
  },
  {
    name: 'two identical path+method',
    text: file([route('/a', { method: 'GET' }), route('/a', { method: 'get' })]),
    ok: false,
    issues: [{ path: 'routes[1].path', message: /duplicate route: routes\[0\]/ }],
  },
  {
    name: 'an exact route after a wildcard',
    text: file([route('/api/*'), route('/api/users', { method: 'POST' })]),
    ok: false,
    issues: [
      { path: 'routes[1].path', message: /never matches: routes\[0\] \(any method \/api\/\*\)/ },
    ],
  },
  {
    name: 'a wildcard with the same method first',
    text: file([route('/api/*', { method: 'GET' }), route('/api', { method: 'GET' })]),
    ok: false,
    issues: [{ path: 'routes[1].path', message: /never matches/ }],
  },
  {
    name: 'a wildcard for another method',
    text: file([route('/api/*', { method: 'GET' }), route('/api/users', { method: 'POST' })]),
    ok: true,
    issues: [],
  },
  {
    name: 'the exact route first',
    text: file([route('/api/users'), route('/api/*')]),
    ok: true,
    issues: [],
  },
  { name: 'a sibling prefix', text: file([route('/api/*'), route('/apix')]), ok: true, issues: [] },
  {
    name: 'a :param wildcard first',
    text: file([route('/users/:id/*'), route('/users/42/orders')]),
    ok: false,
    issues: [
      {
        path: 'routes[1].path',
        message: /never matches: routes\[0\] \(any method \/users\/:id\/\*\)/,
      },
    ],
  },
  {
    name: 'a :param route over a literal of the same length',
    text: file([route('/users/:id'), route('/Users/me')]),
    ok: false,
    issues: [{ path: 'routes[1].path', message: /never matches/ }],
  },
  {
    name: 'a literal first, then the :param route',
    text: file([route('/users/me'), route('/users/:id')]),
    ok: true,
    issues: [],
  },
  {
    name: 'a :param route and a longer path',
    text: file([route('/users/:id'), route('/users/1/orders')]),
    ok: true,
    issues: [],
  },
]

describe('pay-gate validate', () => {
  it.each(CASES)('$name', async ({ text, ok, issues }) => {
    const cwd = tempDir({ 'routes.json': text })
    const human = await run(['validate'], { cwd })
    expect(human.code).toBe(ok ? 0 : 1)
    if (ok) expect(human.stdout).toMatch(/routes\.json: valid, \d+ route\(s\)/)
    for (const issue of issues) expect(human.stderr).toContain(`${issue.path}: `)

    const json = await run(['validate', 'routes.json', '--json'], { cwd })
    expect(json.code).toBe(ok ? 0 : 1)
    const body = JSON.parse(json.stdout) as {
      ok: boolean
      file: string
      issues: Array<{ path: string; message: string }>
    }
    expect(body).toEqual({ ok, file: 'routes.json', issues: expect.any(Array) })
    expect(body.issues).toHaveLength(issues.length)
    issues.forEach((want, i) => {
      expect(body.issues[i]?.path).toBe(want.path)
      expect(body.issues[i]?.message).toMatch(want.message)
    })
    for (const issue of body.issues) expect(Object.keys(issue).sort()).toEqual(['message', 'path'])
  })

  it('x402 without payTo is a schema error', async () => {
    const text = JSON.stringify({
      version: 1,
      x402: { network: 'eip155:84532' },
      routes: [route('/a')],
    })
    const result = await run(['validate', '--json'], { cwd: tempDir({ 'routes.json': text }) })
    expect(result.code).toBe(1)
    expect(JSON.stringify(JSON.parse(result.stdout).issues)).toMatch(/payTo/)
  })

  it('refuses a payTo without its EIP-55 checksum (all lowercase too), showing the checksummed form', async () => {
    // All lowercase, the last character mistyped: only the checksum could have caught it.
    const text = JSON.stringify({
      version: 1,
      x402: { network: 'eip155:84532', payTo: '0x036cbd53842c5426634e7929541ec2318f3dcf7f' },
      routes: [route('/a')],
    })
    const result = await run(['validate', '--json'], { cwd: tempDir({ 'routes.json': text }) })
    expect(result.code).toBe(1)
    expect(JSON.parse(result.stdout).issues).toEqual([
      {
        path: 'x402.payTo',
        message: expect.stringMatching(
          /fails its EIP-55 checksum.*0x036CbD53842c5426634e7929541EC2318f3dCF7F/
        ),
      },
    ])
  })

  it('says which file it cannot read', async () => {
    const result = await run(['validate', 'missing.json'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/cannot read missing\.json/)
  })
})
