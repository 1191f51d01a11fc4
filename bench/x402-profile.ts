/**
 * `npx tsx bench/x402-profile.ts`: where the gate's CPU goes on a paid x402 call.
 * The x402 path (GET /api/health paid with x402 through the local facilitator) is
 * profiled with perf against the credits path on the same route as its floor, so
 * the rows above the floor are what x402 adds: the local check, the PaymentLock,
 * the facilitator's /verify and /settle requests (the gate's side of them: the
 * facilitator runs in its own process and is not counted). Needs perf; prints
 * the same breakdown as `npm run bench -- --profile` (profiles.ts).
 *
 *   npx tsx bench/x402-profile.ts [--seconds 6] [--warmup 2] [--concurrency 4]
 */
import { rmSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cpuSeconds } from './cpu'
import { runLoad, type LoadResult } from './load'
import { PERF_V8_FLAGS, perfAvailable, recordPerf } from './perf'
import { attribute } from './perf-attribution'
import { printPair, type Measured } from './profiles'
import { createKeys, startStack, type BenchKey, type Stack } from './stack'
import { paymentRequired, presign, startX402Chain, type X402Chain } from './x402'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '4' },
  },
})
const seconds = Number(args.seconds)
const warmupS = Number(args.warmup)
const concurrency = Number(args.concurrency)

/**
 * Warm up, then profile. `headers()` gives the next request's headers; `limit` is how many it
 * can give in all (each payment is usable once), so both windows draw from one cursor: a count
 * of answers would miss the requests still in flight when the warm-up's window closed.
 */
async function measure(
  stack: Stack,
  headers: () => Record<string, string>,
  limit = Number.POSITIVE_INFINITY
): Promise<Measured> {
  const url = `${stack.gateUrl}/api/health`
  let sent = 0
  const next = () => {
    sent++
    return headers()
  }
  const drive = (durationMs: number) =>
    runLoad({
      url,
      method: 'GET',
      body: '',
      headers: next,
      concurrency,
      warmupMs: 0,
      durationMs,
      limit: Math.max(0, limit - sent),
    })
  await drive(warmupS * 1000)
  const recording = recordPerf(stack.pids.workerd)
  const before = cpuSeconds(stack.pids.workerd)
  const result: LoadResult = await drive(seconds * 1000)
  const calls = result.ok + result.errors
  const workerdUs = ((cpuSeconds(stack.pids.workerd) - before) * 1e6) / Math.max(1, calls)
  const samples = await recording.stop()
  const sources = new Map(
    ['pass.mjs', 'debit.mjs', 'gate.mjs'].map((name) => [
      name,
      readFileSync(join(stack.dir, name), 'utf8'),
    ])
  )
  if (result.errors > 0)
    console.warn(
      `x402-profile: ${result.errors} errors: ${[...result.errorKinds].map(([k, n]) => `${k} × ${n}`).join(', ')}`
    )
  return { result, calls, workerdUs, perf: samples ? attribute(samples, sources) : undefined }
}

async function main(): Promise<void> {
  if (!perfAvailable()) throw new Error('perf is not installed')
  let chain: X402Chain | undefined
  let stack: Stack | undefined
  try {
    chain = await startX402Chain()
    stack = await startStack({
      v8Flags: PERF_V8_FLAGS,
      x402: { facilitatorUrl: chain.facilitatorUrl, payTo: chain.payTo, token: chain.token },
    })
    const [key] = (await createKeys(stack.gateUrl, 1)) as [BenchKey]
    const credits = await measure(stack, () => ({ authorization: `Bearer ${key.key}` }))
    // The facilitator settles one payment at a time: ~100 calls/s at most. Sign enough for both windows.
    const signatures = await presign(
      await paymentRequired(`${stack.gateUrl}/api/health`),
      chain,
      Math.ceil((warmupS + seconds) * 150)
    )
    let cursor = 0
    const paid = await measure(
      stack,
      () => ({ 'payment-signature': signatures[cursor++] as string }),
      signatures.length
    )
    console.log(
      `\nx402-profile: ${seconds} s after ${warmupS} s warm-up, ${concurrency} callers, perf with call stacks`
    )
    printPair(
      'x402 path (GET /api/health paid with x402) over the credits path on the same route',
      credits,
      paid
    )
  } finally {
    const pid = stack?.pids.workerd
    await stack?.close()
    await chain?.close()
    if (pid) rmSync(join('/tmp', `perf-${pid}.map`), { force: true })
  }
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error('x402-profile: failed:', error.stack ?? error.message)
    process.exit(1)
  }
)
