import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Wrangler } from '../src/routes'
import { GOOD, run, tempDir } from './helpers'

/** A fake wrangler over an in-memory KV: records every call. */
function fakeWrangler(initial?: string, cwd?: string) {
  const calls: string[][] = []
  let value = initial
  const wrangler: Wrangler = (args) => {
    calls.push(args)
    if (args[0] === 'kv' && args[1] === 'key' && args[2] === 'get') {
      return value === undefined
        ? { status: 0, stdout: 'Value not found\n', stderr: '' }
        : { status: 0, stdout: value, stderr: '' }
    }
    if (args[0] === 'kv' && args[1] === 'bulk' && args[2] === 'put') {
      const bulk = JSON.parse(readFileSync(args[3] as string, 'utf8')) as Array<{
        key: string
        value: string
      }>
      value = bulk[0]?.value
      return { status: 0, stdout: '', stderr: '' }
    }
    return { status: 1, stdout: '', stderr: `unexpected ${args.join(' ')}` }
  }
  return { wrangler, calls, value: () => value, cwd }
}

const live = JSON.stringify({
  version: 1,
  routes: [
    { path: '/mcp', origin: 'http://127.0.0.1:3001', mcp: { price: '0.001' } },
    { path: '/old', origin: 'http://127.0.0.1:8080', free: true },
    { path: '/api/*', method: 'GET', origin: 'http://127.0.0.1:8080', price: '0.02' },
  ],
})

describe('pay-gate routes push', () => {
  it('uploads to the binding and says every route is new when KV holds none', async () => {
    const cwd = tempDir({ 'routes.json': GOOD })
    const kv = fakeWrangler()
    const result = await run(['routes', 'push'], { cwd, deps: { wrangler: kv.wrangler } })
    expect(result.code).toBe(0)
    expect(kv.calls[0]).toEqual([
      'kv',
      'key',
      'get',
      'pay-gate/routes',
      '--binding',
      'ROUTES',
      '--local',
    ])
    expect(kv.calls[1]).toEqual([
      'kv',
      'bulk',
      'put',
      join(cwd, '.wrangler', 'routes.kv.json'),
      '--binding',
      'ROUTES',
      '--local',
    ])
    expect(JSON.parse(kv.value() ?? '')).toEqual(JSON.parse(GOOD))
    expect(result.stdout).toMatch(/no live route table/)
    expect(result.stdout).toContain('+ * /mcp')
    expect(result.stdout).toContain('+ GET /api/*')
  })

  it('prints added, changed and removed routes by path and method (--json)', async () => {
    const kv = fakeWrangler(live)
    const result = await run(['routes', 'push', '--remote', '--namespace-id', 'abc', '--json'], {
      cwd: tempDir({ 'routes.json': GOOD }),
      deps: { wrangler: kv.wrangler },
    })
    expect(result.code).toBe(0)
    expect(kv.calls[1]?.slice(-3)).toEqual(['--namespace-id', 'abc', '--remote'])
    expect(JSON.parse(result.stdout)).toEqual({
      ok: true,
      file: 'routes.json',
      target: 'remote',
      previous: true,
      added: ['* /api/health'],
      changed: ['* /mcp'],
      removed: ['* /old'],
    })
  })

  it('reports no change when the same file is pushed again', async () => {
    const kv = fakeWrangler(JSON.stringify(JSON.parse(GOOD)))
    const result = await run(['routes', 'push'], {
      cwd: tempDir({ 'routes.json': GOOD }),
      deps: { wrangler: kv.wrangler },
    })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/no route changed/)
  })

  it('refuses --local together with --remote, and touches nothing', async () => {
    const kv = fakeWrangler(live)
    const result = await run(['routes', 'push', '--local', '--remote'], {
      cwd: tempDir({ 'routes.json': GOOD }),
      deps: { wrangler: kv.wrangler },
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--local or --remote, not both/)
    expect(kv.calls).toEqual([])
  })

  it('uploads nothing when the file is invalid', async () => {
    const kv = fakeWrangler(live)
    const bad = JSON.stringify({
      version: 1,
      routes: [{ path: '/a', origin: 'http://x.test', price: 'x' }],
    })
    const result = await run(['routes', 'push', '--file', 'bad.json'], {
      cwd: tempDir({ 'bad.json': bad }),
      deps: { wrangler: kv.wrangler },
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/routes\[0\]\.price[\s\S]*nothing uploaded/)
    expect(kv.calls).toEqual([])
  })

  it('reports a failed upload', async () => {
    const wrangler: Wrangler = (args) =>
      args[1] === 'bulk'
        ? { status: 1, stdout: '', stderr: 'boom: not logged in' }
        : { status: 1, stdout: '', stderr: '' }
    const result = await run(['routes', 'push'], {
      cwd: tempDir({ 'routes.json': GOOD }),
      deps: { wrangler },
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/upload failed[\s\S]*not logged in/)
  })
})

describe('pay-gate routes pull', () => {
  it('writes the live table to a file', async () => {
    const cwd = tempDir()
    const kv = fakeWrangler(live)
    const result = await run(['routes', 'pull', '--file', 'live.json', '--remote'], {
      cwd,
      deps: { wrangler: kv.wrangler },
    })
    expect(result.code).toBe(0)
    expect(kv.calls[0]).toEqual([
      'kv',
      'key',
      'get',
      'pay-gate/routes',
      '--binding',
      'ROUTES',
      '--remote',
    ])
    expect(JSON.parse(readFileSync(join(cwd, 'live.json'), 'utf8'))).toEqual(JSON.parse(live))
  })

  it('fails when KV holds no table', async () => {
    const result = await run(['routes', 'pull'], { deps: { wrangler: fakeWrangler().wrangler } })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/no route table in KV/)
  })
})
