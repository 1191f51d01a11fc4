/**
 * @module bytes
 * Joining the chunks a stream was read in, shared by the request-body reader
 * and the MCP response reader. Imports nothing.
 */

/** One array holding `chunks` end to end. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0)
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
