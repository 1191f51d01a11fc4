/**
 * `pay-gate validate`: the worker's own schema (errors with their place in the
 * file), then checks the schema cannot make: routes that can never match because
 * an earlier route takes all their requests.
 */
import { compilePattern, type PathPattern } from '../../src/pricing/path'
import type { RoutesFile } from '../../src/pricing/schema'
import { validateRoutesText, type RoutesIssue } from '../../src/pricing/validate'

export type { RoutesIssue }

export type RoutesCheck =
  | { ok: true; file: RoutesFile; issues: [] }
  | { ok: false; file?: RoutesFile; issues: RoutesIssue[] }

type Route = RoutesFile['routes'][number]

/**
 * Whether every path `later` can match, `earlier` matches too: segment by
 * segment, a `:param` takes any segment, a literal only the same literal (paths
 * match case-insensitively), and a trailing `*` any rest.
 */
function covers(earlier: PathPattern, later: PathPattern): boolean {
  if (
    earlier.rest
      ? later.parts.length < earlier.parts.length
      : later.rest || later.parts.length !== earlier.parts.length
  )
    return false
  return earlier.parts.every((part, i) => {
    const other = later.parts[i] as PathPattern['parts'][number]
    return part.kind === 'param' || (other.kind === 'literal' && other.lower === part.lower)
  })
}

/** `earlier` takes every request `later` could match: same or broader method, same or broader path. */
function shadows(earlier: Route, later: Route): 'duplicate' | 'shadowed' | undefined {
  if (earlier.method !== undefined && earlier.method !== later.method) return undefined
  if (earlier.path === later.path) return earlier.method === later.method ? 'duplicate' : 'shadowed'
  return covers(compilePattern(earlier.path), compilePattern(later.path)) ? 'shadowed' : undefined
}

/** Routes that can never match: each is reported at its own `routes[i].path`. */
export function findOverlaps(file: RoutesFile): RoutesIssue[] {
  const issues: RoutesIssue[] = []
  file.routes.forEach((route, i) => {
    for (let j = 0; j < i; j++) {
      const earlier = file.routes[j] as Route
      const kind = shadows(earlier, route)
      if (!kind) continue
      const what = `${earlier.method ?? 'any method'} ${earlier.path}`
      issues.push({
        path: `routes[${i}].path`,
        message:
          kind === 'duplicate'
            ? `duplicate route: routes[${j}] has the same path and method (${what})`
            : `never matches: routes[${j}] (${what}) comes first and takes all its requests`,
      })
      break
    }
  })
  return issues
}

export function checkRoutesText(text: string): RoutesCheck {
  const result = validateRoutesText(text)
  if (!result.ok) return { ok: false, issues: result.issues }
  const overlaps = findOverlaps(result.file)
  return overlaps.length === 0
    ? { ok: true, file: result.file, issues: [] }
    : { ok: false, file: result.file, issues: overlaps }
}
