/**
 * The reliability suite's shared parts, inside workerd: a tally of calls, faults
 * and invariants per scenario (read by report.ts through the test's meta), a
 * bounded-concurrency runner, and the ledger invariants, read straight from each
 * key's account object storage so nothing the gate says about itself is trusted.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import fc from 'fast-check'
import { expect, onTestFinished, vi, type TaskMeta } from 'vitest'
import { hashApiKey } from '../../src/credits'
import { formatDollars } from '../../src/money'
import { withUsageTable } from '../../src/usage'
import { keyState, TEST_ADMIN_TOKEN } from '../helpers'
import type { Counts } from './counts'

/** What must never appear in a response or a log line. */
const NEVER_SHOWN: Array<[RegExp, string]> = [
  [/pg_[A-Za-z0-9_-]{43}/, 'an API key'],
  [new RegExp(TEST_ADMIN_TOKEN), 'the admin token'],
  [/operator-secret-upstream-token/, 'the upstream secret'],
  [/(^|\n)\s+at \S/, 'a stack trace'],
]

/** What `text` shows that it never should: an API key, a secret, a stack trace. */
export function leaks(text: string): string[] {
  return NEVER_SHOWN.filter(([pattern]) => pattern.test(text)).map(([, what]) => what)
}

/** A console argument as the runtime would print it: an Error with its stack. */
function printed(arg: unknown): string {
  if (arg instanceof Error) return `${arg.name}: ${arg.message}\n${arg.stack ?? ''}`
  if (typeof arg === 'string') return arg
  try {
    return JSON.stringify(arg) ?? String(arg)
  } catch {
    return String(arg)
  }
}

/**
 * One scenario's counts. Every check is counted; a failed one is a violation, not
 * an early exit. It also watches the console (the gate and its objects log
 * through it, in this isolate) for secrets and stack traces.
 */
export class Tally {
  readonly counts: Counts = { calls: 0, faults: 0, invariants: 0, violations: [] }
  private readonly consoles = (['error', 'warn', 'log', 'info', 'debug'] as const).map((level) =>
    vi.spyOn(console, level)
  )

  constructor(task: { meta: TaskMeta }) {
    task.meta.reliability = this.counts
    onTestFinished(() => this.consoles.forEach((spy) => spy.mockRestore()))
  }

  /** Every line logged since the scenario began, as the runtime prints it. */
  get logs(): string[] {
    return this.consoles.flatMap((spy) =>
      spy.mock.calls.map((args: unknown[]) => args.map(printed).join(' '))
    )
  }

  call(n = 1): void {
    this.counts.calls += n
  }

  fault(n = 1): void {
    this.counts.faults += n
  }

  check(ok: boolean, what: string): boolean {
    this.counts.invariants++
    if (!ok) this.counts.violations.push(what)
    return ok
  }

  equal<T>(actual: T, expected: T, what: string): boolean {
    return this.check(
      actual === expected,
      `${what}: expected ${String(expected)}, got ${String(actual)}`
    )
  }

  /** Ends a scenario: checks the log lines, then fails the test with every violation it found. */
  assertClean(): void {
    const leaked = this.logs.flatMap((line) =>
      leaks(line).map(
        (what) => `a log line shows ${what}: ${line.slice(0, 160).replace(/\n/g, ' | ')}`
      )
    )
    this.check(leaked.length === 0, leaked[0] ?? '')
    for (const more of leaked.slice(1, 5)) this.counts.violations.push(more)
    expect(this.counts.violations, 'invariant violations').toEqual([])
  }
}

/**
 * A fast-check property over `input`: `check` returns the problems it saw (none: the input was handled).
 * Each run counts as one invariant; a failure, shrunk to its smallest input, is one violation that says
 * what went wrong and how to replay it. Bounded in time, so a slow shrink cannot stall the suite.
 */
export async function forAll<T>(
  tally: Tally,
  what: string,
  input: fc.Arbitrary<T>,
  check: (value: T) => Promise<string[]>,
  runs: number
): Promise<void> {
  let last: string[] = []
  const property = fc.asyncProperty(input, async (value) => {
    const problems = await check(value)
    if (problems.length > 0) last = problems
    return problems.length === 0
  })
  // The seed and scale come from test/reliability/seed.ts; the reproduction line below names both.
  const seed = Number(env.FC_SEED)
  const numRuns = runs * Math.max(1, Number(env.FC_SCALE) || 1)
  const result = await fc.check(property, { numRuns, seed, interruptAfterTimeLimit: 20_000 })
  tally.counts.invariants += result.numRuns
  if (result.failed) {
    const example = JSON.stringify(result.counterexample)?.slice(0, 400)
    tally.counts.violations.push(
      `${what}: ${last.join('; ')} (replay: PAY_GATE_FC_SEED=${result.seed}, path "${result.counterexamplePath}", counterexample ${example})`
    )
  }
}

/** Run `work` over `items` with at most `limit` in flight; results in input order. */
export async function bounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index] as T, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A small seeded PRNG (mulberry32), so a load mix is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type AccountRow = { balance: number; held: number; status: string }
type LedgerRow = {
  seq: number
  kind: string
  amount: number
  balance_after: number
  reservation_id: number | null
}
type HoldRow = {
  id: number
  amount: number
  charged: number | null
  state: string
  expires_at: number
}

export interface AccountSnapshot {
  account: AccountRow
  ledger: LedgerRow[]
  holds: HoldRow[]
  now: number
}

/** Everything a key's account object has stored, read inside the object. */
export async function accountSnapshot(key: string): Promise<AccountSnapshot> {
  const stub = env.CREDITS.getByName(await hashApiKey(key))
  return runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql
    return {
      account: sql
        .exec<AccountRow>('SELECT balance, held, status FROM account')
        .toArray()[0] as AccountRow,
      ledger: sql
        .exec<LedgerRow>(
          'SELECT seq, kind, amount, balance_after, reservation_id FROM ledger ORDER BY seq'
        )
        .toArray(),
      holds: sql
        .exec<HoldRow>('SELECT id, amount, charged, state, expires_at FROM reservations')
        .toArray(),
      now: Date.now(),
    }
  })
}

const nothingHeld = (snapshot: AccountSnapshot) =>
  snapshot.account.held === 0 && !snapshot.holds.some((hold) => hold.state === 'open')

/**
 * Wait until `done` (by default: nothing is held on the key; settlements flush within ~2.5 s), or give
 * up after `ms` worth of polls. Counted in polls, not by the clock: a test may have frozen Date, and on
 * a busy machine each poll takes longer, so the wait stretches with the machine.
 */
export async function quiescent(
  key: string,
  ms = 8_000,
  done: (snapshot: AccountSnapshot) => boolean = nothingHeld
): Promise<AccountSnapshot> {
  for (let polls = Math.ceil(ms / 50); ; polls--) {
    const snapshot = await accountSnapshot(key)
    if (done(snapshot) || polls <= 0) return snapshot
    await sleep(50)
  }
}

export interface LedgerExpectation {
  /** Charges the client counted: calls that succeeded and were paid with this key. */
  charges?: number
  /** Their sum, in micros. */
  charged?: number
  /** Grants and top-ups, in micros. */
  credited?: number
  /** Whether every hold must have settled: false where an aborted object may have lost a settlement (default true). */
  settled?: boolean
}

/**
 * The ledger invariants of one key, after its calls:
 * - balance = grants + top-ups − committed charges = the sum of the ledger;
 * - every ledger row's balanceAfter is the running sum, and never negative;
 * - held = the sum of open holds, 0 ≤ held ≤ balance, and 0 once everything settled;
 * - no open hold is past its expiry;
 * - each committed hold has exactly one charge row of its amount, and no other hold has one;
 * - the admin API shows what the object stores;
 * - the charges are exactly the ones the client counted, the credits exactly the ones granted;
 * - every charge row has exactly one `charged` usage event (D1) of the same key, hold and amount,
 *   and, once everything settled, every such event has its charge row.
 */
export async function checkLedger(
  tally: Tally,
  who: { id: string; key: string; name?: string },
  expected: LedgerExpectation = {}
): Promise<AccountSnapshot> {
  const name = who.name ?? who.id
  const settled = expected.settled ?? true
  // Settlements flush within ~2.5 s. Where holds may legitimately stay open (an aborted object lost
  // their settlement), wait instead until the charges the client counted are in (the flush of the
  // others is done, however slow the machine), or, without a count, for the flush's usual time.
  const chargesIn = (snapshot: AccountSnapshot) =>
    nothingHeld(snapshot) ||
    (expected.charges !== undefined &&
      snapshot.ledger.filter((row) => row.kind === 'charge').length >= expected.charges)
  const snapshot = settled
    ? await quiescent(who.key)
    : await quiescent(who.key, expected.charges === undefined ? 3_500 : 8_000, chargesIn)
  const { account, ledger, holds, now } = snapshot

  let running = 0
  let chainOk = true
  for (const row of ledger) {
    running += row.amount
    if (row.balance_after !== running || running < 0) chainOk = false
  }
  tally.equal(account.balance, running, `${name}: balance = sum of ledger`)
  tally.check(chainOk, `${name}: every balanceAfter is the running sum and never negative`)

  const open = holds.filter((hold) => hold.state === 'open')
  tally.equal(
    account.held,
    open.reduce((sum, hold) => sum + hold.amount, 0),
    `${name}: held = sum of open holds`
  )
  tally.check(
    account.held >= 0 && account.held <= account.balance,
    `${name}: 0 <= held (${account.held}) <= balance (${account.balance})`
  )
  tally.check(
    open.every((hold) => hold.expires_at > now),
    `${name}: no open hold outlives its expiry`
  )
  if (settled) tally.equal(account.held, 0, `${name}: nothing held once every call settled`)
  if (settled) tally.equal(open.length, 0, `${name}: no hold open once every call settled`)

  const chargeRows = ledger.filter((row) => row.kind === 'charge')
  const byHold = new Map<number, LedgerRow[]>()
  for (const row of chargeRows)
    byHold.set(row.reservation_id ?? -1, [...(byHold.get(row.reservation_id ?? -1) ?? []), row])
  const committed = holds.filter((hold) => hold.state === 'committed')
  const matched = committed.every((hold) => {
    const rows = byHold.get(hold.id) ?? []
    return rows.length === 1 && rows[0]?.amount === -(hold.charged ?? 0)
  })
  tally.check(matched, `${name}: each committed hold has exactly one charge row of its amount`)
  tally.equal(byHold.size, chargeRows.length, `${name}: no two charge rows name the same hold`)
  // Settled holds are pruned after a day; a charge row whose hold is still there must name a committed one.
  const states = new Map(holds.map((hold) => [hold.id, hold.state]))
  tally.check(
    chargeRows.every(
      (row) => (states.get(row.reservation_id ?? -1) ?? 'committed') === 'committed'
    ),
    `${name}: no charge for a hold that was released or expired`
  )

  const view = await keyState(who.id)
  tally.check(
    view.credits === formatDollars(account.balance - account.held) &&
      view.held === formatDollars(account.held) &&
      view.balance === formatDollars(account.balance),
    `${name}: the admin view (${view.credits}/${view.held}/${view.balance}) matches storage`
  )

  if (expected.credited !== undefined) {
    const credited = ledger
      .filter((row) => row.kind === 'grant' || row.kind === 'topup')
      .reduce((sum, row) => sum + row.amount, 0)
    tally.equal(credited, expected.credited, `${name}: grants and top-ups`)
  }
  if (expected.charges !== undefined)
    tally.equal(chargeRows.length, expected.charges, `${name}: charges = successful paid calls`)
  if (expected.charged !== undefined) {
    tally.equal(
      -chargeRows.reduce((sum, row) => sum + row.amount, 0),
      expected.charged,
      `${name}: amount charged = prices of successful calls`
    )
  }
  await checkUsageEvents(tally, name, who.id, chargeRows, settled)
  await checkFeeEvents(
    tally,
    name,
    who.id,
    ledger.filter((row) => row.kind === 'fee')
  )
  return snapshot
}

type ChargedEvent = { reservation_id: string; amount: number }

/** The key's `charged` credits usage events that name a hold, read from D1. */
async function chargedEvents(keyId: string): Promise<ChargedEvent[]> {
  const db = env.USAGE_DB
  const sql = `SELECT reservation_id, amount FROM usage_events WHERE key_id = ? AND rail = 'credits' AND outcome = 'charged' AND reservation_id IS NOT NULL`
  return (await withUsageTable(db, () => db.prepare(sql).bind(keyId).all<ChargedEvent>())).results
}

/**
 * Issue 6: every ledger row has a matching usage event. Each charge row has exactly one `charged`
 * event with the key's id, the row's hold and its amount; with everything settled, no charged
 * event names a hold without a charge row. Events are written after the response (batched, in
 * waitUntil), so this waits for them, counted in polls.
 */
async function checkUsageEvents(
  tally: Tally,
  name: string,
  keyId: string,
  chargeRows: LedgerRow[],
  settled: boolean
): Promise<void> {
  let events = await chargedEvents(keyId)
  for (let polls = 100; events.length < chargeRows.length && polls > 0; polls--) {
    await sleep(50)
    events = await chargedEvents(keyId)
  }
  await sleep(100)
  events = await chargedEvents(keyId)
  const byHold = new Map<string, ChargedEvent[]>()
  for (const event of events)
    byHold.set(event.reservation_id, [...(byHold.get(event.reservation_id) ?? []), event])
  const unmatched = chargeRows.filter((row) => {
    const matching = byHold.get(String(row.reservation_id)) ?? []
    return !(matching.length === 1 && matching[0]?.amount === -row.amount)
  })
  tally.counts.usageMatched =
    (tally.counts.usageMatched ?? 0) + chargeRows.length - unmatched.length
  tally.check(
    unmatched.length === 0,
    `${name}: ${unmatched.length} of ${chargeRows.length} charge rows lack exactly one matching usage event (e.g. hold ${unmatched[0]?.reservation_id})`
  )
  if (settled) {
    const charged = new Set(chargeRows.map((row) => String(row.reservation_id)))
    const orphans = events.filter((event) => !charged.has(event.reservation_id))
    tally.check(
      orphans.length === 0,
      `${name}: ${orphans.length} charged usage events name a hold with no charge row (e.g. hold ${orphans[0]?.reservation_id})`
    )
  }
}

/**
 * Each subscription fee row in a ledger has its `fee` usage event, and no fee event lacks its row: the
 * same number, of the same amounts (a fee row names no hold, so they are matched as a multiset).
 */
async function checkFeeEvents(
  tally: Tally,
  name: string,
  keyId: string,
  feeRows: LedgerRow[]
): Promise<void> {
  const db = env.USAGE_DB
  const read = async () =>
    (
      await withUsageTable(db, () =>
        db
          .prepare(`SELECT amount FROM usage_events WHERE key_id = ? AND outcome = 'fee'`)
          .bind(keyId)
          .all<{ amount: number }>()
      )
    ).results
  let events = await read()
  for (let polls = 100; events.length < feeRows.length && polls > 0; polls--) {
    await sleep(50)
    events = await read()
  }
  const sorted = (amounts: number[]) => [...amounts].sort((a, b) => a - b).join(',')
  const rows = feeRows.map((row) => -row.amount)
  tally.counts.usageMatched =
    (tally.counts.usageMatched ?? 0) + Math.min(rows.length, events.length)
  tally.check(
    sorted(rows) === sorted(events.map((event) => event.amount)),
    `${name}: fee rows (${sorted(rows) || 'none'}) and fee usage events (${sorted(events.map((event) => event.amount)) || 'none'}) differ`
  )
}

/**
 * Each x402 payment settled for a served call has exactly one `charged` x402 usage event naming its
 * transaction, for the call's price. Waits (counted in polls) for the events, written after the response.
 */
export async function checkPaymentEvents(
  tally: Tally,
  name: string,
  payments: Array<{ transaction: string; micros: number }>
): Promise<void> {
  const db = env.USAGE_DB
  const read = async () => {
    const rows: Array<{ payment: string; amount: number }> = []
    for (let i = 0; i < payments.length; i += 90) {
      const chunk = payments.slice(i, i + 90).map((p) => p.transaction)
      const sql = `SELECT payment, amount FROM usage_events WHERE rail = 'x402' AND outcome = 'charged' AND payment IN (${chunk.map(() => '?').join(', ')})`
      rows.push(
        ...(
          await withUsageTable(db, () =>
            db
              .prepare(sql)
              .bind(...chunk)
              .all<{ payment: string; amount: number }>()
          )
        ).results
      )
    }
    return rows
  }
  let rows = await read()
  for (let polls = 100; rows.length < payments.length && polls > 0; polls--) {
    await sleep(50)
    rows = await read()
  }
  const unmatched = payments.filter((p) => {
    const matching = rows.filter((row) => row.payment === p.transaction)
    return !(matching.length === 1 && matching[0]?.amount === p.micros)
  })
  tally.counts.usageMatched = (tally.counts.usageMatched ?? 0) + payments.length - unmatched.length
  tally.check(
    unmatched.length === 0,
    `${name}: ${unmatched.length} of ${payments.length} settled payments lack exactly one matching usage event (e.g. ${unmatched[0]?.transaction})`
  )
}

/** Every request the fault origin received with `x-test-tag: tag`. */
export async function faultRequests(
  tag: string
): Promise<Array<{ method: string; path: string; headers: Record<string, string>; body: string }>> {
  const response = await fetch(
    `${env.FAULT_ORIGIN}/__fault/requests?tag=${encodeURIComponent(tag)}`
  )
  return (await response.json()) as Array<{
    method: string
    path: string
    headers: Record<string, string>
    body: string
  }>
}
