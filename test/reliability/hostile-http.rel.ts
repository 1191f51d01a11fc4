/**
 * Hostile requests, property-based (fast-check), against every route type
 * (free, priced, priced with a :param, x402-only, MCP):
 * - path tricks: percent-encoding, double slashes, dot segments, case, reserved
 *   paths, queries;
 * - duplicate and conflicting headers: keys in both places, keys appended twice,
 *   spoofed X-Pay-*, X-Forwarded-*, Forwarded, hop-by-hop tricks;
 * - forged, truncated and replayed PAYMENT-SIGNATURE values.
 * For every request: no 500 from the gate, no secret or stack trace in the
 * answer, nothing unpaid at the origin, no gate key at the origin, no X-Pay-*
 * the gate did not set, and at the end the ledger (and the chain) moved by
 * exactly what was served.
 */
import type { PaymentRequired } from '@x402/core/types'
import { env, exports } from 'cloudflare:workers'
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { lockName } from '../../src/x402'
import { admin, createKey, gate, GATE, originRequests, type OriginRequest } from '../helpers'
import {
  balanceOf,
  chain,
  client,
  decode,
  encode,
  freshPayTo,
  gateFetch,
  payerAddress,
  x402Block,
} from '../x402-helpers'
import { checkLedger, forAll, leaks, Tally } from './harness'

const payTo = freshPayTo()
const PAYER = 4

async function useRoutes(): Promise<void> {
  const routes = [
    { path: '/api/health', origin: env.API_ORIGIN, free: true },
    { path: '/api/users/:id', method: 'GET', origin: env.API_ORIGIN, price: '0.003' },
    {
      path: '/api/x402/*',
      method: 'GET',
      origin: env.API_ORIGIN,
      price: '0.002',
      accept: ['x402'],
    },
    { path: '/api/*', method: 'GET', origin: env.API_ORIGIN, price: '0.002' },
    {
      path: '/mcp-json',
      origin: env.MCP_ORIGIN,
      mcp: { price: '0.001', tools: { search: '0.003' } },
    },
  ]
  await env.ROUTES.put(
    'pay-gate/routes',
    JSON.stringify({ version: 1, x402: x402Block(payTo), routes })
  )
}

/** A 500 the gate made itself, or a 5xx it has no documented reason for. */
const gateError = (status: number, text: string) =>
  status === 500 ||
  (status >= 500 &&
    !/upstream_unreachable|upstream_timeout|ledger_unavailable|facilitator_unavailable/.test(text))

/** The route an origin path was forwarded for, and what a credits caller pays for it (micros). */
function routeOf(path: string): { route: string; micros: number } {
  const bare = path.split('?')[0] as string
  const segments = bare.split('/').filter(Boolean)
  if (bare === '/api/health') return { route: 'free', micros: 0 }
  if (bare === '/mcp-json') return { route: 'mcp', micros: 0 }
  if (segments[0] === 'api' && segments[1] === 'x402') return { route: 'x402', micros: 2_000 }
  if (segments[0] === 'api' && segments[1] === 'users' && segments.length === 3)
    return { route: 'users', micros: 3_000 }
  if (segments[0] === 'api') return { route: 'api', micros: 2_000 }
  return { route: 'none', micros: 0 }
}

/** A path the gate forwarded must be canonical: no empty or dot segments, no encoded separators. */
const canonical = (path: string) => {
  const bare = path.split('?')[0] as string
  return (
    bare.startsWith('/') &&
    !bare
      .slice(1)
      .split('/')
      .slice(0, -1)
      .some((s) => s === '' || s === '.' || s === '..') &&
    !/%2f|%5c|%00|%2e/i.test(bare)
  )
}

async function readAnswer(response: Response): Promise<string> {
  try {
    return await response.text()
  } catch {
    return '(broken)'
  }
}

describe('path tricks', () => {
  const pieces = [
    'api',
    'API',
    'Api',
    '%61pi',
    '%41PI',
    'health',
    'HEALTH',
    'users',
    'Users',
    '42',
    'x402',
    'X402',
    'mcp-json',
    'MCP-JSON',
    'admin',
    'ADMIN',
    '%61dmin',
    'keys',
    'balance',
    'pricing',
    'credits',
    'buy',
    '.well-known',
    'x402',
    '..',
    '.',
    '%2e',
    '%2E%2e',
    '%2e%2e',
    '',
    '%2F',
    '%5C',
    '%00',
    '%',
    '%ZZ',
    'a%20b',
    '~user',
    'ü',
    '%C3%BC',
    ';x=1',
    '*',
  ]
  const path = fc
    .record({
      segments: fc.array(fc.constantFrom(...pieces), { minLength: 0, maxLength: 6 }),
      separator: fc.constantFrom('/', '/', '//', '/./'),
      trailing: fc.constantFrom('', '', '/'),
      query: fc.constantFrom('', '?a=1', '?x=../../admin/keys', '?%2F=%00'),
    })
    .map(
      ({ segments, separator, trailing, query }) =>
        `/${segments.join(separator)}${trailing}${query}`
    )

  it('every path reaches the route it is priced as, canonically, and the admin API never', async ({
    task,
  }) => {
    const tally = new Tally(task)
    await useRoutes()
    const funded = await createKey('100')
    const keysBefore = ((await (await admin('/keys?limit=100')).json()) as { keys: unknown[] }).keys
      .length
    let charges = 0
    let charged = 0
    const input = fc.tuple(
      path,
      fc.constantFrom('GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
      fc.boolean()
    )
    await forAll(
      tally,
      'path tricks',
      input,
      async ([target, method, paying]) => {
        const tag = crypto.randomUUID()
        const withBody = method === 'POST' || method === 'PUT'
        const headers = {
          'x-test-tag': tag,
          ...(paying ? { 'x-api-key': funded.key } : {}),
          ...(withBody ? { 'content-type': 'application/json' } : {}),
        }
        let request: Request
        try {
          request = new Request(`${GATE}${target}`, {
            method,
            headers,
            body: withBody ? '{"name":"x","credits":"1000"}' : undefined,
          })
        } catch {
          return [] // not a URL at all: nothing a client could send
        }
        const response = await exports.default.fetch(request)
        const answer = await readAnswer(response)
        tally.call()
        const seen: OriginRequest[] = await originRequests(tag)
        const problems: string[] = []
        if (gateError(response.status, answer)) problems.push(`gate error ${response.status}`)
        for (const what of leaks(answer)) problems.push(`the answer shows ${what}`)
        if (response.ok && answer.includes('"keys"'))
          problems.push('reached the admin API without a token')
        if (seen.length > 1) problems.push(`forwarded ${seen.length} times`)
        for (const forwarded of seen) {
          const { route, micros } = routeOf(forwarded.path)
          if (!canonical(forwarded.path))
            problems.push(`forwarded a non-canonical path ${forwarded.path}`)
          if (route === 'none' || route === 'x402')
            problems.push(`forwarded ${forwarded.path} (${route}) without an x402 payment`)
          if (!paying && micros > 0) problems.push(`an unpaid call reached ${forwarded.path}`)
          if (paying && micros > 0 && response.status < 400 && answer !== '(broken)') {
            charges++
            charged += micros
          }
        }
        return problems.map(
          (problem) =>
            `${problem} (${method} ${target} → ${response.status} ${answer.slice(0, 100)})`
        )
      },
      300
    )
    await checkLedger(tally, { ...funded, name: 'paths' }, { charges, charged })
    const keysAfter = ((await (await admin('/keys?limit=100')).json()) as { keys: unknown[] }).keys
      .length
    tally.equal(keysAfter, keysBefore, 'no key was created through a path trick')
    tally.check(charges > 0, 'some calls were paid and served (the property is not vacuous)')
    tally.assertClean()
  })
})

describe('duplicate, conflicting and spoofed headers', () => {
  it('one key pays at most once per call, no gate key and no foreign X-Pay-* ever reaches the origin', async ({
    task,
  }) => {
    const tally = new Tally(task)
    await useRoutes()
    const a = await createKey('100')
    const b = await createKey('100')
    const forged = `pg_${'B'.repeat(43)}`
    const names = [
      'authorization',
      'Authorization',
      'x-api-key',
      'X-API-Key',
      'idempotency-key',
      'x-pay-verified',
      'X-Pay-Rail',
      'x-pay-from',
      'x-pay-amount',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'forwarded',
      'x-real-ip',
      'cf-connecting-ip',
      'connection',
      'x-payment',
      'host',
    ]
    const values = [
      `Bearer ${a.key}`,
      `bearer ${b.key}`,
      a.key,
      b.key,
      forged,
      `Bearer ${forged}`,
      'Basic dXNlcjpwYXNz',
      'Bearer some-oauth-token',
      'true',
      'free-pass',
      'credits',
      `0x${'ab'.repeat(20)}`,
      '1000000',
      'evil.example',
      'https',
      'for=203.0.113.9;host=evil.example',
      '203.0.113.9',
      'x-api-key',
      'authorization, x-pay-verified',
      '',
      ' ',
    ]
    const header = fc.tuple(
      fc.constantFrom(...names),
      fc.oneof(fc.constantFrom(...values), fc.string({ maxLength: 20 }))
    )
    let served = 0
    const input = fc.tuple(
      fc.array(header, { minLength: 1, maxLength: 6 }),
      fc.constantFrom('/api/headers', '/api/health')
    )
    await forAll(
      tally,
      'duplicate, conflicting and spoofed headers',
      input,
      async ([pairs, path]) => {
        const tag = crypto.randomUUID()
        const headers = new Headers({ 'x-test-tag': tag })
        for (const [name, value] of pairs) {
          try {
            // An Idempotency-Key is made this case's own: a key reused by a later case would make its
            // call a replay, rightly served at no charge (retries have their own scenarios).
            headers.append(
              name,
              name.toLowerCase() === 'idempotency-key' && value.trim() !== ''
                ? `${value}-${tag}`
                : value
            )
          } catch {
            // not a legal header value: a client could not send it
          }
        }
        const response = await gate(path, { headers })
        const answer = await readAnswer(response)
        tally.call()
        const seen = await originRequests(tag)
        const problems: string[] = []
        if (gateError(response.status, answer)) problems.push(`gate error ${response.status}`)
        for (const forwarded of seen) {
          // The headers a key is paid with never reach an origin (a key in some other header is the client's own doing).
          const carriers = JSON.stringify([
            forwarded.headers.authorization,
            forwarded.headers['x-api-key'],
          ])
          if (/pg_[A-Za-z0-9_-]{43}/.test(carriers))
            problems.push(`a gate key reached the origin in ${carriers.slice(0, 120)}`)
          const pay = Object.entries(forwarded.headers).filter(([name]) =>
            name.startsWith('x-pay-')
          )
          const expected =
            path === '/api/health'
              ? []
              : [
                  ['x-pay-verified', 'true'],
                  ['x-pay-rail', 'credits'],
                ]
          if (JSON.stringify(pay.sort()) !== JSON.stringify(expected.sort()))
            problems.push(`the origin got X-Pay-* ${JSON.stringify(pay)}`)
          if (path === '/api/headers' && response.status === 200 && answer !== '(broken)') served++
        }
        if (path === '/api/headers' && seen.length > 0 && response.status !== 200)
          problems.push(`forwarded, then answered ${response.status}`)
        return problems.map((problem) => `${problem} (${path} → ${response.status})`)
      },
      300
    )
    // Whichever key a call was charged to, it was charged once, for a call that was served.
    const [left, right] = [
      await checkLedger(tally, { ...a, name: 'key a' }),
      await checkLedger(tally, { ...b, name: 'key b' }),
    ]
    const rows = [...left.ledger, ...right.ledger].filter((row) => row.kind === 'charge')
    tally.equal(rows.length, served, 'charges on both keys = priced calls served')
    tally.check(
      rows.every((row) => row.amount === -2_000),
      'each charge is the route price'
    )
    tally.assertClean()
  })
})

describe('a key sent twice', () => {
  // A client (or a proxy in front of it) that sends its own Authorization as well as the gate key,
  // or the key header twice: the values arrive joined by ", ", and the gate key must still be removed.
  it('is removed before forwarding, however the header is repeated', async ({ task }) => {
    const tally = new Tally(task)
    await useRoutes()
    const { key } = await createKey('1')
    const cases: Array<[string, Array<[string, string]>]> = [
      [
        'Authorization twice',
        [
          ['authorization', 'Basic dXNlcjpwYXNz'],
          ['authorization', `Bearer ${key}`],
        ],
      ],
      [
        'X-API-Key twice',
        [
          ['x-api-key', 'legacy-origin-key'],
          ['x-api-key', key],
        ],
      ],
      ['X-API-Key with a Bearer prefix', [['x-api-key', `Bearer ${key}`]]],
    ]
    // Paid with X-API-Key, the key also in Authorization without "Bearer": the paid call forwards it.
    {
      const tag = crypto.randomUUID()
      const paid = await gate('/api/headers', {
        headers: { 'x-test-tag': tag, 'x-api-key': key, authorization: key },
      })
      await paid.text()
      tally.call()
      const forwarded = await originRequests(tag)
      tally.check(
        paid.status === 200 && !JSON.stringify(forwarded.map((r) => r.headers)).includes(key),
        'X-API-Key and a bare key in Authorization, /api/headers (paid): the gate key reached the origin'
      )
    }
    for (const [what, pairs] of cases) {
      for (const path of ['/api/health', '/mcp-json']) {
        const tag = crypto.randomUUID()
        const headers = new Headers({
          'x-test-tag': tag,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        })
        for (const [name, value] of pairs) headers.append(name, value)
        const init =
          path === '/mcp-json'
            ? { method: 'POST', headers, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' }
            : { headers }
        await (await gate(path, init)).text()
        tally.call()
        const forwarded = await originRequests(tag)
        tally.check(
          !JSON.stringify(forwarded.map((r) => r.headers)).includes(key),
          `${what}, ${path} (free): the gate key reached the origin`
        )
      }
    }
    tally.assertClean()
  })
})

describe('an Idempotency-Key reused for other requests', () => {
  // README: "The same key reused for a different request gets 422." A retry is replayed free, so
  // anything that makes a different request look like the retry is a free call.
  it('a different body under the same key is refused or paid, never served free', async ({
    task,
  }) => {
    const tally = new Tally(task)
    await env.ROUTES.put(
      'pay-gate/routes',
      JSON.stringify({
        version: 1,
        routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: '0.01' }],
      })
    )
    const key = await createKey('1')
    const tag = crypto.randomUUID()
    const post = (prompt: string) =>
      gate('/api/generate', {
        method: 'POST',
        headers: {
          'x-api-key': key.key,
          'idempotency-key': 'job-1',
          'content-type': 'application/json',
          'x-test-tag': tag,
        },
        body: JSON.stringify({ prompt }),
      })
    let served = 0
    for (const prompt of ['first prompt', 'a different prompt', 'yet another prompt']) {
      const response = await post(prompt)
      await response.text()
      tally.call()
      if (response.status === 200) served++
    }
    const bodies = new Set((await originRequests(tag)).map((r) => r.body))
    // Every distinct request the origin served must have been paid for once.
    await checkLedger(tally, { ...key, name: 'idempotency' }, { charges: bodies.size })
    tally.check(
      served === bodies.size || served === 1,
      `served ${served} calls with ${bodies.size} different bodies`
    )
    tally.assertClean()
  })
})

describe('forged, truncated and replayed PAYMENT-SIGNATURE', () => {
  const setAt = (
    value: Record<string, unknown>,
    path: string[],
    to: unknown
  ): Record<string, unknown> => {
    const copy = structuredClone(value)
    let node: Record<string, unknown> = copy
    for (const part of path.slice(0, -1)) {
      if (typeof node[part] !== 'object' || node[part] === null) node[part] = {}
      node = node[part] as Record<string, unknown>
    }
    node[path.at(-1) as string] = to
    return copy
  }
  const fields = [
    ['x402Version'],
    ['accepted', 'amount'],
    ['accepted', 'payTo'],
    ['accepted', 'network'],
    ['accepted', 'scheme'],
    ['accepted', 'asset'],
    ['accepted', 'maxTimeoutSeconds'],
    ['accepted', 'extra', 'name'],
    ['payload'],
    ['payload', 'signature'],
    ['payload', 'authorization'],
    ['payload', 'authorization', 'value'],
    ['payload', 'authorization', 'to'],
    ['payload', 'authorization', 'from'],
    ['payload', 'authorization', 'nonce'],
    ['payload', 'authorization', 'validBefore'],
    ['payload', 'authorization', 'validAfter'],
    ['resource'],
    ['extensions'],
    ['accepted'],
  ]
  const junk = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(
      '0',
      '20000',
      '1'.repeat(80),
      `0x${'00'.repeat(20)}`,
      `0x${'ff'.repeat(32)}`,
      `0x${'11'.repeat(65)}`,
      -1,
      1e308,
      'eip155:1',
      '__proto__'
    )
  )

  it('only the genuine authorization is ever served, once; everything else is a 4xx that reaches no origin and moves no money', async ({
    task,
  }) => {
    const tally = new Tally(task)
    await useRoutes()
    const before = await balanceOf(payTo)
    const unpaid = await gateFetch(`${GATE}/api/x402/item`)
    await unpaid.text()
    const genuine = (await client(PAYER).createPaymentPayload(
      decode<PaymentRequired>(unpaid.headers.get('payment-required'))
    )) as unknown as Record<string, unknown>
    const header = encode(genuine)
    const signature = (genuine.payload as { signature: string }).signature
    const mutation = fc.oneof(
      fc.constant(header),
      fc.nat().map((n) => header.slice(0, n % header.length)),
      fc
        .tuple(fc.nat(), fc.constantFrom('A', 'z', '0', '+', '/', '=', '-', '_', ' ', '*'))
        .map(
          ([n, c]) => header.slice(0, n % header.length) + c + header.slice((n % header.length) + 1)
        ),
      fc
        .tuple(fc.constantFrom(...fields), junk)
        .map(([path, value]) => encode(setAt(genuine, path, value))),
      fc
        .nat({ max: 63 })
        .map((n) =>
          encode(
            setAt(
              genuine,
              ['payload', 'signature'],
              `${signature.slice(0, 2 + n * 2)}${signature[2 + n * 2] === 'a' ? 'b' : 'a'}${signature.slice(3 + n * 2)}`
            )
          )
        ),
      fc.jsonValue().map((v) => encode(v)),
      fc.string(),
      fc.constant(`${header}, ${header}`),
      fc.constant(btoa('{"x402Version":2}'))
    )
    let servedCalls = 0
    const tag = crypto.randomUUID()
    await forAll(
      tally,
      'forged, truncated and replayed payments',
      fc.tuple(mutation, fc.boolean()),
      async ([value, spoof]) => {
        const headers = new Headers({ 'x-test-tag': tag })
        try {
          headers.set('payment-signature', value)
        } catch {
          return [] // not a legal header value: a client could not send it
        }
        if (spoof)
          for (const [name, v] of [
            ['x-pay-verified', 'free-pass'],
            ['x-pay-from', payerAddress(PAYER)],
            ['x-forwarded-for', '127.0.0.1'],
          ] as const)
            headers.set(name, v)
        const response = await gate('/api/x402/item', { headers })
        const answer = await readAnswer(response)
        tally.call()
        if (value !== header) tally.fault()
        if (response.status === 200) servedCalls++
        const problems: string[] = []
        if (![200, 400, 402].includes(response.status)) problems.push(`status ${response.status}`)
        for (const what of leaks(answer)) problems.push(`the answer shows ${what}`)
        return problems.map(
          (problem) => `${problem} (${value.slice(0, 60)}… → ${answer.slice(0, 140)})`
        )
      },
      200
    )
    tally.check(
      servedCalls <= 1,
      `the genuine authorization served at most once (served ${servedCalls})`
    )
    tally.equal(
      (await originRequests(tag)).length,
      servedCalls,
      'the origin saw only the served call'
    )
    tally.equal(
      (await balanceOf(payTo)) - before,
      2_000n * BigInt(servedCalls),
      'payTo received exactly the served calls'
    )
    const { network, token } = chain()
    const records = await env.X402_LOCKS.getByName(
      lockName(network, token.address, payerAddress(PAYER))
    ).list(1000)
    tally.check(
      records.every((record) => record.state !== 'in_flight'),
      'no authorization left in flight'
    )
    tally.check(
      records.filter((record) => record.state === 'settled').length === servedCalls,
      'the lock settled exactly the served calls'
    )
    tally.assertClean()
  })
})
