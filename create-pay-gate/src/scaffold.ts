/**
 * Writing the project: the template's folders of files, with placeholders such as
 * `<WORKER_NAME>` filled in, `__dot__gitignore` renamed to `.gitignore` (npm drops
 * `.gitignore` from published packages, so templates cannot ship one), and
 * routes.json finished with the chosen payment rails.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { ROUTES_KV_KEY } from '../../src/pricing'
import { dependencySpec, type LibrarySource } from './library'
import type { PayGateInfo } from './pay-gate-info'
import { applyRails, checkRoutes, type Rails, type X402Answers } from './routes'
import type { TemplateConfig } from './templates'

/** Everything a project is made from: the answers, resolved. */
export interface ProjectPlan {
  targetDir: string
  /** npm package name and Worker name. */
  name: string
  template: TemplateConfig
  origin: string
  routePath: string
  price: string
  rails: Rails
  x402?: X402Answers
  payGate: PayGateInfo
  /** Where the project's `pay-gate` dependency comes from (--pay-gate). */
  library: LibrarySource
}

/** `<NAME>` or `<VERSION:package>`; TypeScript generics such as `<T>` are too short to match. */
const PLACEHOLDER = /<([A-Z][A-Z_]+(?::[^<>\s"]+)?)>/g

export function placeholders(plan: ProjectPlan): Record<string, string> {
  const values: Record<string, string> = {
    PACKAGE_NAME: plan.name,
    WORKER_NAME: plan.name,
    COMPATIBILITY_DATE: plan.payGate.compatibilityDate,
    PAY_GATE_DEPENDENCY: dependencySpec(plan.library, plan.payGate.version, plan.targetDir),
    ROUTES_KV_KEY,
    ORIGIN: plan.origin,
    ROUTE_PATH: plan.routePath,
    PRICE: plan.price,
  }
  // Tools at the versions pay-gate itself is built and tested with.
  for (const [name, range] of Object.entries(plan.payGate.versions))
    values[`VERSION:${name}`] = range
  return values
}

/**
 * Fill in the placeholders of one file.
 * @throws Error on a placeholder with no value: a bug in the template, caught by the tests
 */
export function fillPlaceholders(
  text: string,
  values: Record<string, string>,
  file: string
): string {
  return text.replace(PLACEHOLDER, (match, key: string) => {
    const value = values[key]
    if (value === undefined) throw new Error(`${file}: unknown placeholder ${match}`)
    return value
  })
}

/** The name a template file gets in the project: `__dot__gitignore` → `.gitignore`. */
export function targetName(path: string): string {
  return path
    .split('/')
    .map((part) => part.replace(/^__dot__/, '.'))
    .join('/')
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? listFiles(path) : [path]
  })
}

/**
 * Every file of the project, by its path in the project (with `/` separators).
 * @throws CliError when the finished routes.json would not pass pay-gate's schema
 */
export function renderProject(plan: ProjectPlan): Map<string, string> {
  const values = placeholders(plan)
  const files = new Map<string, string>()
  for (const folder of plan.template.copyFiles) {
    const root = resolve(plan.template.dir, folder)
    for (const path of listFiles(root)) {
      const name = targetName(relative(root, path).split('\\').join('/'))
      files.set(name, fillPlaceholders(readFileSync(path, 'utf8'), values, path))
    }
  }
  const routesText = files.get('routes.json')
  if (routesText === undefined) throw new Error(`template ${plan.template.id} has no routes.json`)
  const routes = applyRails(JSON.parse(routesText), plan.rails, plan.x402)
  checkRoutes(routes)
  files.set('routes.json', `${JSON.stringify(routes, null, 2)}\n`)
  return files
}

/** Write the files, and a `.dev.vars` with a fresh admin token unless there is one. */
export function writeProject(targetDir: string, files: Map<string, string>): void {
  for (const [name, text] of files) {
    const path = join(targetDir, name)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, text)
  }
  const devVars = join(targetDir, '.dev.vars')
  if (!existsSync(devVars)) {
    // wrangler dev reads local secrets from here; .gitignore keeps it out of git.
    writeFileSync(devVars, `ADMIN_TOKEN=${randomBytes(24).toString('base64url')}\n`, {
      mode: 0o600,
    })
  }
}
