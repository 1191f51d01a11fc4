/**
 * @module proxy/forward
 * Sending a request to the route's origin, and only there: the URL is the
 * configured origin plus the canonical path the route matched, never anything the
 * caller names. Bodies stream in both directions; the timeout covers the wait for
 * the origin's response headers, not the length of a stream.
 */
import { upstreamRequestHeaders } from './headers'

/** The operator's own credential for the origin, already read from its secret. */
export interface OriginCredential {
  value: string
  header?: string
  prefix?: string
  query?: string
}

export interface ForwardTarget {
  /** Base URL of the origin, without a trailing slash. */
  origin: string
  /** The canonical path to request there. */
  path: string
  /** The caller's query string, with its leading "?" (or empty). */
  search: string
  timeoutMs: number
  credential?: OriginCredential
  /** The URL the caller asked for (already parsed), for X-Forwarded-Host and -Proto. */
  asked?: URL
}

export type ForwardResult =
  | { ok: true; response: Response }
  | { ok: false; reason: 'upstream_unreachable' | 'upstream_timeout'; message: string }

/**
 * The full upstream URL for a target: the configured origin (with its base path),
 * then the canonical path, then the caller's query. The path is "/" followed by
 * non-empty segments, so nothing the caller sends can name another host.
 */
export function upstreamUrl(target: ForwardTarget): string {
  if (!target.path.startsWith('/') || target.path.startsWith('//'))
    throw new Error(`refusing to forward to ${target.path}`)
  const url = `${target.origin}${target.path}${target.search}`
  if (!target.credential?.query) return url
  const withCredential = new URL(url)
  withCredential.searchParams.set(target.credential.query, target.credential.value)
  return withCredential.toString()
}

/**
 * Forward a request.
 * @param request the caller's request (its method and headers are used)
 * @param target where it goes
 * @param options.body the body to send; defaults to streaming the caller's body
 * @param options.dropHeader says which further headers to leave out (the caller's credentials)
 * @param options.addHeaders headers the gate vouches for (set after the caller's are stripped)
 */
export async function forward(
  request: Request,
  target: ForwardTarget,
  options: {
    body?: ArrayBuffer | Uint8Array | string | null
    dropHeader?: (name: string, value: string) => boolean
    addHeaders?: Record<string, string>
  } = {}
): Promise<ForwardResult> {
  const headers = upstreamRequestHeaders(request.headers, options.dropHeader)
  // The origin is called at its own host, so the host the caller asked for goes on
  // beside it, replacing anything the caller claimed (an origin's own Host and
  // DNS-rebinding checks keep their meaning behind the gate).
  if (target.asked) {
    headers.set('x-forwarded-host', target.asked.host)
    headers.set('x-forwarded-proto', target.asked.protocol === 'http:' ? 'http' : 'https')
  }
  for (const [name, value] of Object.entries(options.addHeaders ?? {})) headers.set(name, value)
  const credential = target.credential
  if (credential?.header)
    headers.set(credential.header, `${credential.prefix ?? ''}${credential.value}`)
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
  const body = hasBody ? (options.body !== undefined ? options.body : request.body) : null

  let url: string
  try {
    url = upstreamUrl(target)
  } catch (error) {
    return { ok: false, reason: 'upstream_unreachable', message: (error as Error).message }
  }
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), target.timeoutMs)
  try {
    const response = await fetch(url, {
      method: request.method,
      headers,
      body,
      // A redirect is the origin's answer to the caller; following it here would
      // let the origin (or the caller, through it) pick another upstream.
      redirect: 'manual',
      signal: abort.signal,
    })
    return { ok: true, response }
  } catch (error) {
    if (abort.signal.aborted) {
      return {
        ok: false,
        reason: 'upstream_timeout',
        message: `the origin did not answer within ${target.timeoutMs} ms`,
      }
    }
    return { ok: false, reason: 'upstream_unreachable', message: (error as Error).message }
  } finally {
    clearTimeout(timer)
  }
}
