/**
 * Where the new project gets the pay-gate library from: the registry
 * (`^version`, the default), or with `--pay-gate <folder|tarball>` a copy on this
 * machine, written as a `file:` dependency the way `npm install <path>` writes it.
 * That is how a project is made before pay-gate is published, or against a
 * checkout. The copy is checked before anything is written.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { CliError } from './ui'

export type LibrarySource =
  | { kind: 'registry' }
  /** A pay-gate checkout (or unpacked package), linked: npm installs nothing of it. */
  | { kind: 'folder'; path: string }
  /** A `npm pack` tarball: npm installs it and its dependencies like a registry package. */
  | { kind: 'tarball'; path: string }

const TARBALL = /\.(tgz|tar\.gz)$/i

/**
 * The library `--pay-gate` names, resolved against `cwd`.
 * @throws CliError when it is missing, not pay-gate, or not ready to be linked
 */
export function resolveLibrary(given: string | undefined, cwd: string): LibrarySource {
  if (given === undefined) return { kind: 'registry' }
  const path = resolve(cwd, given)
  const flag = `--pay-gate "${given}"`
  if (!existsSync(path))
    throw new CliError(
      `${flag}: ${path} does not exist`,
      'Give a pay-gate checkout or the tarball `npm pack` made in one.'
    )
  if (statSync(path).isFile()) {
    if (!TARBALL.test(path))
      throw new CliError(
        `${flag}: expected a folder or a .tgz tarball`,
        'Make one in a pay-gate checkout with: npm pack'
      )
    return { kind: 'tarball', path }
  }
  checkFolder(path, flag)
  return { kind: 'folder', path }
}

// A linked folder is used as it is: npm neither builds it nor installs its
// dependencies, so both must already be there.
function checkFolder(path: string, flag: string): void {
  let name: unknown
  try {
    name = (JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { name?: unknown }).name
  } catch {
    name = undefined
  }
  if (name !== 'pay-gate')
    throw new CliError(
      `${flag}: ${path} is not a pay-gate checkout (no package.json named "pay-gate")`
    )
  if (!existsSync(join(path, 'node_modules'))) {
    throw new CliError(
      `${flag}: ${path} has no node_modules; a linked folder brings its own dependencies`,
      `Run npm install in ${path} first.`
    )
  }
  if (!existsSync(join(path, 'dist', 'cli.mjs'))) {
    throw new CliError(
      `${flag}: ${path} has no dist/cli.mjs, the pay-gate CLI that the project's routes:push, deploy and serve run`,
      `Run npm run build:cli in ${path} first.`
    )
  }
}

/** The `pay-gate` entry of the project's dependencies. */
export function dependencySpec(source: LibrarySource, version: string, projectDir: string): string {
  if (source.kind === 'registry') return `^${version}`
  // Relative to the project, as `npm install ../pay-gate` writes it, so the two
  // folders can move together.
  const path = relative(projectDir, source.path).split(sep).join('/')
  return `file:${path === '' ? '.' : path}`
}
