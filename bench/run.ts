/**
 * `npm run bench`: the gate's overhead, measured against the floors it is held to.
 *
 * One run starts, on loopback, an origin that answers fixed JSON-RPC results
 * (fixed-origin.ts: no MCP SDK, a few tens of µs of CPU a call) and one workerd
 * (started directly, see workerd.ts) with three Workers in front of it (bare
 * pass-through; pass-through + one durable Durable Object debit; the gate), drives
 * each with the same concurrent MCP load, and prints requests/s, p50, p99 and CPU
 * per call of every process per scenario, then the ratios against their targets:
 *   gate credits path ≥ 0.90 × (pass-through + one debit)
 *   gate free calls   ≥ 0.95 × pass-through
 * and one condition on the bench itself: the origin alone must serve at least 5×
 * what the pass-through does, or the floors are the origin's. The load comes from
 * wrk when it is installed (wrk.ts; tens of µs a call), else from this process
 * (load.ts; some hundreds of µs a call, printed, so read the CPU columns).
 * Not part of `npm test`: figures depend on the machine. Everything (origin,
 * workerd, the load generator) shares the same cores, so compare ratios, and
 * only within one run. Targets are printed, never asserted.
 *
 * With --rounds N every scenario runs N times, interleaved, and the round with the
 * median requests/s is reported: drift on a shared machine then hits all alike.
 *
 *   npm run bench -- [--quick] [--duration 8] [--warmup 2] [--concurrency 16] [--rounds 1]
 *                    [--keys 200] [--only <regex on scenario ids>] [--extra] [--inspector-port 9229]
 *                    [--load wrk|node] [--profile] [--profile-seconds 6] [--x402] [--x402-concurrency 4]
 * --extra adds diagnostic scenarios: a hold + settle baseline (two writes per call),
 * and the main paths again in front of the SDK demo origin (ids ending in -sdk).
 * --profile then takes V8 CPU profiles of the gate's credits and free paths and of
 * their floors (profile.ts) and prints where the gate's CPU above each floor goes.
 * --x402 adds the x402 path (x402-scenarios.ts) against a local chain and facilitator
 * started for the run: three more scenarios and about 35 s more by default, hence a flag.
 */
import { parseArgs } from 'node:util'
import { cpuSeconds, machineBusySeconds, ownAndChildrenCpuSeconds } from './cpu'
import { runLoad, type LoadResult } from './load'
import { printProfiles } from './profiles'
import {
  printCharges,
  printRatios,
  printTable,
  resultLine,
  TABLE_HEAD,
  type ChargeCheck,
} from './report'
import { needsSdk, scenarios, type Scenario } from './scenarios'
import {
  chargedCalls,
  createKeys,
  startStack,
  X402_MAX_TIMEOUT_SECONDS,
  type BenchKey,
  type Stack,
} from './stack'
import { runWrkLoad, wrkAvailable } from './wrk'
import { startX402Chain, type X402Chain } from './x402'
import { HTTP_SCENARIOS, X402_HEAD, x402Bench } from './x402-scenarios'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    concurrency: { type: 'string' },
    keys: { type: 'string' },
    rounds: { type: 'string' },
    extra: { type: 'boolean', default: false },
    only: { type: 'string' },
    'inspector-port': { type: 'string' },
    x402: { type: 'boolean', default: false },
    'x402-concurrency': { type: 'string' },
    load: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'profile-seconds': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})

if (args.help) {
  console.log(
    'npm run bench -- [--quick] [--duration s] [--warmup s] [--concurrency n] [--rounds n] [--extra] [--keys n] [--only regex] ' +
      '[--inspector-port p] [--load wrk|node] [--profile] [--profile-seconds s] [--x402] [--x402-concurrency n]'
  )
  process.exit(0)
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const number = Number(value)
  if (!Number.isFinite(number) || number <= 0) {
    console.error(`bench: --${name} needs a positive number, got ${value}`)
    process.exit(2)
  }
  return number
}

const durationS = positive('duration', args.duration, args.quick ? 3 : 8)
const warmupS = positive('warmup', args.warmup, args.quick ? 1 : 2)
const concurrency = Math.round(positive('concurrency', args.concurrency, 16))
const manyKeys = Math.round(positive('keys', args.keys, args.quick ? 50 : 200))
const rounds = Math.round(positive('rounds', args.rounds, 1))
const only = args.only ? new RegExp(args.only) : undefined
const inspectorPort = args['inspector-port']
  ? Math.round(positive('inspector-port', args['inspector-port'], 0))
  : undefined
// Modest: the facilitator broadcasts settlements one at a time, so more callers only queue there.
const x402Concurrency = Math.round(positive('x402-concurrency', args['x402-concurrency'], 4))
const profileSeconds = positive('profile-seconds', args['profile-seconds'], args.quick ? 3 : 6)
if (args.load !== undefined && args.load !== 'wrk' && args.load !== 'node') {
  console.error(`bench: --load is wrk or node, got ${args.load}`)
  process.exit(2)
}
if (args.load === 'wrk' && !wrkAvailable()) {
  console.error('bench: --load wrk, but wrk is not on PATH (Debian: apt-get install wrk)')
  process.exit(2)
}
const useWrk = args.load === 'wrk' || (args.load === undefined && wrkAvailable())
const x402Chosen = args.x402 ? HTTP_SCENARIOS.filter((s) => !only || only.test(s.id)) : []
if (x402Chosen.length > 0 && warmupS + durationS > X402_MAX_TIMEOUT_SECONDS - 60) {
  console.error(
    `bench: with --x402, warm-up + duration must stay under ${X402_MAX_TIMEOUT_SECONDS - 60} s (payments are signed beforehand)`
  )
  process.exit(2)
}

let stack: Stack | undefined
let chain: X402Chain | undefined
let stopping = false
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    await stack?.close()
    await chain?.close()
  }
  process.exit(code)
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop(130))

function urlOf(scenario: Scenario): string {
  const base = (stack as Stack).urls[scenario.target]
  if (!base) throw new Error(`bench: ${scenario.target} was not started`)
  return `${base}${scenario.path ?? '/mcp-json'}`
}

/** The keys a scenario's calls carry: the -sdk gate has Durable Objects, and so keys, of its own. */
interface Keys {
  one: BenchKey
  many: BenchKey[]
  sdkOne?: BenchKey
}

/** The header sets sent in turn. Prepared once: building them per request would be load-generator cost. */
function headersFor(scenario: Scenario, keys: Keys): Array<Record<string, string>> {
  const base = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...scenario.headers,
  }
  if (scenario.keys === 'none') return [base]
  const one = needsSdk(scenario) ? keys.sdkOne : keys.one
  if (!one) throw new Error(`bench: no key for ${scenario.id}`)
  return (scenario.keys === 'one' ? [one] : keys.many).map((k) => ({
    ...base,
    authorization: `Bearer ${k.key}`,
  }))
}

/** CPU seconds so far of workerd, the origins and the load generator (this process, and wrk once it exited). */
function sampleCpu(): Record<string, number> {
  const { pids } = stack as Stack
  const x402: Record<string, number> = chain
    ? { facilitator: cpuSeconds(chain.pids.facilitator), anvil: cpuSeconds(chain.pids.anvil) }
    : {}
  return {
    workerd: cpuSeconds(pids.workerd),
    origin: cpuSeconds(pids.origin),
    ...(pids.sdkOrigin ? { 'sdk-origin': cpuSeconds(pids.sdkOrigin) } : {}),
    bench: ownAndChildrenCpuSeconds(),
    ...x402,
    machine: machineBusySeconds(),
  }
}

function runScenario(scenario: Scenario, keys: Keys): Promise<LoadResult> {
  const headerSets = headersFor(scenario, keys)
  const common = {
    url: urlOf(scenario),
    body: scenario.body,
    concurrency,
    warmupMs: warmupS * 1000,
    durationMs: durationS * 1000,
    sample: sampleCpu,
  }
  if (useWrk) return runWrkLoad({ ...common, headerSets })
  return runLoad({
    ...common,
    headers: (n) => headerSets[n % headerSets.length] as Record<string, string>,
  })
}

/** The round with the median requests/s, with every round's successes added up (all were charged). */
function median(results: LoadResult[]): LoadResult {
  const sorted = [...results].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)
  const middle = sorted[Math.floor((sorted.length - 1) / 2)] as LoadResult
  const errorKinds = new Map<string, number>()
  for (const result of results)
    for (const [kind, n] of result.errorKinds) errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + n)
  const sum = (field: 'okTotal' | 'unanswered') => results.reduce((total, r) => total + r[field], 0)
  return { ...middle, errorKinds, okTotal: sum('okTotal'), unanswered: sum('unanswered') }
}

async function main(): Promise<number> {
  console.log(
    `bench: ${durationS} s per scenario after ${warmupS} s warm-up, ${concurrency} concurrent callers, ` +
      `${manyKeys} keys for "many", ${rounds} round(s); load from ${useWrk ? 'wrk (1 thread)' : 'this Node process (wrk not found: its CPU per call is the load µs column)'}`
  )
  if (x402Chosen.length > 0) {
    chain = await startX402Chain()
    console.log(`bench: anvil ${chain.rpcUrl}, facilitator ${chain.facilitatorUrl}`)
  }
  const x402 = chain
    ? { facilitatorUrl: chain.facilitatorUrl, payTo: chain.payTo, token: chain.token }
    : undefined
  const chosen = scenarios(manyKeys).filter((s) =>
    only ? only.test(s.id) : args.extra || !s.extra
  )
  const sdk = chosen.some(needsSdk)
  stack = await startStack({ inspectorPort, x402, sdk })
  console.log(
    `bench: fixed origin ${stack.originUrl}, pass-through ${stack.passUrl}, +debit ${stack.debitUrl}, gate ${stack.gateUrl}`
  )
  if (sdk)
    console.log(
      `bench: SDK origin ${stack.urls['origin-sdk']}, pass-through ${stack.urls['pass-sdk']}, gate ${stack.urls['gate-sdk']}`
    )
  if (inspectorPort) console.log(`bench: workerd inspector on 127.0.0.1:${inspectorPort}`)
  const [one, ...many] = await createKeys(stack.gateUrl, 1 + manyKeys)
  if (!one) throw new Error('no key created')
  const sdkOne = sdk ? (await createKeys(stack.urls['gate-sdk'] as string, 1))[0] : undefined
  const keys: Keys = { one, many, sdkOne }
  const paid = chain
    ? await x402Bench({
        stack,
        chain,
        concurrency: x402Concurrency,
        warmupMs: warmupS * 1000,
        durationMs: durationS * 1000,
        sample: sampleCpu,
      })
    : undefined

  const all = new Map<string, LoadResult[]>()
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) console.log(`\nround ${round} of ${rounds}`)
    if (chosen.length > 0) console.log(`\n${TABLE_HEAD}`)
    for (const scenario of chosen) {
      const result = await runScenario(scenario, keys)
      all.set(scenario.id, [...(all.get(scenario.id) ?? []), result])
      console.log(resultLine(scenario, result))
    }
    if (paid) {
      console.log(`${paid.title}:\n${X402_HEAD}`)
      for (const scenario of x402Chosen) console.log(await paid.run(scenario))
    }
  }
  const ran = chosen.map((scenario) => ({ scenario, result: median(all.get(scenario.id) ?? []) }))
  if (rounds > 1 && ran.length > 0) console.log(`\nmedian of ${rounds} rounds:`)

  // One round: its lines above are the result; only the error summary is new.
  if (ran.length > 0) printTable(ran, { rows: rounds > 1 })
  const results = new Map(ran.map(({ scenario, result }) => [scenario.id, result]))
  const targetsMet = ran.length > 0 ? printRatios(all) : undefined
  paid?.printTable(rounds)

  // Proof that the gate scenarios paid: what the keys were charged equals the
  // successful calls this generator saw, warm-up included.
  const checks: ChargeCheck[] = []
  // The one key pays for the gate's and the sidecar's 1-key scenarios alike.
  const gateOne = results.get('gate-1')
  const sidecarOne = results.get('sidecar-1')
  if (gateOne || sidecarOne) {
    const label = [gateOne && 'gate', sidecarOne && 'sidecar'].filter(Boolean).join(' + ')
    const both = [gateOne, sidecarOne].filter((r): r is LoadResult => r !== undefined)
    checks.push({
      label: `${label}, 1 key`,
      charged: await chargedCalls(stack.gateUrl, one.id),
      succeeded: both.reduce((sum, r) => sum + r.okTotal, 0),
      unanswered: both.reduce((sum, r) => sum + r.unanswered, 0),
    })
  }
  const gateMany = results.get('gate-n')
  if (gateMany) {
    let charged = 0
    for (const key of many) charged += await chargedCalls(stack.gateUrl, key.id)
    checks.push({
      label: `gate, ${manyKeys} keys (sum)`,
      charged,
      succeeded: gateMany.okTotal,
      unanswered: gateMany.unanswered,
    })
  }
  const gateSdk = results.get('gate-1-sdk')
  if (gateSdk && sdkOne) {
    const charged = await chargedCalls(stack.urls['gate-sdk'] as string, sdkOne.id)
    checks.push({
      label: 'SDK gate, 1 key',
      charged,
      succeeded: gateSdk.okTotal,
      unanswered: gateSdk.unanswered,
    })
  }
  if (paid) checks.push(...(await paid.chargeChecks()))
  const creditsMatch = printCharges(checks)
  // x402: what payTo gained on chain must be exactly what the successful paid calls owed.
  const chargesMatch = (paid ? await paid.checkChain() : true) && creditsMatch
  const targets = targetsMet === undefined ? 'not measured' : targetsMet ? 'met' : 'MISSED'
  if (args.profile) {
    // A stack of its own with the inspector on, so the figures above were taken without it.
    await stack.close()
    stack = undefined
    await printProfiles({
      seconds: profileSeconds,
      warmupS,
      concurrency,
      useWrk,
      inspectorPort: inspectorPort ?? 9230,
      perf: true,
    })
  }
  console.log(`\nbench: targets ${targets}; charges ${chargesMatch ? 'match' : 'DO NOT MATCH'}`)
  // A missed target is a figure to read, not a failure; charges that do not add up are a bug.
  return chargesMatch ? 0 : 1
}

main().then(
  (code) => stop(code),
  (error: Error) => {
    console.error('bench: failed:', error.stack ?? error.message)
    return stop(1)
  }
)
