/**
 * @module credits/periods
 * Calendar periods in UTC, for quotas and plans: a day runs from 00:00 UTC, a
 * month from 00:00 UTC on its first day. Every key resets at the same instant,
 * which is what an operator's invoice and a customer's dashboard both expect.
 */
import type { Period } from './types'

const DAY_MS = 24 * 60 * 60 * 1000
/** The keys of the last UTC day asked for: every hold asks, and nearly always of the same day. */
let lastDay = { day: NaN, keys: { day: '', month: '' } }

/** The counter key of the period `now` falls in: `d:2026-11-21` or `m:2026-11`. */
export function periodKey(period: Period, now: number): string {
  const day = Math.floor(now / DAY_MS)
  if (day !== lastDay.day) {
    const iso = new Date(day * DAY_MS).toISOString()
    lastDay = { day, keys: { day: `d:${iso.slice(0, 10)}`, month: `m:${iso.slice(0, 7)}` } }
  }
  return lastDay.keys[period]
}

/** When the period `now` falls in ends (the next UTC midnight or month start), in ms. */
export function periodEnd(period: Period, now: number): number {
  const date = new Date(now)
  return period === 'day'
    ? Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1)
    : Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)
}
