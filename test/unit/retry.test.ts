/**
 * withRetries: how many tries, when it stops early, and what it hands back.
 */
import { describe, expect, it } from 'vitest'
import { withRetries } from '../../src/retry'

function flaky(failures: number, error: unknown = new Error('lost')) {
  let calls = 0
  const work = async () => {
    calls++
    if (calls <= failures) throw error
    return calls
  }
  return { work, calls: () => calls }
}

describe('withRetries', () => {
  it('returns the first success, after as many failures as the tries allow', async () => {
    const twice = flaky(2)
    expect(await withRetries(twice.work, { attempts: 3, baseMs: 1 })).toEqual({
      ok: true,
      value: 3,
    })
    expect(twice.calls()).toBe(3)
  })

  it('gives the last error once every try failed, and tries no more', async () => {
    const always = flaky(10)
    const tried = await withRetries(always.work, { attempts: 3, baseMs: 1 })
    expect(tried).toMatchObject({ ok: false, error: { message: 'lost' } })
    expect(always.calls()).toBe(3)
  })

  it('stops at a failure that is not worth another try', async () => {
    const overloaded = flaky(10, Object.assign(new Error('overloaded'), { overloaded: true }))
    const tried = await withRetries(overloaded.work, {
      attempts: 3,
      baseMs: 1,
      retryable: (error) => !(error as { overloaded?: boolean }).overloaded,
    })
    expect(tried.ok).toBe(false)
    expect(overloaded.calls()).toBe(1)
  })

  it('waits base, then twice base, between tries', async () => {
    const times: number[] = []
    await withRetries(
      async () => {
        times.push(Date.now())
        throw new Error('no')
      },
      { attempts: 3, baseMs: 40 }
    )
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(35)
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(75)
  })
})
