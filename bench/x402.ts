/**
 * What the x402 scenarios need besides the load itself: the chain and facilitator
 * (x402-chain.ts, in their own process), payments signed ahead of time with the
 * real x402 client, the gate's Server-Timing read back, and payTo's balance on chain.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from '@x402/core/http'
import type { PaymentRequired } from '@x402/core/types'
import type { Address, Hex } from 'viem'
import { payingClient, tokenBalance } from '../test/chain/client'
import { stopProcess } from './workerd'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const NETWORK = 'eip155:31337' as const

export interface X402Chain {
  rpcUrl: string
  facilitatorUrl: string
  token: { address: Address; name: string; version: string; decimals: number }
  payerKeys: Hex[]
  payTo: Address
  /** For CPU accounting: the facilitator's Node process and anvil. */
  pids: { facilitator: number; anvil: number }
  close(): Promise<void>
}

/** Start anvil + the facilitator in x402-chain.ts; bounded, on loopback. */
export async function startX402Chain(timeoutMs = 60_000): Promise<X402Chain> {
  // Not track()ed: a SIGKILL on exit would leave anvil (its child) behind. When this process
  // ends, however it ends, the child's stdin closes and it stops the facilitator and anvil itself.
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'x402-chain.ts')], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout! })
  let timer: NodeJS.Timeout | undefined
  let first: string
  try {
    first = await Promise.race([
      once(lines, 'line').then(([line]) => line as string),
      once(child, 'exit').then(([code]) =>
        Promise.reject(
          new Error(`the chain/facilitator process exited with ${code} before starting`)
        )
      ),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`the chain/facilitator did not start within ${timeoutMs / 1000} s`)),
          timeoutMs
        )
      }),
    ])
  } catch (error) {
    await stopProcess(child)
    throw error
  } finally {
    clearTimeout(timer)
    lines.close()
  }
  const info = JSON.parse(first) as Omit<X402Chain, 'pids' | 'close'> & { anvilPid: number }
  // Belt and braces for an exit without close(): anvil must not outlive the bench.
  let closed = false
  const killAnvil = () => {
    try {
      if (!closed) process.kill(info.anvilPid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  process.once('exit', killAnvil)
  return {
    ...info,
    pids: { facilitator: child.pid as number, anvil: info.anvilPid },
    async close() {
      await stopProcess(child) // SIGTERM: it stops the facilitator, then anvil
      closed = true
      process.off('exit', killAnvil)
    },
  }
}

/** What the gate asks for: the PAYMENT-REQUIRED of an unpaid call, as a real client reads it. */
export async function paymentRequired(url: string): Promise<PaymentRequired> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  await response.arrayBuffer()
  const header = response.headers.get('payment-required')
  if (response.status !== 402 || !header)
    throw new Error(
      `bench: expected a 402 with PAYMENT-REQUIRED from ${url}, got ${response.status}`
    )
  return decodePaymentRequiredHeader(header)
}

/**
 * `count` PAYMENT-SIGNATURE values, each a fresh EIP-3009 authorization (random
 * nonce) from the payers in turn, signed by the x402 client before the timed window:
 * signing costs about 1 ms of CPU, which must not be the load generator's during it.
 */
export async function presign(
  required: PaymentRequired,
  chain: X402Chain,
  count: number
): Promise<string[]> {
  const clients = chain.payerKeys.map((privateKey) =>
    payingClient({ network: NETWORK, asset: chain.token.address, privateKey })
  )
  const signatures: string[] = []
  for (let i = 0; i < count; i++) {
    const client = clients[i % clients.length] as (typeof clients)[number]
    signatures.push(encodePaymentSignatureHeader(await client.createPaymentPayload(required)))
  }
  return signatures
}

/** `x402-verify;dur=12, origin;dur=1` → { 'x402-verify': 12, origin: 1 }. */
export function serverTiming(value: string | string[] | undefined): Record<string, number> {
  const timings: Record<string, number> = {}
  for (const entry of (Array.isArray(value) ? value.join(',') : (value ?? '')).split(',')) {
    const [name, ...params] = entry.split(';').map((part) => part.trim())
    const duration = params.find((param) => param.startsWith('dur='))
    if (name && duration) timings[name] = Number(duration.slice(4))
  }
  return timings
}

/** payTo's token balance in atomic units, read from the chain with viem. */
export function payToBalance(chain: X402Chain): Promise<bigint> {
  return tokenBalance(chain.rpcUrl, chain.token.address, chain.payTo)
}
