/**
 * @module proxy/headers
 * Which headers cross the gate. Hop-by-hop headers (RFC 9110 §7.6.1) never do;
 * nor do the caller's gate credentials, nor any header the gate itself vouches
 * for (`X-Pay-*`), so a caller can never spoof what the gate tells the origin.
 */

/** RFC 9110 §7.6.1 connection-specific fields, plus the legacy ones proxies drop. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** Headers that `Connection` names as hop-by-hop for this message. */
function connectionNamed(headers: Headers): ReadonlySet<string> | undefined {
  const connection = headers.get('connection')
  if (!connection) return undefined
  return new Set(connection.split(',').map((name) => name.trim().toLowerCase()))
}

/**
 * Headers for the request to the origin, copied in one pass: no hop-by-hop
 * header, no Host or Content-Length (the runtime sets them), no `X-Pay-*`.
 * @param drop also leaves out any header for which it says true (the caller's key)
 */
export function upstreamRequestHeaders(
  incoming: Headers,
  drop?: (name: string, value: string) => boolean
): Headers {
  const named = connectionNamed(incoming)
  const out = new Headers()
  for (const [name, value] of incoming) {
    if (
      HOP_BY_HOP.has(name) ||
      name === 'host' ||
      name === 'content-length' ||
      name.startsWith('x-pay-')
    )
      continue
    if (named?.has(name) || drop?.(name, value)) continue
    out.append(name, value)
  }
  return out
}

/** Headers of the origin's response as the caller receives them: no hop-by-hop ones. */
export function downstreamResponseHeaders(upstream: Headers): Headers {
  const named = connectionNamed(upstream)
  const out = new Headers()
  for (const [name, value] of upstream) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue
    out.append(name, value)
  }
  return out
}
