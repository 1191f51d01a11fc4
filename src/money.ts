/**
 * @module money
 * Exact money: decimal-dollar strings on the wire, integer micro-dollars inside.
 * 1 USD = 1,000,000 micros, the same precision as USDC's 6 decimals, so one price
 * serves the credits rail and x402 alike. No floating point touches an amount.
 * Imports nothing from the rest of the gate.
 */

/** Micro-dollars per US dollar. */
export const MICROS_PER_USD = 1_000_000

/** Six decimal places: the precision of a micro-dollar (and of USDC). */
export const MONEY_DECIMALS = 6

/** The largest amount we accept anywhere: keeps every sum a safe integer. */
export const MAX_MICROS = 1_000_000_000_000_000 // one billion dollars

const DECIMAL_DOLLARS = /^(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,6}))?$/

export type ParsedAmount = { ok: true; micros: number } | { ok: false; message: string }

/**
 * Parse a decimal-dollar string such as `"0.01"` into integer micro-dollars.
 * Accepts at most 6 decimal places and at most $999,999,999.999999; rejects
 * signs, exponents, spaces and leading zeros so that one amount has one spelling.
 * @param text the amount as written by an operator or an API caller
 * @returns the amount in micros, or a message saying what is wrong
 */
export function parseDollars(text: string): ParsedAmount {
  const match = DECIMAL_DOLLARS.exec(text)
  if (!match) {
    return {
      ok: false,
      message: 'expected a decimal string of dollars with at most 6 decimals, e.g. "0.01"',
    }
  }
  const whole = match[1] ?? '0'
  const fraction = (match[2] ?? '').padEnd(MONEY_DECIMALS, '0')
  // Both parts are short digit strings, so the integer arithmetic below is exact.
  const micros = Number(whole) * MICROS_PER_USD + Number(fraction)
  return { ok: true, micros }
}

/**
 * Format integer micro-dollars as a decimal-dollar string with no trailing zeros:
 * 10000 → `"0.01"`, 1500000 → `"1.5"`, 0 → `"0"`, -250 → `"-0.00025"`.
 * @throws RangeError when given anything but a safe integer
 */
export function formatDollars(micros: number): string {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`not an integer amount: ${micros}`)
  const sign = micros < 0 ? '-' : ''
  const abs = Math.abs(micros)
  const whole = Math.floor(abs / MICROS_PER_USD)
  const fraction = String(abs % MICROS_PER_USD)
    .padStart(MONEY_DECIMALS, '0')
    .replace(/0+$/, '')
  return fraction ? `${sign}${whole}.${fraction}` : `${sign}${whole}`
}

/**
 * Convert micro-dollars into an asset's atomic units, exactly. Fails when the
 * asset has fewer decimals than the amount needs (no rounding, ever).
 * @param micros the amount in micro-dollars
 * @param decimals the asset's decimals (USDC: 6)
 */
export function microsToAtomic(
  micros: number,
  decimals: number
): { ok: true; atomic: bigint } | { ok: false; message: string } {
  const value = BigInt(micros)
  if (decimals >= MONEY_DECIMALS) {
    return { ok: true, atomic: value * 10n ** BigInt(decimals - MONEY_DECIMALS) }
  }
  const divisor = 10n ** BigInt(MONEY_DECIMALS - decimals)
  if (value % divisor !== 0n) {
    return { ok: false, message: `amount does not fit an asset with ${decimals} decimals` }
  }
  return { ok: true, atomic: value / divisor }
}
