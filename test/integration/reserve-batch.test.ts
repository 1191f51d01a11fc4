/**
 * Group commit (docs/group-commit.md): reserves that wait for one another in an
 * isolate go to the key's account object as one batch (reserveMany), decided one
 * after the other in one transaction. Each answer is what a lone reserve would
 * have answered, in order; one that fails fails alone.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { CreditLedger, type ReserveRequest } from '../../src/credits'

async function account(credits: number) {
  const name = `batch-${crypto.randomUUID()}`
  const stub = env.CREDITS.getByName(name)
  expect((await stub.init({ id: 'key_batch', name: 'batch', credits })).ok).toBe(true)
  return { name, stub }
}

const reserve = (amount: number, more: Partial<ReserveRequest> = {}): ReserveRequest => ({
  amount,
  holdMs: 60_000,
  label: 'test',
  limits: [],
  ...more,
})

describe('reserveMany', () => {
  it('decides each reserve in order, as lone reserves would be: balance, refusals, bad input', async () => {
    const { stub } = await account(100)
    const answers = await stub.reserveMany([
      reserve(60),
      reserve(0),
      reserve(41),
      reserve(40),
      reserve(1),
    ])
    expect(answers.map((answer) => (answer.ok ? answer.kind : answer.reason))).toEqual([
      'reserved',
      'reserve_failed',
      'insufficient_credits',
      'reserved',
      'insufficient_credits',
    ])
    expect(answers[0]).toMatchObject({ reservationId: '1', available: 40 })
    expect(answers[3]).toMatchObject({ reservationId: '2', available: 0 })
    const view = await stub.view(10)
    expect(view?.account).toMatchObject({
      balance: 100,
      held: 100,
      inFlight: 2,
      usage: { day: { calls: 2, spend: 100 } },
    })
  })

  it('applies settlements riding on a later reserve after the reserves before it', async () => {
    const { stub } = await account(100)
    const answers = await stub.reserveMany([
      reserve(100),
      reserve(30, { settle: [{ reservationId: '1', amount: 70 }] }),
    ])
    expect(answers).toMatchObject([
      { ok: true, kind: 'reserved', reservationId: '1', available: 0 },
      { ok: true, kind: 'reserved', reservationId: '2', available: 0 },
    ])
    const view = await stub.view(10)
    expect(view?.account).toMatchObject({ balance: 30, held: 30, spent: 70 })
    expect(view?.ledger.map((row) => [row.kind, row.amount])).toEqual([
      ['charge', -70],
      ['grant', 100],
    ])
  })

  it('isolates a reserve that throws inside the transaction: the others are taken, it takes nothing', async () => {
    const { stub } = await account(100)
    // A window of 0 s has no start: writing its counter breaks the table's NOT NULL, inside the transaction.
    const broken = reserve(10, {
      limits: [{ bucket: 'zero', limit: 5, windowSeconds: 0, cost: 1 }],
    })
    const answers = await stub.reserveMany([reserve(10), broken, reserve(20)])
    expect(answers.map((answer) => (answer.ok ? answer.kind : answer.reason))).toEqual([
      'reserved',
      'reserve_failed',
      'reserved',
    ])
    const view = await stub.view(10)
    expect(view?.account).toMatchObject({
      balance: 100,
      held: 30,
      inFlight: 2,
      usage: { day: { calls: 2, spend: 30 } },
    })
  })
})

describe('reserveCredits, many at once on one key', () => {
  it('takes exactly the holds the balance pays for, each once, with distinct ids, over more than one full batch', async () => {
    const { name } = await account(10)
    const results = await Promise.all(
      Array.from({ length: 45 }, () =>
        new CreditLedger().client(env.CREDITS, 0, () => undefined).reserve(name, reserve(1))
      )
    )
    const reserved = results.filter((result) => result.ok && result.kind === 'reserved')
    expect(reserved).toHaveLength(10)
    expect(
      new Set(
        reserved.map((result) =>
          result.ok && result.kind === 'reserved' ? result.reservationId : ''
        )
      )
    ).toHaveProperty('size', 10)
    expect(
      results.filter((result) => !result.ok && result.reason === 'insufficient_credits')
    ).toHaveLength(35)
    const view = await env.CREDITS.getByName(name).view()
    expect(view?.account).toMatchObject({ balance: 10, held: 10, available: 0, inFlight: 10 })
  })
})
