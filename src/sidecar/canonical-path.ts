/**
 * @module sidecar/canonical-path
 * In sidecar mode the gate prices a path and the proxy forwards it, as the
 * client wrote it. The gate's matching forgives spellings (letter case, escaped
 * letters, `//`, a trailing slash on an exact route) because, when it proxies
 * itself, it forwards the route's own spelling. A proxy does not: `/API/Free`
 * would be priced as the free `/api/free` and reach an origin that may serve it
 * from its paid catch-all. So a sidecar prices only paths already spelled the
 * way the gate would forward them, and refuses the rest with 400 (nothing
 * held): such a path is priced exactly as the origin gets it.
 */
import { GateError } from '../errors'

/** RFC 3986 §2.3: unreserved characters, which a URI producer should never percent-encode. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/

/** `path` with every percent-encoded unreserved character decoded (RFC 3986 §6.2.2.2). */
function decodeUnreserved(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16))
    return UNRESERVED.test(char) ? char : escape
  })
}

/**
 * Refuse a path the proxy would forward spelled otherwise than the gate prices it.
 * @param path the original path, as the proxy forwards it (no query)
 * @param forwardPath the route's spelling of it (from the route match)
 * @throws GateError `invalid_path` (400), with the canonical spelling in `canonicalPath`
 */
export function requireCanonicalPath(path: string, forwardPath: string): void {
  const canonicalPath = decodeUnreserved(forwardPath)
  if (path === canonicalPath) return
  throw new GateError(
    'invalid_path',
    `Send this path as ${canonicalPath}: the route's letter case, no empty segments, no trailing slash on an exact route, no escaped letters, digits or "-._~". The proxy forwards the path as written, and the origin could serve another spelling as another resource. Nothing was charged.`,
    { details: { canonicalPath } }
  )
}
