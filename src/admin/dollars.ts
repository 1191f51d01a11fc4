/**
 * @module admin/dollars
 * An amount in the admin API: a decimal-dollar string such as "10" or "0.50",
 * parsed to integer micro-dollars (never a float).
 */
import * as z from 'zod'
import { parseDollars } from '../money'

export const Dollars = z
  .string({ error: 'expected a decimal-dollar string such as "10" or "0.50"' })
  .transform((text, ctx) => {
    const parsed = parseDollars(text)
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.message })
      return z.NEVER
    }
    return parsed.micros
  })
