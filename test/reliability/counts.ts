/**
 * What one reliability scenario (one test) reports: the counts the closing
 * summary adds up. Shared by the tests (inside workerd) and the reporter (in
 * Node), so it imports nothing at run time.
 */
export interface Counts {
  calls: number
  faults: number
  invariants: number
  /** Ledger charge rows found with their one matching usage event. */
  usageMatched?: number
  /**
   * Calls a timeout decided under load (test/reliability/timeouts.ts): answered 504, or refused
   * because the facilitator did not answer in time, where the fault alone would have made another
   * outcome. Accepted, never charged; counted so that a run shows how much of it they were.
   */
  timedOut?: number
  /** One line per violated invariant. */
  violations: string[]
}

declare module 'vitest' {
  interface TaskMeta {
    reliability?: Counts
  }
}
