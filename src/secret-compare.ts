/**
 * @module secret-compare
 * Comparing a presented secret with the expected one in constant time: both are
 * hashed first, so neither their contents nor their lengths leak through timing.
 * Shared by the admin API, its dashboard sessions and the sidecar.
 */

const encoder = new TextEncoder()

/** Constant-time equality of two secrets. */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(given)),
    crypto.subtle.digest('SHA-256', encoder.encode(expected)),
  ])
  return crypto.subtle.timingSafeEqual(a, b)
}
