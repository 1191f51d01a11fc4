import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// `pay-gate serve` as an operator runs it: the built bin, as a child process, on
// the repository's wrangler.toml and src/index.ts, in front of a real origin.
const repo = fileURLToPath(new URL('../..', import.meta.url))
const bin = fileURLToPath(new URL('../../bin/pay-gate.mjs', import.meta.url))
const built = existsSync(fileURLToPath(new URL('../../dist/cli.mjs', import.meta.url)))

const ADMIN_TOKEN = 'serve-test-admin-token-0123456789'
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    WRANGLER_SEND_METRICS: 'false',
    ...extra,
  }
  if (!('ADMIN_TOKEN' in extra)) delete env.ADMIN_TOKEN
  return env
}

interface Serving {
  url: string
  child: ChildProcessWithoutNullStreams
  output: () => string
  /** SIGTERM, then the exit code and everything printed. */
  stop(): Promise<{ code: number | null; output: string }>
}

/** Starts `pay-gate serve` on a free loopback port; resolves with the URL it prints. */
function startServe(args: string[], env: NodeJS.ProcessEnv, cwd = repo): Promise<Serving> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], { cwd, env })
  let output = ''
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)))
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += String(chunk)
      // The URL line and the summary line under it.
      const match = /serving (http:\/\/127\.0\.0\.1:\d+)\n[^\n]*\n/.exec(output)
      if (match?.[1]) {
        resolve({
          url: match[1],
          child,
          output: () => output,
          stop: async () => {
            child.kill('SIGTERM')
            const code = await exited
            return { code, output }
          },
        })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exited.then((code) =>
      reject(new Error(`pay-gate serve exited (${code}) before listening:\n${output}`))
    )
  })
}

let origin: Server
let originUrl: string
const originHits: string[] = []
let dir: string

beforeAll(async () => {
  origin = createServer((req, res) => {
    originHits.push(`${req.method} ${req.url}`)
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ weather: 'sunny', path: req.url }))
  })
  await new Promise<void>((done) => origin.listen(0, '127.0.0.1', done))
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
  dir = mkdtempSync(join(tmpdir(), 'pay-gate-serve-test-'))
  const routes = {
    version: 1,
    routes: [
      { path: '/api/health', origin: originUrl, free: true },
      { path: '/api/*', method: 'GET', origin: originUrl, price: '0.02' },
    ],
  }
  writeFileSync(join(dir, 'routes.json'), JSON.stringify(routes))
  writeFileSync(join(dir, 'secrets.env'), `# the gate's secrets\nADMIN_TOKEN=${ADMIN_TOKEN}\n`)
})

afterAll(async () => {
  await new Promise<void>((done) => origin.close(() => done()))
  rmSync(dir, { recursive: true, force: true })
})

/** Runs `pay-gate serve` to its exit; one that starts serving instead is stopped, and says so. */
function runToExit(
  args: string[],
  env: NodeJS.ProcessEnv
): Promise<{ code: number | null; output: string; served: boolean }> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], { cwd: repo, env })
  let output = ''
  let served = false
  const onData = (chunk: Buffer) => {
    output += String(chunk)
    if (!served && /serving http/.test(output)) {
      served = true
      child.kill('SIGTERM')
    }
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  return new Promise((done) => child.once('exit', (code) => done({ code, output, served })))
}

/** Statuses of admin calls with wrong tokens, each with the headers `vary(n)` gives. */
async function wrongTokens(
  url: string,
  count: number,
  vary: (n: number) => Record<string, string>
): Promise<number[]> {
  const statuses: number[] = []
  for (let n = 0; n < count; n++) {
    const response = await fetch(`${url}/admin/keys`, {
      headers: { authorization: `Bearer wrong-token-${n}-0123456789`, ...vary(n) },
    })
    await response.text()
    statuses.push(response.status)
  }
  return statuses
}

const admin = (url: string, path: string, init: RequestInit = {}) =>
  fetch(`${url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'content-type': 'application/json',
      ...init.headers,
    },
  })

describe.runIf(built)('pay-gate serve', () => {
  it(
    'charges for a call, and the balance and ledger survive a restart on the same data folder',
    { timeout: 120_000 },
    async () => {
      const data = join(dir, 'data')
      const routes = join(dir, 'routes.json')
      // First run: secrets from --env-file.
      const first = await startServe(
        ['--routes', routes, '--data', data, '--env-file', join(dir, 'secrets.env')],
        childEnv()
      )

      const created = await admin(first.url, '/admin/keys', {
        method: 'POST',
        body: JSON.stringify({ name: 'agent', credits: '1' }),
      })
      expect(created.status).toBe(201)
      const key = (await created.json()) as { id: string; key: string; credits: string }
      expect(key.credits).toBe('1')

      const unpaid = await fetch(`${first.url}/api/forecast`)
      expect(unpaid.status).toBe(401) // credits only, and no key: the gate asks for one
      expect(originHits).toEqual([])

      const paid = await fetch(`${first.url}/api/forecast?city=paris`, {
        headers: { 'x-api-key': key.key },
      })
      expect(paid.status).toBe(200)
      expect(await paid.json()).toEqual({ weather: 'sunny', path: '/api/forecast?city=paris' })
      expect(originHits).toEqual(['GET /api/forecast?city=paris'])

      const balanceBefore = await fetch(`${first.url}/balance`, {
        headers: { authorization: `Bearer ${key.key}` },
      })
      expect(await balanceBefore.json()).toMatchObject({ credits: '0.98' })

      const stopped = await first.stop()
      expect(stopped.code).toBe(0)
      expect(stopped.output).toContain('stopped')
      expect(stopped.output).not.toContain(ADMIN_TOKEN)

      // Second run: the same data folder, the secret from the environment this time,
      // and a new price: the file given at start replaces the table kept in KV.
      const repriced = join(dir, 'routes-repriced.json')
      writeFileSync(
        repriced,
        JSON.stringify({
          version: 1,
          routes: [{ path: '/api/*', method: 'GET', origin: originUrl, price: '0.03' }],
        })
      )
      const second = await startServe(
        ['--routes', repriced, '--data', data],
        childEnv({ ADMIN_TOKEN })
      )
      try {
        const shown = await admin(second.url, `/admin/keys/${key.id}?ledger=10`)
        expect(shown.status).toBe(200)
        const account = (await shown.json()) as {
          credits: string
          held: string
          ledger: Array<{ kind: string; amount: string; balanceAfter: string }>
        }
        expect(account).toMatchObject({ credits: '0.98', held: '0' })
        // Newest first: the call's charge, committed before the first run stopped, then the opening credits.
        expect(account.ledger.map((row) => [row.kind, row.amount, row.balanceAfter])).toEqual([
          ['charge', '-0.02', '0.98'],
          ['grant', '1', '1'],
        ])
        const balance = await fetch(`${second.url}/balance`, {
          headers: { authorization: `Bearer ${key.key}` },
        })
        expect(await balance.json()).toMatchObject({ credits: '0.98' })
        expect(originHits).toHaveLength(1)

        const repricedCall = await fetch(`${second.url}/api/forecast`, {
          headers: { 'x-api-key': key.key },
        })
        expect(repricedCall.status).toBe(200)
        expect(originHits).toEqual(['GET /api/forecast?city=paris', 'GET /api/forecast'])
        const after = await fetch(`${second.url}/balance`, {
          headers: { authorization: `Bearer ${key.key}` },
        })
        expect(await after.json()).toMatchObject({ credits: '0.95' })
      } finally {
        const again = await second.stop()
        expect(again.code).toBe(0)
        expect(again.output).not.toContain(ADMIN_TOKEN)
      }
    }
  )

  it(
    'runs in a project laid out as create-pay-gate writes it, with the defaults (./wrangler.toml, routes.json, ./pay-gate-data)',
    { timeout: 120_000 },
    async () => {
      // templates/shared's wrangler.toml and src/index.ts (which imports the pay-gate
      // package), with pay-gate and wrangler installed as links to this repository's.
      const project = join(dir, 'generated')
      mkdirSync(join(project, 'src'), { recursive: true })
      mkdirSync(join(project, 'node_modules'))
      const shared = join(repo, 'templates', 'shared')
      const toml = readFileSync(join(shared, 'wrangler.toml'), 'utf8')
        .replaceAll('<WORKER_NAME>', 'my-gate')
        .replaceAll('<COMPATIBILITY_DATE>', '2026-11-01')
      // Plus a D1 database with a migration, as a gate that keeps records in D1 has.
      const d1 =
        '\n[[d1_databases]]\nbinding = "RECORDS"\ndatabase_name = "records"\ndatabase_id = "00000000-0000-0000-0000-000000000000"\n'
      writeFileSync(join(project, 'wrangler.toml'), toml + d1)
      mkdirSync(join(project, 'migrations'))
      writeFileSync(
        join(project, 'migrations', '0001_records.sql'),
        'CREATE TABLE records (id INTEGER PRIMARY KEY, note TEXT);\n'
      )
      writeFileSync(join(project, 'src', 'index.ts'), readFileSync(join(shared, 'src', 'index.ts')))
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({ name: 'my-gate', private: true, type: 'module' })
      )
      writeFileSync(
        join(project, 'routes.json'),
        JSON.stringify({
          version: 1,
          routes: [{ path: '/v1/*', origin: originUrl, price: '0.05' }],
        })
      )
      // A development secret: serve must not take it.
      writeFileSync(join(project, '.dev.vars'), 'ADMIN_TOKEN=dev-only-token-0123456789abcdef\n')
      symlinkSync(repo, join(project, 'node_modules', 'pay-gate'), 'dir')
      symlinkSync(
        join(repo, 'node_modules', 'wrangler'),
        join(project, 'node_modules', 'wrangler'),
        'dir'
      )
      symlinkSync(join(repo, 'node_modules', '.bin'), join(project, 'node_modules', '.bin'), 'dir')

      const gate = await startServe([], childEnv({ ADMIN_TOKEN }), project)
      try {
        expect(gate.output()).toContain('routes: routes.json (1 route(s))  data: pay-gate-data')
        expect(gate.output()).toMatch(/D1 migrations up to date: .*RECORDS/) // and the template's own USAGE_DB
        const devToken = await fetch(`${gate.url}/admin/keys`, {
          headers: { authorization: 'Bearer dev-only-token-0123456789abcdef' },
        })
        expect(devToken.status).toBe(401)
        const created = await admin(gate.url, '/admin/keys', {
          method: 'POST',
          body: JSON.stringify({ name: 'generated', credits: '2' }),
        })
        const key = (await created.json()) as { key: string }
        const hitsBefore = originHits.length
        const paid = await fetch(`${gate.url}/v1/answer`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key.key}` },
          body: '{}',
        })
        expect(paid.status).toBe(200)
        expect(originHits.slice(hitsBefore)).toEqual(['POST /v1/answer'])
        const balance = await fetch(`${gate.url}/balance`, {
          headers: { authorization: `Bearer ${key.key}` },
        })
        expect(await balance.json()).toMatchObject({ credits: '1.95' })
      } finally {
        expect((await gate.stop()).code).toBe(0)
      }
      expect(existsSync(join(project, 'pay-gate-data', 'v3', 'do', 'my-gate-CreditAccount'))).toBe(
        true
      )
      expect(existsSync(join(project, 'pay-gate-data', 'v3', 'd1'))).toBe(true)
    }
  )

  describe('one gate per data folder', () => {
    const data = () => join(dir, 'shared-data')
    let running: Serving

    beforeAll(async () => {
      running = await startServe(
        ['--routes', join(dir, 'routes.json'), '--data', data()],
        childEnv({ ADMIN_TOKEN })
      )
    }, 120_000)

    afterAll(async () => {
      expect((await running.stop()).code).toBe(0)
      // Stopped: the lock is gone with it.
      expect(existsSync(join(data(), 'pay-gate-serve.lock'))).toBe(false)
    }, 60_000)

    it(
      'a second serve on the same data folder refuses to start, naming the folder and the pid that holds it',
      { timeout: 60_000 },
      async () => {
        const second = await runToExit(
          ['--routes', join(dir, 'routes.json'), '--data', data()],
          childEnv({ ADMIN_TOKEN })
        )
        expect(second.served).toBe(false)
        expect(second.code).toBe(1)
        expect(second.output).toContain(
          `✖ the data folder ${data()} is in use by another pay-gate serve (pid ${running.child.pid})\n`
        )
        expect(second.output).toContain('Stop that one, or pass another --data.')
        // The first one goes on serving, and still holds the folder.
        expect((await fetch(`${running.url}/api/health`)).status).toBe(200)
        expect(readFileSync(join(data(), 'pay-gate-serve.lock'), 'utf8')).toBe(
          `${running.child.pid}\n`
        )
      }
    )

    it('does not believe a CF-Connecting-IP the client sends: eight wrong tokens from eight claimed addresses, the sixth gets 429', async () => {
      const statuses = await wrongTokens(running.url, 8, (n) => ({
        'cf-connecting-ip': `192.0.2.${n + 1}`,
      }))
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429])
      expect(
        (await admin(running.url, '/admin/keys', { headers: { 'cf-connecting-ip': '192.0.2.99' } }))
          .status
      ).toBe(200)
    })
  })

  it(
    'takes over a lock whose process is gone, and trusts the client address header the operator names',
    { timeout: 120_000 },
    async () => {
      const data = join(dir, 'stale-data')
      mkdirSync(data, { recursive: true })
      const gone = spawnSync(process.execPath, ['-e', '']).pid
      writeFileSync(join(data, 'pay-gate-serve.lock'), `${gone}\n`)
      const gate = await startServe(
        ['--routes', join(dir, 'routes.json'), '--data', data],
        childEnv({ ADMIN_TOKEN, CLIENT_IP_HEADER: 'X-Real-IP' })
      )
      try {
        expect(readFileSync(join(data, 'pay-gate-serve.lock'), 'utf8')).toBe(`${gate.child.pid}\n`)
        // Behind a proxy that sets X-Real-IP: that address counts, whatever CF-Connecting-IP says.
        const statuses = await wrongTokens(gate.url, 6, (n) => ({
          'x-real-ip': '198.51.100.5',
          'cf-connecting-ip': `192.0.2.${n + 1}`,
        }))
        expect(statuses).toEqual([401, 401, 401, 401, 401, 429])
        expect(await wrongTokens(gate.url, 1, () => ({ 'x-real-ip': '198.51.100.6' }))).toEqual([
          401,
        ])
      } finally {
        expect((await gate.stop()).code).toBe(0)
      }
      expect(existsSync(join(data, 'pay-gate-serve.lock'))).toBe(false)
    }
  )

  it('refuses to start on an invalid routes file, with the same report as validate', () => {
    const bad = join(dir, 'bad-routes.json')
    writeFileSync(
      bad,
      JSON.stringify({ version: 1, routes: [{ path: 'api', origin: 'not a url', price: '-1' }] })
    )
    const run = spawnSync(
      process.execPath,
      [bin, 'serve', '--routes', bad, '--data', join(dir, 'never')],
      { cwd: repo, encoding: 'utf8', env: childEnv() }
    )
    expect(run.status).toBe(1)
    expect(run.stdout).toBe('')
    const validate = spawnSync(process.execPath, [bin, 'validate', bad], {
      cwd: repo,
      encoding: 'utf8',
      env: childEnv(),
    })
    expect(validate.status).toBe(1)
    expect(run.stderr).toBe(`${validate.stderr}not started\n`)
    expect(run.stderr).toMatch(/routes\[0\]\.path: /)
    expect(existsSync(join(dir, 'never'))).toBe(false)
  })

  it('says so, in one line and a hint, when its port is taken', { timeout: 60_000 }, async () => {
    const taken = createServer()
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done))
    const port = String((taken.address() as AddressInfo).port)
    try {
      const child = spawn(
        process.execPath,
        [
          bin,
          'serve',
          '--routes',
          join(dir, 'routes.json'),
          '--data',
          join(dir, 'taken'),
          '--port',
          port,
        ],
        { cwd: repo, env: childEnv({ ADMIN_TOKEN }) }
      )
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)))
      const code = await new Promise<number | null>((done) => child.once('exit', done))
      expect(code).toBe(1)
      expect(stderr).toBe(
        `✖ 127.0.0.1:${port} is already in use\n  Stop what listens there, or pass another --port.\n`
      )
    } finally {
      await new Promise<void>((done) => taken.close(() => done()))
    }
  })

  it('refuses a bad port and a missing wrangler config with a clear message', () => {
    const pay = (...args: string[]) =>
      spawnSync(process.execPath, [bin, 'serve', ...args], {
        cwd: repo,
        encoding: 'utf8',
        env: childEnv(),
      })
    const port = pay('--port', 'http')
    expect(port.status).toBe(2)
    expect(port.stderr).toContain('--port must be a port number')
    const config = pay('--config', join(dir, 'nope.toml'))
    expect(config.status).toBe(1)
    expect(config.stderr).toContain('no wrangler config at')
  })

  it('--help lists its options', () => {
    const help = spawnSync(process.execPath, [bin, 'serve', '--help'], {
      cwd: repo,
      encoding: 'utf8',
      env: childEnv(),
    })
    expect(help.status).toBe(0)
    for (const flag of ['--routes', '--port', '--host', '--data', '--config', '--env-file'])
      expect(help.stdout).toContain(flag)
    expect(
      spawnSync(process.execPath, [bin, '--help'], { cwd: repo, encoding: 'utf8' }).stdout
    ).toContain('serve')
  })
})
