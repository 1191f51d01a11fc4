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
  /** One line per violated invariant. */
  violations: string[]
}

declare module 'vitest' {
  interface TaskMeta {
    reliability?: Counts
  }
}
