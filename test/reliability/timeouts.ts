/**
 * What a timeout may make of a call, so that a scenario accepts exactly that
 * under load and nothing more. The fault routes have short timeouts (300 ms), so
 * a hang costs the suite little; on a busy machine an origin's answer, even an
 * instant one, can then come after the route's timeout. The gate answers 504
 * `upstream_timeout` (src/proxy/forward.ts: the timer runs until the origin's
 * headers arrive), charges nothing, and the call may or may not have reached
 * the origin. The money checks stay exact: they count a timed-out call as not
 * served.
 */
import type { Tally } from './harness'

/**
 * How a call ended, for the money and origin checks:
 * - `answered`: the origin's own answer (or fault) reached the caller;
 * - `timed-out`: 504 by the route's timeout (the fault under test, or a fault or answer that came too late).
 */
export type Ending = 'answered' | 'timed-out'

/** Whether an answer is the gate's own 504 upstream_timeout. */
export const timedOut = (status: number, text: string) =>
  status === 504 && text.includes('upstream_timeout')

/**
 * Checks a call's status against the one its fault makes (`expected`), accepting a 504 upstream_timeout
 * in its place; anything else is a violation (undefined). A 504 that replaced another outcome is
 * counted in the report (`timedOut`), so a run shows how much of it the timeouts decided.
 */
export function ending(
  tally: Tally,
  what: string,
  status: number,
  text: string,
  expected: number
): Ending | undefined {
  if (timedOut(status, text)) {
    if (expected !== 504) tally.counts.timedOut = (tally.counts.timedOut ?? 0) + 1
    tally.check(true, `${what}: status`)
    return 'timed-out'
  }
  if (!tally.equal(status, expected, `${what}: status (or 504 upstream_timeout)`)) return undefined
  return 'answered'
}

/** A header that names one call, so the origins' logs can be read per call (they record every header). */
export const CALL_HEADER = 'x-test-call'

/** How many requests carried each call's id, from an origin's log. */
export function visitsByCall(
  requests: Array<{ headers: Record<string, string | string[] | undefined> }>
): Map<string, number> {
  const visits = new Map<string, number>()
  for (const request of requests) {
    // A request without an id counts under one of its own, which names no call.
    const header = request.headers[CALL_HEADER]
    const id = typeof header === 'string' ? header : '(no call id)'
    visits.set(id, (visits.get(id) ?? 0) + 1)
  }
  return visits
}

/** How often a call reached the origin: once (its answer was seen), never, or at most once (it timed out). */
export type Visits = 'once' | 'never' | 'at most once'

/** A call answered by the origin reached it exactly once; one that timed out may never have arrived (a busy origin had not read it yet). */
export const visitsOf = (ended: Ending | undefined): Visits =>
  ended === 'answered' ? 'once' : 'at most once'

/** Each call reached the origin as often as its ending says, and nothing else did. */
export function checkVisits(
  tally: Tally,
  what: string,
  calls: Array<{ id: string; visits: Visits }>,
  visits: Map<string, number>
): void {
  const fits = (expected: Visits, n: number) =>
    expected === 'once' ? n === 1 : expected === 'never' ? n === 0 : n <= 1
  const wrong = calls.filter((call) => !fits(call.visits, visits.get(call.id) ?? 0))
  const example = wrong[0]
  tally.check(
    wrong.length === 0,
    `${what}: ${wrong.length} of ${calls.length} calls reached the origin other than their ending says` +
      (example ? ` (e.g. expected ${example.visits}, ${visits.get(example.id) ?? 0} times)` : '')
  )
  const unknown = [...visits.keys()].filter((id) => !calls.some((call) => call.id === id))
  tally.check(
    unknown.length === 0,
    `${what}: ${unknown.length} requests at the origin belong to no call made`
  )
}
