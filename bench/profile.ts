/**
 * Where a Worker's time goes under the bench's load: a V8 CPU profile of one of the
 * three Workers (the gate by default, Durable Objects included: they run in the
 * same isolate), taken through workerd's inspector while one scenario runs.
 * Prints self time by bundled module and by function, and writes a .cpuprofile
 * that Chrome DevTools opens.
 *
 *   npx tsx bench/profile.ts [--scenario gate-1] [--seconds 6] [--concurrency 32] [--out file.cpuprofile]
 * (--out defaults to $TMPDIR/pay-gate-<scenario>.cpuprofile)
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runLoad } from './load'
import { scenarios } from './scenarios'
import { createKeys, startStack, type Stack } from './stack'

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'gate-1' },
    seconds: { type: 'string', default: '6' },
    concurrency: { type: 'string', default: '32' },
    out: { type: 'string' },
    port: { type: 'string', default: '9230' },
  },
})

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** A minimal DevTools-protocol client: send a command, await its answer. */
async function inspect(url: string) {
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true })
    socket.addEventListener('error', reject, { once: true })
  })
  let next = 0
  const waiting = new Map<number, (result: unknown) => void>()
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown }
    if (message.id !== undefined) waiting.get(message.id)?.(message.result)
  })
  return {
    send: (method: string, params: Record<string, unknown> = {}) =>
      new Promise<unknown>((resolve) => {
        const id = ++next
        waiting.set(id, resolve)
        socket.send(JSON.stringify({ id, method, params }))
      }),
    close: () => socket.close(),
  }
}

/** The bundle's module of each line: esbuild marks every module's start with a `// path` comment. */
function moduleOfLine(source: string): (line: number) => string {
  const starts: Array<[number, string]> = []
  source.split('\n').forEach((text, index) => {
    const marker = /^\/\/ ((?:src|node_modules|bench)\/\S+)$/.exec(text)
    if (marker?.[1]) starts.push([index, marker[1].replace(/^node_modules\/([^/]+)\/.*$/, '$1 (package)')])
  })
  return (line) => {
    let found = '(bundle prelude)'
    for (const [start, name] of starts) {
      if (start > line) break
      found = name
    }
    return found
  }
}

function printTop(title: string, totals: Map<string, number>, all: number, count: number): void {
  console.log(`\n${title}`)
  const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, count)
  for (const [name, micros] of rows) {
    console.log(`${((100 * micros) / all).toFixed(1).padStart(6)}%  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}`)
  }
}

function summarise(profile: Profile, source: string, requests: number): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const moduleOf = moduleOfLine(source)
  const byFunction = new Map<string, number>()
  const byModule = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, index) => {
    const frame = byId.get(id)?.callFrame
    const micros = profile.timeDeltas[index] ?? 0
    if (!frame) return
    total += micros
    const bundled = frame.url.endsWith('.mjs') && !frame.url.includes('kv.mjs')
    const module = frame.url === '' ? frame.functionName : bundled ? moduleOf(frame.lineNumber) : frame.url
    const name = `${frame.functionName || '(anonymous)'}  ${bundled ? `${module}:${frame.lineNumber + 1}` : frame.url}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
    byModule.set(module, (byModule.get(module) ?? 0) + micros)
  })
  const idle = byModule.get('(idle)') ?? 0
  console.log(`\nprofiled ${(total / 1e6).toFixed(2)} s, of it idle ${(idle / 1e6).toFixed(2)} s; ${requests} requests`)
  console.log(`busy time per request in this isolate's thread: ${((total - idle) / Math.max(1, requests)).toFixed(0)} µs`)
  byModule.delete('(idle)')
  printTop('self time by module (idle excluded):', byModule, total - idle, 25)
  printTop('self time by function:', byFunction, total - idle, 40)
}

async function main(): Promise<void> {
  const scenario = scenarios(200).find((s) => s.id === args.scenario)
  if (!scenario || scenario.target === 'origin') throw new Error(`no Worker scenario ${args.scenario}`)
  const port = Number(args.port)
  const stack: Stack = await startStack({ inspectorPort: port })
  const stop = () => void stack.close().then(() => process.exit(130))
  process.once('SIGINT', stop)
  try {
    const keys = await createKeys(stack.gateUrl, scenario.keys === 'many' ? 200 : 1)
    const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
    const keyed = keys.map((k) => ({ ...base, authorization: `Bearer ${k.key}` }))
    const url = { pass: stack.passUrl, debit: stack.debitUrl, gate: stack.gateUrl }[scenario.target]
    const load = (seconds: number) =>
      runLoad({
        url: `${url}/mcp-json`,
        body: scenario.body,
        headers: (n) => (scenario.keys === 'none' ? base : (keyed[n % keyed.length] as Record<string, string>)),
        concurrency: Number(args.concurrency),
        warmupMs: 0,
        durationMs: seconds * 1000,
      })
    await load(2) // warm: JIT, objects created, connections open
    const inspector = await inspect(`ws://127.0.0.1:${port}/${scenario.target}`)
    await inspector.send('Profiler.enable')
    await inspector.send('Profiler.setSamplingInterval', { interval: 100 })
    await inspector.send('Profiler.start')
    const result = await load(Number(args.seconds))
    const { profile } = (await inspector.send('Profiler.stop')) as { profile: Profile }
    inspector.close()
    const out = args.out ?? join(tmpdir(), `pay-gate-${scenario.id}.cpuprofile`)
    writeFileSync(out, JSON.stringify(profile))
    console.log(`${scenario.label}: ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(2)} ms; profile in ${out}`)
    const source = readFileSync(join(stack.dir, `${scenario.target}.mjs`), 'utf8')
    summarise(profile, source, result.okTotal + [...result.errorKinds.values()].reduce((a, b) => a + b, 0))
  } finally {
    await stack.close()
  }
}

main().catch((error: Error) => {
  console.error('profile: failed:', error.stack ?? error.message)
  process.exit(1)
})
