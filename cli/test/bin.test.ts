import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The built bin (npm run cli:test builds it first).
const repo = fileURLToPath(new URL('../..', import.meta.url))
const bin = fileURLToPath(new URL('../../bin/pay-gate.mjs', import.meta.url))
const built = existsSync(fileURLToPath(new URL('../../dist/cli.mjs', import.meta.url)))

describe.runIf(built)('bin/pay-gate.mjs', () => {
  const pay = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })

  it('prints the package version', () => {
    const { version } = JSON.parse(readFileSync(`${repo}/package.json`, 'utf8')) as { version: string }
    expect(pay('version').stdout.trim()).toBe(version)
  })

  it('validates the repository routes.json and exits with the right codes', () => {
    const ok = pay('validate', '--json')
    expect(ok.status).toBe(0)
    expect(JSON.parse(ok.stdout)).toEqual({ ok: true, file: 'routes.json', issues: [] })
    expect(pay('nope').status).toBe(2)
    expect(pay('--help').stdout).toContain('routes push')
  })

  it('has no colour when stdout is not a terminal', () => {
    expect(pay('validate').stdout).not.toContain('\x1b[')
  })
})
