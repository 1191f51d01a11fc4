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
}

export type ForwardResult =
  | { ok: true; response: Response }
  | { ok: false; reason: 'upstream_unreachable' | 'upstream_timeout'; message: string }

/** The full upstream URL for a target. */
export function upstreamUrl(target: ForwardTarget): URL {
  const base = new URL(target.origin)
  const url = new URL(`${base.pathname.replace(/\/+$/, '')}${target.path}${target.search}`, base)
  // The path is built from non-empty segments, so it cannot name another host;
  // checked anyway, because this is the one line that decides where a request goes.
  if (url.origin !== base.origin) throw new Error(`refusing to forward outside ${base.origin}`)
  if (target.credential?.query) url.searchParams.set(target.credential.query, target.credential.value)
  return url
}

/**
 * Forward a request.
 * @param request the caller's request (its method and headers are used)
 * @param target where it goes
 * @param options.body the body to send; defaults to streaming the caller's body
 * @param options.dropHeaders headers to remove besides hop-by-hop and `X-Pay-*`
 * @param options.addHeaders headers the gate vouches for (set after the caller's are stripped)
 */
export async function forward(
  request: Request,
  target: ForwardTarget,
  options: { body?: ArrayBuffer | Uint8Array | null; dropHeaders?: string[]; addHeaders?: Record<string, string> } = {}
): Promise<ForwardResult> {
  const headers = upstreamRequestHeaders(request.headers, options.dropHeaders ?? [])
  for (const [name, value] of Object.entries(options.addHeaders ?? {})) headers.set(name, value)
  const credential = target.credential
  if (credential?.header) headers.set(credential.header, `${credential.prefix ?? ''}${credential.value}`)
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
  const body = hasBody ? (options.body !== undefined ? options.body : request.body) : null

  let url: URL
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
      return { ok: false, reason: 'upstream_timeout', message: `the origin did not answer within ${target.timeoutMs} ms` }
    }
    return { ok: false, reason: 'upstream_unreachable', message: (error as Error).message }
  } finally {
    clearTimeout(timer)
  }
}
