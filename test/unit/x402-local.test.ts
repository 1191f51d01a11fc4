import { checksumAddress, serializeErc6492Signature } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { validateRoutesFile } from '../../src/pricing'
import {
  buildRequirements,
  checkLocally,
  decodeHeader,
  encodeHeader,
  matchesRequirements,
} from '../../src/x402'
import { signAuthorization } from '../eip3009'

const PAYER = privateKeyToAccount(
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
)
const PAY_TO = '0x1111111111111111111111111111111111111111'
const ASSET = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const TERMS = {
  network: 'eip155:84532',
  chainId: 84532,
  asset: { address: ASSET, name: 'USDC', version: '2', decimals: 6 },
  payTo: PAY_TO,
  maxTimeoutSeconds: 60,
  facilitator: {
    url: 'https://x402.org/facilitator',
    verifyTimeoutMs: 1000,
    settleTimeoutMs: 1000,
  },
  failMode: 'closed' as const,
  mode: 'facilitator' as const,
  freePass: [],
}

async function signed(overrides: Record<string, string> = {}, signer = PAYER) {
  const now = Math.floor(Date.now() / 1000)
  const authorization = {
    from: PAYER.address,
    to: PAY_TO,
    value: '10000',
    validAfter: '0',
    validBefore: String(now + 60),
    nonce: `0x${'ab'.repeat(32)}`,
    ...overrides,
  }
  const signature = await signAuthorization(
    signer,
    { name: 'USDC', version: '2', chainId: 84532, verifyingContract: ASSET },
    authorization
  )
  return { signature, authorization }
}

const now = () => Math.floor(Date.now() / 1000)

describe('x402 routes config', () => {
  const route = {
    path: '/api/*',
    method: 'GET',
    origin: 'http://127.0.0.1:8080',
    price: '0.02',
    accept: ['x402', 'credits'],
  }

  it('accepts the documented block, and fills in USDC for a known network', () => {
    const result = validateRoutesFile({
      version: 1,
      x402: {
        network: 'eip155:84532',
        payTo: PAY_TO,
        facilitator: { url: 'https://x402.org/facilitator' },
        maxTimeoutSeconds: 60,
        failMode: 'closed',
        asset: { address: ASSET, name: 'USDC', version: '2', decimals: 6 },
      },
      routes: [
        route,
        {
          path: '/mcp',
          origin: 'http://127.0.0.1:3001',
          mcp: { price: '0.001', tools: { search: '0.01' } },
        },
      ],
    })
    expect(result.ok).toBe(true)
    expect(
      validateRoutesFile({
        version: 1,
        x402: { network: 'eip155:8453', payTo: PAY_TO },
        routes: [route],
      }).ok
    ).toBe(true)
  })

  it.each([
    [{ network: 'eip155:31337', payTo: PAY_TO }, 'routes[0].x402.asset'],
    [{ network: 'base', payTo: PAY_TO }, 'x402.network'],
    [
      {
        network: 'eip155:8453',
        payTo: '0x1111111111111111111111111111111111111112'.replace('1112', '111Z'),
      },
      'x402.payTo',
    ],
    [{ network: 'eip155:8453', payTo: '0xAb5801a7D398351b8bE11C439e05C5B3259aeC9C' }, 'x402.payTo'],
    [
      {
        network: 'eip155:8453',
        payTo: PAY_TO,
        facilitator: { url: 'http://facilitator.example.com' },
      },
      'x402.facilitator.url',
    ],
  ])('refuses %j at %s', (x402, path) => {
    const result = validateRoutesFile({ version: 1, x402, routes: [route] })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.issues.map((issue) => issue.path)).toContain(path)
  })

  it('refuses a payTo without its EIP-55 checksum, all-lowercase included, and shows the checksummed form', () => {
    const checksummed = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
    const problem = (
      x402: Record<string, unknown>,
      routeX402?: Record<string, unknown>,
      at = 'x402.payTo'
    ) => {
      const result = validateRoutesFile({
        version: 1,
        x402,
        routes: [{ ...route, ...(routeX402 ? { x402: routeX402 } : {}) }],
      })
      return result.ok ? undefined : result.issues.find((issue) => issue.path === at)?.message
    }
    const block = (payTo: string) => ({ network: 'eip155:8453', payTo })
    // The review's case: all lowercase (so no checksum to catch it), the last character mistyped.
    const typo = `${checksummed.toLowerCase().slice(0, -1)}f`
    expect(problem(block(typo))).toMatch(/fails its EIP-55 checksum/)
    expect(problem(block(typo))).toContain(checksumAddress(typo as `0x${string}`))
    expect(problem(block(checksummed.toLowerCase()))).toContain(checksummed)
    const wrongCase = checksummed.replace('CbD', 'Cbd')
    expect(problem(block(wrongCase))).toMatch(/fails its EIP-55 checksum/)
    expect(problem(block(wrongCase))).toContain(checksummed)
    expect(
      problem(block(PAY_TO), { payTo: checksummed.toLowerCase() }, 'routes[0].x402.payTo')
    ).toMatch(/fails its EIP-55 checksum.*0x036CbD53842c5426634e7929541eC2318f3dCF7e/)
    expect(validateRoutesFile({ version: 1, x402: block(checksummed), routes: [route] }).ok).toBe(
      true
    )
  })

  it('refuses a price the asset cannot represent, and x402 on a route with no terms', () => {
    const twoDecimals = {
      network: 'eip155:31337',
      payTo: PAY_TO,
      asset: { address: ASSET, name: 'T', version: '1', decimals: 2 },
    }
    const result = validateRoutesFile({
      version: 1,
      x402: twoDecimals,
      routes: [{ ...route, price: '0.001' }],
    })
    expect(!result.ok && result.issues[0]?.path).toBe('routes[0].price')
    expect(validateRoutesFile({ version: 1, routes: [route] }).ok).toBe(false)
  })

  it('takes http:// facilitators on loopback only', () => {
    const local = {
      network: 'eip155:8453',
      payTo: PAY_TO,
      facilitator: { url: 'http://127.0.0.1:4021' },
    }
    expect(validateRoutesFile({ version: 1, x402: local, routes: [route] }).ok).toBe(true)
  })
})

describe('x402 requirements', () => {
  it('converts the price exactly and matches only an identical copy', () => {
    const ours = buildRequirements(TERMS, 20_000)
    expect(ours).toEqual({
      scheme: 'exact',
      network: 'eip155:84532',
      amount: '20000',
      asset: ASSET,
      payTo: PAY_TO,
      maxTimeoutSeconds: 60,
      extra: { name: 'USDC', version: '2' },
    })
    expect(
      matchesRequirements(ours, {
        ...ours,
        extra: { ...ours.extra, assetTransferMethod: 'eip3009' },
      })
    ).toBe(true)
    for (const change of [
      { amount: '19999' },
      { payTo: ASSET },
      { network: 'eip155:8453' },
      { maxTimeoutSeconds: 600 },
      { extra: { name: 'USD Coin', version: '2' } },
    ]) {
      expect(matchesRequirements(ours, { ...ours, ...change }), JSON.stringify(change)).toBe(false)
    }
  })

  it('round-trips headers as standard base64 of UTF-8 JSON, and refuses junk', () => {
    const value = { x402Version: 2, note: 'prix: 5 €' }
    expect(decodeHeader(encodeHeader(value))).toEqual(value)
    expect(decodeHeader('not base64!')).toBeNull()
    expect(decodeHeader(btoa('{"half":'))).toBeNull()
    // Exactly base64 of the UTF-8 bytes, ASCII or not, and read back; bytes that are not UTF-8 are junk.
    for (const text of ['plain', 'prix: 5 €', '名前', '😀 \u0000 \u007f \u0080', '\ufeffbom']) {
      const header = encodeHeader({ text })
      expect(header).toBe(Buffer.from(JSON.stringify({ text }), 'utf8').toString('base64'))
      expect(decodeHeader(header)).toEqual({ text })
    }
    expect(
      decodeHeader(Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('{"a":1}')]).toString('base64'))
    ).toEqual({ a: 1 })
    expect(decodeHeader(Buffer.from([0x22, 0xff, 0x22]).toString('base64'))).toBeNull()
  })
})

describe('x402 local checks', () => {
  const requirements = buildRequirements(TERMS, 10_000)

  it('accepts a correctly signed authorization and names the payer', async () => {
    const result = await checkLocally(requirements, 84532, await signed(), now())
    expect(result).toMatchObject({ ok: true, payer: PAYER.address, signatureChecked: true })
  })

  it.each([
    [
      { to: '0x2222222222222222222222222222222222222222' },
      'invalid_exact_evm_payload_recipient_mismatch',
    ],
    [{ value: '9999' }, 'invalid_exact_evm_payload_authorization_value_mismatch'],
    [
      { validAfter: String(Math.floor(Date.now() / 1000) + 600) },
      'invalid_exact_evm_payload_authorization_valid_after',
    ],
    [
      { validBefore: String(Math.floor(Date.now() / 1000) + 3) },
      'invalid_exact_evm_payload_authorization_valid_before',
    ],
  ])('refuses %j with %s', async (overrides, reason) => {
    const result = await checkLocally(requirements, 84532, await signed(overrides), now())
    expect(result).toMatchObject({ ok: false, reason })
  })

  it('refuses a signature by someone else, or for another chain, or tampered', async () => {
    const other = privateKeyToAccount(
      '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'
    )
    const forged = await signed({}, other)
    expect(await checkLocally(requirements, 84532, forged, now())).toMatchObject({
      ok: false,
      reason: 'invalid_exact_evm_payload_signature',
    })
    expect(await checkLocally(requirements, 8453, await signed(), now())).toMatchObject({
      ok: false,
      reason: 'invalid_exact_evm_payload_signature',
    })
    const good = await signed()
    const tampered = {
      ...good,
      authorization: { ...good.authorization, nonce: `0x${'cd'.repeat(32)}` },
    }
    expect(await checkLocally(requirements, 84532, tampered, now())).toMatchObject({
      ok: false,
      reason: 'invalid_exact_evm_payload_signature',
    })
  })

  it('says when it could not check a signature: a smart wallet’s (not 65 bytes) is for the chain to check', async () => {
    const good = await signed()
    const wrapped = serializeErc6492Signature({
      address: PAY_TO,
      data: '0xdeadbeef',
      signature: good.signature,
    })
    expect(
      await checkLocally(requirements, 84532, { ...good, signature: wrapped }, now())
    ).toMatchObject({ ok: true, signatureChecked: false })
    // Everything else is still checked: the amount, the recipient, the window.
    const underpaid = await signed({ value: '9999' })
    expect(
      await checkLocally(requirements, 84532, { ...underpaid, signature: wrapped }, now())
    ).toMatchObject({ ok: false })
  })

  it('refuses payloads of the wrong shape', async () => {
    for (const payload of [
      null,
      {},
      { signature: '0x12' },
      { authorization: {}, signature: '0x' },
    ]) {
      expect(await checkLocally(requirements, 84532, payload, now())).toMatchObject({
        ok: false,
        reason: 'invalid_payload',
      })
    }
  })
})
