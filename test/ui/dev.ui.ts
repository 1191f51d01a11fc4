/**
 * `npm run dev` (scripts/dev.ts) as a developer runs it, in this checkout, with
 * the gate and the demo origin on ports of the test's choosing (PORT,
 * DEMO_MCP_PORT, DEMO_API_PORT), as when 3001 and 8080 are taken: the demo
 * origin listens there, routes.json's routes to it follow, and the banner names
 * the dashboard, which answers. Also: a bad port, and an old Node, each get one
 * sentence and exit 1 before anything starts.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx')
const DEV = join(ROOT, 'scripts', 'dev.ts')
const NODE_22 =
  'pay-gate needs Node.js 22 or later (this is Node 20.x). Run it with the node from node_modules/.bin (npm run …) or install Node 22.'

/** A port nothing listens on right now (the kernel's pick, released at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number }
        server.close(() => resolve(port))
      })
  })
}

const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  NO_COLOR: '1',
  ...extra,
})

describe('npm run dev with PORT, DEMO_MCP_PORT and DEMO_API_PORT', () => {
  let child: ChildProcessWithoutNullStreams
  let exited: Promise<unknown[]>
  let output = ''
  const ports = { gate: 0, mcp: 0, api: 0 }
  const gate = () => `http://127.0.0.1:${ports.gate}`

  beforeAll(async () => {
    ports.gate = await freePort()
    ports.mcp = await freePort()
    ports.api = await freePort()
    const extra = {
      PORT: String(ports.gate),
      DEMO_MCP_PORT: String(ports.mcp),
      DEMO_API_PORT: String(ports.api),
    }
    child = spawn(TSX, [DEV, '--show-interactive-dev-session=false'], {
      cwd: ROOT,
      env: env(extra),
    })
    exited = once(child, 'exit')
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += String(chunk)
        if (output.includes('Ctrl-C stops the gate and the demo origin.')) resolve() // the banner's last line
      }
      child.stdout.on('data', onData)
      child.stderr.on('data', onData)
      void exited.then(([code]) =>
        reject(new Error(`npm run dev exited (${code}) before its banner:\n${output}`))
      )
    })
  })

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM') // dev.ts stops wrangler and the demo origin, then exits
      await exited
    }
  })

  it('prints the dashboard’s URL, and the dashboard answers there', async () => {
    const dashboard = `${gate()}/admin/ui`
    expect(output).toContain(`Dashboard     ${dashboard}   (sign in with the admin token)`)
    expect(output).toContain(
      `Key holders   ${gate()}/account   (a holder's portal: sign in with the demo key)`
    )
    const page = await fetch(dashboard)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('name="token"') // the sign-in form
  })

  it('starts the demo origin on the given ports, and the gate’s routes reach it there', async () => {
    expect(output).toContain(
      `Demo origin   MCP http://127.0.0.1:${ports.mcp}/mcp, API http://127.0.0.1:${ports.api}/api\n`
    )
    const recorded = async (port: number) =>
      (await (await fetch(`http://127.0.0.1:${port}/__origin/requests`)).json()) as Array<{
        method: string
        path: string
      }>

    const health = await fetch(`${gate()}/api/health`) // a free route of routes.json, to 127.0.0.1:8080 there
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ ok: true })
    expect(await recorded(ports.api)).toContainEqual(
      expect.objectContaining({ method: 'GET', path: '/api/health' })
    )

    const initializeBody = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'dev-test', version: '1' },
      },
    })
    // The demo route has OAuth on: a client without a key is asked to sign in (RFC 9728 challenge)…
    const challenged = await fetch(`${gate()}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: initializeBody,
    })
    expect(challenged.status).toBe(401)
    expect(challenged.headers.get('www-authenticate')).toContain(
      `resource_metadata="${gate()}/.well-known/oauth-protected-resource/mcp"`
    )
    await challenged.text()
    // …and the banner's demo key goes straight through.
    const key = /Demo key\s+(pg_\S+)/.exec(output)?.[1]
    expect(key).toBeDefined()
    const initialize = await fetch(`${gate()}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${key}`,
      },
      body: initializeBody,
    })
    expect(initialize.status).toBe(200)
    await initialize.text()
    expect(await recorded(ports.mcp)).toContainEqual(
      expect.objectContaining({ method: 'POST', path: '/mcp' })
    )
  })
})

describe('npm run dev refuses, before starting anything', () => {
  it('a DEMO_MCP_PORT that is not a port', { timeout: 90_000 }, () => {
    // With a timeout: a dev.ts that took the port would run until stopped.
    const run = spawnSync(TSX, [DEV], {
      cwd: ROOT,
      encoding: 'utf8',
      env: env({ DEMO_MCP_PORT: '3001x' }),
      timeout: 60_000,
    })
    expect(run.status).toBe(1)
    expect(run.stderr).toBe(
      'dev: DEMO_MCP_PORT must be a port number (0-65535; 0 picks a free one), not "3001x"\n'
    )
    expect(run.stdout).toBe('')
  })

  // The system's node, as a shell finds it with node_modules/.bin (Node 22) off the PATH.
  const systemPath = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !dir.includes('node_modules'))
    .join(delimiter)
  const version = spawnSync('/usr/bin/env', ['node', '-p', 'process.versions.node'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: systemPath },
  })
  it.runIf(version.stdout?.startsWith('20.'))(
    'to run on Node 20: it says it needs 22, exit 1, no stack trace',
    { timeout: 90_000 },
    () => {
      const run = spawnSync('/usr/bin/env', ['node', '--import', 'tsx', DEV], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, PATH: systemPath },
        timeout: 60_000,
      })
      expect(run.status).toBe(1)
      expect(run.stderr).toBe(`${NODE_22}\n`)
      expect(run.stdout).toBe('')
    }
  )
})
