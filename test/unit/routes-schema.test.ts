import { describe, expect, it } from 'vitest'
import {
  compileTable,
  matchRoute,
  priceMcpRequest,
  validateRoutesFile,
  type PriceTable,
} from '../../src/pricing'

const CONTRACT = {
  version: 1,
  routes: [
    {
      path: '/mcp',
      origin: 'http://127.0.0.1:3001',
      mcp: { price: '0.001', tools: { search: '0.01', 'generate-report': '0.05', echo: 'free' } },
    },
    { path: '/api/health', origin: 'http://127.0.0.1:8080', free: true },
    { path: '/api/*', method: 'GET', origin: 'http://127.0.0.1:8080', price: '0.02' },
  ],
}

function table(file: unknown): PriceTable {
  const result = validateRoutesFile(file)
  if (!result.ok) throw new Error(JSON.stringify(result.issues))
  return compileTable(result.file)
}

describe('routes.json validation', () => {
  it('accepts the documented contract', () => {
    expect(validateRoutesFile(CONTRACT).ok).toBe(true)
  })

  it('names the exact place of each problem', () => {
    const result = validateRoutesFile({
      version: 1,
      routes: [
        {
          path: '/mcp',
          origin: 'http://a',
          mcp: { price: '0.001', tools: { search: { price: 'cheap' } } },
        },
        { path: '/x', origin: 'http://a', price: 0.02 },
        { path: '/y', origin: 'http://a', price: '0.02', free: true },
        { path: '/z', origin: 'http://a?x=1', price: '0.02', prise: '1' },
      ],
    })
    expect(result.ok).toBe(false)
    if (result.ok) return
    const paths = result.issues.map((issue) => issue.path)
    expect(paths).toContain('routes[0].mcp.tools.search.price')
    expect(paths).toContain('routes[1].price')
    expect(paths).toContain('routes[2]')
    expect(paths).toContain('routes[3].origin')
    expect(paths).toContain('routes[3].prise')
    expect(result.issues.find((i) => i.path === 'routes[1].price')?.message).toMatch(
      /decimal string/
    )
  })

  it('refuses routes over the gate’s own paths, and wildcards in the middle', () => {
    for (const path of ['/admin', '/admin/keys', '/Balance', '/api/*/x', '/a//b', '/a/../b']) {
      expect(
        validateRoutesFile({ version: 1, routes: [{ path, origin: 'http://a', free: true }] }).ok,
        path
      ).toBe(false)
    }
    expect(
      validateRoutesFile({ version: 1, routes: [{ path: '/*', origin: 'http://a', free: true }] })
        .ok
    ).toBe(true)
  })
})

describe('route matching', () => {
  const routes = table(CONTRACT)

  it('picks the first matching route in file order', () => {
    const health = matchRoute(routes, 'GET', '/api/health')
    expect(health.kind === 'matched' && health.route.pricing).toEqual({ kind: 'free' })
    const other = matchRoute(routes, 'GET', '/api/users/7')
    expect(other.kind === 'matched' && other.route.pricing).toEqual({
      kind: 'fixed',
      micros: 20_000,
    })
  })

  it.each(['/mcp', '/MCP/', '/%6Dcp', '/mcp/../mcp', '//mcp', '/./mcp', '/x/../mcp'])(
    'prices %s as /mcp and forwards it as /mcp',
    (path) => {
      const match = matchRoute(routes, 'POST', new URL(`https://gate.test${path}`).pathname)
      expect(match.kind).toBe('matched')
      if (match.kind !== 'matched') return
      expect(match.route.path).toBe('/mcp')
      expect(match.forwardPath).toBe('/mcp')
    }
  )

  it.each([
    '/API/HEALTH/../users',
    '/api//health/x',
    '/api/health/..%2F..%2Fsecret',
    '/api/%68ealth/x',
  ])('never lets %s reach a priced resource through the free route', (path) => {
    const match = matchRoute(routes, 'GET', new URL(`https://gate.test${path}`).pathname)
    if (match.kind !== 'matched') return // refused outright is fine too
    expect(match.route.pricing.kind).toBe('fixed')
    expect(match.forwardPath.startsWith('/api/')).toBe(true)
    expect(match.forwardPath).not.toMatch(/\.\.|\/\//)
  })

  it('refuses an encoded slash, which origins read in different ways', () => {
    expect(matchRoute(routes, 'GET', '/api/a%2Fb').kind).toBe('invalid-path')
    expect(matchRoute(routes, 'GET', '/api/a%5Cb').kind).toBe('invalid-path')
    expect(matchRoute(routes, 'GET', '/api/%E0%A4%A').kind).toBe('invalid-path')
  })

  it('says which methods a path takes, and has no route for unknown paths', () => {
    expect(matchRoute(routes, 'POST', '/api/users')).toEqual({
      kind: 'method-not-allowed',
      allowed: ['GET'],
    })
    expect(matchRoute(routes, 'GET', '/elsewhere')).toEqual({ kind: 'no-route' })
  })
})

describe('MCP prices', () => {
  const mcp = table(CONTRACT).routes[0]
  const book = mcp?.pricing.kind === 'mcp' ? mcp.pricing.book : undefined
  if (!book) throw new Error('no MCP book')

  it('prices tools by name, free tools at zero, unknown tools at the default', () => {
    expect(priceMcpRequest(book, 'tools/call', 'search').micros).toBe(10_000)
    expect(priceMcpRequest(book, 'tools/call', 'echo').micros).toBe(0)
    expect(priceMcpRequest(book, 'tools/call', 'unlisted').micros).toBe(1_000)
  })

  it('keeps discovery free and charges every other method the default', () => {
    for (const method of [
      'initialize',
      'ping',
      'tools/list',
      'resources/list',
      'resources/templates/list',
      'prompts/list',
    ]) {
      expect(priceMcpRequest(book, method).micros, method).toBe(0)
    }
    for (const method of ['resources/read', 'prompts/get', 'completion/complete', 'made/up']) {
      expect(priceMcpRequest(book, method).micros, method).toBe(1_000)
    }
  })

  it('lets a route price or free any method', () => {
    const custom = table({
      version: 1,
      routes: [
        {
          path: '/m',
          origin: 'http://a',
          mcp: { price: '0.5', methods: { 'tools/list': '0.1', 'prompts/get': 'free' } },
        },
      ],
    }).routes[0]
    const customBook = custom?.pricing.kind === 'mcp' ? custom.pricing.book : book
    expect(priceMcpRequest(customBook, 'tools/list').micros).toBe(100_000)
    expect(priceMcpRequest(customBook, 'prompts/get').micros).toBe(0)
  })
})

describe('mcp.oauth', () => {
  const route = (oauth: unknown, extra: Record<string, unknown> = {}) => ({
    version: 1,
    routes: [{ path: '/mcp', origin: 'http://a', mcp: { price: '0.001', oauth }, ...extra }],
  })

  it('compiles true to the defaults, and a trial to micro-dollars with its limits', () => {
    expect(table(route(true)).routes[0]?.oauth).toEqual({ challenge: 'initialize' })
    expect(
      table(route({ challenge: 'paid', trial: { credits: '0.10' } })).routes[0]?.oauth
    ).toEqual({
      challenge: 'paid',
      trial: { micros: 100_000, days: 7, perAddress: 1, perDay: 100, allowTools: null },
    })
  })

  it('refuses a pattern path, a route without credits, an unknown challenge and a trial of nothing', () => {
    const problems = (file: unknown) => {
      const result = validateRoutesFile(file)
      return result.ok ? [] : result.issues.map((issue) => issue.path)
    }
    expect(
      problems({
        version: 1,
        routes: [{ path: '/mcp/*', origin: 'http://a', mcp: { price: '0.001', oauth: true } }],
      })
    ).toEqual(['routes[0].mcp.oauth'])
    expect(
      problems(
        route(true, {
          accept: ['x402'],
          x402: {
            payTo: '0x1111111111111111111111111111111111111111',
            network: 'eip155:84532',
            facilitator: { url: 'https://x402.org/facilitator' },
          },
        })
      )
    ).toContain('routes[0].mcp.oauth')
    expect(problems(route({ challenge: 'sometimes' }))).toEqual(['routes[0].mcp.oauth.challenge'])
    expect(problems(route({ trial: { credits: '0' } }))).toEqual([
      'routes[0].mcp.oauth.trial.credits',
    ])
  })
})
