/**
 * @module usage/params
 * The query parameters of the usage endpoints, validated: a time range
 * (`from`/`to`, ISO 8601 date or date-time, default the last 30 days, half-open
 * [from, to)), a grouping, an interval, a limit, filters. Bad input is a message,
 * never a guess.
 */
import * as z from 'zod'
import { MAX_ROUTE_CHARS } from './bounds'
import { USAGE_OUTCOMES } from './event'

const DAY_MS = 86_400_000
/** The longest range a query may cover (about ten years), so every series stays small. */
const MAX_RANGE_MS = 3_660 * DAY_MS

const Instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
  error: 'expected an ISO 8601 date ("2026-11-01") or date-time ("2026-11-01T00:00:00Z")',
})

const Limit = (fallback: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, { error: `expected a whole number from 1 to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1, { error: `expected a whole number from 1 to ${max}` })
        .max(max, { error: `at most ${max}` })
    )
    .default(fallback)

export const GROUPINGS = ['day', 'tool', 'rail', 'key', 'route', 'outcome'] as const
export type Grouping = (typeof GROUPINGS)[number]
export const INTERVALS = ['day', 'month'] as const
export type Interval = (typeof INTERVALS)[number]

const Range = { from: Instant.optional(), to: Instant.optional() }

const UsageQuery = z.object({ ...Range, groupBy: z.enum(GROUPINGS).default('day') })
const TopQuery = z.object({ ...Range, limit: Limit(10, 100) })
const RevenueQuery = z.object({ ...Range, interval: z.enum(INTERVALS).default('day') })
const EventsQuery = z.object({
  ...Range,
  limit: Limit(100, 10_000),
  keyId: z
    .string()
    .regex(/^key_[a-z2-7]{20}$/, { error: 'expected a key id such as "key_…"' })
    .optional(),
  outcome: z.enum(USAGE_OUTCOMES as ['charged', 'refunded', 'denied', 'fee']).optional(),
  /** A route's pattern as written in routes.json, matched exactly. */
  route: z
    .string()
    .min(1)
    .max(MAX_ROUTE_CHARS, { error: `at most ${MAX_ROUTE_CHARS} characters` })
    .optional(),
  format: z.enum(['json', 'csv']).default('json'),
})

export interface TimeRange {
  from: number
  to: number
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string }

function range(from: string | undefined, to: string | undefined, now: number): Parsed<TimeRange> {
  const end = to === undefined ? now : Date.parse(to)
  const start = from === undefined ? end - 30 * DAY_MS : Date.parse(from)
  if (!Number.isFinite(start) || !Number.isFinite(end))
    return { ok: false, message: 'from/to: not a valid date' }
  if (start >= end) return { ok: false, message: 'from must be before to' }
  if (end - start > MAX_RANGE_MS)
    return { ok: false, message: 'the range may cover at most 3660 days' }
  return { ok: true, value: { from: start, to: end } }
}

function parse<S extends z.ZodType<{ from?: string; to?: string }>>(
  schema: S,
  query: Record<string, string>,
  now: number
): Parsed<Omit<z.output<S>, 'from' | 'to'> & TimeRange> {
  const result = schema.safeParse(query)
  if (!result.success) {
    return {
      ok: false,
      message: result.error.issues
        .map((issue) => `${issue.path.join('.') || '(query)'}: ${issue.message}`)
        .join('; '),
    }
  }
  const times = range(result.data.from, result.data.to, now)
  if (!times.ok) return times
  return { ok: true, value: { ...result.data, ...times.value } }
}

export const parseUsageQuery = (query: Record<string, string>, now = Date.now()) =>
  parse(UsageQuery, query, now)
export const parseTopQuery = (query: Record<string, string>, now = Date.now()) =>
  parse(TopQuery, query, now)
export const parseRevenueQuery = (query: Record<string, string>, now = Date.now()) =>
  parse(RevenueQuery, query, now)
export const parseEventsQuery = (query: Record<string, string>, now = Date.now()) =>
  parse(EventsQuery, query, now)
