/**
 * Operator webhooks through the real gate: admin actions and credit holds raise
 * events, the WebhookOutbox object delivers them to a real receiver (Node, from
 * the global setup) that checks every signature, and retries on 500 but not 400.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  deliverOnce,
  deliverWithBackoff,
  emitOperatorEvent,
  outboxStub,
  webhookSettings,
  type OutboxEntry,
  type WebhookSettings,
} from '../../src/notify'
import { TEST_WEBHOOK_SECRET } from '../constants'
import { admin, createKey, gate, putRoutes } from '../helpers'
import type { ReceivedDelivery } from '../webhook-receiver'

const receiverBase = env.OPERATOR_WEBHOOK_URL.replace(/\/hook$/, '')

async function deliveries(keyId: string): Promise<ReceivedDelivery[]> {
  return (await (
    await fetch(`${receiverBase}/deliveries?key=${keyId}`)
  ).json()) as ReceivedDelivery[]
}

/** Poll `read` until `done` holds; fail after `ms`. Deliveries happen in the outbox's alarm, after the response. */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 10_000
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline)
      throw new Error(`condition not met after ${ms} ms; last value: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const outboxEntries = (): Promise<OutboxEntry[]> => outboxStub(env.WEBHOOK_OUTBOX).entries()

function settings(overrides: Record<string, string> = {}): WebhookSettings {
  const parsed = webhookSettings({ ...env, ...overrides })
  if (!parsed) throw new Error('webhook settings refused')
  return parsed
}

describe('key events', () => {
  it('created, topped up, suspended, resumed and revoked each arrive once, signed, with the key but never its secret', async () => {
    const { id, key } = await createKey('2', { name: 'lifecycle' })
    for (const [path, body] of [
      ['topup', { credits: '3.50' }],
      ['suspend', undefined],
      ['resume', undefined],
      ['revoke', undefined],
    ] as const) {
      const response = await admin(`/keys/${id}/${path}`, {
        method: 'POST',
        ...(body ? { body: JSON.stringify(body) } : {}),
      })
      expect(response.status).toBe(200)
    }
    const received = await eventually(
      () => deliveries(id),
      (list) => list.length >= 5
    )
    expect(received.map((delivery) => delivery.eventType).sort()).toEqual(
      ['key.created', 'key.resumed', 'key.revoked', 'key.suspended', 'key.topped_up'].sort()
    )
    for (const delivery of received) {
      expect(delivery.signatureValid).toBe(true)
      expect(delivery.answered).toBe(200)
      expect(delivery.eventId).toBe(delivery.event.id)
      expect(delivery.event.id).toMatch(/^evt_[0-9a-f]{32}$/)
      expect(delivery.event.type).toBe(delivery.eventType)
      expect(delivery.event.data.key).toMatchObject({ id, name: 'lifecycle' })
      expect(JSON.stringify(delivery.event)).not.toContain(key)
    }
    const byType = Object.fromEntries(
      received.map((delivery) => [delivery.eventType, delivery.event.data])
    )
    expect(byType['key.created']).toMatchObject({ key: { status: 'active', credits: '2' } })
    expect(byType['key.topped_up']).toMatchObject({ amount: '3.5', key: { credits: '5.5' } })
    expect(byType['key.suspended']).toMatchObject({ key: { status: 'suspended' } })
    expect(byType['key.revoked']).toMatchObject({ key: { status: 'revoked' } })
    // Delivered events leave the outbox.
    const ids = new Set(received.map((delivery) => delivery.eventId))
    await eventually(outboxEntries, (entries) => !entries.some((entry) => ids.has(entry.id)))
  })

  it('a refused admin action raises nothing', async () => {
    const { id } = await createKey('1', { name: 'refused' })
    expect((await admin(`/keys/${id}/resume`, { method: 'POST' })).status).toBe(400) // already active
    expect(
      (await admin(`/keys/${id}/topup`, { method: 'POST', body: JSON.stringify({ credits: '0' }) }))
        .status
    ).toBe(400)
    const received = await eventually(
      () => deliveries(id),
      (list) => list.length >= 1
    )
    // Only key.created: wait for a later event on the same key to be sure nothing else was queued before it.
    expect((await admin(`/keys/${id}/suspend`, { method: 'POST' })).status).toBe(200)
    const all = await eventually(
      () => deliveries(id),
      (list) => list.some((d) => d.eventType === 'key.suspended')
    )
    expect(received.map((d) => d.eventType)).toEqual(['key.created'])
    expect(all.map((d) => d.eventType).sort()).toEqual(['key.created', 'key.suspended'])
  })
})

describe('retries', () => {
  it('a 500 is retried with backoff until accepted: same event id and body, each attempt freshly signed', async () => {
    const { id } = await createKey('1', { name: 'flaky webhook:500x2' })
    const received = await eventually(
      () => deliveries(id),
      (list) => list.some((d) => d.answered === 200)
    )
    expect(received.map((delivery) => delivery.answered)).toEqual([500, 500, 200])
    expect(new Set(received.map((delivery) => delivery.eventId)).size).toBe(1)
    expect(new Set(received.map((delivery) => JSON.stringify(delivery.event))).size).toBe(1)
    expect(received.every((delivery) => delivery.signatureValid)).toBe(true)
    const eventId = received[0]!.eventId
    await eventually(outboxEntries, (entries) => !entries.some((entry) => entry.id === eventId))
  })

  it('a 400 is not retried: the event is kept as failed after one attempt', async () => {
    const { id } = await createKey('1', { name: 'broken webhook:400' })
    const [first] = await eventually(
      () => deliveries(id),
      (list) => list.length >= 1
    )
    const entry = await eventually(
      async () => (await outboxEntries()).find((candidate) => candidate.id === first!.eventId),
      (found) => found?.state === 'failed'
    )
    expect(entry).toMatchObject({
      type: 'key.created',
      state: 'failed',
      attempts: 1,
      lastError: 'HTTP 400',
    })
    expect((await deliveries(id)).length).toBe(1)
  })

  it('without the outbox object, the in-request fallback retries a 500 too', async () => {
    const { id } = await createKey('1', { name: 'fallback webhook:500x1' })
    await eventually(
      () => deliveries(id),
      (list) => list.some((d) => d.answered === 200)
    ) // the outbox's own delivery
    const body = JSON.stringify({
      id: 'evt_fallback',
      type: 'key.created',
      createdAt: new Date().toISOString(),
      data: { key: { id, name: 'fallback webhook:500x1' } },
    })
    const outcome = await deliverWithBackoff(settings(), {
      id: 'evt_fallback',
      type: 'key.created',
      body,
    })
    expect(outcome).toEqual({ kind: 'delivered', status: 200 })
    const fallback = (await deliveries(id)).filter(
      (delivery) => delivery.eventId === 'evt_fallback'
    )
    expect(fallback.map((delivery) => delivery.answered)).toEqual([500, 200])
    expect(fallback.every((delivery) => delivery.signatureValid)).toBe(true)
  })
})

describe('without the WEBHOOK_OUTBOX binding', () => {
  it('events are still sent, within the request (the feature is optional)', async () => {
    const keyId = `key_nooutbox${crypto.randomUUID().slice(0, 8)}`
    const pending: Array<Promise<unknown>> = []
    emitOperatorEvent(
      { ...env, WEBHOOK_OUTBOX: undefined },
      'key.suspended',
      { key: { id: keyId, name: 'no outbox webhook:500x1' } },
      (p) => pending.push(p)
    )
    expect(pending).toHaveLength(1)
    await Promise.all(pending)
    const received = await deliveries(keyId)
    expect(
      received.map((delivery) => [delivery.eventType, delivery.answered, delivery.signatureValid])
    ).toEqual([
      ['key.suspended', 500, true],
      ['key.suspended', 200, true],
    ])
  })

  it('nothing configured: nothing is sent and nothing waits', () => {
    const pending: Array<Promise<unknown>> = []
    emitOperatorEvent(
      { WEBHOOK_OUTBOX: env.WEBHOOK_OUTBOX },
      'key.created',
      { key: { id: 'key_x' } },
      (p) => pending.push(p)
    )
    expect(pending).toEqual([])
  })
})

describe('low balance', () => {
  it('exactly the hold that crosses the threshold going down raises key.low_balance; a top-up re-arms it', async () => {
    await putRoutes([{ path: '/api/*', method: 'GET', origin: env.API_ORIGIN, price: '0.30' }])
    const { id, key } = await createKey('1.50', { name: 'spender' })
    const call = async () => {
      const response = await gate('/api/users', { headers: { authorization: `Bearer ${key}` } })
      expect(response.status).toBe(200)
      await response.text()
    }
    for (let i = 0; i < 4; i++) await call() // available 1.50 → 1.20 → 0.90 (crosses 1.00) → 0.60 → 0.30
    expect(
      (await admin(`/keys/${id}/topup`, { method: 'POST', body: JSON.stringify({ credits: '1' }) }))
        .status
    ).toBe(200) // 1.30
    for (let i = 0; i < 2; i++) await call() // 1.30 → 1.00 (not below) → 0.70 (crosses)
    const received = await eventually(
      () => deliveries(id),
      (list) =>
        list.filter((d) => d.eventType === 'key.low_balance').length >= 2 &&
        list.some((d) => d.eventType === 'key.topped_up')
    )
    await eventually(outboxEntries, (entries) =>
      entries.every((entry) => entry.state !== 'pending')
    )
    const alerts = (await deliveries(id)).filter(
      (delivery) => delivery.eventType === 'key.low_balance'
    )
    expect(
      alerts
        .map((delivery) => delivery.event.data)
        .sort((a, b) => String(b.previousCredits).localeCompare(String(a.previousCredits)))
    ).toEqual([
      { key: { id }, credits: '0.9', previousCredits: '1.2', threshold: '1' },
      { key: { id }, credits: '0.7', previousCredits: '1', threshold: '1' },
    ])
    expect(received.every((delivery) => delivery.signatureValid)).toBe(true)
  })
})

describe('address guard at delivery', () => {
  const event = (keyId: string) => ({
    id: `evt_${keyId}`,
    type: 'key.created',
    body: JSON.stringify({ data: { key: { id: keyId } } }),
  })

  it('refuses the loopback receiver without OPERATOR_WEBHOOK_ALLOW_PRIVATE, and sends nothing', async () => {
    const keyId = 'key_guard_test'
    const loopback = settings()
    const refused = { ...loopback, allowPrivate: false }
    expect(await deliverOnce(refused, event(keyId))).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('address refused'),
    })
    const httpsLoopback = { ...refused, url: new URL(loopback.url.href.replace('http:', 'https:')) }
    expect(await deliverOnce(httpsLoopback, event(keyId))).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('private'),
    })
    expect(await deliveries(keyId)).toEqual([])
    // And the same URL given as settings turns webhooks off unless private addresses are allowed.
    expect(webhookSettings({ ...env, OPERATOR_WEBHOOK_ALLOW_PRIVATE: '' })).toBeNull()
    expect(
      webhookSettings({
        ...env,
        OPERATOR_WEBHOOK_URL: 'https://[::ffff:127.0.0.1]/hook',
        OPERATOR_WEBHOOK_ALLOW_PRIVATE: '',
      })
    ).toBeNull()
    expect(
      webhookSettings({
        ...env,
        OPERATOR_WEBHOOK_URL: 'https://hooks.example.com/x',
        OPERATOR_WEBHOOK_ALLOW_PRIVATE: '',
      })
    ).not.toBeNull()
  })

  it.skipIf(env.LOOPBACK_HOSTNAME === '')(
    'WEBHOOK_NETWORK connects to public addresses only, judged after DNS: a name that resolves to loopback is refused',
    async () => {
      // This machine's name resolves to a loopback address, where global setup listens: a name the address guard cannot judge.
      const url = `http://${env.LOOPBACK_HOSTNAME}:${env.LOOPBACK_HOSTNAME_PORT}/`
      expect((await fetch(url)).status).toBe(200)
      await expect(env.WEBHOOK_NETWORK.fetch(url)).rejects.toThrow()
      await expect(
        env.WEBHOOK_NETWORK.fetch(`http://127.0.0.1:${env.WEBHOOK_PORT}/client-errors`)
      ).rejects.toThrow()
    }
  )

  it('deliveries go out through WEBHOOK_NETWORK when it is bound, unless private hosts are allowed', async () => {
    const seen: string[] = []
    const network = {
      fetch: async (input: RequestInfo | URL) => (
        seen.push(new Request(input).url),
        new Response('ok')
      ),
    } as unknown as Fetcher
    const base = {
      ...env,
      OPERATOR_WEBHOOK_URL: 'https://hooks.example.com/pay-gate',
      WEBHOOK_NETWORK: network,
    }
    const publicOnly = webhookSettings({
      ...base,
      OPERATOR_WEBHOOK_ALLOW_PRIVATE: '',
    }) as WebhookSettings
    expect(await deliverOnce(publicOnly, event('key_network'))).toMatchObject({
      kind: 'delivered',
      status: 200,
    })
    expect(seen).toEqual(['https://hooks.example.com/pay-gate'])
    // The operator allowed private hosts (a receiver on their own machine): the runtime's fetch, as before.
    expect(
      (webhookSettings({ ...base, OPERATOR_WEBHOOK_ALLOW_PRIVATE: '1' }) as WebhookSettings).fetcher
    ).toBe(fetch)
    const { WEBHOOK_NETWORK: _unbound, ...withoutNetwork } = base
    expect(
      (
        webhookSettings({
          ...withoutNetwork,
          OPERATOR_WEBHOOK_ALLOW_PRIVATE: '',
        }) as WebhookSettings
      ).fetcher
    ).toBe(fetch)
  })

  it('nothing set, or a URL without a secret: no webhooks', () => {
    expect(webhookSettings({})).toBeNull()
    expect(webhookSettings({ OPERATOR_WEBHOOK_URL: 'https://hooks.example.com/x' })).toBeNull()
    expect(
      webhookSettings({
        OPERATOR_WEBHOOK_URL: 'https://hooks.example.com/x',
        OPERATOR_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      })
    ).not.toBeNull()
  })
})
