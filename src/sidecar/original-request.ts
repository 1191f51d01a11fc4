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
  /** The caller's headers, as the proxy forwarded them. */
  headers: Headers
}

const METHOD = /^[A-Z]{1,16}$/

function firstOf(headers: Headers, names: string[]): string | null {
  for (const name of names) {
    const value = headers.get(name)
    if (value !== null && value !== '') return value
  }
  return null
}

/**
 * Rebuild the original request.
 * @param checkUrl the URL the proxy called (`/__pay/check…`)
 * @param suffix what followed `/__pay/check` in the path (Envoy's original path), or ''
 * @throws GateError `invalid_request` when the proxy sent no usable method or URI
 */
export function originalRequest(request: Request, checkUrl: URL, suffix: string): OriginalRequest {
  const headers = request.headers
  const method = (firstOf(headers, ['x-forwarded-method', 'x-original-method']) ?? request.method).toUpperCase()
  if (!METHOD.test(method)) throw new GateError('invalid_request', 'The proxy sent no valid original method (X-Forwarded-Method).')
  const uri = firstOf(headers, ['x-original-uri', 'x-forwarded-uri']) ?? (suffix ? `${suffix}${checkUrl.search}` : null)
  // Only origin-form (RFC 9112 §3.2.1): an absolute URI here could name another host.
  if (uri === null || !uri.startsWith('/') || uri.startsWith('//')) {
    throw new GateError('invalid_request', 'The proxy sent no original URI (X-Original-URI or X-Forwarded-Uri, starting with "/").')
  }
  const host = firstOf(headers, ['x-forwarded-host']) ?? checkUrl.host
  const proto = headers.get('x-forwarded-proto') === 'http' ? 'http' : 'https'
  let url: URL
  try {
    url = new URL(uri, `${proto}://${host}`)
  } catch {
    url = new URL(uri, checkUrl.origin)
  }
  return { method, url, headers }
}
