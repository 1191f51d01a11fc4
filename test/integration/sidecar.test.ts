/**
 * Sidecar mode inside workerd: `/__pay/check` asked as a reverse proxy asks it
 * (original method and URI in headers, the caller's headers along), and
 * `/__pay/settle` with the reservation token. The origin is never called by the
 * gate here (the proxy does that; see test/sidecar/ for nginx and Caddy for real),
 * so what is checked is the answer and the ledger.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { createGate } from '../../src/app'
import type { ReserveRequest } from '../../src/credits'
import { payWithCredits } from '../../src/sidecar/payments'
import { UsageCall, type UsageEvent } from '../../src/usage'
import { CreditLedger } from '../../src/credits'
import {
  openReservation,
  sealReservation,
  type Reservation,
} from '../../src/sidecar/reservation-token'
import { TEST_SIDECAR_TOKEN } from '../constants'
import {
  admin,
  charges,
  createKey,
  gate,
  keyState,
  newTag,
  originRequests,
  putRouteTable,
} from '../helpers'
import { awaitEvents } from '../usage-helpers'
import { check, settle } from '../sidecar-helpers'

const mcp = { price: '0.001', tools: { search: '0.01', echo: 'free' } }

beforeEach(async () => {
  await putRouteTable({
    routes: [
      { path: '/api/free', origin: env.API_ORIGIN, free: true },
      {
        path: '/api/orders',
        origin: env.API_ORIGIN,
        price: '0.02',
        method: 'POST',
        accept: ['credits'],
      },
      { path: '/api/*', origin: env.API_ORIGIN, price: '0.02', method: 'GET', accept: ['credits'] },
      { path: '/mcp', origin: env.MCP_ORIGIN, mcp, accept: ['credits'] },
    ],
  })
})

const toolCall = (id: number, tool: string) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: tool, arguments: {} },
  })

describe('who may ask', () => {
  it('is off (404, like any unknown path) without SIDECAR_TOKEN, token or not', async () => {
    const app = createGate()
    const ctx = {
      waitUntil: () => undefined,
      passThroughOnException: () => undefined,
      props: {},
    } as unknown as ExecutionContext
    for (const path of ['/__pay/check', '/__pay/settle']) {
      const response = await app.fetch(
        new Request(`https://gate.test${path}`, {
          method: 'POST',
          headers: { 'x-pay-sidecar-token': TEST_SIDECAR_TOKEN },
        }),
        { ...env, SIDECAR_TOKEN: undefined },
        ctx
      )
      expect(response.status).toBe(404)
      expect(await response.json()).toMatchObject({ error: { code: 'not_found' } })
    }
  })

  it('refuses a request without the token or with a wrong one, and does not echo it', async () => {
    for (const token of [undefined, 'x', TEST_SIDECAR_TOKEN + 'x']) {
      const response = await gate('/__pay/check', {
        headers: {
          ...(token ? { 'x-pay-sidecar-token': token } : {}),
          'x-original-method': 'GET',
          'x-original-uri': '/api/free',
        },
      })
      expect(response.status).toBe(401)
      const text = await response.text()
      expect(text).toContain('unauthorized')
      expect(text).not.toContain(TEST_SIDECAR_TOKEN)
    }
  })

  it('ignores X-Original-URI on the normal gate path: a client cannot make a paid path look free', async () => {
    const tag = newTag()
    const response = await gate('/api/users', {
      headers: { 'x-original-uri': '/api/free', 'x-forwarded-uri': '/api/free', 'x-test-tag': tag },
    })
    expect(response.status).toBe(401)
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('refuses a request whose proxy and client headers disagree (a client adding the other proxy family’s headers)', async () => {
    const { id, key } = await createKey('1')
    const disguised: Array<Record<string, string>> = [
      { 'x-forwarded-uri': '/api/free' },
      { 'x-forwarded-method': 'GET', 'x-original-method': 'POST' },
    ]
    for (const extra of disguised) {
      const response = await check('GET', '/api/users', { 'x-api-key': key, ...extra })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } })
    }
    // A tools/call posing as the free GET of an MCP route.
    const posing = await check(
      'POST',
      '/mcp',
      { 'content-type': 'application/json', 'x-forwarded-method': 'GET' },
      toolCall(1, 'search')
    )
    expect(posing.status).toBe(400)
    const envoy = await gate('/__pay/check/api/users', {
      headers: { 'x-pay-sidecar-token': TEST_SIDECAR_TOKEN, 'x-original-uri': '/api/free' },
    })
    expect(envoy.status).toBe(400)
    expect(await keyState(id)).toMatchObject({ held: '0', balance: '1' })
  })

  it('answers other /__pay paths 404', async () => {
    const response = await gate('/__pay/anything', {
      headers: { 'x-pay-sidecar-token': TEST_SIDECAR_TOKEN },
    })
    expect(response.status).toBe(404)
  })
})

describe('HTTP routes', () => {
  it('lets a free route through with 200', async () => {
    const response = await check('GET', '/api/free')
    expect(response.status).toBe(200)
  })

  it('refuses an original path that resolves to another route (dot segments, backslashes, escaped slashes): the proxy forwards it raw', async () => {
    const { id, key } = await createKey('1')
    for (const uri of [
      '/api/x/%2e%2e/free',
      '/api/x/%2E%2E/%2e%2e/api/free',
      '/api/x/../free',
      '/api/x/./y',
      '/api\\x',
      '/api/x%5c..%5cfree',
      '/api/x%2f..%2ffree',
    ]) {
      const response = await check('GET', uri, { 'x-api-key': key })
      expect(response.status, uri).toBe(400)
      expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } })
    }
    // Dots inside a segment, and in the query, are ordinary characters.
    expect((await check('GET', '/api/v1.2/..x?next=../free', { 'x-api-key': key })).status).toBe(
      200
    )
    expect(await keyState(id)).toMatchObject({ held: '0.02' })
  })

  it('refuses a path not spelled as the route it matches (letter case, escaped letters, empty segments, a trailing slash on an exact route): the proxy forwards it as written', async () => {
    const { id, key } = await createKey('1')
    // Each matches the free /api/free here, and could reach the origin's paid /api/* there.
    const free = [
      '/API/FREE',
      '/api/Free',
      '/api/%66ree',
      '/api/fr%65e',
      '/api//free',
      '/api/free/',
      '/API/Free/',
      '/api/free//',
    ]
    for (const uri of free) {
      const response = await check('GET', uri)
      expect(response.status, uri).toBe(400)
      expect(await response.json(), uri).toMatchObject({
        error: { code: 'invalid_path', canonicalPath: '/api/free' },
      })
    }
    const mcpCall = await check(
      'POST',
      '/MCP',
      { 'content-type': 'application/json' },
      toolCall(1, 'echo')
    )
    expect(mcpCall.status).toBe(400)
    // An escaped letter under a wildcard is refused as well (RFC 3986 §2.3: never escaped), nothing held.
    const escaped = await check('GET', '/api/%75sers', { 'x-api-key': key })
    expect(escaped.status).toBe(400)
    expect(await escaped.json()).toMatchObject({
      error: { code: 'invalid_path', canonicalPath: '/api/users' },
    })
    expect(await keyState(id)).toMatchObject({ held: '0', balance: '1' })

    // Canonical spellings pass: the route's own, a wildcard's trailing slash (kept, as the gate keeps it),
    // other escapes, and anything in the query.
    expect((await check('GET', '/api/free?next=/API/FREE&x=%41')).status).toBe(200)
    for (const uri of ['/api/users/', '/api/caf%C3%A9', '/api/a%20b']) {
      const response = await check('GET', uri, { 'x-api-key': key, 'x-pay-settle': 'now' })
      expect(response.status, uri).toBe(200)
    }
    expect(charges(await keyState(id))).toEqual(['-0.02', '-0.02', '-0.02'])
  })

  it('refuses a non-canonical path sent the Envoy way too (after /__pay/check)', async () => {
    const response = await gate('/__pay/check/API/free', {
      headers: { 'x-pay-sidecar-token': TEST_SIDECAR_TOKEN },
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_path' } })
  })

  it('refuses an unrouted path (404), a wrong method (405) and a request with no original URI (400)', async () => {
    expect((await check('GET', '/elsewhere')).status).toBe(404)
    expect((await check('DELETE', '/api/users')).status).toBe(405)
    const none = await gate('/__pay/check', {
      headers: { 'x-pay-sidecar-token': TEST_SIDECAR_TOKEN },
    })
    expect(none.status).toBe(400)
    expect(await none.json()).toMatchObject({ error: { code: 'invalid_request' } })
  })

  it('answers an unpaid call with the gate’s own 401 body, status kept for the proxy to forward', async () => {
    const response = await check('GET', '/api/users')
    expect(response.status).toBe(401)
    expect(response.headers.get('x-pay-client-status')).toBe('401')
    expect(await response.json()).toMatchObject({
      error: { code: 'missing_api_key', price: '0.02' },
    })
  })

  it('answers a key without enough credits 402, and holds nothing', async () => {
    const { id, key } = await createKey('0.01')
    const response = await check('GET', '/api/users', { authorization: `Bearer ${key}` })
    expect(response.status).toBe(402)
    expect(await response.json()).toMatchObject({
      error: { code: 'insufficient_credits', credits: '0.01' },
    })
    expect(await keyState(id)).toMatchObject({ held: '0', balance: '0.01' })
  })

  it('holds on check, charges once on a served follow-up, and a repeated follow-up changes nothing', async () => {
    const { id, key } = await createKey('1')
    const response = await check('GET', '/api/users?page=2', { 'x-api-key': key })
    expect(response.status).toBe(200)
    expect(response.headers.get('x-credits-remaining')).toBe('0.98')
    expect(response.headers.get('x-pay-settlement')).toBe('deferred')
    expect(response.headers.get('x-pay-verified')).toBe('true')
    const token = response.headers.get('x-pay-reservation') as string
    expect(token).toMatch(/^pgr1\./)
    expect(token).not.toContain(key)
    expect(await keyState(id)).toMatchObject({ held: '0.02', balance: '1' })

    const first = await settle({ 'x-pay-reservation': token, 'x-pay-upstream-status': '200' })
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({
      settled: 'charged',
      charged: '0.02',
      creditsRemaining: '0.98',
    })
    const again = await settle({}, { reservation: token, outcome: 'served' })
    expect(await again.json()).toEqual({ settled: 'already_settled' })
    const state = await keyState(id)
    expect(state).toMatchObject({ held: '0', balance: '0.98' })
    expect(charges(state)).toEqual(['-0.02'])
  })

  it('records each settled call as one usage event (charged or refunded, with its hold), and a refusal as denied', async () => {
    const { id, key } = await createKey('1')
    const served = (await check('GET', '/api/served', { 'x-api-key': key })).headers.get(
      'x-pay-reservation'
    ) as string
    const failed = (await check('GET', '/api/failed', { 'x-api-key': key })).headers.get(
      'x-pay-reservation'
    ) as string
    const checkedBy = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 5))
    await settle({ 'x-pay-reservation': served, 'x-pay-upstream-status': '200' })
    await settle({ 'x-pay-reservation': failed, 'x-pay-upstream-status': '503' })
    await settle({ 'x-pay-reservation': served, 'x-pay-outcome': 'served' }) // a repeated follow-up: no second event
    const { id: brokeId, key: broke } = await createKey('0')
    expect((await check('GET', '/api/denied', { 'x-api-key': broke })).status).toBe(402)
    const events = await awaitEvents(2, 'key_id = ?', id)
    // The path is the original request's, carried through the reservation token to the settle.
    expect(
      events.map((event) => [
        event.outcome,
        event.amount,
        event.status,
        event.route,
        event.method,
        event.path,
      ])
    ).toEqual(
      expect.arrayContaining([
        ['charged', 20_000, 200, '/api/*', 'GET', '/api/served'],
        ['refunded', 0, 503, '/api/*', 'GET', '/api/failed'],
      ])
    )
    const ledger = (await keyState(id)).ledger.filter((row) => row.kind === 'charge')
    expect(ledger).toHaveLength(1)
    expect(events.find((event) => event.outcome === 'charged')?.reservationId).toBeTruthy()
    // Dated when the call arrived at the check, not when its follow-up came.
    expect(events.every((event) => event.at <= checkedBy)).toBe(true)
    expect(await awaitEvents(1, 'key_id = ?', brokeId)).toMatchObject([
      { outcome: 'denied', reason: 'insufficient_credits', path: '/api/denied' },
    ])
  })

  it("records the original request's method, not the check's", async () => {
    const { id, key } = await createKey('0')
    // The check itself is a GET (no body sent along); the call it asks about is a POST.
    expect((await check('POST', '/api/orders', { 'x-api-key': key })).status).toBe(402)
    expect(await awaitEvents(1, 'key_id = ?', id)).toMatchObject([
      { outcome: 'denied', method: 'POST', path: '/api/orders' },
    ])
  })

  it('releases the hold when the upstream failed (5xx, or nginx’s "502, 503" list), and never charges it later', async () => {
    const { id, key } = await createKey('1')
    for (const status of ['503', '200, 502']) {
      const token = (await check('GET', '/api/users', { 'x-api-key': key })).headers.get(
        'x-pay-reservation'
      ) as string
      const released = await settle({ 'x-pay-reservation': token, 'x-pay-upstream-status': status })
      expect(await released.json()).toMatchObject({ settled: 'released', charged: '0' })
      expect(
        await (await settle({ 'x-pay-reservation': token, 'x-pay-outcome': 'served' })).json()
      ).toEqual({ settled: 'already_settled' })
    }
    const state = await keyState(id)
    expect(state).toMatchObject({ held: '0', balance: '1' })
    expect(charges(state)).toEqual([])
  })

  it('given a status and an outcome, charges only when both say served: a 200 the origin broke off is released', async () => {
    const { id, key } = await createKey('1')
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'x-pay-upstream-status': '200', 'x-pay-outcome': 'failed' }, 'released'],
      [{ 'x-pay-upstream-status': '503', 'x-pay-outcome': 'served' }, 'released'],
      [{ 'x-pay-upstream-status': '200', 'x-pay-outcome': 'served' }, 'charged'],
    ]
    for (const [headers, settled] of cases) {
      const token = (await check('GET', '/api/users', { 'x-api-key': key })).headers.get(
        'x-pay-reservation'
      ) as string
      expect(await (await settle({ 'x-pay-reservation': token, ...headers })).json()).toMatchObject(
        { settled }
      )
    }
    const state = await keyState(id)
    expect(state).toMatchObject({ held: '0', balance: '0.98' })
    expect(charges(state)).toEqual(['-0.02'])
    const events = await awaitEvents(3, 'key_id = ?', id)
    expect(events.map((event) => [event.outcome, event.status]).sort()).toEqual([
      ['charged', 200],
      ['refunded', 200],
      ['refunded', 503],
    ])
  })

  it('rejects forged, altered and malformed tokens and outcomes with 400, changing nothing', async () => {
    const { id, key } = await createKey('1')
    const token = (await check('GET', '/api/users', { 'x-api-key': key })).headers.get(
      'x-pay-reservation'
    ) as string
    const flipped = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21)
    for (const bad of ['pgr1.' + 'A'.repeat(80), flipped, 'nonsense', '']) {
      const response = await settle({ 'x-pay-reservation': bad, 'x-pay-outcome': 'served' })
      expect(response.status).toBe(400)
    }
    const outcomes: Array<Record<string, string>> = [
      { 'x-pay-upstream-status': '20' },
      { 'x-pay-outcome': 'maybe' },
      {},
      { 'x-pay-outcome': 'maybe', 'x-pay-upstream-status': '200' },
    ]
    for (const headers of outcomes) {
      const response = await settle({ 'x-pay-reservation': token, ...headers })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } })
    }
    expect(await keyState(id)).toMatchObject({ held: '0.02', balance: '1' })
    await settle({ 'x-pay-reservation': token, 'x-pay-outcome': 'failed' })
  })

  it('refuses a token past its hold’s expiry: nothing is charged (the alarm releases the hold)', async () => {
    const { id, key } = await createKey('1')
    const token = (await check('GET', '/api/users', { 'x-api-key': key })).headers.get(
      'x-pay-reservation'
    ) as string
    const reservation = await openReservation(TEST_SIDECAR_TOKEN, token)
    expect(reservation).toMatchObject({ amount: 20_000, reservationId: expect.any(String) })
    const late = await sealReservation(TEST_SIDECAR_TOKEN, {
      ...(reservation as Reservation),
      expiresAt: Date.now() - 1,
    })
    const response = await settle({ 'x-pay-reservation': late, 'x-pay-outcome': 'served' })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_reservation' } })
    // Sealed under another secret: refused as well.
    const foreign = await sealReservation(
      'another-sidecar-secret-0123456789',
      reservation as Reservation
    )
    expect((await settle({ 'x-pay-reservation': foreign, 'x-pay-outcome': 'served' })).status).toBe(
      400
    )
    expect(charges(await keyState(id))).toEqual([])
    await settle({ 'x-pay-reservation': token, 'x-pay-outcome': 'failed' })
  })

  it('charges at check time with X-Pay-Settle: now, and hands out no token', async () => {
    const { id, key } = await createKey('1')
    const response = await check('GET', '/api/users', { 'x-api-key': key, 'x-pay-settle': 'now' })
    expect(response.status).toBe(200)
    expect(response.headers.get('x-pay-settlement')).toBe('charged')
    expect(response.headers.get('x-pay-reservation')).toBeNull()
    expect(response.headers.get('x-credits-remaining')).toBe('0.98')
    const state = await keyState(id)
    expect(state).toMatchObject({ held: '0', balance: '0.98' })
    expect(charges(state)).toEqual(['-0.02'])
  })

  describe('a settle-now charge whose reply is lost', () => {
    /**
     * The account namespace as the check sees it, with the reply to the first
     * `lost` reserves lost after the account committed them (the fault a
     * connection reset or an object restart makes), and every reserve counted.
     */
    function losingReplies(
      lost: number,
      afterLoss: () => Promise<unknown> = async () => undefined
    ) {
      let reserves = 0
      const credits = {
        getByName: (name: string) => {
          const stub = env.CREDITS.getByName(name)
          return new Proxy(stub, {
            get: (target, property) =>
              property === 'reserve'
                ? async (request: ReserveRequest) => {
                    const answer = await target.reserve(request)
                    if (++reserves <= lost) {
                      await afterLoss()
                      throw new Error('Network connection lost.')
                    }
                    return answer
                  }
                : Reflect.get(target, property),
          })
        },
      } as unknown as typeof env.CREDITS
      return { env: { ...env, CREDITS: credits }, reserves: () => reserves }
    }

    const usageOf = (events: UsageEvent[]) =>
      new UsageCall((event) => events.push(event), {
        at: Date.now(),
        route: '/api/*',
        method: 'GET',
        mcp: false,
        listPrice: 20_000,
      })
    const holdRequest = (fingerprint = 'body') => ({
      amount: 20_000,
      label: 'GET /api/users',
      limits: [],
      timeoutMs: 1_000,
      fingerprint: async () => fingerprint,
      describe: {},
    })
    const checkEnv = (faulty: ReturnType<typeof losingReplies>) => ({
      env: faulty.env,
      secret: TEST_SIDECAR_TOKEN,
      settleNow: true,
      waitUntil: () => undefined,
    })
    const ledgerOf = (faulty: ReturnType<typeof losingReplies>) =>
      new CreditLedger().client(faulty.env.CREDITS, 0, () => undefined)

    it("is found by the check's next try and let through, charged once, with its usage event", async () => {
      const { id, key } = await createKey('1')
      const faulty = losingReplies(1)
      const events: UsageEvent[] = []
      const headers = await payWithCredits(
        checkEnv(faulty),
        ledgerOf(faulty),
        new Headers({ 'x-api-key': key }),
        holdRequest(),
        usageOf(events)
      )
      expect(headers).toMatchObject({
        'x-pay-settlement': 'charged',
        'x-credits-remaining': '0.98',
      })
      expect(faulty.reserves()).toBe(2)
      expect(charges(await keyState(id))).toEqual(['-0.02'])
      expect(events).toMatchObject([{ outcome: 'charged', amount: 20_000, reason: null }])
    })

    it("is found even beside the client's own Idempotency-Key, whose later retry is then a replay at no charge", async () => {
      const { id, key } = await createKey('1')
      const withClientKey = new Headers({ 'x-api-key': key, 'idempotency-key': 'client-1' })
      const events: UsageEvent[] = []
      expect(
        await payWithCredits(
          checkEnv(losingReplies(1)),
          ledgerOf(losingReplies(1)),
          withClientKey,
          holdRequest(),
          usageOf(events)
        )
      ).toMatchObject({ 'x-pay-settlement': 'charged' })
      expect(
        await payWithCredits(
          checkEnv(losingReplies(0)),
          ledgerOf(losingReplies(0)),
          withClientKey,
          holdRequest(),
          usageOf(events)
        )
      ).toMatchObject({ 'x-pay-settlement': 'replayed' })
      expect(charges(await keyState(id))).toEqual(['-0.02'])
      expect(events).toMatchObject([
        { outcome: 'charged', amount: 20_000 },
        { outcome: 'charged', amount: 0, reason: 'idempotent_replay' },
      ])
    })

    it('is answered with its charge even if the key was suspended in between', async () => {
      const { id, key } = await createKey('1')
      const faulty = losingReplies(1, () => admin(`/keys/${id}/suspend`, { method: 'POST' }))
      const headers = await payWithCredits(
        checkEnv(faulty),
        ledgerOf(faulty),
        new Headers({ 'x-api-key': key }),
        holdRequest(),
        usageOf([])
      )
      expect(headers).toMatchObject({ 'x-pay-settlement': 'charged' })
      const state = await keyState(id)
      expect(state.status).toBe('suspended')
      expect(charges(state)).toEqual(['-0.02'])
    })

    it('is refused only when every try goes unanswered, without saying nothing was charged', async () => {
      const { id, key } = await createKey('1')
      const faulty = losingReplies(3)
      await expect(
        payWithCredits(
          checkEnv(faulty),
          ledgerOf(faulty),
          new Headers({ 'x-api-key': key }),
          holdRequest(),
          usageOf([])
        )
      ).rejects.toMatchObject({
        code: 'ledger_unavailable',
        message: 'Payments cannot be checked right now; retry shortly.',
      })
      expect(faulty.reserves()).toBe(3)
      // Three tries, one call: the first charged it, the two after were answered with that charge.
      expect(charges(await keyState(id))).toEqual(['-0.02'])
    })
  })

  it('takes the original path from the check URL as Envoy sends it, and the method from the request', async () => {
    const { key } = await createKey('1')
    const response = await gate('/__pay/check/api/users?x=1', {
      headers: {
        'x-pay-sidecar-token': TEST_SIDECAR_TOKEN,
        'x-api-key': key,
        'x-pay-settle': 'now',
      },
    })
    expect(response.status).toBe(200)
    const refused = await gate('/__pay/check/api/users', {
      method: 'DELETE',
      headers: { 'x-pay-sidecar-token': TEST_SIDECAR_TOKEN },
    })
    expect(refused.status).toBe(405)
  })

  it('honours Idempotency-Key like the gate: a retry of a charged call is not charged again', async () => {
    const { id, key } = await createKey('1')
    const headers = { 'x-api-key': key, 'idempotency-key': 'order-1', 'x-pay-settle': 'now' }
    expect((await check('GET', '/api/users', headers)).headers.get('x-pay-settlement')).toBe(
      'charged'
    )
    expect((await check('GET', '/api/users', headers)).headers.get('x-pay-settlement')).toBe(
      'replayed'
    )
    expect(charges(await keyState(id))).toEqual(['-0.02'])
  })

  it('identifies an Idempotency-Key call by its body: another body is not a replay, and no body at all is refused', async () => {
    const { id, key } = await createKey('1')
    const headers = { 'x-api-key': key, 'idempotency-key': 'order-2', 'x-pay-settle': 'now' }
    expect(
      (await check('POST', '/api/orders', headers, 'first')).headers.get('x-pay-settlement')
    ).toBe('charged')
    expect(
      (await check('POST', '/api/orders', headers, 'first')).headers.get('x-pay-settlement')
    ).toBe('replayed')
    const other = await check('POST', '/api/orders', headers, 'second')
    expect(other.status).toBe(422)
    const bodiless = await check('POST', '/api/orders', headers)
    expect(bodiless.status).toBe(502)
    expect(await bodiless.json()).toMatchObject({ error: { code: 'sidecar_body_missing' } })
    expect(charges(await keyState(id))).toEqual(['-0.02'])
  })
})

describe('MCP routes', () => {
  const mcpHeaders = (key?: string) => ({
    'content-type': 'application/json',
    'x-forwarded-method': 'POST',
    ...(key ? { authorization: `Bearer ${key}` } : {}),
  })

  it('prices a tools/call from the body and holds it; the follow-up charges it', async () => {
    const { id, key } = await createKey('1')
    const response = await check('POST', '/mcp', mcpHeaders(key), toolCall(1, 'search'))
    expect(response.status).toBe(200)
    expect(response.headers.get('x-credits-remaining')).toBe('0.99')
    const token = response.headers.get('x-pay-reservation') as string
    await settle({ 'x-pay-reservation': token, 'x-pay-upstream-status': '200' })
    expect(charges(await keyState(id))).toEqual(['-0.01'])
  })

  it('lets free methods and tools through without a key', async () => {
    expect((await check('POST', '/mcp', mcpHeaders(), toolCall(1, 'echo'))).status).toBe(200)
    expect(
      (
        await check(
          'POST',
          '/mcp',
          mcpHeaders(),
          JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} })
        )
      ).status
    ).toBe(200)
    expect((await check('GET', '/mcp')).status).toBe(200)
  })

  it('refuses an unpaid tools/call with the JSON-RPC -32402 answer, as 402 with X-Pay-Client-Status: 200', async () => {
    const response = await check('POST', '/mcp', mcpHeaders(), toolCall(7, 'search'))
    expect(response.status).toBe(402)
    expect(response.headers.get('x-pay-client-status')).toBe('200')
    expect(await response.json()).toMatchObject({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32402, data: { reason: 'missing_api_key', tool: 'search', price: '0.01' } },
    })
  })

  it('fails closed when the proxy sends no body (Caddy forward_auth, Traefik): nothing passes unpriced', async () => {
    const { id, key } = await createKey('1')
    const response = await check('POST', '/mcp', mcpHeaders(key))
    expect(response.status).toBe(502)
    expect(await response.json()).toMatchObject({
      error: { code: -32603, data: { reason: 'sidecar_body_missing' } },
    })
    expect(await keyState(id)).toMatchObject({ held: '0', balance: '1' })
  })
})
