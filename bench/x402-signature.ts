/**
 * `npx tsx bench/x402-signature.ts`: the CPU of the gate's local signature check on
 * an x402 payment, and of the alternatives, in V8 (Node; workerd runs the same
 * engine). Each way checks the same freshly signed EIP-3009 authorizations, in
 * interleaved rounds, timed by this thread's CPU time (process.cpuUsage), so other
 * processes on the machine slow each way alike; the median round is printed.
 *
 *   npx tsx bench/x402-signature.ts [--payments 200] [--rounds 7]
 */
import { parseArgs } from 'node:util'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { hashTypedData, recoverTypedDataAddress, type Address, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
// Not through src/x402's index: that one brings the Durable Object (cloudflare:workers).
import { AUTHORIZATION_TYPES } from '../src/x402/local-check'
import { authorizationDigest, recoverSigner } from '../src/x402/authorization-signer'

const { values: args } = parseArgs({
  options: {
    payments: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '7' },
  },
})
const count = Number(args.payments)
const rounds = Number(args.rounds)

const account = privateKeyToAccount(
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
)
const domain = {
  name: 'USD Coin',
  version: '2',
  chainId: 8453,
  verifyingContract: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
}
const viemDomain = { ...domain, verifyingContract: domain.verifyingContract as Address }
const hex = (bytes: Uint8Array) => `0x${Buffer.from(bytes).toString('hex')}`

interface Payment {
  authorization: {
    from: string
    to: string
    value: string
    validAfter: string
    validBefore: string
    nonce: string
  }
  signature: Hex
}
const payments: Payment[] = []
for (let i = 0; i < count; i++) {
  const authorization = {
    from: account.address,
    to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    value: String(1000 + i),
    validAfter: '0',
    validBefore: String(2_000_000_000 + i),
    nonce: hex(crypto.getRandomValues(new Uint8Array(32))),
  }
  const payment = { authorization, signature: '0x' as Hex }
  payment.signature = await account.signTypedData({
    domain: viemDomain,
    types: AUTHORIZATION_TYPES,
    primaryType: 'TransferWithAuthorization',
    message: viemMessage(payment),
  })
  payments.push(payment)
}
function viemMessage({ authorization: a }: Payment) {
  return {
    from: a.from as Address,
    to: a.to as Address,
    value: BigInt(a.value),
    validAfter: BigInt(a.validAfter),
    validBefore: BigInt(a.validBefore),
    nonce: a.nonce as Hex,
  }
}
const payerKey = secp256k1.Point.fromHex(account.publicKey.slice(2)).toBytes(false)
const want = account.address.toLowerCase()
const check = (signer: string) => {
  if (signer.toLowerCase() !== want) throw new Error(`bench: recovered ${signer}, not the payer`)
}

/** Each way, as the gate would run it for one payment; `before` marks what the gate did until now. */
const ways: Array<{ label: string; run: (p: Payment) => unknown }> = [
  {
    label: 'before: viem recoverTypedDataAddress',
    run: async (p) =>
      check(
        await recoverTypedDataAddress({
          domain: viemDomain,
          types: AUTHORIZATION_TYPES,
          primaryType: 'TransferWithAuthorization',
          message: viemMessage(p),
          signature: p.signature,
        })
      ),
  },
  {
    label: 'now: digest + recoverSigner (@noble direct)',
    run: (p) => check(recoverSigner(authorizationDigest(domain, p.authorization), p.signature)),
  },
  {
    label: '  of which the digest: viem hashTypedData',
    run: (p) =>
      hashTypedData({
        domain: viemDomain,
        types: AUTHORIZATION_TYPES,
        primaryType: 'TransferWithAuthorization',
        message: viemMessage(p),
      }),
  },
  {
    label: '  of which the digest: ours (cached domain)',
    run: (p) => authorizationDigest(domain, p.authorization),
  },
  {
    // What a per-payer key cache would cost: verify against the payer's known key (with its recovery bit).
    label: 'alt: verify against a known payer key',
    run: (p) => {
      const sig = Buffer.from(p.signature.slice(2), 'hex')
      const recovered = new Uint8Array([sig[64]! - 27, ...sig.subarray(0, 64)])
      if (
        !secp256k1.verify(recovered, authorizationDigest(domain, p.authorization), payerKey, {
          prehash: false,
          lowS: false,
          format: 'recovered',
        })
      )
        throw new Error('bench: verify failed')
    },
  },
]

const cpuMicros = () => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}
const perPayment = new Map<string, number[]>(ways.map((way) => [way.label, []]))
for (const way of ways) for (const p of payments.slice(0, 20)) await way.run(p) // warm the JIT
for (let round = 0; round < rounds; round++) {
  for (const way of ways) {
    const began = cpuMicros()
    for (const p of payments) await way.run(p)
    perPayment.get(way.label)!.push((cpuMicros() - began) / payments.length)
  }
}
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] as number
console.log(
  `x402 local signature check, CPU µs per payment (${count} payments, median of ${rounds} interleaved rounds, min–max):`
)
for (const [label, values] of perPayment) {
  console.log(
    `  ${label.padEnd(48)}${median(values).toFixed(0).padStart(7)}   (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`
  )
}
