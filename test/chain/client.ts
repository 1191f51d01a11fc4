/**
 * Test-side helpers that only use fetch, viem and the x402 client packages (no node: imports), so the
 * gate tests can use them inside workerd with the values globalSetup provides.
 */
import { x402Client } from '@x402/core/client'
import { registerExactEvmScheme } from '@x402/evm/exact/client'
import { type Address, type Hex, createPublicClient, erc20Abi, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { FacilitatorCall, FacilitatorMode } from './facilitator'

/**
 * The real x402 client for one payer key: exact EVM scheme (EIP-3009) on `network`.
 * `asset` must be allow-listed: by default x402Client only pays the SDK's known stablecoins
 * (spend controls), and TestUSDC on eip155:31337 is not one of them.
 */
export function payingClient(opts: {
  network: `${string}:${string}`
  asset: Address
  privateKey: Hex
}): x402Client {
  const client = new x402Client()
  // A viem LocalAccount is a ClientEvmSigner (address + signTypedData); no RPC needed to sign.
  registerExactEvmScheme(client, {
    signer: privateKeyToAccount(opts.privateKey),
    networks: [opts.network],
  })
  client.setSpendControls({ allowedAssets: [{ network: opts.network, asset: opts.asset }] })
  return client
}

/** ERC-20 balance in atomic units, straight from the chain. */
export async function tokenBalance(
  rpcUrl: string,
  token: Address,
  owner: Address
): Promise<bigint> {
  const client = createPublicClient({ transport: http(rpcUrl, { timeout: 10_000 }) })
  return client.readContract({
    address: token,
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [owner],
  })
}

async function control<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) })
  if (!res.ok) throw new Error(`facilitator control ${url}: HTTP ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** Switches the facilitator's fault mode (see facilitator.ts). Resolves once it is in force. */
export function setFacilitatorMode(
  controlUrl: string,
  mode: FacilitatorMode,
  delayMs?: number
): Promise<{ mode: FacilitatorMode; delayMs: number }> {
  return control(`${controlUrl}/mode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mode, delayMs }),
  })
}

/** Every request that reached the facilitator since the last clear, oldest first. */
export function facilitatorCalls(controlUrl: string): Promise<FacilitatorCall[]> {
  return control(`${controlUrl}/calls`)
}

export async function clearFacilitatorCalls(controlUrl: string): Promise<void> {
  await control(`${controlUrl}/calls`, { method: 'DELETE' })
}

/**
 * Resolves once the facilitator has answered every request it received, those the gate stopped
 * waiting for included: after it, no settle is still on its way to the chain.
 */
export async function facilitatorIdle(controlUrl: string): Promise<void> {
  await control(`${controlUrl}/idle`)
}
