/**
 * End to end, the way a user gets it: pack pay-gate and create-pay-gate with npm,
 * run the packed CLI through `npm exec` (which is what `npm create pay-gate` does),
 * and let it install each generated project. pay-gate is not on the registry yet,
 * so the projects take it from this machine with --pay-gate: one from the packed
 * tarball, one from this checkout (a linked folder). Each then runs its
 * typecheck, its tests (in workerd) and `wrangler deploy --dry-run`, and the
 * commands its README gives: routes:push and deploy (which validate first),
 * `pay-gate serve`, `pay-gate keys create` and the dashboard.
 *
 * Slow, because each project installs: `npm run test:e2e` (or `npm run
 * create:test` at the repository root). KEEP_E2E=1 keeps the folder.
 */
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PACKAGE_DIR, REPO } from '../helpers'
import { attempt, pack, run, serve } from './commands'

const PAY_TO = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef'

let work = ''
let library = ''
let cli = ''

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'create-pay-gate-e2e-'))
  library = await pack(REPO, work) // prepack builds dist/cli.mjs, which the linked checkout needs too
  cli = await pack(PACKAGE_DIR, work) // prepack builds dist/ and copies templates/
}, 120_000)

// Two installed projects are ~1.6 GB in ~45,000 files: on a busy disk removing them
// takes far longer than the default 10 s hook timeout.
afterAll(() => {
  if (work && !process.env.KEEP_E2E) rmSync(work, { recursive: true, force: true })
}, 180_000)

/** `npm create pay-gate <name> -- <argv>`, from the packed CLI, in the work folder. */
const create = (name: string, argv: string[]) =>
  attempt(
    'npm',
    ['exec', '--yes', `--package=${cli}`, '--', 'create-pay-gate', name, ...argv],
    work
  )

describe('the packed library', () => {
  it('ships its source and its CLI, and nothing of the repository around it', async () => {
    const files = (await run('tar', ['tzf', library], work)).trim().split('\n')
    // templates/self-host: the systemd unit of `pay-gate serve`, next to the CLI that runs it.
    const shipped =
      /^package\/(src\/|bin\/pay-gate\.mjs$|dist\/cli\.mjs$|templates\/self-host\/|README\.md$|package\.json$)/
    expect(
      files.every((file) => shipped.test(file)),
      files.join('\n')
    ).toBe(true)
    expect(files).toContain('package/src/lib.ts')
    // prepack builds the CLI, so the packed bin has what it imports.
    expect(files).toContain('package/bin/pay-gate.mjs')
    expect(files).toContain('package/dist/cli.mjs')
    expect(files).toContain('package/templates/self-host/pay-gate.service')
  })
})

describe('without --pay-gate', () => {
  it('the install cannot find pay-gate on the registry, and the CLI says to pass --pay-gate', async () => {
    const created = await create('from-registry', ['--template', 'api', '--yes'])
    expect(created.code).toBe(1)
    expect(created.stderr).toMatch(/404[^\n]*\/pay-gate\b/) // npm's own words: not on the registry
    expect(created.stderr).toContain('npm install failed; the project is written.')
    expect(created.stderr).toContain(
      'make the project again with --pay-gate <folder|tarball> --force'
    )
    const pkg = JSON.parse(readFileSync(join(work, 'from-registry', 'package.json'), 'utf8'))
    expect(pkg.dependencies['pay-gate']).toMatch(/^\^\d/)
  }, 300_000)
})

describe('--pay-gate <tarball>: an MCP gate', () => {
  const name = 'mcp-gate'
  const project = () => join(work, name)

  it('installs the packed library from the tarball, typechecks, passes its tests and builds for deploy', async () => {
    // No --yes: stdin is not a terminal here, so every unanswered question takes its default.
    const created = await create(name, ['--template', 'mcp', '--pay-gate', library])
    expect(created.code, created.stderr).toBe(0)
    expect(existsSync(join(project(), '.gitignore'))).toBe(true)
    expect(existsSync(join(project(), '__dot__gitignore'))).toBe(false)

    const pkg = JSON.parse(readFileSync(join(project(), 'package.json'), 'utf8'))
    expect(pkg.dependencies['pay-gate']).toBe(`file:../${library.split('/').pop()}`)
    const lock = JSON.parse(readFileSync(join(project(), 'package-lock.json'), 'utf8'))
    expect(lock.packages['node_modules/pay-gate'].resolved).toBe(pkg.dependencies['pay-gate'])
    expect(lstatSync(join(project(), 'node_modules', 'pay-gate')).isDirectory()).toBe(true) // unpacked, not linked

    await run('npm', ['run', 'typecheck'], project())
    await run('npm', ['test'], project())
    const outdir = join(work, `${name}-dist`)
    await run('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], project())
    expect(existsSync(join(outdir, 'index.js'))).toBe(true)
  }, 600_000)

  it('routes:push and deploy refuse an invalid routes.json, uploading nothing; a valid one is pushed', async () => {
    const good = readFileSync(join(project(), 'routes.json'), 'utf8')
    const live = () =>
      attempt(
        'npx',
        ['wrangler', 'kv', 'key', 'get', 'pay-gate/routes', '--binding', 'ROUTES', '--local'],
        project()
      )
    writeFileSync(
      join(project(), 'routes.json'),
      good.replace('"price": "0.01"', '"price": "0.0000001"')
    )

    const refused = await attempt('npm', ['run', 'routes:push'], project())
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('routes[0].mcp.price: expected a decimal string of dollars')
    expect(refused.stderr).toContain('nothing uploaded')
    expect((await live()).stdout).toMatch(/value not found/i)

    // Validated before wrangler runs: it never starts (no credentials here would be needed to see it fail).
    const deploy = await attempt('npm', ['run', 'deploy'], project())
    expect(deploy.code).not.toBe(0)
    expect(deploy.stderr).toContain('routes[0].mcp.price')
    expect(`${deploy.stdout}${deploy.stderr}`).not.toMatch(/wrangler \d/)

    writeFileSync(join(project(), 'routes.json'), good)
    const pushed = await attempt('npm', ['run', 'routes:push'], project())
    expect(pushed.code, pushed.stderr).toBe(0)
    expect(pushed.stdout).toContain('uploaded routes.json to KV key "pay-gate/routes" (local)')
    expect(JSON.parse((await live()).stdout)).toEqual(JSON.parse(good))
  }, 120_000)
})

describe('--pay-gate <folder>: an HTTP API gate on this checkout', () => {
  const name = 'api-gate'
  const project = () => join(work, name)

  it('links the checkout, typechecks, passes its tests and builds for deploy', async () => {
    const argv = [
      '--template',
      'api',
      '--origin',
      'https://api.example.com',
      '--rails',
      'both',
      '--pay-to',
      PAY_TO,
      '--price',
      '0.05',
    ]
    const created = await create(name, [...argv, '--pay-gate', REPO, '--yes'])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toContain('(linked folder), not the registry')

    const pkg = JSON.parse(readFileSync(join(project(), 'package.json'), 'utf8'))
    expect(pkg.dependencies['pay-gate']).toMatch(/^file:(\.\.\/)+/)
    expect(lstatSync(join(project(), 'node_modules', 'pay-gate')).isSymbolicLink()).toBe(true)

    await run('npm', ['run', 'typecheck'], project())
    await run('npm', ['test'], project())
    const outdir = join(work, `${name}-dist`)
    await run('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], project())
    expect(existsSync(join(outdir, 'index.js'))).toBe(true)
  }, 600_000)

  it('runs under pay-gate serve as its README says: a key from `npx pay-gate keys create`, the dashboard', async () => {
    const served = await serve(
      project(),
      ['--routes', 'routes.json', '--data', join(work, `${name}-data`)],
      { ADMIN_TOKEN }
    )
    try {
      const key = await run(
        'npx',
        ['pay-gate', 'keys', 'create', '--url', served.url, '--name', 'me', '--credits', '5'],
        project(),
        {
          PAY_GATE_ADMIN_TOKEN: ADMIN_TOKEN,
        }
      )
      expect(key).toMatch(/created key_\w+ {2}"me" {2}active {2}\$5 credits\nkey: pg_/)
      const dashboard = await fetch(`${served.url}/admin/ui`)
      expect(dashboard.status).toBe(200)
      expect(await dashboard.text()).toContain('name="token"') // the sign-in form
    } finally {
      expect(await served.stop()).toBe(0)
    }
  }, 180_000)
})
