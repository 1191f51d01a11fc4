/**
 * @module usage
 * Usage events: one per charged, refunded or denied paid call, written to D1
 * (binding USAGE_DB; without it usage is off and nothing else changes), through a
 * Queue when USAGE_QUEUE is bound, and the
 * queries behind the admin usage, revenue, export and /metrics endpoints.
 * Imports only `errors`, `money`, `retry` and `text-cap`; the gate and the admin API compose it.
 */
export {
  USAGE_OUTCOMES,
  USAGE_RAILS,
  type UsageEvent,
  type UsageOutcome,
  type UsageRail,
} from './event'
export { boundEvent, MAX_ROUTE_CHARS, MAX_TEXT_CHARS, UNKNOWN_NAME } from './bounds'
export { UsageCall } from './recorder'
export type {
  HeldCall,
  UsageCallInit,
  UsageCallSnapshot,
  UsageSink,
  X402Ending,
} from './call-types'
export { eventFromRow, insertEvents, insertWithRetry, type EventRow } from './store'
export { UsageWriter, type UsageDestination } from './writer'
export { consumeUsageBatch, isUsageEvent, sendToQueue } from './queue'
export { COLUMNS_ADDED, USAGE_SCHEMA, withUsageTable } from './schema'
export { eventsCsv, csvField } from './csv'
export { metricsText, LATENCY_BUCKETS_MS } from './metrics'
export {
  GROUPINGS,
  INTERVALS,
  parseEventsQuery,
  parseRevenueQuery,
  parseTopQuery,
  parseUsageQuery,
  type Grouping,
  type Interval,
  type TimeRange,
} from './params'
export {
  periodsOf,
  recentEvents,
  revenueSeries,
  topKeys,
  usageBy,
  type RevenuePeriod,
  type TopRow,
  type UsageRow,
} from './queries'
