/**
 * routes.json `discovery`: what a paid HTTP route tells catalogues about itself
 * (x402 bazaar). Its resources must be concrete paths this very route prices,
 * and its examples must fit the route's method, so a listing never names a URL
 * that is free, served by another route, or a pattern.
 */
import { describe, expect, it } from 'vitest'
import { validateRoutesFile } from '../../src/pricing'

const X402 = { network: 'eip155:84532', payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C' }

function issues(routes: unknown[]): string[] {
  const result = validateRoutesFile({ version: 1, x402: X402, routes })
  return result.ok ? [] : result.issues.map((issue) => `${issue.path}: ${issue.message}`)
}

const api = (discovery: unknown, extra: Record<string, unknown> = {}) => ({
  path: '/api/*',
  method: 'GET',
  origin: 'http://a',
  price: '0.02',
  discovery,
  ...extra,
})

describe('routes.json discovery', () => {
  it('accepts concrete resources under the route, with examples that fit its method', () => {
    expect(
      issues([
        api({
          resources: ['/api/weather', '/api/forecast/week'],
          input: { queryParams: { city: 'Paris' } },
          output: { example: { t: 1 } },
        }),
      ])
    ).toEqual([])
    expect(
      issues([
        {
          path: '/quote',
          method: 'POST',
          origin: 'http://a',
          price: '0.01',
          discovery: { input: { bodyType: 'json', body: { s: 'A' } } },
        },
      ])
    ).toEqual([])
    expect(
      issues([
        {
          path: '/quote',
          origin: 'http://a',
          price: '0.01',
          discovery: { input: { body: { s: 'A' } } },
        },
      ])
    ).toEqual([])
  })

  it('refuses a resource that is a pattern, or that the route does not match', () => {
    expect(issues([api({ resources: ['/api/*'] })])).toEqual([
      expect.stringMatching(/^routes\[0\]\.discovery\.resources\[0\]: .*concrete/),
    ])
    expect(issues([api({ resources: ['/api/users/:id'] })])).toEqual([
      expect.stringMatching(/^routes\[0\]\.discovery\.resources\[0\]: .*concrete/),
    ])
    expect(issues([api({ resources: ['/other/weather'] })])).toEqual([
      expect.stringMatching(
        /^routes\[0\]\.discovery\.resources\[0\]: .*not matched by "\/api\/\*"/
      ),
    ])
    expect(issues([api({ resources: ['api/weather'] })])).toEqual([
      expect.stringMatching(/^routes\[0\]\.discovery\.resources\[0\]: /),
    ])
  })

  it('refuses a resource an earlier route serves, so nothing listed is free or priced elsewhere', () => {
    const found = issues([
      { path: '/api/health', origin: 'http://a', free: true },
      api({ resources: ['/api/weather', '/api/HEALTH'] }),
    ])
    expect(found).toEqual([
      expect.stringMatching(/^routes\[1\]\.discovery\.resources\[1\]: .*routes\[0\]/),
    ])
  })

  it('refuses examples that do not fit the method, and discovery where bazaar has nothing to say', () => {
    expect(issues([api({ input: { body: { a: 1 } } })])).toEqual([
      expect.stringMatching(/^routes\[0\]\.discovery\.input: .*POST, PUT or PATCH/),
    ])
    expect(
      issues([
        {
          path: '/q',
          method: 'POST',
          origin: 'http://a',
          price: '0.01',
          discovery: { input: { queryParams: { a: 'b' } } },
        },
      ])
    ).toEqual([expect.stringMatching(/^routes\[0\]\.discovery\.input: .*GET, HEAD or DELETE/)])
    expect(
      issues([{ path: '/o', method: 'OPTIONS', origin: 'http://a', price: '0.01', discovery: {} }])
    ).toEqual([expect.stringMatching(/^routes\[0\]\.discovery: /)])
    expect(issues([{ path: '/f', origin: 'http://a', free: true, discovery: {} }])).toEqual([
      expect.stringMatching(/^routes\[0\]\.discovery: /),
    ])
    expect(
      issues([{ path: '/mcp', origin: 'http://a', mcp: { price: '0.01' }, discovery: {} }])
    ).toEqual([expect.stringMatching(/^routes\[0\]\.discovery: /)])
  })

  it('refuses a schema with external references (catalogues refuse them) and discovery too large for a payment header', () => {
    expect(issues([api({ input: { schema: { $ref: 'https://example.com/s.json' } } })])).toEqual([
      expect.stringMatching(/^routes\[0\]\.discovery\.input\.schema: .*\$ref/),
    ])
    expect(
      issues([
        api({
          input: {
            schema: {
              $defs: { a: { type: 'string' } },
              properties: { city: { $ref: '#/$defs/a' } },
            },
          },
        }),
      ])
    ).toEqual([])
    expect(issues([api({ output: { example: { blob: 'x'.repeat(2100) } } })])).toEqual([
      expect.stringMatching(/^routes\[0\]\.discovery: .*2048/),
    ])
    // The listed paths are not sent with a 402: they do not count.
    expect(
      issues([
        api({ resources: Array.from({ length: 100 }, (_, i) => `/api/some/longer/resource/${i}`) }),
      ])
    ).toEqual([])
    expect(issues([api({ unknown: true })])).toEqual([
      expect.stringMatching(/^routes\[0\]\.discovery\.unknown: unknown field/),
    ])
  })
})
