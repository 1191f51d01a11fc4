/**
 * @module proxy/scrub
 * The operator's upstream credential never reaches the caller through the
 * origin's response headers. An origin may echo the URL it was asked for (in
 * Location, Content-Location, Link, a cookie, a debug header) or the headers it
 * got; with `upstreamAuth.query` the URL carries the secret, with
 * `upstreamAuth.header` a header does. Every header value has the secret
 * replaced, as written and in the encodings a URL gives it. Bodies are the
 * origin's own and pass as they are.
 */

/** What the secret is replaced with: plain letters, valid in any header value and any URL. */
export const REDACTED = 'redacted'

/** Percent-escapes with lower-case hex digits (a server may write either case). */
const lowerHex = (text: string) => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase())

/** How many times over a form is encoded again (a URL in a query, in a cookie, …). */
const NESTING = 3

/**
 * The forms `secret` may take in a header value: as is; percent-encoded as a URL
 * component, as a form value (how the gate puts it in the query: URLSearchParams,
 * spaces as "+") and as a URL; each encoded again up to NESTING times (a URL
 * carried inside another URL's query); each with either case of hex digits.
 * Longest first, so a longer form is replaced before a shorter one inside it.
 */
export function secretForms(secret: string): string[] {
  if (secret === '') return []
  const forms = new Set<string>([secret])
  for (let form of [
    encodeURIComponent(secret),
    new URLSearchParams([['', secret]]).toString().slice(1),
    encodeURI(secret),
  ]) {
    for (let depth = 0; depth <= NESTING; depth++, form = encodeURIComponent(form)) {
      forms.add(form)
      forms.add(lowerHex(form))
    }
  }
  return [...forms].sort((a, b) => b.length - a.length)
}

const formsOf = (secrets: readonly string[]) =>
  secrets.flatMap(secretForms).sort((a, b) => b.length - a.length)

function replaceForms(text: string, forms: readonly string[]): string {
  let clean = text
  for (const form of forms) if (clean.includes(form)) clean = clean.split(form).join(REDACTED)
  return clean
}

/** `text` with every form of every secret replaced by REDACTED (an error message that names the URL). */
export function scrubText(text: string, secrets: readonly string[]): string {
  return replaceForms(text, formsOf(secrets))
}

/**
 * `headers` with every form of every secret replaced by REDACTED in every value;
 * undefined when no value holds one (nothing to change).
 */
export function scrubHeaders(headers: Headers, secrets: readonly string[]): Headers | undefined {
  const forms = formsOf(secrets)
  if (forms.length === 0) return undefined
  let changed = false
  const out = new Headers()
  // Iteration yields each Set-Cookie on its own, so cookies stay separate.
  for (const [name, value] of headers) {
    const clean = replaceForms(value, forms)
    if (clean !== value) changed = true
    out.append(name, clean)
  }
  return changed ? out : undefined
}

/**
 * The origin's response as the caller may see it: the same status and body
 * stream, its headers scrubbed of `secrets`; the response itself when no header
 * held one.
 * @example withoutSecrets(await fetch(url), [credential.value])
 */
export function withoutSecrets(response: Response, secrets: readonly string[]): Response {
  const headers = scrubHeaders(response.headers, secrets)
  if (!headers) return response
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  })
}
