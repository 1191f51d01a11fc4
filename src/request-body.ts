/**
 * @module request-body
 * Reading a request body whole, within a limit, stopping as soon as it is passed
 * (shared by the gate and the Stripe webhook): for MCP bodies the gate must parse,
 * for plain HTTP bodies sent with an Idempotency-Key, whose request must be identified by its body too (or a retry
 * with another body would be served free as a "replay").
 */
import { concatBytes } from './bytes'

/** The body's bytes, or null when it is larger than `limit`. */
export async function readBytesWithin(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) return null
  if (!request.body) return new Uint8Array()
  // A declared length within the limit: the runtime enforces it, so read natively.
  if (declared !== null && /^\d+$/.test(declared))
    return new Uint8Array(await request.arrayBuffer())
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = request.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => undefined)
      return null
    }
    chunks.push(value)
  }
  return concatBytes(chunks)
}
