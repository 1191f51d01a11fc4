import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { validateRoutesFile } from '../../../src/pricing'
import { readPayGateInfo } from '../../src/pay-gate-info'
import { RAILS, type Rails } from '../../src/routes'
import {
  fillPlaceholders,
  renderProject,
  targetName,
  writeProject,
  type ProjectPlan,
} from '../../src/scaffold'
import { loadTemplates } from '../../src/templates'
import { REPO, TEMPLATES, useTempDir } from '../helpers'

const payGate = readPayGateInfo(REPO)
const rootLock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string }>
}
const rootPackage = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string
  devDependencies: Record<string, string>
}
const templates = loadTemplates(TEMPLATES)
const PAY_TO = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'

function plan(templateId: string, rails: Rails, extra: Partial<ProjectPlan> = {}): ProjectPlan {
  const template = templates.find((candidate) => candidate.id === templateId)
  if (!template) throw new Error(templateId)
  return {
    targetDir: '/unused',
    name: 'test-gate',
    template,
    origin: 'https://origin.example.com',
    routePath: '/mcp',
    price: '0.05',
    rails,
    x402:
      rails === 'credits'
        ? undefined
        : { payTo: PAY_TO, network: 'eip155:84532', facilitator: 'https://x402.org/facilitator' },
    payGate,
    library: { kind: 'registry' },
    ...extra,
  }
}

/** Bindings and migrations: wrangler.toml from the first binding on, without comments. */
function bindings(toml: string): string[] {
  const lines = toml.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim())
  return lines
    .slice(lines.indexOf('[[kv_namespaces]]'))
    .filter((line) => line !== '' && !line.startsWith('#'))
}

describe('fillPlaceholders', () => {
  it('fills known placeholders, versions included, and leaves TypeScript generics alone', () => {
    const text =
      'name = "<WORKER_NAME>" <VERSION:@cloudflare/vitest-plugin> Array<string> Map<K, V> <T>'
    expect(
      fillPlaceholders(
        text,
        { WORKER_NAME: 'gate', 'VERSION:@cloudflare/vitest-plugin': '^1.5.0' },
        'f'
      )
    ).toBe('name = "gate" ^1.5.0 Array<string> Map<K, V> <T>')
  })
  it('throws on an unknown placeholder, naming the file', () => {
    expect(() => fillPlaceholders('<WORKR_NAME>', {}, 'wrangler.toml')).toThrow(
      'wrangler.toml: unknown placeholder <WORKR_NAME>'
    )
  })
})

describe('targetName', () => {
  it('turns __dot__ back into a dot, in any folder', () => {
    expect(targetName('__dot__gitignore')).toBe('.gitignore')
    expect(targetName('config/__dot__env')).toBe('config/.env')
    expect(targetName('src/index.ts')).toBe('src/index.ts')
  })
})

describe('templates', () => {
  it('are the MCP one (the default) and the API one', () => {
    expect(templates.map((template) => template.id)).toEqual(['mcp', 'api'])
  })

  it('declare the same bindings and migrations as pay-gate’s own wrangler.toml', () => {
    const root = bindings(readFileSync(join(REPO, 'wrangler.toml'), 'utf8'))
    for (const template of templates) {
      const files = renderProject(plan(template.id, 'credits'))
      expect(bindings(files.get('wrangler.toml') ?? ''), template.id).toEqual(root)
    }
  })
})

describe.each(templates.map((template) => template.id))('renderProject(%s)', (templateId) => {
  it.each(RAILS)(
    'with %s: every placeholder filled, .gitignore restored, routes.json valid',
    (rails) => {
      const files = renderProject(plan(templateId, rails))
      for (const [name, text] of files) {
        expect(name).not.toContain('__dot__')
        expect(text, name).not.toMatch(/<[A-Z][A-Z_]+(:[^>]*)?>/)
      }
      expect(files.has('.gitignore')).toBe(true)
      expect(validateRoutesFile(JSON.parse(files.get('routes.json') ?? '')).ok).toBe(true)
    }
  )

  it('depends on pay-gate by version, with the tools at the exact versions pay-gate’s lockfile resolved', () => {
    const pkg = JSON.parse(renderProject(plan(templateId, 'credits')).get('package.json') ?? '')
    expect(pkg.name).toBe('test-gate')
    expect(pkg.dependencies).toEqual({ 'pay-gate': `^${rootPackage.version}` })
    // Exact, not ranges: a range may pick a release pay-gate never ran with (whose own peers may not resolve).
    for (const [name, version] of Object.entries(pkg.devDependencies))
      expect(version, name).toBe(rootLock.packages[`node_modules/${name}`]?.version)
    expect(Object.keys(pkg.scripts)).toEqual(['dev', 'deploy', 'test', 'typecheck', 'routes:push'])
  })

  it('depends on a local pay-gate (--pay-gate) by a file: path from the project', () => {
    const dependency = (library: ProjectPlan['library']) =>
      JSON.parse(
        renderProject(plan(templateId, 'credits', { targetDir: '/work/gates/shop', library })).get(
          'package.json'
        ) ?? ''
      ).dependencies
    expect(dependency({ kind: 'folder', path: '/work/pay-gate' })).toEqual({
      'pay-gate': 'file:../../pay-gate',
    })
    expect(dependency({ kind: 'tarball', path: '/work/gates/pay-gate-0.1.0.tgz' })).toEqual({
      'pay-gate': 'file:../pay-gate-0.1.0.tgz',
    })
  })

  it('validates routes.json with the pay-gate CLI before uploading it or deploying', () => {
    const { scripts } = JSON.parse(
      renderProject(plan(templateId, 'credits')).get('package.json') ?? ''
    )
    // `pay-gate routes push` refuses an invalid file and uploads nothing (exit 1).
    expect(scripts['routes:push']).toBe('pay-gate routes push')
    expect(scripts.deploy).toBe('pay-gate validate && wrangler deploy')
  })

  it('has a README that covers API keys, the dashboard, serve and Node 22', () => {
    const readme = renderProject(plan(templateId, 'credits')).get('README.md') ?? ''
    expect(readme).toContain('npx pay-gate keys create --name me --credits 5')
    expect(readme).toContain('http://127.0.0.1:8787/admin/ui')
    expect(readme).toContain('npx pay-gate serve --routes routes.json')
    expect(readme).toContain('node_modules/pay-gate/templates/self-host/')
    expect(readme).toMatch(/Node\.js 22/)
  })

  it('names the Worker and takes pay-gate’s compatibility date', () => {
    const toml = renderProject(plan(templateId, 'credits')).get('wrangler.toml') ?? ''
    expect(toml).toContain('name = "test-gate"')
    expect(toml).toContain(`compatibility_date = "${payGate.compatibilityDate}"`)
  })
})

describe('routes.json and the rails', () => {
  const routesOf = (templateId: string, rails: Rails, extra?: Partial<ProjectPlan>) =>
    JSON.parse(renderProject(plan(templateId, rails, extra)).get('routes.json') ?? '')

  it('credits: no x402 block', () => {
    expect(routesOf('api', 'credits')).toEqual({
      version: 1,
      routes: [
        {
          path: '/*',
          origin: 'https://origin.example.com',
          description: 'Every call to the API',
          price: '0.05',
        },
      ],
    })
  })

  it('both: an x402 block, and routes that take what they are given', () => {
    const routes = routesOf('mcp', 'both')
    expect(routes.x402).toEqual({
      network: 'eip155:84532',
      payTo: PAY_TO,
      facilitator: { url: 'https://x402.org/facilitator' },
    })
    expect(routes.routes[0]).toMatchObject({
      path: '/mcp',
      origin: 'https://origin.example.com',
      mcp: { price: '0.05' },
    })
    expect(routes.routes[0].accept).toBeUndefined()
  })

  it('x402: every priced route accepts x402 only', () => {
    expect(routesOf('api', 'x402').routes[0].accept).toEqual(['x402'])
  })

  it('refuses a table pay-gate would refuse, naming the place', () => {
    const x402 = {
      payTo: PAY_TO,
      network: 'eip155:84532',
      facilitator: 'http://facilitator.example.com',
    }
    expect(() => routesOf('api', 'both', { x402 })).toThrow(
      /routes.json would not be valid:\n {2}x402\.facilitator\.url/
    )
  })
})

describe('writeProject', () => {
  const tempDir = useTempDir()

  it('writes every file, and a .dev.vars with an admin token only where there is none', () => {
    const dir = tempDir()
    writeProject(dir, new Map([['src/index.ts', 'export {}\n']]))
    expect(readFileSync(join(dir, 'src/index.ts'), 'utf8')).toBe('export {}\n')
    const token = readFileSync(join(dir, '.dev.vars'), 'utf8')
    expect(token).toMatch(/^ADMIN_TOKEN=[\w-]{32}\n$/)
    writeFileSync(join(dir, '.dev.vars'), 'ADMIN_TOKEN=mine-0123456789abcdef\n')
    writeProject(dir, new Map())
    expect(readFileSync(join(dir, '.dev.vars'), 'utf8')).toBe('ADMIN_TOKEN=mine-0123456789abcdef\n')
    expect(existsSync(join(dir, '.gitignore'))).toBe(false)
  })
})
