/**
 * End to end, the way a user gets it: pack pay-gate and create-pay-gate with npm,
 * run the packed CLI through `npm exec` (which is what `npm create pay-gate` does),
 * then install each generated project against the packed library and run its
 * typecheck, its tests (in workerd) and `wrangler deploy --dry-run`.
 *
 * Slow, because each project installs from the registry: `npm run test:e2e`
 * (or `npm run create:test` at the repository root). KEEP_E2E=1 keeps the folder.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PACKAGE_DIR, REPO } from '../helpers'

const exec = promisify(execFile)
const PAY_TO = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'

// The outer `npm run` sets npm_* variables (the workspace, the config) that
// would leak into the inner npm commands; they must behave as in a fresh shell.
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))),
  WRANGLER_SEND_METRICS: 'false',
  NO_COLOR: '1',
}

/** Run a command, timing it; on failure, show what it printed. */
async function run(command: string, args: string[], cwd: string): Promise<string> {
  const started = Date.now()
  try {
    const { stdout } = await exec(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })
    console.log(`  ${((Date.now() - started) / 1000).toFixed(1)} s  ${command} ${args.join(' ')}`)
    return stdout
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string }
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`)
  }
}

/** `npm pack` prints the tarball's file name last. */
async function pack(dir: string, destination: string): Promise<string> {
  const name = (await run('npm', ['pack', '--pack-destination', destination], dir)).trim().split('\n').pop() ?? ''
  return join(destination, name)
}

let work = ''
let library = ''
let cli = ''

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'create-pay-gate-e2e-'))
  library = await pack(REPO, work)
  cli = await pack(PACKAGE_DIR, work) // prepack builds dist/ and copies templates/
}, 120_000)

// Two installed projects are ~1.6 GB in ~45,000 files: on a busy disk removing them
// takes far longer than the default 10 s hook timeout.
afterAll(() => {
  if (work && !process.env.KEEP_E2E) rmSync(work, { recursive: true, force: true })
}, 180_000)

describe('the packed library', () => {
  it('ships its source and its CLI, and nothing of the repository around it', async () => {
    const files = (await run('tar', ['tzf', library], work)).trim().split('\n')
    // templates/self-host: the systemd unit of `pay-gate serve`, next to the CLI that runs it.
    const shipped = /^package\/(src\/|bin\/pay-gate\.mjs$|dist\/cli\.mjs$|templates\/self-host\/|README\.md$|package\.json$)/
    expect(files.every((file) => shipped.test(file)), files.join('\n')).toBe(true)
    expect(files).toContain('package/src/lib.ts')
    // prepack builds the CLI, so the packed bin has what it imports.
    expect(files).toContain('package/bin/pay-gate.mjs')
    expect(files).toContain('package/dist/cli.mjs')
    expect(files).toContain('package/templates/self-host/pay-gate.service')
  })
})

const CASES = [
  // No --yes: stdin is not a terminal here, so every unanswered question takes its default.
  { name: 'mcp-gate', argv: ['--template', 'mcp'] },
  {
    name: 'api-gate',
    argv: ['--template', 'api', '--origin', 'https://api.example.com', '--rails', 'both', '--pay-to', PAY_TO, '--price', '0.05', '--yes'],
  },
]

describe.each(CASES)('npm create pay-gate $name', ({ name, argv }) => {
  it('scaffolds a project that typechecks, passes its tests and builds for deploy', async () => {
    await run('npm', ['exec', '--yes', `--package=${cli}`, '--', 'create-pay-gate', name, ...argv, '--no-install'], work)
    const project = join(work, name)
    expect(existsSync(join(project, '.gitignore'))).toBe(true)
    expect(existsSync(join(project, '__dot__gitignore'))).toBe(false)

    // One install: the registry for the tools, the packed tarball for pay-gate.
    await run('npm', ['install', '--no-audit', '--no-fund', library], project)
    expect(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).dependencies['pay-gate']).toMatch(/^file:/)

    await run('npm', ['run', 'typecheck'], project)
    await run('npm', ['test'], project)
    const outdir = join(work, `${name}-dist`)
    await run('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], project)
    expect(existsSync(join(outdir, 'index.js'))).toBe(true)
  }, 600_000)
})
