/**
 * @module retry
 * Trying a call to another part of the platform (a Durable Object, D1, a queue)
 * again after a transient failure, with exponential backoff. Shared by the
 * ledger's settlements, the sidecar's settle-now charge, the x402 payment lock
 * and the usage writers. Imports nothing.
 */

export type Tried<T> = { ok: true; value: T } | { ok: false; error: unknown }

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number
  /** The wait after the first failed try; it doubles after each one. */
  baseMs: number
  /** Whether a failure is worth another try (default: every one). */
  retryable?: (error: unknown) => boolean
}

/**
 * Run `work` until it succeeds, it fails in a way `retryable` rules out, or
 * every try is used; the value, or the last error.
 */
export async function withRetries<T>(
  work: () => Promise<T>,
  policy: RetryPolicy
): Promise<Tried<T>> {
  let error: unknown
  for (let attempt = 0; attempt < policy.attempts; attempt++) {
    if (attempt > 0)
      await new Promise((resolve) => setTimeout(resolve, policy.baseMs * 2 ** (attempt - 1)))
    try {
      return { ok: true, value: await work() }
    } catch (caught) {
      error = caught
      if (policy.retryable && !policy.retryable(caught)) break
    }
  }
  return { ok: false, error }
}
