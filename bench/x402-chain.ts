/**
 * The local chain and x402 facilitator (test/chain) in a process of their own, for
 * the bench. In the bench's process the facilitator would share one event loop with
 * the load generator, each slowing the other, and its CPU would count as the
 * generator's. Prints one JSON line once both are up; stops on SIGTERM, SIGINT or
 * when stdin closes (the bench died without stopping it), taking anvil with it.
 */
import { startChain } from '../test/chain/chain'
import { startFacilitator } from '../test/chain/facilitator'

// Eight payers (the most chain.ts funds), used in turn: each has its own PaymentLock
// object in the gate, so no one lock takes all the load.
const chain = await startChain({ payerCount: 8 })
let facilitator: Awaited<ReturnType<typeof startFacilitator>> | undefined
try {
  facilitator = await startFacilitator({ chain })
} catch (error) {
  await chain.stop()
  throw error
}

process.stdout.write(
  `${JSON.stringify({
    rpcUrl: chain.rpcUrl,
    facilitatorUrl: facilitator.url,
    token: chain.token,
    payerKeys: chain.accounts.payers.map((payer) => payer.privateKey),
    payTo: chain.accounts.payTo.address,
    anvilPid: chain.pid,
  })}\n`
)

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  void (async () => {
    await facilitator?.close().catch(() => undefined)
    await chain.stop()
    process.exit(0)
  })()
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.stdin.on('close', stop)
process.stdin.resume()
