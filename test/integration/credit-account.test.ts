/**
 * The account object on its own, through its RPC methods: the ledger rules that
 * every path above it relies on.
 */
import { env } from 'cloudflare:workers'
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import type { CreditAccount } from '../../src/credits'

let counter = 0
async function account(credits = 1_000_000) {
  const stub = env.CREDITS.getByName(`test-account-${counter++}-${crypto.randomUUID()}`)
  const init = await stub.init({ id: 'key_test', name: 'test', credits })
  expect(init.ok).toBe(true)
  return stub
}

const reserve = (amount: number, holdMs = 60_000) => ({ amount, holdMs, label: 'test', limits: [] })

describe('CreditAccount', () => {
  it('holds, then charges part of a hold and frees the rest', async () => {
    const stub = await account(100)
    const held = await stub.reserve(reserve(60))
    expect(held).toMatchObject({ ok: true, kind: 'reserved', available: 40 })
    if (!held.ok || held.kind !== 'reserved') return
    expect(await stub.reserve(reserve(41))).toMatchObject({ ok: false, reason: 'insufficient_credits', available: 40 })
    expect(await stub.settle(held.reservationId, 25)).toEqual({ ok: true, charged: 25, available: 75 })
    const view = await stub.view(10)
    expect(view?.account).toMatchObject({ balance: 75, held: 0, available: 75 })
    expect(view?.ledger[0]).toMatchObject({ kind: 'charge', amount: -25, balanceAfter: 75, reservationId: held.reservationId })
  })

  it('settles a reservation once, and never for more than was held', async () => {
    const stub = await account(100)
    const held = await stub.reserve(reserve(10))
    if (!held.ok || held.kind !== 'reserved') throw new Error('not reserved')
    expect(await stub.settle(held.reservationId, 11)).toEqual({ ok: false, reason: 'over_reserved' })
    expect(await stub.settle(held.reservationId, 10)).toMatchObject({ ok: true, charged: 10 })
    expect(await stub.settle(held.reservationId, 10)).toEqual({ ok: false, reason: 'already_settled' })
    expect(await stub.settle('no-such-reservation', 1)).toEqual({ ok: false, reason: 'unknown_reservation' })
    expect((await stub.view())?.account.balance).toBe(90)
  })

  it('releases holds that were never settled, by themselves, when their alarm fires', async () => {
    const stub = await account(100)
    expect(await stub.reserve(reserve(30, 200))).toMatchObject({ ok: true })
    expect(await stub.reserve(reserve(20, 60_000))).toMatchObject({ ok: true })
    expect((await stub.view())?.account.held).toBe(50)
    // Nobody runs the alarm here: the object scheduled it when it took the hold.
    const deadline = Date.now() + 3_000
    while ((await stub.view())?.account.held !== 20 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect((await stub.view())?.account).toMatchObject({ held: 20, available: 80, balance: 100 })
    // The later hold keeps its own alarm; running it early releases nothing before its time.
    await runDurableObjectAlarm(stub)
    expect((await stub.view())?.account.held).toBe(20)
  })

  it('charges a late success on an expired hold only if the key can still pay', async () => {
    const stub = await account(100)
    const first = await stub.reserve(reserve(60, 1))
    if (!first.ok || first.kind !== 'reserved') throw new Error('not reserved')
    await new Promise((resolve) => setTimeout(resolve, 5))
    await runDurableObjectAlarm(stub)
    const second = await stub.reserve(reserve(50))
    if (!second.ok || second.kind !== 'reserved') throw new Error('not reserved')
    expect(await stub.settle(first.reservationId, 60)).toEqual({ ok: false, reason: 'unfunded' })
    expect(await stub.settle(second.reservationId, 50)).toMatchObject({ ok: true, available: 50 })
  })

  it('never lets the balance or the hold go negative, even if asked directly', async () => {
    const stub = await account(10)
    await expect(
      runInDurableObject(stub, (_instance: CreditAccount, state) => {
        state.storage.sql.exec('UPDATE account SET balance = -1')
      })
    ).rejects.toThrow(/CHECK constraint/)
    expect((await stub.view())?.account.balance).toBe(10)
  })

  it('creates nothing for a key that does not exist', async () => {
    const stub = env.CREDITS.getByName(`never-created-${crypto.randomUUID()}`)
    expect(await stub.reserve(reserve(1))).toEqual({ ok: false, reason: 'invalid_api_key' })
    expect(await stub.view()).toBeNull()
    const tables = await runInDurableObject(stub, (_instance: CreditAccount, state) =>
      state.storage.sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table'`).toArray()
    )
    expect(tables).toEqual([])
  })

  it('refuses to initialise an account twice', async () => {
    const stub = await account(5)
    expect(await stub.init({ id: 'key_test', name: 'again', credits: 1_000 })).toEqual({ ok: false, reason: 'invalid_transition' })
    expect((await stub.view())?.account.balance).toBe(5)
  })
})
