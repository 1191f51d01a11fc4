/**
 * Settling a hold as a pure function (credits/settle-decision): every refusal,
 * a partial charge, a release, a plan's free call, and a late success on a hold
 * the alarm expired. The account object applies the writes (credit-account tests).
 */
import { describe, expect, it } from 'vitest'
import type { AccountRow } from '../../src/credits/account-sql'
import type { OpenHold } from '../../src/credits/reservations'
import { decideSettlement, holdIdOf, type SettleTarget } from '../../src/credits/settle-decision'

const NOW = Date.UTC(2026, 10, 21, 12)
const ROW: AccountRow = {
  id: 'key_1',
  name: 't',
  status: 'active',
  balance: 1_000,
  held: 300,
  expires_at: null,
  rate_limit: null,
  rate_window: null,
  created_at: 0,
  updated_at: 0,
  spent: 50,
}
const HOLD: OpenHold = {
  amount: 100,
  calls: 2,
  tracked: true,
  label: 'search',
  createdAt: NOW - 1000,
  expiresAt: NOW + 60_000,
}
const open: SettleTarget = { kind: 'hold', id: 5, hold: HOLD, open: true }
const expired: SettleTarget = { kind: 'hold', id: 5, hold: HOLD, open: false }

describe('decideSettlement: refusals', () => {
  const cases: Array<{
    name: string
    target: SettleTarget
    amount: number
    calls?: number
    row?: Partial<AccountRow>
    result: Record<string, unknown>
  }> = [
    {
      name: 'a hold it cannot find',
      target: { kind: 'unknown' },
      amount: 10,
      result: { reason: 'unknown_reservation' },
    },
    {
      name: 'a repeat of a charged settlement, with what it was charged',
      target: { kind: 'settled', charged: 70 },
      amount: 70,
      result: { reason: 'already_settled', charged: 70 },
    },
    {
      name: 'a repeat of a release',
      target: { kind: 'settled', charged: 0 },
      amount: 100,
      result: { reason: 'already_settled', charged: 0 },
    },
    { name: 'more than was held', target: open, amount: 101, result: { reason: 'over_reserved' } },
    { name: 'a negative amount', target: open, amount: -1, result: { reason: 'over_reserved' } },
    {
      name: 'a fraction of a micro-dollar',
      target: open,
      amount: 1.5,
      result: { reason: 'over_reserved' },
    },
    {
      name: 'more calls served than held',
      target: open,
      amount: 100,
      calls: 3,
      result: { reason: 'over_reserved' },
    },
    {
      name: 'a late success the key can no longer pay',
      target: expired,
      amount: 100,
      row: { balance: 350, held: 300 },
      result: { reason: 'unfunded' },
    },
  ]
  it.each(cases)('refuses $name, changing nothing', ({ target, amount, calls, row, result }) => {
    const before = { ...ROW, ...row }
    const decision = decideSettlement(target, before, { reservationId: '5', amount, calls }, NOW)
    expect(decision.result).toEqual({ ok: false, ...result })
    expect(decision.row).toBe(before)
    expect(decision.write).toBeUndefined()
  })
})

describe('decideSettlement: settling', () => {
  it('charges part of a hold and frees the rest, with a charge row', () => {
    const decision = decideSettlement(open, ROW, { reservationId: '5', amount: 60 }, NOW)
    expect(decision.result).toEqual({ ok: true, charged: 60, available: 940 - 200 })
    expect(decision.row).toEqual({ ...ROW, balance: 940, held: 200, spent: 110, updated_at: NOW })
    expect(decision.write).toEqual({
      id: 5,
      state: 'committed',
      charged: 60,
      served: 2,
      ledger: { kind: 'charge', amount: -60, balanceAfter: 940, reservationId: 5, label: 'search' },
    })
    expect(decision.settled).toEqual({ hold: HOLD, charged: 60, served: 2, expired: false })
  })

  it('releases a hold charged 0 with no call served: no ledger row', () => {
    const decision = decideSettlement(open, ROW, { reservationId: '5', amount: 0 }, NOW)
    expect(decision.write).toEqual({
      id: 5,
      state: 'released',
      charged: 0,
      served: 0,
      ledger: null,
    })
    expect(decision.row).toMatchObject({ balance: 1_000, held: 200 })
  })

  it('writes a served call its plan made free to the ledger (a charge of 0)', () => {
    const decision = decideSettlement(open, ROW, { reservationId: '5', amount: 0, calls: 1 }, NOW)
    expect(decision.write).toMatchObject({ state: 'committed', served: 1, ledger: { amount: -0 } })
  })

  it('charges a late success on an expired hold from what is available, holding nothing back', () => {
    const decision = decideSettlement(expired, ROW, { reservationId: '5', amount: 100 }, NOW)
    expect(decision.result).toEqual({ ok: true, charged: 100, available: 900 - 300 })
    expect(decision.row).toMatchObject({ balance: 900, held: 300 })
    expect(decision.settled).toMatchObject({ expired: true })
  })
})

describe('holdIdOf', () => {
  it.each([
    ['7', 7],
    ['9007199254740991', 9007199254740991],
    ['0', null],
    ['07', null],
    ['12345678901234567', null],
    ['1e3', null],
    ['', null],
  ])('%s → %s', (text, id) => expect(holdIdOf(text)).toBe(id))
})
