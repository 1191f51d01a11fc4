import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { PaymentLock } from '../../src/x402'
import { ageClaim } from '../x402-helpers'

/** A claim's lease in these tests; a claim is aged past it by rewriting when it was taken. */
const LEASE = 40_000

const entry = (nonce: string) => ({
  nonce,
  amount: '10000',
  payTo: '0x1111111111111111111111111111111111111111',
  resource: 'r',
  validBefore: Math.floor(Date.now() / 1000) + 60,
})

describe('PaymentLock', () => {
  it('lets one of 50 concurrent requests with one authorization through', async () => {
    const lock = env.X402_LOCKS.getByName(`payer-${crypto.randomUUID()}`)
    const results = await Promise.all(Array.from({ length: 50 }, () => lock.acquire(entry('0xaa'))))
    expect(results.filter((r) => r === 'acquired')).toHaveLength(1)
    expect(results.filter((r) => r === 'in_flight')).toHaveLength(49)
  })

  it('keeps a settled authorization spent, and lets a released one be used again', async () => {
    const lock = env.X402_LOCKS.getByName(`payer-${crypto.randomUUID()}`)
    expect(await lock.acquire(entry('0x01'))).toBe('acquired')
    await lock.finish('0x01', 'settled', { transaction: '0xfeed' })
    expect(await lock.acquire(entry('0x01'))).toBe('spent')
    expect(await lock.get('0x01')).toMatchObject({ state: 'settled', transaction: '0xfeed' })

    expect(await lock.acquire(entry('0x02'))).toBe('acquired')
    await lock.finish('0x02', 'released', { reason: 'origin_failed' })
    expect(await lock.acquire(entry('0x02'))).toBe('acquired')

    for (const state of ['unpaid', 'indeterminate', 'free_pass', 'dev'] as const) {
      const nonce = `0x${state}`
      await lock.acquire(entry(nonce))
      await lock.finish(nonce, state)
      expect(await lock.acquire(entry(nonce)), state).toBe('spent')
    }
  })

  it('lets exactly one follow-up of the right flight claim a deferred settlement, never a stale one', async () => {
    const lock = env.X402_LOCKS.getByName(`payer-${crypto.randomUUID()}`)
    expect(await lock.acquire({ ...entry('0x0a'), flight: 'first' })).toBe('acquired')
    expect(await lock.claim('0x0a', 'someone-else', LEASE)).toEqual({ kind: 'finished' })
    const claims = await Promise.all(
      Array.from({ length: 10 }, () => lock.claim('0x0a', 'first', LEASE))
    )
    expect(claims.filter((claim) => claim.kind === 'claimed')).toHaveLength(1)
    // The others are told it is being settled, and when the claim's lease runs out.
    for (const claim of claims.filter((claim) => claim.kind !== 'claimed')) {
      expect(claim).toMatchObject({ kind: 'settling' })
      expect(
        claim.kind === 'settling' && claim.retryAfterMs > 0 && claim.retryAfterMs <= LEASE
      ).toBe(true)
    }
    // Being settled counts as in flight: nobody else may take it meanwhile.
    expect(await lock.acquire(entry('0x0a'))).toBe('in_flight')
    await lock.finish('0x0a', 'released', { reason: 'origin_failed' })
    // Taken again by a second flight: the first flight's repeated follow-up cannot claim it.
    expect(await lock.acquire({ ...entry('0x0a'), flight: 'second' })).toBe('acquired')
    expect(await lock.claim('0x0a', 'first', LEASE)).toEqual({ kind: 'finished' })
    const second = await lock.claim('0x0a', 'second', LEASE)
    expect(second).toMatchObject({ kind: 'claimed', retaken: false })
    // A claim whose settlement could not be attempted is put back, by its own claim only.
    await lock.unclaim('0x0a', 'another-claim')
    expect(await lock.get('0x0a')).toMatchObject({ state: 'settling' })
    await lock.unclaim('0x0a', second.kind === 'claimed' ? second.claim : '')
    expect(await lock.get('0x0a')).toMatchObject({ state: 'in_flight' })
    expect(await lock.claim('0x0a', 'second', LEASE)).toMatchObject({ kind: 'claimed' })
    // An authorization the gate itself serves has no flight: no follow-up can claim it.
    expect(await lock.acquire(entry('0x0b'))).toBe('acquired')
    expect(await lock.claim('0x0b', 'first', LEASE)).toEqual({ kind: 'finished' })
    expect(await lock.claim('0x0c', 'first', LEASE)).toEqual({ kind: 'finished' })
  })

  it('lets the flight take over a claim whose follow-up stopped, once its lease has run out; the stopped one then records nothing', async () => {
    const stub = env.X402_LOCKS.getByName(`payer-${crypto.randomUUID()}`)
    expect(await stub.acquire({ ...entry('0x0d'), flight: 'f' })).toBe('acquired')
    const dead = await stub.claim('0x0d', 'f', LEASE)
    expect(dead).toMatchObject({ kind: 'claimed', retaken: false })
    // Within its lease the claim stands.
    expect(await stub.claim('0x0d', 'f', LEASE)).toMatchObject({ kind: 'settling' })
    await ageClaim(stub, '0x0d', LEASE)
    const taken = await Promise.all(Array.from({ length: 5 }, () => stub.claim('0x0d', 'f', LEASE)))
    const retaken = taken.filter((claim) => claim.kind === 'claimed')
    expect(retaken).toHaveLength(1)
    expect(retaken[0]).toMatchObject({ retaken: true })
    expect(taken.filter((claim) => claim.kind === 'settling')).toHaveLength(4)
    // The stopped holder, late after all, can neither record an end nor put the claim back.
    const deadClaim = dead.kind === 'claimed' ? dead.claim : ''
    const liveClaim = retaken[0]?.kind === 'claimed' ? retaken[0].claim : ''
    expect(
      await stub.finish('0x0d', 'indeterminate', { reason: 'settlement_indeterminate' }, deadClaim)
    ).toBe(false)
    await stub.unclaim('0x0d', deadClaim)
    expect(await stub.get('0x0d')).toMatchObject({ state: 'settling' })
    expect(await stub.finish('0x0d', 'settled', { transaction: '0xbeef' }, liveClaim)).toBe(true)
    // Recorded once; the same write again (a retried RPC) is answered as recorded, and changes nothing.
    expect(await stub.finish('0x0d', 'settled', { transaction: '0xbeef' }, liveClaim)).toBe(true)
    expect(await stub.finish('0x0d', 'unpaid', { reason: 'late' }, deadClaim)).toBe(false)
    expect(await stub.get('0x0d')).toMatchObject({ state: 'settled', transaction: '0xbeef' })
    expect(await stub.claim('0x0d', 'f', 0)).toEqual({ kind: 'finished' })
  })

  it("takes over a claim made before claims were kept, by its row's time", async () => {
    const stub = env.X402_LOCKS.getByName(`payer-${crypto.randomUUID()}`)
    expect(await stub.acquire({ ...entry('0x0e'), flight: 'f' })).toBe('acquired')
    // As an earlier version left it: settling, with no claim row.
    await runInDurableObject(stub, (_instance: PaymentLock, state) => {
      state.storage.sql.exec(
        `UPDATE payments SET state = 'settling', updated_at = ? WHERE nonce = '0x0e'`,
        Date.now()
      )
    })
    expect(await stub.claim('0x0e', 'f', LEASE)).toMatchObject({ kind: 'settling' })
    await runInDurableObject(stub, (_instance: PaymentLock, state) => {
      state.storage.sql.exec(
        `UPDATE payments SET updated_at = updated_at - ? WHERE nonce = '0x0e'`,
        LEASE
      )
    })
    expect(await stub.claim('0x0e', 'f', LEASE)).toMatchObject({ kind: 'claimed', retaken: true })
  })
})
