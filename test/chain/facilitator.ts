/**
 * A real x402 v2 facilitator on loopback, backed by the local chain (chain.ts).
 *
 * The protocol work is the SDK's own: `ExactEvmScheme` from `@x402/evm/exact/facilitator`, registered
 * for eip155:31337 in `x402Facilitator` from `@x402/core/facilitator`, with a signer built by
 * `toFacilitatorEvmSigner` from `@x402/evm`. So /verify really recovers the EIP-712 signature and
 * simulates `transferWithAuthorization` (eth_call), and /settle really sends the transaction from
 * anvil account 0 and waits for its receipt. This file only adds the HTTP wire format (protocols.md
 * §A.5, x402 spec §7), call recording and fault injection.
 *
 * Two listeners, because the gate tests run inside workerd and cannot call setMode() in this process:
 *   url         the facilitator: POST /verify, POST /settle, GET /supported
 *   controlUrl  test control, always up: GET|POST /mode, GET|DELETE /calls, GET /idle (see README.md)
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { x402Facilitator } from '@x402/core/facilitator'
import { isPaymentPayloadV2, isPaymentRequirementsV2 } from '@x402/core/schemas'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { toFacilitatorEvmSigner } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/facilitator'
import { type Address, createWalletClient, http, publicActions } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { Chain, ChainAccount } from './chain'

/**
 * normal        real verify/settle
 * down          the facilitator port refuses connections (listener closed); control stays up
 * unavailable   every facilitator request gets 503 {"error": ...}
 * slow          waits delayMs, then answers normally (all three endpoints)
 * settle-fails  /verify is real; /settle answers success:false, errorReason "unexpected_settle_error",
 *               and sends no transaction
 */
export type FacilitatorMode = 'normal' | 'down' | 'unavailable' | 'slow' | 'settle-fails'
const MODES: readonly FacilitatorMode[] = ['normal', 'down', 'unavailable', 'slow', 'settle-fails']

export interface FacilitatorCall {
  method: string
  path: string
  /** Parsed JSON body (POST), or undefined. */
  body: unknown
  at: number
  mode: FacilitatorMode
  /** Filled in when the answer is sent. */
  status?: number
  response?: unknown
}

export interface FacilitatorOptions {
  chain: Chain
  /** Facilitator port; 0 (default) picks a free one. */
  port?: number
  /** Control port; 0 (default) picks a free one. */
  controlPort?: number
  /** Default delay of 'slow' mode. Default 3 000 ms. */
  slowDelayMs?: number
  /** Also simulate during settle's re-verify (SDK option; default false, as in the SDK). */
  simulateInSettle?: boolean
  /**
   * Gas-paying account. Default chain.accounts.facilitator (anvil 0). Two facilitators running at
   * once on one chain need different senders, or they race for nonces: use e.g. anvilAccount(10).
   */
  sender?: ChainAccount
}

export interface Facilitator {
  url: string
  controlUrl: string
  /** The facilitator's gas-paying address (anvil account 0 by default), as listed in /supported signers. */
  address: Address
  /** Every request that reached the facilitator port, oldest first. Clear with `calls.length = 0`. */
  calls: FacilitatorCall[]
  readonly mode: FacilitatorMode
  /** Switches the fault mode. Resolves once it is in force (for 'down': the port is closed). */
  setMode(mode: FacilitatorMode, options?: { delayMs?: number }): Promise<void>
  close(): Promise<void>
}

const MAX_BODY_BYTES = 1_000_000

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  // The SDK stringifies bigints on its side; do the same so a stray bigint never crashes a reply.
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  res.writeHead(status, { 'content-type': 'application/json' }).end(text)
}

/** Reads a JSON body. Mirrors express.json(): no JSON content type means no body. */
async function readJson(
  req: IncomingMessage
): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) return { ok: false, error: 'request body too large' }
    chunks.push(chunk)
  }
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    return { ok: false, error: 'Content-Type must be application/json' }
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) }
  } catch {
    return { ok: false, error: 'request body is not valid JSON' }
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

/** Stops accepting and drops open (keep-alive, or 'slow'-parked) connections, so close never hangs. */
function shut(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve()
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/**
 * The wire checks a real facilitator does before the scheme sees anything: a v2 body with a
 * well-formed PaymentPayload and PaymentRequirements. Strict on purpose, so a gate that sends the
 * wrong shape fails here rather than passing against a lenient fake.
 */
function parseRequest(
  body: unknown
):
  | { ok: true; payload: PaymentPayload; requirements: PaymentRequirements }
  | { ok: false; reason: string; message: string } {
  if (typeof body !== 'object' || body === null) {
    return { ok: false, reason: 'invalid_payload', message: 'body must be a JSON object' }
  }
  const { x402Version, paymentPayload, paymentRequirements } = body as Record<string, unknown>
  if (x402Version !== 2) {
    return {
      ok: false,
      reason: 'invalid_x402_version',
      message: `body x402Version must be 2, got ${JSON.stringify(x402Version)}`,
    }
  }
  if (!isPaymentPayloadV2(paymentPayload)) {
    return {
      ok: false,
      reason: 'invalid_payload',
      message: 'paymentPayload is not a v2 PaymentPayload',
    }
  }
  if (!isPaymentRequirementsV2(paymentRequirements)) {
    return {
      ok: false,
      reason: 'invalid_payment_requirements',
      message: 'paymentRequirements is not v2 PaymentRequirements',
    }
  }
  return {
    ok: true,
    payload: paymentPayload as PaymentPayload,
    requirements: paymentRequirements as PaymentRequirements,
  }
}

/** `authorization.from` of an exact/EIP-3009 payload, if present: the `payer` of failure answers. */
function payerOf(payload: PaymentPayload): string | undefined {
  const auth = (payload.payload as { authorization?: { from?: unknown } }).authorization
  return typeof auth?.from === 'string' ? auth.from : undefined
}

export async function startFacilitator(options: FacilitatorOptions): Promise<Facilitator> {
  const { chain } = options
  const account = privateKeyToAccount((options.sender ?? chain.accounts.facilitator).privateKey)
  // pollingInterval: viem's default 4 s receipt polling would make every settle take seconds.
  const client = createWalletClient({
    account,
    chain: chain.viemChain,
    transport: http(chain.rpcUrl, { timeout: 10_000 }),
    pollingInterval: 50,
  }).extend(publicActions)

  // One sender, one nonce sequence: concurrent settles (e.g. a replayed PAYMENT-SIGNATURE) would
  // otherwise read the same pending nonce. Only the broadcast is serialised, not the receipt wait.
  let sendQueue: Promise<unknown> = Promise.resolve()
  const serially = <T>(send: () => Promise<T>): Promise<T> => {
    const run = sendQueue.then(send, send)
    sendQueue = run.catch(() => undefined)
    return run
  }

  // The viem method signatures are generic over the ABI; the signer interface passes plain
  // `readonly unknown[]` ABIs, hence the casts to the parameter types.
  type ReadArgs = Parameters<typeof client.readContract>[0]
  type WriteArgs = Parameters<typeof client.writeContract>[0]
  type TypedDataArgs = Parameters<typeof client.verifyTypedData>[0]
  const signer = toFacilitatorEvmSigner(
    {
      address: account.address,
      getCode: (args) => client.getCode(args),
      readContract: (args) => client.readContract({ ...args, args: args.args ?? [] } as ReadArgs),
      verifyTypedData: (args) => client.verifyTypedData(args as TypedDataArgs),
      writeContract: (args) => serially(() => client.writeContract(args as WriteArgs)),
      sendTransaction: (args) => serially(() => client.sendTransaction(args)),
      waitForTransactionReceipt: (args) => client.waitForTransactionReceipt(args),
    },
    // Bounded: a settle waits at most this long for its receipt (anvil mines instantly).
    { confirmationTimeoutMs: 15_000 }
  )

  // Registered for exactly the local network, so /supported lists one v2 kind. (The
  // registerExactEvmScheme helper would also register v1 for every public EVM network.)
  const facilitator = new x402Facilitator().register(
    chain.network,
    new ExactEvmScheme(signer, { simulateInSettle: options.simulateInSettle ?? false })
  )

  let mode: FacilitatorMode = 'normal'
  let delayMs = options.slowDelayMs ?? 3_000
  const calls: FacilitatorCall[] = []
  const closing = new AbortController()

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    const path = new URL(req.url ?? '/', 'http://facilitator').pathname
    const read = method === 'POST' ? await readJson(req) : undefined
    const call: FacilitatorCall = {
      method,
      path,
      body: read?.ok ? read.value : undefined,
      at: Date.now(),
      mode,
    }
    calls.push(call)
    const reply = (status: number, value: unknown) => {
      call.status = status
      call.response = value
      sendJson(res, status, value)
    }

    if (mode === 'unavailable')
      return reply(503, { error: 'facilitator unavailable (test fault mode)' })
    if (mode === 'slow') await sleep(delayMs, undefined, { signal: closing.signal })

    if (method === 'GET' && path === '/supported') return reply(200, facilitator.getSupported())
    if (method !== 'POST' || (path !== '/verify' && path !== '/settle'))
      return reply(404, { error: `no route ${method} ${path}` })
    const isVerify = path === '/verify'

    if (read && !read.ok) return reply(400, { error: read.error })
    const parsed = parseRequest(read?.value)
    if (!parsed.ok) {
      return reply(
        400,
        isVerify
          ? { isValid: false, invalidReason: parsed.reason, invalidMessage: parsed.message }
          : {
              success: false,
              errorReason: parsed.reason,
              errorMessage: parsed.message,
              transaction: '',
              network: '',
            }
      )
    }
    const { payload, requirements } = parsed

    try {
      if (isVerify) return reply(200, await facilitator.verify(payload, requirements))
      if (mode === 'settle-fails') {
        return reply(200, {
          success: false,
          errorReason: 'unexpected_settle_error',
          payer: payerOf(payload),
          transaction: '',
          network: requirements.network,
        })
      }
      return reply(200, await facilitator.settle(payload, requirements))
    } catch (err) {
      // What the reference facilitator does when the SDK throws (unsupported scheme/network,
      // RPC failure): 500 with {error}.
      return reply(500, { error: err instanceof Error ? err.message : String(err) })
    }
  }

  // Requests still being handled, and who waits for there to be none (GET /idle). A settle the
  // gate gave up on (its timeout) goes on here and lands on chain later: a test that reads
  // balances waits for it first instead of guessing how long it takes.
  let inFlight = 0
  let idleWaiters: Array<() => void> = []
  const idle = (): Promise<void> =>
    inFlight === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))

  const server = createServer((req, res) => {
    inFlight++
    handle(req, res)
      .catch((err: unknown) => {
        // Only reached when closing aborts a 'slow' wait, or the client went away.
        if (!closing.signal.aborted && !res.headersSent) sendJson(res, 500, { error: String(err) })
        else res.destroy()
      })
      .finally(() => {
        if (--inFlight > 0) return
        const waiters = idleWaiters
        idleWaiters = []
        for (const wake of waiters) wake()
      })
  })
  const port = await listen(server, options.port ?? 0)

  async function setMode(next: FacilitatorMode, opts: { delayMs?: number } = {}): Promise<void> {
    if (!MODES.includes(next)) throw new Error(`unknown facilitator mode ${JSON.stringify(next)}`)
    if (opts.delayMs !== undefined) delayMs = opts.delayMs
    // Same port on the way back up, so the URL the gate was given stays right.
    if (next === 'down' && mode !== 'down') await shut(server)
    if (next !== 'down' && mode === 'down') await listen(server, port)
    mode = next
  }

  const control = createServer((req, res) => {
    const method = req.method ?? 'GET'
    const path = new URL(req.url ?? '/', 'http://control').pathname
    void (async () => {
      if (path === '/mode' && method === 'GET') return sendJson(res, 200, { mode, delayMs })
      if (path === '/mode' && method === 'POST') {
        const read = await readJson(req)
        if (!read.ok) return sendJson(res, 400, { error: read.error })
        const body = read.value as { mode?: FacilitatorMode; delayMs?: number }
        await setMode(body.mode ?? 'normal', { delayMs: body.delayMs })
        return sendJson(res, 200, { mode, delayMs })
      }
      if (path === '/idle' && method === 'GET') {
        await idle()
        return sendJson(res, 200, { idle: true })
      }
      if (path === '/calls' && method === 'GET') return sendJson(res, 200, calls)
      if (path === '/calls' && method === 'DELETE') {
        calls.length = 0
        return sendJson(res, 200, { cleared: true })
      }
      return sendJson(res, 404, { error: `no control route ${method} ${path}` })
    })().catch((err: unknown) =>
      sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) })
    )
  })
  const controlPort = await listen(control, options.controlPort ?? 0)

  return {
    url: `http://127.0.0.1:${port}`,
    controlUrl: `http://127.0.0.1:${controlPort}`,
    address: account.address,
    calls,
    get mode() {
      return mode
    },
    setMode,
    async close() {
      closing.abort()
      await Promise.all([shut(server), shut(control)])
    },
  }
}
