/**
 * @module pricing/path
 * Request paths in the one canonical form that both pricing and forwarding use, so
 * `/mcp`, `/MCP/`, `/%6Dcp`, `//mcp` and `/x/../mcp` cannot be priced as one route and
 * reach another at the origin. Pure functions, no I/O.
 */

/** One path segment: as received (still percent-encoded) and decoded. */
export interface PathSegment {
  raw: string
  decoded: string
}

export type NormalizedPath =
  { ok: true; segments: PathSegment[]; trailingSlash: boolean } | { ok: false; message: string }

/**
 * Split a URL pathname into decoded segments: empty segments collapse (`//`), dot
 * segments resolve, percent-escapes decode. An encoded `/`, `\` or NUL is refused,
 * because origins disagree on whether `%2F` separates segments, and a path whose
 * meaning depends on the origin could be priced as one route and served as another.
 * @param pathname `new URL(request.url).pathname`
 */
export function normalizePath(pathname: string): NormalizedPath {
  const segments: PathSegment[] = []
  for (const raw of pathname.split('/')) {
    if (raw === '') continue
    let decoded: string
    try {
      decoded = decodeURIComponent(raw)
    } catch {
      return { ok: false, message: 'malformed percent-encoding in the path' }
    }
    if (/[/\\\0]/.test(decoded)) {
      return { ok: false, message: 'an encoded "/", "\\" or NUL in a path segment is not accepted' }
    }
    if (decoded === '.') continue
    if (decoded === '..') {
      segments.pop()
      continue
    }
    segments.push({ raw, decoded })
  }
  return { ok: true, segments, trailingSlash: segments.length > 0 && pathname.endsWith('/') }
}

/** A compiled route pattern such as `/api/:version/*`. */
export interface PathPattern {
  parts: Array<{ kind: 'literal'; text: string; lower: string } | { kind: 'param' }>
  /** Ends in `/*`: matches the prefix itself and anything below it. */
  rest: boolean
}

/** Compile a route path as written in routes.json (already validated). */
export function compilePattern(path: string): PathPattern {
  const written = path.split('/').filter((segment) => segment !== '')
  const rest = written[written.length - 1] === '*'
  const parts = (rest ? written.slice(0, -1) : written).map((segment) =>
    segment.startsWith(':')
      ? ({ kind: 'param' } as const)
      : ({ kind: 'literal', text: segment, lower: segment.toLowerCase() } as const)
  )
  return { parts, rest }
}

/**
 * Match normalised segments against a pattern, case-insensitively.
 * @returns the path to send to the origin, or null when the pattern does not match.
 *   Literal segments are sent as the operator wrote them, so what reaches the origin
 *   is always inside the route that priced it; other segments go as received.
 */
export function matchPattern(
  pattern: PathPattern,
  segments: PathSegment[],
  trailingSlash: boolean
): string | null {
  if (
    pattern.rest ? segments.length < pattern.parts.length : segments.length !== pattern.parts.length
  ) {
    return null
  }
  const out: string[] = []
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as PathSegment
    const part = pattern.parts[i]
    if (part?.kind === 'literal') {
      if (segment.decoded.toLowerCase() !== part.lower) return null
      out.push(encodeURI(part.text))
    } else {
      out.push(segment.raw)
    }
  }
  // An exact route is reached at exactly its path; below a wildcard the caller's
  // trailing slash is kept, since it may name a different resource there.
  const keepSlash = trailingSlash && (pattern.rest || pattern.parts.at(-1)?.kind === 'param')
  return `/${out.join('/')}${keepSlash ? '/' : ''}`
}
