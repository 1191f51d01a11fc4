/**
 * Where the gate's CPU above its floors goes: the credits path (gate-1) over the
 * pass-through + one debit (debit-1), and the free path (gate-echo) over the bare
 * pass-through (pass-echo), each run under the bench's load while a profile is taken.
 * With perf installed: a CPU profile of all of workerd with call stacks (perf.ts),
 * each sample given to the innermost code of ours on its stack, or to what the
 * runtime was doing (perf-attribution.ts). Without perf: a V8 profile of the
 * Worker's isolate (inspector.ts; it samples wall time in the isolate's thread, so on
 * a busy machine its figures run high), self time by src/ folder and library.
 * CPU per call comes from /proc over the same window, and each profile's shares are
 * turned into µs per call with it. Profiling costs CPU too (perf, and the V8 flags
 * that let perf name JIT code), so these figures run somewhat above the table's;
 * the differences are what to read.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cpuSeconds } from './cpu'
import { profileWhile } from './inspector'
import { runLoad, type LoadResult } from './load'
import { demangle, PERF_V8_FLAGS, perfAvailable, recordPerf, SAMPLE_HZ } from './perf'
import { attribute, type Attribution } from './perf-attribution'
import { summariseJs, type JsSummary } from './profile-groups'
import { scenarios, type Scenario } from './scenarios'
import { createKeys, startStack, type BenchKey, type Stack } from './stack'
import { runWrkLoad } from './wrk'

export interface ProfileOptions {
  seconds: number
  warmupS: number
  concurrency: number
  useWrk: boolean
  inspectorPort: number
  /** Profile with perf when it is installed (else, or with false, the V8 inspector). */
  perf?: boolean
}

/** Each gate path, and the floor it is held to. */
export const PAIRS = [
  {
    title: 'credits path, 1 key (gate-1) over pass-through + 1 debit (debit-1)',
    floor: 'debit-1',
    gate: 'gate-1',
  },
  {
    title: 'free tool (gate-echo) over the bare pass-through (pass-echo)',
    floor: 'pass-echo',
    gate: 'gate-echo',
  },
]

export interface Measured {
  scenario?: Scenario
  result: LoadResult
  calls: number
  /** workerd's CPU per call over the profiled window, all threads, µs. */
  workerdUs: number
  perf?: Attribution
  js?: JsSummary
}

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
}
const BUNDLES = ['pass.mjs', 'debit.mjs', 'gate.mjs']

async function measure(
  stack: Stack,
  scenario: Scenario,
  key: BenchKey,
  options: ProfileOptions,
  usePerf: boolean
): Promise<Measured> {
  const headerSets = [
    scenario.keys === 'none' ? HEADERS : { ...HEADERS, authorization: `Bearer ${key.key}` },
  ]
  const url = `${stack.urls[scenario.target]}${scenario.path ?? '/mcp-json'}`
  const drive = (durationMs: number) => {
    const spec = {
      url,
      body: scenario.body,
      concurrency: options.concurrency,
      warmupMs: 0,
      durationMs,
    }
    return options.useWrk
      ? runWrkLoad({ ...spec, headerSets })
      : runLoad({ ...spec, headers: () => headerSets[0] as Record<string, string> })
  }
  await drive(options.warmupS * 1000) // JIT warm, objects created, connections open
  const calls = (result: LoadResult) => result.ok + result.errors
  const perCallUs = (before: number, result: LoadResult) =>
    ((cpuSeconds(stack.pids.workerd) - before) * 1e6) / Math.max(1, calls(result))
  if (usePerf) {
    const recording = recordPerf(stack.pids.workerd)
    const before = cpuSeconds(stack.pids.workerd)
    const result = await drive(options.seconds * 1000)
    const workerdUs = perCallUs(before, result)
    const samples = await recording.stop()
    const sources = new Map(
      BUNDLES.map((name) => [name, readFileSync(join(stack.dir, name), 'utf8')])
    )
    return {
      scenario,
      result,
      calls: calls(result),
      workerdUs,
      perf: samples ? attribute(samples, sources) : undefined,
    }
  }
  const before = cpuSeconds(stack.pids.workerd)
  const { profile, value: result } = await profileWhile(
    options.inspectorPort,
    scenario.target,
    () => drive(options.seconds * 1000)
  )
  const workerdUs = perCallUs(before, result)
  writeFileSync(join(tmpdir(), `pay-gate-${scenario.id}.cpuprofile`), JSON.stringify(profile))
  const source = readFileSync(join(stack.dir, `${scenario.target}.mjs`), 'utf8')
  return { scenario, result, calls: calls(result), workerdUs, js: summariseJs(profile, source) }
}

const signed = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(0)}`
const row = (label: string, floor: number, gate: number) =>
  `  ${label.padEnd(56)}${floor.toFixed(0).padStart(8)}${gate.toFixed(0).padStart(8)}${signed(gate - floor).padStart(8)}`

/** Rows of two maps of µs per call, the largest difference first; small ones folded into one row. */
function groupRows(floor: Map<string, number>, gate: Map<string, number>, minUs: number): string[] {
  const value = (map: Map<string, number>, name: string) => map.get(name) ?? 0
  const names = [...new Set([...floor.keys(), ...gate.keys()])]
  names.sort((a, b) => value(gate, b) - value(floor, b) - (value(gate, a) - value(floor, a)))
  const shown = names.filter((name) => Math.max(value(floor, name), value(gate, name)) >= minUs)
  const rest = names.filter((name) => !shown.includes(name))
  const lines = shown.map((name) => row(`  ${name}`, value(floor, name), value(gate, name)))
  const sum = (map: Map<string, number>) =>
    rest.reduce((total, name) => total + value(map, name), 0)
  if (rest.length > 0)
    lines.push(row(`  (${rest.length} more, each < ${minUs} µs)`, sum(floor), sum(gate)))
  return lines
}

/** Sample counts → µs per call: each sample's share of the samples, times workerd's CPU per call. */
function scaled(m: Measured, counts: Map<string, number>): Map<string, number> {
  const total = (m.perf as Attribution).samples
  return new Map([...counts].map(([name, n]) => [name, (n / total) * m.workerdUs]))
}

function top(title: string, entries: Array<[string, number]>, count: number): void {
  console.log(`  ${title}`)
  for (const [name, us] of entries.sort((a, b) => b[1] - a[1]).slice(0, count))
    console.log(`    ${us.toFixed(1).padStart(6)}  ${name}`)
}

/** Our functions by what they call, named readably: "name  module → callee" with µs per call. */
function calleeRows(m: Measured, count: number): Array<[string, number]> {
  const rows = [...scaled(m, (m.perf as Attribution).byCallee)]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
  const calleeOf = (key: string) => key.slice(key.indexOf(' → ') + 3)
  const names = demangle(rows.map(([key]) => calleeOf(key)))
  return rows.map(([key, us]) => [
    `${key.slice(0, key.indexOf(' → '))} → ${readable(names, calleeOf(key))}`,
    us,
  ])
}

const readable = (names: Map<string, string>, symbol: string) => {
  const name = (names.get(symbol) ?? symbol).replace(/\(.*$/, '')
  return name.length > 90 ? `${name.slice(0, 87)}...` : name
}

function printPerfPair(floor: Measured, gate: Measured): void {
  const f = floor.perf as Attribution
  const g = gate.perf as Attribution
  const sampledUs = (m: Measured) => ((m.perf as Attribution).samples * 1e6) / SAMPLE_HZ / m.calls
  console.log(row('  perf sampled (check: near the line above)', sampledUs(floor), sampledUs(gate)))
  console.log('  by owner: the innermost code of ours on the stack, with what it calls;')
  console.log('  "runtime:" rows have no frame of ours, named by what the stack is doing')
  for (const line of groupRows(scaled(floor, f.byOwner), scaled(gate, g.byOwner), 4))
    console.log(line)
  console.log('  by kind of work: the innermost frame, whoever called it')
  for (const line of groupRows(scaled(floor, f.byKind), scaled(gate, g.byKind), 4))
    console.log(line)
  top(
    'top functions of ours in the gate (µs per call, with what they call):',
    [...scaled(gate, g.byFunction)],
    25
  )
  top(
    'the same, by what they call (µs per call; "its own code": JavaScript of the function itself):',
    calleeRows(gate, 30),
    30
  )
  top("the floor's, for comparison:", calleeRows(floor, 10), 10)
  const symbols = [...scaled(gate, g.bySymbol)].sort((a, b) => b[1] - a[1]).slice(0, 15)
  const symbolOf = (key: string) => key.slice(0, key.lastIndexOf('  ['))
  const names = demangle(symbols.map(([key]) => symbolOf(key)))
  top(
    'top self time in the gate, by symbol (µs per call):',
    symbols.map(([key, us]) => [
      `${readable(names, symbolOf(key))}${key.slice(key.lastIndexOf('  ['))}`,
      us,
    ]),
    15
  )
}

function printJsPair(floor: Measured, gate: Measured): void {
  const f = floor.js as JsSummary
  const g = gate.js as JsSummary
  const busy = (m: Measured) => ((m.js as JsSummary).totalUs - (m.js as JsSummary).idleUs) / m.calls
  const perCall = (m: Measured, map: Map<string, number>) =>
    new Map([...map].map(([name, us]) => [name, us / m.calls]))
  console.log(row("V8 profile: the Worker's isolate busy (wall time)", busy(floor), busy(gate)))
  for (const line of groupRows(perCall(floor, f.groups), perCall(gate, g.groups), 3))
    console.log(line)
  top(
    "top self time in the gate's isolate (µs per call, wall time):",
    [...perCall(gate, g.functions)],
    25
  )
}

export function printPair(title: string, floor: Measured, gate: Measured): void {
  console.log(`\n${title}`)
  console.log(
    `  ${'CPU µs per call'.padEnd(56)}${'floor'.padStart(8)}${'gate'.padStart(8)}${'above'.padStart(8)}`
  )
  console.log(
    row('req/s while profiled', floor.result.requestsPerSecond, gate.result.requestsPerSecond)
  )
  console.log(row('workerd, all threads (/proc)', floor.workerdUs, gate.workerdUs))
  if (floor.perf && gate.perf) printPerfPair(floor, gate)
  else if (floor.js && gate.js) printJsPair(floor, gate)
  else console.log('  (no profile: perf failed)')
}

/** Start a stack for profiling, profile each pair, print the breakdowns. */
export async function printProfiles(options: ProfileOptions): Promise<void> {
  const usePerf = (options.perf ?? true) && perfAvailable()
  const how = usePerf
    ? `perf at ${SAMPLE_HZ} Hz with call stacks, workerd with ${PERF_V8_FLAGS.join(' ')}`
    : `V8 inspector sampling every 100 µs${options.perf !== false ? ' (perf not found)' : ''}`
  console.log(
    `\nprofiles: ${options.seconds} s each after ${options.warmupS} s warm-up, ${options.concurrency} connections; ${how}`
  )
  const byId = new Map(scenarios(1).map((s) => [s.id, s]))
  // A stack per pair: the gate's code then has only that path's history (see newestJitNames in perf.ts).
  for (const pair of PAIRS) {
    const stack = await startStack(
      usePerf ? { v8Flags: PERF_V8_FLAGS } : { inspectorPort: options.inspectorPort }
    )
    try {
      const [key] = (await createKeys(stack.gateUrl, 1)) as [BenchKey]
      const floor = await measure(stack, byId.get(pair.floor) as Scenario, key, options, usePerf)
      const gate = await measure(stack, byId.get(pair.gate) as Scenario, key, options, usePerf)
      printPair(pair.title, floor, gate)
    } finally {
      await stack.close()
      rmSync(join('/tmp', `perf-${stack.pids.workerd}.map`), { force: true }) // written by --perf-basic-prof
    }
  }
  if (!usePerf)
    console.log(
      `\n(.cpuprofile files in ${tmpdir()}, pay-gate-<scenario>.cpuprofile, for Chrome DevTools)`
    )
}
