import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { validateRoutesText } from '../../src/pricing/validate'
import { GATE_SETTING_NAMES } from '../../src/setting-names'
import { collectSecrets, readEnvFile } from '../src/serve/secrets'
import { tempDir } from './helpers'

const routes = (() => {
  const result = validateRoutesText(
    JSON.stringify({
      version: 1,
      routes: [
        {
          path: '/a/*',
          origin: 'http://127.0.0.1:1',
          price: '0.01',
          upstreamAuth: { secret: 'A_TOKEN', header: 'authorization', prefix: 'Bearer ' },
        },
        {
          path: '/b/*',
          origin: 'http://127.0.0.1:2',
          price: '0.01',
          upstreamAuth: { secret: 'B_KEY', query: 'key' },
        },
      ],
    })
  )
  if (!result.ok) throw new Error('test routes are invalid')
  return result.file
})()

describe('pay-gate serve secrets', () => {
  it("takes the gate settings and the routes' upstream secrets from the environment, and nothing else", () => {
    const env = {
      ADMIN_TOKEN: 'admin',
      A_TOKEN: 'a',
      B_KEY: 'b',
      SETTLE_BATCH_MS: '0',
      PATH: '/usr/bin',
      HOME: '/root',
      AWS_SECRET_ACCESS_KEY: 'unrelated',
    }
    expect(collectSecrets(env, undefined, routes)).toEqual({
      bindings: { ADMIN_TOKEN: 'admin', A_TOKEN: 'a', B_KEY: 'b', SETTLE_BATCH_MS: '0' },
      missing: [],
    })
  })

  it('passes every entry of the env file, which wins over the environment', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'gate.env'), '# secrets\nADMIN_TOKEN=from-file\nEXTRA="quoted value"\n')
    const file = readEnvFile(join(dir, 'gate.env'))
    expect(collectSecrets({ ADMIN_TOKEN: 'from-env', A_TOKEN: 'a' }, file, routes)).toEqual({
      bindings: { ADMIN_TOKEN: 'from-file', A_TOKEN: 'a', EXTRA: 'quoted value' },
      missing: ['B_KEY'],
    })
  })

  it('names what is missing, never a value; an empty variable counts as missing', () => {
    expect(collectSecrets({ ADMIN_TOKEN: '' }, undefined, routes).missing).toEqual([
      'ADMIN_TOKEN',
      'A_TOKEN',
      'B_KEY',
    ])
  })

  it('passes every string setting the worker reads (Stripe, metrics, webhooks…), so an EnvironmentFile is enough', () => {
    const envSource = readFileSync(new URL('../../src/env.ts', import.meta.url), 'utf8')
    const declared = [...envSource.matchAll(/^\s+([A-Z][A-Z0-9_]+)\?: string$/gm)].map(
      (match) => match[1]
    )
    expect(declared.length).toBeGreaterThan(10)
    expect([...GATE_SETTING_NAMES].sort()).toEqual(declared.sort())
    const env = {
      ADMIN_TOKEN: 'admin',
      A_TOKEN: 'a',
      B_KEY: 'b',
      STRIPE_WEBHOOK_SECRET: 'whsec_x',
      METRICS_TOKEN: 'metrics-token-0123456789',
      OPERATOR_WEBHOOK_URL: 'https://ops.example/hook',
    }
    expect(collectSecrets(env, undefined, routes).bindings).toEqual(env)
  })

  it("takes the x402 facilitator's auth secret that routes.json names, table-wide or per route, and says when it is missing", () => {
    const result = validateRoutesText(
      JSON.stringify({
        version: 1,
        x402: {
          network: 'eip155:8453',
          payTo: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
          facilitator: {
            url: 'https://x402.example',
            authHeader: { name: 'authorization', secret: 'CDP_KEY', prefix: 'Bearer ' },
          },
        },
        routes: [
          { path: '/a/*', origin: 'http://127.0.0.1:1', price: '0.01' },
          {
            path: '/b/*',
            origin: 'http://127.0.0.1:2',
            price: '0.01',
            x402: {
              facilitator: {
                url: 'https://other.example',
                authHeader: { name: 'x-key', secret: 'OTHER_KEY' },
              },
            },
          },
        ],
      })
    )
    if (!result.ok) throw new Error(JSON.stringify(result))
    expect(
      collectSecrets({ ADMIN_TOKEN: 'admin', CDP_KEY: 'cdp' }, undefined, result.file)
    ).toEqual({ bindings: { ADMIN_TOKEN: 'admin', CDP_KEY: 'cdp' }, missing: ['OTHER_KEY'] })
  })

  it('an unreadable env file is a clear error', () => {
    expect(() => readEnvFile('/nonexistent/gate.env')).toThrow(
      'cannot read the env file /nonexistent/gate.env: ENOENT'
    )
  })
})
