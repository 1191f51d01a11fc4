/**
 * @module sidecar/original-request
 * The request a proxy is asking about, rebuilt from what it forwards. Proxies
 * disagree on how: nginx (by convention) sends `X-Original-URI` and
 * `X-Original-Method`; Caddy and Traefik send `X-Forwarded-Uri` and
 * `X-Forwarded-Method` (Caddy's forward_auth always asks with GET); Envoy's
 * ext_authz appends the original path to the check URL and keeps the method.
 * The caller's own headers (key, payment, Idempotency-Key) come along as sent.
 */
import { GateError } from '../errors'

/** What the check knows about the call it is asked about. */
export interface OriginalRequest {
  method: string
  /** The original URL (path and query as the client sent them; host when the proxy says). */
  url: URL
  /** The path exactly as the proxy sent it, and so as it forwards it (no query). */
  path: string
  /** The caller's headers, as the proxy forwarded them. */
  headers: Headers
}

const METHOD = /^[A-Z]{1,16}$/

/** The path of an origin-form URI: what precedes its query. */
const pathOf = (uri: string): string => uri.split(/[?#]/, 1)[0] ?? ''

/**
 * The one value every given source agrees on. A proxy sets (overwrites) its own
 * family of headers; a client can still add the other family's, so a request
 * whose sources disagree is refused rather than priced as something it is not
 * (a POST tools/call posing as a free GET, a paid path posing as a free one).
 */
function agreed(sources: Array<string | null>, what: string): string | null {
  const given = [
    ...new Set(sources.filter((value): value is string => value !== null && value !== '')),
  ]
  if (given.length > 1)
    throw new GateError(
      'invalid_request',
      `The ${what} of the original request is given twice, differently.`
    )
  return given[0] ?? null
}

/**
 * Rebuild the original request.
 * @param checkUrl the URL the proxy called (`/__pay/check…`)
 * @param suffix what followed `/__pay/check` in the path (Envoy's original path), or ''
 * @throws GateError `invalid_request` when the proxy sent no usable (or conflicting) method or URI
 */
export function originalRequest(request: Request, checkUrl: URL, suffix: string): OriginalRequest {
  const headers = request.headers
  // Envoy style (the path after /__pay/check): the check's own method is the original one.
  const envoy = suffix !== ''
  const named = agreed(
    [
      headers.get('x-forwarded-method'),
      headers.get('x-original-method'),
      envoy ? request.method : null,
    ],
    'method'
  )
  const method = (named ?? request.method).toUpperCase()
  if (!METHOD.test(method))
    throw new GateError(
      'invalid_request',
      'The proxy sent no valid original method (X-Forwarded-Method).'
    )
  const uri = agreed(
    [
      headers.get('x-original-uri'),
      headers.get('x-forwarded-uri'),
      envoy ? `${suffix}${checkUrl.search}` : null,
    ],
    'URI'
  )
  // Only origin-form (RFC 9112 §3.2.1): an absolute URI here could name another host.
  if (uri === null || !uri.startsWith('/') || uri.startsWith('//')) {
    throw new GateError(
      'invalid_request',
      'The proxy sent no original URI (X-Original-URI or X-Forwarded-Uri, starting with "/").'
    )
  }
  if (!isNormalPath(uri)) {
    // The proxy forwards the URI as the client wrote it; the check would price it resolved.
    throw new GateError(
      'invalid_request',
      'The original path has dot segments, backslashes or escaped slashes; send it in normal form.'
    )
  }
  const host = headers.get('x-forwarded-host') || checkUrl.host
  const proto = headers.get('x-forwarded-proto') === 'http' ? 'http' : 'https'
  let url: URL
  try {
    url = new URL(uri, `${proto}://${host}`)
  } catch {
    url = new URL(uri, checkUrl.origin)
  }
  return { method, url, path: pathOf(uri), headers }
}

/**
 * Whether a path reads the same before and after URL resolution, as far as
 * routing goes: no `.` or `..` segment (also percent-encoded), no backslash and
 * no escaped slash or backslash. The check prices the resolved path, but the
 * proxy forwards the raw one: `/api/x/%2e%2e/%2e%2e/free` would be priced as the
 * free `/free` and reach an origin that routes it under the paid `/api/*`.
 */
export function isNormalPath(uri: string): boolean {
  const path = pathOf(uri)
  if (/\\|%5c|%2f/i.test(path)) return false
  return path.split('/').every((segment) => {
    const plain = segment.replace(/%2e/gi, '.')
    return plain !== '.' && plain !== '..'
  })
}
