/**
 * The in-process load generator: a fixed number of callers, each sending its next
 * request as soon as the last one is answered, over kept-alive loopback connections.
 * node:http rather than fetch: it costs the generator less CPU, and the generator
 * shares the machine's cores with everything it measures. Even so it costs 80-90 µs
 * of CPU a call (wrk: 7-8), so the bench uses it only without wrk (wrk.ts), and for
 * the x402 scenarios, which need each answer's headers and a cap on the calls sent.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http'

export interface LoadSpec {
  /** Full URL to send to: POST `body`, or GET when `method` says so (body then ignored). */
  url: string
  method?: 'GET' | 'POST'
  body: string
  /** Headers of the n-th request (lets many-key scenarios rotate keys). */
  headers: (n: number) => Record<string, string>
  concurrency: number
  warmupMs: number
  durationMs: number
  /** Read counters (CPU seconds by process) at the start and end of the measured window. */
  sample?: () => Record<string, number>
  /** Send at most this many requests (e.g. one per pre-signed payment, each usable once). */
  limit?: number
  /** Sees each successful answer's headers and latency (e.g. to read Server-Timing). */
  onSuccess?: (headers: IncomingHttpHeaders, latencyMs: number, measured: boolean) => void
}

export interface LoadResult {
  /** Successful answers completed inside the measured window. */
  ok: number
  errors: number
  /** Error kinds and how often, over the whole run (warm-up included). */
  errorKinds: Map<string, number>
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** Successful answers over the whole run, warm-up and tail included: what the gate should have charged. */
  okTotal: number
  /**
   * Requests sent that the generator stopped waiting for (wrk stops with requests in
   * flight; this generator waits for every answer, so 0): the gate may have charged them.
   */
  unanswered: number
  /** Growth of each sampled counter per answer completed in the measured window (CPU s per request). */
  perRequest: Record<string, number>
  /** Whether `limit` stopped the callers before the window closed (the figures then cover less). */
  exhausted: boolean
}

/** A request a single call may take before it counts as an error (and its socket is dropped). */
const REQUEST_TIMEOUT_MS = 30_000

/** What is wrong with an answer, or null when it is a success: 2xx, and no JSON-RPC or tool error. */
export function answerError(status: number, text: string): string | null {
  if (status < 200 || status > 299) return `HTTP ${status}${reasonOf(text)}`
  let message: { error?: { code?: number }; result?: { isError?: boolean } }
  try {
    message = JSON.parse(text)
  } catch {
    return 'body is not JSON'
  }
  if (message.error) return `JSON-RPC ${message.error.code}${reasonOf(text)}`
  if (message.result?.isError) return 'tool error'
  return null
}

function reasonOf(text: string): string {
  const reason = /"reason":"([^"]+)"/.exec(text)?.[1] ?? /"code":"([^"]+)"/.exec(text)?.[1]
  return reason ? ` ${reason}` : ''
}

type Answer = { status: number; text: string; headers: IncomingHttpHeaders }

function send(
  agent: Agent,
  url: URL,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body: string
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sized =
      method === 'POST' ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers
    const req = request(url, { method, agent, headers: sized }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          headers: res.headers,
        })
      )
      res.on('error', reject)
    })
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(method === 'POST' ? body : undefined)
  })
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(spec.url)
  const method = spec.method ?? 'POST'
  const limit = spec.limit ?? Number.POSITIVE_INFINITY
  let exhausted = false
  const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency })
  const start = performance.now()
  const measureFrom = start + spec.warmupMs
  const measureTo = measureFrom + spec.durationMs
  const latencies: number[] = []
  const errorKinds = new Map<string, number>()
  let ok = 0
  let errors = 0
  let okTotal = 0
  let sent = 0
  let completed = 0
  let first: { at: Record<string, number>; completed: number } | undefined
  let last: { at: Record<string, number>; completed: number } | undefined
  const snapshot = () => ({ at: spec.sample?.() ?? {}, completed })
  const windowStart = setTimeout(() => (first = snapshot()), spec.warmupMs)
  const windowEnd = setTimeout(() => (last = snapshot()), spec.warmupMs + spec.durationMs)

  const caller = async () => {
    // Bounded by time: no new request starts after the window closes.
    while (performance.now() < measureTo) {
      if (sent >= limit) {
        exhausted = true
        break
      }
      const n = sent++
      const began = performance.now()
      let problem: string | null
      let headers: IncomingHttpHeaders = {}
      try {
        const answer = await send(agent, url, method, spec.headers(n), spec.body)
        problem = answerError(answer.status, answer.text)
        headers = answer.headers
      } catch (error) {
        problem = `network: ${(error as Error).message}`
      }
      const ended = performance.now()
      completed++
      const measured = ended >= measureFrom && ended <= measureTo
      if (problem === null) {
        okTotal++
        spec.onSuccess?.(headers, ended - began, measured)
        if (measured) {
          ok++
          latencies.push(ended - began)
        }
      } else {
        errorKinds.set(problem, (errorKinds.get(problem) ?? 0) + 1)
        if (measured) errors++
      }
    }
  }
  await Promise.all(Array.from({ length: spec.concurrency }, caller))
  agent.destroy()
  clearTimeout(windowStart)
  clearTimeout(windowEnd)
  const perRequest: Record<string, number> = {}
  if (first && last && last.completed > first.completed) {
    for (const [name, value] of Object.entries(last.at)) {
      perRequest[name] =
        (value - (first.at[name] ?? Number.NaN)) / (last.completed - first.completed)
    }
  }

  const sorted = Float64Array.from(latencies).sort()
  return {
    ok,
    errors,
    errorKinds,
    requestsPerSecond: ok / (spec.durationMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    okTotal,
    unanswered: 0,
    perRequest,
    exhausted,
  }
}
