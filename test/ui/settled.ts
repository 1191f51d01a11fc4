/**
 * Poll `read` until it gives `expected` (expect.poll works only inside a test):
 * generous, as the machine may be busy; the deadline is a failure, never a pass.
 */
export async function settled(
  read: () => Promise<unknown>,
  expected: unknown,
  timeoutMs = 15_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    last = await read()
    if (last === expected) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(
    `still ${JSON.stringify(last)} after ${timeoutMs} ms, expected ${JSON.stringify(expected)}`
  )
}
