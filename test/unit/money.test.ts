import { describe, expect, it } from 'vitest'
import { formatDollars, microsToAtomic, parseDollars } from '../../src/money'

describe('parseDollars', () => {
  it.each([
    ['0', 0],
    ['0.01', 10_000],
    ['0.001', 1_000],
    ['0.000001', 1],
    ['1.5', 1_500_000],
    ['10', 10_000_000],
    ['999999999.999999', 999_999_999_999_999],
  ])('reads %s as %i micros, exactly', (text, micros) => {
    expect(parseDollars(text)).toEqual({ ok: true, micros })
  })

  it.each([
    '',
    '.5',
    '1.',
    '01',
    '-1',
    '+1',
    '1e3',
    '0.0000001',
    ' 1',
    '1 ',
    '1,5',
    'NaN',
    '1000000000',
  ])('refuses %j', (text) => {
    expect(parseDollars(text).ok).toBe(false)
  })

  it('adds up without float drift: 0.1 + 0.2 is 0.3', () => {
    const sum = [0.1, 0.2]
      .map((n) => parseDollars(String(n)))
      .reduce((s, p) => s + (p.ok ? p.micros : NaN), 0)
    expect(formatDollars(sum)).toBe('0.3')
  })
})

describe('formatDollars', () => {
  it.each([
    [0, '0'],
    [1, '0.000001'],
    [10_000, '0.01'],
    [1_500_000, '1.5'],
    [-250, '-0.00025'],
  ])('writes %i as %s', (micros, text) => {
    expect(formatDollars(micros)).toBe(text)
  })

  it('refuses a fractional amount', () => {
    expect(() => formatDollars(0.5)).toThrow(RangeError)
  })
})

describe('microsToAtomic', () => {
  it('scales to 18 decimals and down to 2, refusing to round', () => {
    expect(microsToAtomic(10_000, 6)).toEqual({ ok: true, atomic: 10_000n })
    expect(microsToAtomic(10_000, 18)).toEqual({ ok: true, atomic: 10_000_000_000_000_000n })
    expect(microsToAtomic(10_000, 2)).toEqual({ ok: true, atomic: 1n })
    expect(microsToAtomic(1_000, 2).ok).toBe(false)
  })
})
