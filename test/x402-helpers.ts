/**
 * Helpers for the x402 tests: the chain the global setup started, the real x402
 * client (@x402/core + @x402/evm, viem local accounts) paying through the gate,
 * and hand-signed payments for the cases a well-behaved client never sends.
 */
import { x402Client } from '@x402/core/client'
import { wrapFetchWithPayment } from '@x402/fetch'
import { runInDurableObject } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { createPublicClient, http, type Address, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { payingClient, tokenBalance } from './chain/client'
import { signAuthorization } from './eip3009'
import type { ChainContext } from './global-setup'
import type { PaymentLock } from '../src/x402'

export const chain = (): ChainContext => JSON.parse(env.CHAIN) as ChainContext

/** A fresh address to be paid: each test file its own, so balance deltas are exact. */
export function freshPayTo(): Address {
  return privateKeyToAccount(generatePrivateKey()).address
}

/** The table-wide x402 block for the test chain. */
export function x402Block(
  payTo: Address,
  overrides: Record<string, unknown> = {}
): Record<string, unknown> {
  const { network, token, facilitatorUrl } = chain()
  return {
    network,
    payTo,
    facilitator: { url: facilitatorUrl },
    maxTimeoutSeconds: 60,
    asset: token,
    ...overrides,
  }
}

/**
 * The real x402 client for payer `index` (0-based; the global setup funds 8). Each test file pays
 * with payers no other file uses, since files run at the same time on one chain and a test reading
 * a payer's balance must see only its own file's settlements: x402-http 0, x402-mcp 1, x402-mcp-resume 6,
 * x402-faults 2 (and 5 for dev mode, which no settlement may touch), usage-events 3 and 4,
 * sidecar-x402 7. oauth-x402 pays with 4 too, and reads only its own payTo's balance.
 */
export function client(index: number): x402Client {
  const { network, token, payerKeys } = chain()
  return payingClient({
    network: network as `${string}:${string}`,
    asset: token.address as Address,
    privateKey: payerKeys[index] as Hex,
  })
}

export function payerAddress(index: number): Address {
  return privateKeyToAccount(chain().payerKeys[index] as Hex).address
}

/** fetch through the gate's fetch handler. */
export const gateFetch: typeof fetch = (input, init) =>
  exports.default.fetch(new Request(input as RequestInfo, init))

/** @x402/fetch around the gate: pays a 402 and retries once, as any x402 agent would. */
export function payingFetch(index: number): typeof fetch {
  return wrapFetchWithPayment(gateFetch, client(index))
}

export function balanceOf(owner: Address): Promise<bigint> {
  const { rpcUrl, token } = chain()
  return tokenBalance(rpcUrl, token.address as Address, owner)
}

export async function receipt(hash: Hex) {
  return createPublicClient({ transport: http(chain().rpcUrl) }).getTransactionReceipt({ hash })
}

export function decode<T = Record<string, unknown>>(header: string | null): T {
  if (!header) throw new Error('missing header')
  const bytes = Uint8Array.from(atob(header), (c) => c.charCodeAt(0))
  return JSON.parse(new TextDecoder().decode(bytes)) as T
}

export function encode(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value))
  return btoa(String.fromCharCode(...bytes))
}

type Requirements = {
  scheme: string
  network: string
  amount: string
  asset: string
  payTo: string
  maxTimeoutSeconds: number
  extra?: Record<string, unknown>
}

/**
 * A PaymentPayload signed by hand, for requirements `accepted`, with parts of the
 * authorization overridden: what a broken or hostile client sends.
 */
export async function handSigned(
  accepted: Requirements,
  payerIndex: number,
  overrides: Partial<
    Record<'from' | 'to' | 'value' | 'validAfter' | 'validBefore' | 'nonce', string>
  > = {},
  options: { chainId?: number; signerKey?: Hex } = {}
): Promise<Record<string, unknown>> {
  const payer = privateKeyToAccount(chain().payerKeys[payerIndex] as Hex)
  const signer = options.signerKey ? privateKeyToAccount(options.signerKey) : payer
  const now = Math.floor(Date.now() / 1000)
  const authorization = {
    from: payer.address as string,
    to: accepted.payTo,
    value: accepted.amount,
    validAfter: '0',
    validBefore: String(now + accepted.maxTimeoutSeconds),
    nonce: `0x${[...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, '0')).join('')}`,
    ...overrides,
  }
  const signature = await signAuthorization(
    signer,
    {
      name: String(accepted.extra?.name),
      version: String(accepted.extra?.version),
      chainId: options.chainId ?? Number(accepted.network.split(':')[1]),
      verifyingContract: accepted.asset,
    },
    authorization
  )
  return { x402Version: 2, accepted, payload: { signature, authorization } }
}

/**
 * Make a payment's claim look `ms` older in its lock, as if its follow-up had
 * taken it that long ago and then stopped (its isolate gone): the deterministic
 * way past a claim's lease.
 */
export function ageClaim(
  lock: DurableObjectStub<PaymentLock>,
  nonce: string,
  ms: number
): Promise<void> {
  return runInDurableObject(lock, (_instance: PaymentLock, state) => {
    const sql = state.storage.sql
    // A claim taken before claims were kept has its time in the payment's row only.
    sql.exec('UPDATE payments SET updated_at = updated_at - ? WHERE nonce = ?', ms, nonce)
    if (
      sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'claims'`).toArray()
        .length > 0
    ) {
      sql.exec('UPDATE claims SET claimed_at = claimed_at - ? WHERE nonce = ?', ms, nonce)
    }
  })
}
