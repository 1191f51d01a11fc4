/**
 * `pay-gate validate`: the worker's own schema (errors with their place in the
 * file), then checks the schema cannot make: routes that can never match because
 * an earlier route takes all their requests.
 */
import { validateRoutesText, type RoutesFile, type RoutesIssue } from '../../src/pricing/schema'

export type { RoutesIssue }

export type RoutesCheck = { ok: true; file: RoutesFile; issues: [] } | { ok: false; file?: RoutesFile; issues: RoutesIssue[] }

type Route = RoutesFile['routes'][number]

/** The prefix a `/x/*` path stands for (`/x`), or undefined for a path that is not a wildcard. */
function wildcardPrefix(path: string): string | undefined {
  if (path === '/*') return ''
  return path.endsWith('/*') ? path.slice(0, -2) : undefined
}

/** `earlier` takes every request `later` could match: same or broader method, same or broader path. */
function shadows(earlier: Route, later: Route): 'duplicate' | 'shadowed' | undefined {
  if (earlier.method !== undefined && earlier.method !== later.method) return undefined
  if (earlier.path === later.path) return earlier.method === later.method ? 'duplicate' : 'shadowed'
  const prefix = wildcardPrefix(earlier.path)
  if (prefix === undefined || earlier.path.includes('/:')) return undefined
  const target = wildcardPrefix(later.path) ?? later.path
  return target === prefix || target.startsWith(`${prefix}/`) ? 'shadowed' : undefined
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
  return overlaps.length === 0 ? { ok: true, file: result.file, issues: [] } : { ok: false, file: result.file, issues: overlaps }
}
