import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { delimiter } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The built bin (npm run cli:test builds it first).
const repo = fileURLToPath(new URL('../..', import.meta.url))
const bin = fileURLToPath(new URL('../../bin/pay-gate.mjs', import.meta.url))
const built = existsSync(fileURLToPath(new URL('../../dist/cli.mjs', import.meta.url)))

describe.runIf(built)('bin/pay-gate.mjs', () => {
  const pay = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    })

  it('prints the package version', () => {
    const { version } = JSON.parse(readFileSync(`${repo}/package.json`, 'utf8')) as {
      version: string
    }
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

// The system's node, as a shell finds it once node_modules/.bin (where the `node`
// dev dependency puts Node 22, and where `npm run` looks first) is off the PATH.
const systemPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => !dir.includes('node_modules'))
  .join(delimiter)
const systemNode = spawnSync('/usr/bin/env', ['node', '-p', 'process.versions.node'], {
  encoding: 'utf8',
  env: { ...process.env, PATH: systemPath },
})
const systemMajor = Number(systemNode.stdout?.split('.')[0])

describe.runIf(systemMajor > 0 && systemMajor < 22)(
  `bin/pay-gate.mjs on the system's Node ${systemMajor}`,
  () => {
    it.each([['serve'], ['validate'], ['--version']])(
      '%s: says it needs Node 22, exit 1, no stack trace',
      (...args) => {
        const run = spawnSync('/usr/bin/env', ['node', bin, ...args], {
          cwd: repo,
          encoding: 'utf8',
          env: { ...process.env, PATH: systemPath },
        })
        expect(run.status).toBe(1)
        expect(run.stdout).toBe('')
        expect(run.stderr).toBe(
          `pay-gate needs Node.js 22 or later (this is Node ${systemMajor}.x). Run it with the node from node_modules/.bin (npm run …) or install Node 22.\n`
        )
      }
    )
  }
)
