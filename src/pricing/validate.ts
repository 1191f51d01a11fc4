/**
 * @module pricing/validate
 * Checking a routes file against the schema (pricing/schema), with every problem
 * named at its place in the file: `routes[2].mcp.tools.search.price`.
 */
import { RoutesFileSchema, type RoutesFile } from './schema'

/** One problem in a routes file, at a path like `routes[2].mcp.tools.search.price`. */
export interface RoutesIssue {
  path: string
  message: string
}

export type RoutesValidation = { ok: true; file: RoutesFile } | { ok: false; issues: RoutesIssue[] }

/** Format a zod issue path as `routes[2].mcp.tools.search.price`. */
function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else {
      const name = String(part)
      out += /^[A-Za-z_$][\w$-]*$/.test(name)
        ? `${out ? '.' : ''}${name}`
        : `[${JSON.stringify(name)}]`
    }
  }
  return out || '(root)'
}

/**
 * Validate a parsed routes document.
 * @returns the typed file, or every issue with the place it was found
 */
export function validateRoutesFile(input: unknown): RoutesValidation {
  const result = RoutesFileSchema.safeParse(input)
  if (result.success) return { ok: true, file: result.data }
  const issues = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: formatPath([...issue.path, key]),
          message: 'unknown field',
        }))
      : [{ path: formatPath(issue.path), message: issue.message }]
  )
  return { ok: false, issues }
}

/** Validate the text of a routes file, reporting JSON syntax errors as an issue too. */
export function validateRoutesText(text: string): RoutesValidation {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    return {
      ok: false,
      issues: [{ path: '(root)', message: `not valid JSON: ${(error as Error).message}` }],
    }
  }
  return validateRoutesFile(parsed)
}
