import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'

const entry = (nonce: string) => ({ nonce, amount: '10000', payTo: '0x1111111111111111111111111111111111111111', resource: 'r', validBefore: Math.floor(Date.now() / 1000) + 60 })

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
    expect(await lock.claim('0x0a', 'someone-else')).toBe('finished')
    const claims = await Promise.all(Array.from({ length: 10 }, () => lock.claim('0x0a', 'first')))
    expect(claims.filter((claim) => claim === 'claimed')).toHaveLength(1)
    // Being settled counts as in flight: nobody else may take it meanwhile.
    expect(await lock.acquire(entry('0x0a'))).toBe('in_flight')
    await lock.finish('0x0a', 'released', { reason: 'origin_failed' })
    // Taken again by a second flight: the first flight's repeated follow-up cannot claim it.
    expect(await lock.acquire({ ...entry('0x0a'), flight: 'second' })).toBe('acquired')
    expect(await lock.claim('0x0a', 'first')).toBe('finished')
    expect(await lock.claim('0x0a', 'second')).toBe('claimed')
    // A claim whose settlement could not be attempted is put back, by its own flight only.
    await lock.unclaim('0x0a', 'first')
    expect(await lock.get('0x0a')).toMatchObject({ state: 'settling' })
    await lock.unclaim('0x0a', 'second')
    expect(await lock.get('0x0a')).toMatchObject({ state: 'in_flight' })
    expect(await lock.claim('0x0a', 'second')).toBe('claimed')
    // An authorization the gate itself serves has no flight: no follow-up can claim it.
    expect(await lock.acquire(entry('0x0b'))).toBe('acquired')
    expect(await lock.claim('0x0b', 'first')).toBe('finished')
    expect(await lock.claim('0x0c', 'first')).toBe('finished')
  })
})
