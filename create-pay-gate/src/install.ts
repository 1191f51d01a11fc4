/**
 * Installing the new project's dependencies with the package manager that ran
 * us (`npm create`, `pnpm create`, `yarn create`, `bun create` each say who they
 * are in npm_config_user_agent).
 */
import { spawnSync } from 'node:child_process'

export type PackageManager = 'npm' | 'pnpm' | 'yarn' | 'bun'

export function detectPackageManager(
  userAgent = process.env.npm_config_user_agent ?? ''
): PackageManager {
  const name = userAgent.split('/')[0]
  return name === 'pnpm' || name === 'yarn' || name === 'bun' ? name : 'npm'
}

/** `<pm> run <script>`, the way the next steps should spell it. */
export function runCommand(pm: PackageManager, script: string): string {
  if (pm !== 'npm') return `${pm} ${script}`
  return script === 'test' ? 'npm test' : `npm run ${script}`
}

/** @returns whether the install succeeded; its output goes straight to the terminal */
export function installDependencies(dir: string, pm: PackageManager): boolean {
  // On Windows the package managers are .cmd shims, which only a shell can start.
  const result = spawnSync(pm, ['install'], {
    cwd: dir,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  })
  return result.status === 0
}
