import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli'
import type { Environment } from '../../src/cli'
import { fakeIo, testEnvironment, useTempDir } from '../helpers'

const PAY_TO = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const tempDir = useTempDir()

/** Run the CLI in a fresh folder (or `cwd`), never installing. */
async function create(
  argv: string[],
  answers?: string[],
  hangUp = false,
  cwd = tempDir(),
  environment: Partial<Environment> = {}
) {
  const io = fakeIo(answers, { hangUp })
  const code = await main([...argv, '--no-install'], {
    ...testEnvironment(cwd, io),
    ...environment,
  })
  const read = (path: string) => readFileSync(join(cwd, path), 'utf8')
  return { code, cwd, io, read, routes: () => JSON.parse(read('my-gate/routes.json')) }
}

describe('without a terminal', () => {
  it('takes every default: an MCP gate paid with credits, in ./my-gate', async () => {
    const { code, io, routes } = await create([])
    expect(code).toBe(0)
    expect(io.output()).not.toContain('?')
    expect(io.output()).toContain('Next steps')
    expect(routes()).toEqual({
      version: 1,
      routes: [
        {
          path: '/mcp',
          origin: 'http://127.0.0.1:3001',
          description: 'The MCP server',
          mcp: { price: '0.01', tools: {} },
        },
      ],
    })
  })

  it('takes every answer from its flag', async () => {
    const argv = [
      'shop',
      '--template',
      'api',
      '--origin',
      'https://api.example.com/v1',
      '--rails',
      'both',
    ]
    const { code, read } = await create([
      ...argv,
      '--pay-to',
      PAY_TO,
      '--network',
      'eip155:8453',
      '--price',
      '0.25',
    ])
    expect(code).toBe(0)
    expect(JSON.parse(read('shop/routes.json'))).toMatchObject({
      x402: { network: 'eip155:8453', payTo: PAY_TO },
      routes: [{ path: '/*', origin: 'https://api.example.com/v1', price: '0.25' }],
    })
    expect(read('shop/wrangler.toml')).toContain('name = "shop"')
  })

  it('needs --pay-to for x402: there is no safe default address', async () => {
    const { code, io, cwd } = await create(['--rails', 'x402'])
    expect(code).toBe(1)
    expect(io.errors()).toContain('x402 needs the address you are paid at')
    expect(io.errors()).toContain('Pass --pay-to')
    expect(existsSync(join(cwd, 'my-gate'))).toBe(false)
  })

  it.each([
    [
      ['--price', '0.0000001'],
      '--price "0.0000001": expected a decimal string of dollars with at most 6 decimals',
    ],
    [['--rails', 'x402', '--pay-to', PAY_TO.replace('CbD', 'Cbd')], '--pay-to'],
    // All lowercase with the last character mistyped: no checksum would catch it, so it is refused.
    [
      ['--rails', 'x402', '--pay-to', `${PAY_TO.toLowerCase().slice(0, -1)}f`],
      'fails its EIP-55 checksum',
    ],
    [
      ['--origin', 'ftp://example.com'],
      '--origin "ftp://example.com": expected an http:// or https:// URL, e.g. "http://example.com"',
    ],
    [['--template', 'graphql'], '--template "graphql": expected one of: mcp, api'],
    [['--rails', 'card'], '--rails "card": expected one of: credits, x402, both'],
  ])('refuses %j with a clear message and writes nothing', async (argv, message) => {
    const { code, io, cwd } = await create(argv)
    expect(code).toBe(1)
    expect(io.errors()).toContain(message)
    expect(existsSync(join(cwd, 'my-gate'))).toBe(false)
  })

  it('says when a flag is not used', async () => {
    const { code, io } = await create(['--pay-to', PAY_TO])
    expect(code).toBe(0)
    expect(io.errors()).toContain('--pay-to is not used with rails "credits"')
  })
})

describe('a folder that is not empty', () => {
  it('is refused, and written into with --force', async () => {
    const cwd = tempDir()
    mkdirSync(join(cwd, 'my-gate'))
    writeFileSync(join(cwd, 'my-gate', 'routes.json'), '{}')
    const refused = fakeIo()
    expect(await main(['--no-install'], testEnvironment(cwd, refused))).toBe(1)
    expect(refused.errors()).toMatch(/my-gate is not empty; .*--force/)
    expect(readFileSync(join(cwd, 'my-gate', 'routes.json'), 'utf8')).toBe('{}')

    expect(await main(['--no-install', '--force'], testEnvironment(cwd, fakeIo()))).toBe(0)
    expect(JSON.parse(readFileSync(join(cwd, 'my-gate', 'routes.json'), 'utf8')).version).toBe(1)
  })
})

describe('on a terminal', () => {
  it('asks what no flag answered, again after a wrong answer', async () => {
    const { code, io, read } = await create(
      ['--origin', 'http://127.0.0.1:8080'],
      ['shop', '2', '3', '0x1234', PAY_TO, '', 'abc', '0.05']
    )
    expect(code).toBe(0)
    const output = io.output()
    expect(output).toContain('? Where should the gate be created? (my-gate)')
    expect(output).toContain('2) HTTP API: charge for the calls to an HTTP API')
    expect(output).not.toContain('Base URL of your API') // --origin answered it
    expect(output).toContain('✖ expected an EVM address')
    expect(output).toContain('✖ expected a decimal string of dollars')
    expect(JSON.parse(read('shop/routes.json'))).toMatchObject({
      x402: { network: 'eip155:84532', payTo: PAY_TO },
      routes: [{ path: '/*', origin: 'http://127.0.0.1:8080', price: '0.05' }],
    })
  })

  it('asks nothing with --yes', async () => {
    const { code, io } = await create(['--yes'], [])
    expect(code).toBe(0)
    expect(io.output()).not.toContain('?')
  })

  it('stops without writing when the input ends mid-question', async () => {
    const { code, io, cwd } = await create([], ['somewhere'], true)
    expect(code).toBe(130)
    expect(io.errors()).toContain('Cancelled')
    expect(existsSync(join(cwd, 'somewhere'))).toBe(false)
  })
})

describe('--help and --version', () => {
  it('print and exit 0', async () => {
    const help = await create(['--help'])
    expect(help.code).toBe(0)
    expect(help.io.output()).toContain('Usage: npm create pay-gate@latest')
    const version = await create(['--version'])
    expect(version.io.output()).toBe('0.0.0-test\n')
  })
})

/** A pay-gate checkout as --pay-gate needs it: its package.json, installed, its CLI built. */
function fakeCheckout(
  root: string,
  leave: { install?: boolean; build?: boolean; name?: string } = {}
): string {
  const dir = join(root, 'pay-gate')
  mkdirSync(join(dir, 'dist'), { recursive: true })
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: leave.name ?? 'pay-gate', version: '0.1.0' })
  )
  if (leave.install !== false) mkdirSync(join(dir, 'node_modules'))
  if (leave.build !== false) writeFileSync(join(dir, 'dist', 'cli.mjs'), '')
  return dir
}

describe('--pay-gate: the library from this machine, not the registry', () => {
  const dependencyOf = (read: (path: string) => string) =>
    JSON.parse(read('my-gate/package.json')).dependencies

  it('a checkout: a file: dependency on the folder, relative to the project', async () => {
    const cwd = tempDir()
    fakeCheckout(cwd)
    const { code, io, read } = await create(['--pay-gate', 'pay-gate'], undefined, false, cwd)
    expect(code).toBe(0)
    expect(dependencyOf(read)).toEqual({ 'pay-gate': 'file:../pay-gate' })
    expect(io.output()).toContain('pay-gate from ../pay-gate (linked folder), not the registry')
  })

  it('a tarball from npm pack: a file: dependency on it', async () => {
    const cwd = tempDir()
    mkdirSync(join(cwd, 'packs'))
    writeFileSync(join(cwd, 'packs', 'pay-gate-0.1.0.tgz'), '')
    const { code, read } = await create(
      ['--pay-gate', join(cwd, 'packs', 'pay-gate-0.1.0.tgz')],
      undefined,
      false,
      cwd
    )
    expect(code).toBe(0)
    expect(dependencyOf(read)).toEqual({ 'pay-gate': 'file:../packs/pay-gate-0.1.0.tgz' })
  })

  it.each([
    ['missing', (cwd: string) => join(cwd, 'nowhere'), /nowhere does not exist/],
    [
      'not pay-gate',
      (cwd: string) => fakeCheckout(cwd, { name: 'other' }),
      /is not a pay-gate checkout/,
    ],
    [
      'not installed',
      (cwd: string) => fakeCheckout(cwd, { install: false }),
      /has no node_modules[\s\S]*Run npm install in/,
    ],
    [
      'its CLI not built',
      (cwd: string) => fakeCheckout(cwd, { build: false }),
      /has no dist\/cli\.mjs[\s\S]*Run npm run build:cli in/,
    ],
    [
      'a file that is no tarball',
      (cwd: string) => {
        writeFileSync(join(cwd, 'pay-gate.zip'), '')
        return join(cwd, 'pay-gate.zip')
      },
      /expected a folder or a \.tgz tarball/,
    ],
  ])('%s: refused before any question, nothing written', async (_name, make, message) => {
    const cwd = tempDir()
    const { code, io } = await create(['--pay-gate', make(cwd)], ['shop'], false, cwd)
    expect(code).toBe(1)
    expect(io.errors()).toMatch(message)
    expect(io.output()).not.toContain('?')
    expect(existsSync(join(cwd, 'shop'))).toBe(false)
  })
})

describe('the next steps', () => {
  it('name the dashboard’s URL and where the admin token is', async () => {
    const { io } = await create([])
    expect(io.output()).toContain(
      'http://127.0.0.1:8787/admin/ui the dashboard: sign in with ADMIN_TOKEN from .dev.vars'
    )
  })

  it('say on Node 20 that pay-gate needs 22, and that the project’s scripts bring it', async () => {
    const { code, io } = await create([], undefined, false, tempDir(), { nodeVersion: '20.20.2' })
    expect(code).toBe(0)
    expect(io.output()).toContain('! pay-gate needs Node.js 22 or later (this is Node 20.x).')
    expect(io.output()).toContain('with the Node 22 it installs in node_modules/.bin')
    expect((await create([])).io.output()).not.toContain('needs Node.js 22')
  })
})
