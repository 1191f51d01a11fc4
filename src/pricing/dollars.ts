/**
 * @module pricing/dollars
 * The one zod type for amounts written as decimal-dollar strings in routes.json
 * (prices, plan fees, credit packages, buy-credits bounds): `"0.01"`, at most 6
 * decimals, read by money's parseDollars so the schema and the arithmetic agree.
 */
import * as z from 'zod'
import { parseDollars } from '../money'

export const PRICE_MESSAGE =
  'expected a decimal string of dollars with at most 6 decimals, e.g. "0.01"'

/** A decimal-dollar amount such as `"0.01"` (0 allowed). */
export const DollarString = z
  .string({ error: PRICE_MESSAGE })
  .refine((text) => parseDollars(text).ok, { error: PRICE_MESSAGE })

/** A decimal-dollar amount above 0; `message` says what the amount is for. */
export function positiveDollars(message: string) {
  return z.string({ error: message }).refine(
    (text) => {
      const parsed = parseDollars(text)
      return parsed.ok && parsed.micros > 0
    },
    { error: message }
  )
}
