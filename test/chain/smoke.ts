/**
 * End-to-end smoke check of the chain harness with the real x402 SDK client, no mocks:
 *
 *   tsx test/chain/smoke.ts
 *
 * Starts anvil + TestUSDC + the facilitator, signs payments with @x402/core/client +
 * @x402/evm/exact/client, verifies and settles them over HTTP, checks balances on chain, replays,
 * and drives every fault mode through the control port. Exits 0 only if every check passes, and
 * always stops anvil.
 */
import { x402Client } from '@x402/core/client'
import {
  HTTPFacilitatorClient,
  decodePaymentSignatureHeader,
  encodePaymentSignatureHeader,
} from '@x402/core/http'
import type { PaymentPayload, PaymentRequired, PaymentRequirements } from '@x402/core/types'
import { registerExactEvmScheme } from '@x402/evm/exact/client'
import { wrapFetchWithPayment } from '@x402/fetch'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { type Chain, anvilAccount, startChain } from './chain'
import {
  facilitatorCalls,
  payingClient as clientFor,
  setFacilitatorMode,
  tokenBalance,
} from './client'
import { type Facilitator, startFacilitator } from './facilitator'

const PRICE = 10_000n // 0.01 USDC
let failures = 0

function check(name: string, ok: boolean, detail?: unknown): void {
  if (!ok) failures++
  const suffix =
    detail === undefined ? '' : `  ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${name}${suffix}`)
}

async function post(
  url: string,
  body: unknown
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

/** The request body of protocols.md §A.5. */
const wire = (paymentPayload: PaymentPayload, paymentRequirements: PaymentRequirements) => ({
  x402Version: 2,
  paymentPayload,
  paymentRequirements,
})

/** The x402 client a gate test would use (client.ts), for one payer key. */
const payingClient = (chain: Chain, privateKey: `0x${string}`) =>
  clientFor({ network: chain.network, asset: chain.token.address, privateKey })

async function run(chain: Chain, fac: Facilitator): Promise<void> {
  const { payers, payTo, facilitator } = chain.accounts
  const requirements: PaymentRequirements = {
    scheme: 'exact',
    network: chain.network,
    amount: PRICE.toString(),
    asset: chain.token.address,
    payTo: payTo.address,
    maxTimeoutSeconds: 60,
    extra: { name: chain.token.name, version: chain.token.version },
  }
  const paymentRequired: PaymentRequired = {
    x402Version: 2,
    resource: { url: 'http://gate.test/paid', description: 'smoke', mimeType: 'application/json' },
    accepts: [requirements],
  }
  console.log(
    `chain ${chain.rpcUrl}  token ${chain.token.address}  facilitator ${fac.url} (control ${fac.controlUrl})`
  )

  // --- /supported ------------------------------------------------------------------------------------
  const supported = (await (await fetch(`${fac.url}/supported`)).json()) as Record<string, unknown>
  check(
    'GET /supported lists exactly v2 exact eip155:31337 and the facilitator signer',
    JSON.stringify(supported) ===
      JSON.stringify({
        kinds: [{ x402Version: 2, scheme: 'exact', network: 'eip155:31337' }],
        extensions: [],
        signers: { 'eip155:*': [facilitator.address] },
      }),
    supported
  )
  const sdkFacilitator = new HTTPFacilitatorClient({ url: fac.url })
  const sdkSupported = await sdkFacilitator.getSupported()
  check('HTTPFacilitatorClient.getSupported() accepts the answer', sdkSupported.kinds.length === 1)

  // --- the client refuses an unknown token unless told otherwise ---------------------------------------
  const plain = new x402Client()
  registerExactEvmScheme(plain, {
    signer: privateKeyToAccount(payers[0]!.privateKey),
    networks: [chain.network],
  })
  const refused = await plain
    .createPaymentPayload(paymentRequired)
    .then(() => 'signed')
    .catch((err: Error) => err.message)
  check(
    'default x402Client spend controls refuse TestUSDC (needs allowedAssets)',
    refused !== 'signed',
    refused.slice(0, 90)
  )

  // --- pay: sign, verify, settle ---------------------------------------------------------------------
  const client = payingClient(chain, payers[0]!.privateKey)
  const payload = await client.createPaymentPayload(paymentRequired)
  const auth = (payload.payload as { authorization: Record<string, string>; signature: string })
    .authorization
  const signature = (payload.payload as { signature: string }).signature
  check(
    'PaymentPayload is v2 exact/EIP-3009 for the requirements',
    payload.x402Version === 2 &&
      JSON.stringify(payload.accepted) === JSON.stringify(requirements) &&
      auth.from === payers[0]!.address &&
      auth.value === '10000' &&
      auth.to === payTo.address &&
      signature.length === 132,
    {
      from: auth.from,
      to: auth.to,
      value: auth.value,
      validAfter: auth.validAfter,
      validBefore: auth.validBefore,
    }
  )
  const header = encodePaymentSignatureHeader(payload)
  check(
    'PAYMENT-SIGNATURE header round-trips',
    JSON.stringify(decodePaymentSignatureHeader(header)) === JSON.stringify(payload),
    `${header.length} chars`
  )

  const before = {
    payer: await chain.balanceOf(payers[0]!.address),
    payTo: await chain.balanceOf(payTo.address),
  }
  const verify = await post(`${fac.url}/verify`, wire(payload, requirements))
  check(
    'POST /verify → 200 isValid:true, payer',
    verify.status === 200 && verify.json.isValid === true && verify.json.payer === auth.from,
    verify.json
  )

  const settle = await post(`${fac.url}/settle`, wire(payload, requirements))
  const tx = settle.json.transaction as `0x${string}`
  check(
    'POST /settle → 200 success:true with tx hash, network, payer',
    settle.status === 200 &&
      settle.json.success === true &&
      /^0x[0-9a-f]{64}$/.test(tx) &&
      settle.json.network === 'eip155:31337' &&
      settle.json.payer === auth.from,
    settle.json
  )
  const receipt = await chain.publicClient.getTransactionReceipt({ hash: tx })
  check(
    'settle tx is mined, succeeded, sent by the facilitator to the token',
    receipt.status === 'success' &&
      receipt.from.toLowerCase() === facilitator.address.toLowerCase() &&
      receipt.to?.toLowerCase() === chain.token.address.toLowerCase()
  )
  const after = {
    payer: await chain.balanceOf(payers[0]!.address),
    payTo: await chain.balanceOf(payTo.address),
  }
  check(
    'balances moved by exactly 10000',
    before.payer - after.payer === PRICE && after.payTo - before.payTo === PRICE,
    {
      payer: `${before.payer} → ${after.payer}`,
      payTo: `${before.payTo} → ${after.payTo}`,
    }
  )

  // --- replay -----------------------------------------------------------------------------------------
  const replaySettle = await post(`${fac.url}/settle`, wire(payload, requirements))
  check(
    'replayed /settle → success:false (nonce used), no tx',
    replaySettle.json.success === false &&
      replaySettle.json.transaction === '' &&
      replaySettle.json.errorReason === 'invalid_exact_evm_nonce_already_used',
    { errorReason: replaySettle.json.errorReason }
  )
  const replayVerify = await post(`${fac.url}/verify`, wire(payload, requirements))
  check(
    'replayed /verify → isValid:false invalid_exact_evm_nonce_already_used (Multicall3 diagnosis)',
    replayVerify.json.isValid === false &&
      replayVerify.json.invalidReason === 'invalid_exact_evm_nonce_already_used',
    { invalidReason: replayVerify.json.invalidReason }
  )
  check('balances unchanged by the replay', (await chain.balanceOf(payTo.address)) === after.payTo)

  // --- real rejections ----------------------------------------------------------------------------------
  const broke = await payingClient(chain, generatePrivateKey()).createPaymentPayload(
    paymentRequired
  )
  const brokeVerify = await post(`${fac.url}/verify`, wire(broke, requirements))
  check(
    'unfunded payer → isValid:false invalid_exact_evm_insufficient_balance',
    brokeVerify.json.invalidReason === 'invalid_exact_evm_insufficient_balance',
    { invalidReason: brokeVerify.json.invalidReason }
  )
  const dearer = { ...requirements, amount: '20000' }
  const mismatch = await post(`${fac.url}/verify`, wire(payload, dearer))
  check('price differs from the signed value → isValid:false', mismatch.json.isValid === false, {
    invalidReason: mismatch.json.invalidReason,
  })
  const badWire = await post(`${fac.url}/verify`, {
    paymentPayload: payload,
    paymentRequirements: requirements,
  })
  check(
    'body without x402Version → 400 invalid_x402_version',
    badWire.status === 400 && badWire.json.invalidReason === 'invalid_x402_version'
  )

  // --- the SDK's own facilitator client, end to end (payer 2) ---------------------------------------------
  const payload2 = await payingClient(chain, payers[1]!.privateKey).createPaymentPayload(
    paymentRequired
  )
  const sdkVerify = await sdkFacilitator.verify(payload2, requirements)
  const sdkSettle = await sdkFacilitator.settle(payload2, requirements)
  check('HTTPFacilitatorClient verify + settle', sdkVerify.isValid && sdkSettle.success, {
    transaction: sdkSettle.transaction,
  })

  // --- fault modes, switched through the control port as workerd tests will -----------------------------
  const payload3 = await payingClient(chain, payers[2]!.privateKey).createPaymentPayload(
    paymentRequired
  )
  const payer3Before = await chain.balanceOf(payers[2]!.address)

  await setFacilitatorMode(fac.controlUrl, 'settle-fails')
  const sfVerify = await post(`${fac.url}/verify`, wire(payload3, requirements))
  const sfSettle = await post(`${fac.url}/settle`, wire(payload3, requirements))
  check(
    "mode 'settle-fails': verify ok, settle success:false unexpected_settle_error, no transfer",
    sfVerify.json.isValid === true &&
      sfSettle.json.success === false &&
      sfSettle.json.errorReason === 'unexpected_settle_error' &&
      sfSettle.json.transaction === '' &&
      (await chain.balanceOf(payers[2]!.address)) === payer3Before,
    sfSettle.json
  )

  await setFacilitatorMode(fac.controlUrl, 'slow', 400)
  const t0 = Date.now()
  const slow = await fetch(`${fac.url}/supported`)
  check(
    "mode 'slow' (400 ms): answers after the delay",
    slow.status === 200 && Date.now() - t0 >= 400,
    `${Date.now() - t0} ms`
  )

  await setFacilitatorMode(fac.controlUrl, 'unavailable')
  check("mode 'unavailable': 503", (await fetch(`${fac.url}/supported`)).status === 503)

  await setFacilitatorMode(fac.controlUrl, 'down')
  const down = await fetch(`${fac.url}/supported`).then(
    (r) => `HTTP ${r.status}`,
    (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message
  )
  check("mode 'down': connection refused", down === 'ECONNREFUSED', down)

  const back = await setFacilitatorMode(fac.controlUrl, 'normal')
  check(
    'control: back to normal, same URL answers again',
    back.mode === 'normal' && (await fetch(`${fac.url}/supported`)).status === 200
  )
  // The payload that met 'settle-fails' is still good: settle it for real now.
  const late = await post(`${fac.url}/settle`, wire(payload3, requirements))
  check(
    'after settle-fails, the same payment settles in normal mode',
    late.json.success === true &&
      payer3Before - (await chain.balanceOf(payers[2]!.address)) === PRICE
  )

  // --- concurrency: one payment twice at once, plus another payment, all in flight together ----------------
  const [a, b] = await Promise.all([
    client.createPaymentPayload(paymentRequired),
    client.createPaymentPayload(paymentRequired),
  ])
  const payTo0 = await chain.balanceOf(payTo.address)
  const raced = await Promise.all(
    [a, a, b].map((p) => post(`${fac.url}/settle`, wire(p!, requirements)))
  )
  const wins = raced.slice(0, 2).filter((r) => r.json.success === true).length
  check(
    'concurrent settles: the doubled payment settles once, the other settles too',
    wins === 1 &&
      raced[2]!.json.success === true &&
      (await chain.balanceOf(payTo.address)) - payTo0 === 2n * PRICE,
    raced.map((r) => (r.json.success === true ? 'success' : r.json.errorReason))
  )

  // --- a second facilitator on the same chain, with its own gas account, settling at the same time ------
  const fac2 = await startFacilitator({ chain, sender: anvilAccount(10) })
  try {
    const [p1, p2] = await Promise.all([
      client.createPaymentPayload(paymentRequired),
      client.createPaymentPayload(paymentRequired),
    ])
    const both = await Promise.all([
      post(`${fac.url}/settle`, wire(p1, requirements)),
      post(`${fac2.url}/settle`, wire(p2!, requirements)),
    ])
    check(
      'two facilitators (senders anvil 0 and 10) settle concurrently',
      both.every((r) => r.json.success === true),
      both.map((r) => r.json.errorReason ?? 'success')
    )
  } finally {
    await fac2.close()
  }
  check(
    'client.ts tokenBalance agrees with chain.balanceOf',
    (await tokenBalance(chain.rpcUrl, chain.token.address, payTo.address)) ===
      (await chain.balanceOf(payTo.address))
  )

  // --- call log -----------------------------------------------------------------------------------------
  const logged = await facilitatorCalls(fac.controlUrl)
  const count = (p: string) => logged.filter((c) => c.path === p).length
  check(
    'calls recorded (in process and via control)',
    logged.length === fac.calls.length && count('/settle') === 9 && count('/verify') === 7,
    {
      verify: count('/verify'),
      settle: count('/settle'),
      supported: count('/supported'),
    }
  )

  // --- @x402/fetch --------------------------------------------------------------------------------------
  const paidFetch = wrapFetchWithPayment(fetch, client)
  check(
    '@x402/fetch wrapFetchWithPayment(fetch, client) constructs',
    typeof paidFetch === 'function'
  )
}

async function main(): Promise<void> {
  const started = Date.now()
  const chain = await startChain()
  let fac: Facilitator | undefined
  const stopAll = async () => {
    await fac?.close()
    await chain.stop()
  }
  // Ctrl-C: still stop anvil.
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)))
  try {
    fac = await startFacilitator({ chain })
    await run(chain, fac)
  } catch (err) {
    check(
      'smoke run completed without throwing',
      false,
      err instanceof Error ? (err.stack ?? err.message) : String(err)
    )
  } finally {
    await stopAll()
  }
  let anvilGone = false
  try {
    process.kill(chain.pid, 0)
  } catch {
    anvilGone = true
  }
  check('anvil stopped (pid gone)', anvilGone, `pid ${chain.pid}`)
  console.log(
    `\n${failures === 0 ? 'ALL CHECKS PASSED' : `${failures} CHECK(S) FAILED`} in ${Date.now() - started} ms`
  )
  process.exitCode = failures === 0 ? 0 : 1
}

await main()
