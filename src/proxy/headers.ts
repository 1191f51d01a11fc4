/**
 * @module proxy/headers
 * Which headers cross the gate. Hop-by-hop headers (RFC 9110 §7.6.1) never do;
 * nor do the caller's gate credentials, nor any header the gate itself vouches
 * for (`X-Pay-*`), so a caller can never spoof what the gate tells the origin.
 */

/** RFC 9110 §7.6.1 connection-specific fields, plus the legacy ones proxies drop. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]

/** Remove hop-by-hop headers, including any that `Connection` names. */
function dropHopByHop(headers: Headers): void {
  const named = (headers.get('connection') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean)
  for (const name of [...HOP_BY_HOP, ...named]) headers.delete(name)
}

/**
 * Headers for the request to the origin.
 * @param incoming the caller's headers
 * @param drop further headers to remove (the one that carried the caller's key)
 */
export function upstreamRequestHeaders(incoming: Headers, drop: string[]): Headers {
  const headers = new Headers(incoming)
  dropHopByHop(headers)
  headers.delete('host')
  headers.delete('content-length')
  for (const name of drop) headers.delete(name)
  for (const name of [...headers.keys()]) {
    if (name.startsWith('x-pay-')) headers.delete(name)
  }
  return headers
}

/** Headers of the origin's response as the caller receives them. */
export function downstreamResponseHeaders(upstream: Headers): Headers {
  const headers = new Headers(upstream)
  dropHopByHop(headers)
  return headers
}
