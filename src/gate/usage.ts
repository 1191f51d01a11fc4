/**
 * @module gate/usage
 * Where the gate meets usage recording: one writer per gate and isolate, and one
 * `UsageCall` per request, which goes nowhere when USAGE_DB is not bound.
 */
import type { Context } from 'hono'
import { numberSetting, type AppEnv } from '../env'
import type { CompiledRoute } from '../pricing'
import { UsageCall, UsageWriter, type UsageSink } from '../usage'

/** How long the first event of a batch waits for others before it is written (ms). */
const DEFAULT_USAGE_BATCH_MS = 50

/** The gate's writer of usage events, made on first use (the batching delay is a setting). */
export function usageWriter(): (delayMs: number) => UsageWriter {
  let writer: UsageWriter | undefined
  return (delayMs) => (writer ??= new UsageWriter(delayMs))
}

/** Where this request's usage events go: the writer, bound to USAGE_DB and the request; null when usage is off. */
export function usageSink(
  c: Context<AppEnv>,
  writer: (delayMs: number) => UsageWriter
): UsageSink | null {
  const db = c.env.USAGE_DB
  return db
    ? (event) =>
        writer(numberSetting(c.env.USAGE_BATCH_MS, DEFAULT_USAGE_BATCH_MS)).add(
          { db, queue: c.env.USAGE_QUEUE },
          event,
          (promise) => c.executionCtx.waitUntil(promise)
        )
    : null
}

/**
 * The usage recorder of one request on `route`, for the request the caller made
 * (its method and path; in sidecar mode the original request's, not the check's).
 */
export function usageCall(
  c: Context<AppEnv>,
  writer: (delayMs: number) => UsageWriter,
  route: CompiledRoute,
  called: { method: string; path: string }
): UsageCall {
  return new UsageCall(usageSink(c, writer), {
    at: Date.now(),
    route: route.path,
    path: called.path,
    method: called.method,
    mcp: route.pricing.kind === 'mcp',
    listPrice: route.pricing.kind === 'fixed' ? route.pricing.micros : undefined,
  })
}
