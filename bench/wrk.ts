/**
 * The load generator when wrk is installed (Debian: `apt-get install wrk`): the same
 * closed loop as load.ts (a fixed number of kept-alive connections, each sending its
 * next request once the last is answered) at a small fraction of its CPU. The Node
 * generator costs some hundreds of µs of CPU a call, of the order of what a
 * pass-through Worker costs, on the same two cores; wrk costs tens.
 *
 * A Lua script written here prepares every request once (one per key, for the
 * many-key scenarios), sends them in turn, and classifies each answer as load.ts
 * does (2xx, and no JSON-RPC or tool error). One wrk run is the warm-up, a second
 * the measured window, with CPU sampled around it. wrk stops with requests still in
 * flight (it does not wait for them), so the calls it sent but saw no answer to are
 * counted: the gate may have served and charged them.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { LoadResult } from './load'

export interface WrkSpec {
  url: string
  body: string
  /** The header sets sent in turn, one request each (one per key, for the many-key scenarios). */
  headerSets: Array<Record<string, string>>
  concurrency: number
  warmupMs: number
  durationMs: number
  /** Read counters (CPU seconds by process) just before and just after the measured run. */
  sample?: () => Record<string, number>
}

/** Whether wrk is on PATH. */
export function wrkAvailable(): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir !== '' && existsSync(join(dir, 'wrk')))
}

const lua = (text: string) => JSON.stringify(text) // a JSON string literal is a valid Lua one for ASCII

function script(spec: WrkSpec): string {
  const url = new URL(spec.url)
  const sets = spec.headerSets
    .map(
      (headers) =>
        `{ ${Object.entries(headers)
          .map(([name, value]) => `[${lua(name)}] = ${lua(value)}`)
          .join(', ')} }`
    )
    .join(',\n    ')
  return `-- written by bench/wrk.ts
local requests = {}
local count = 0
sent = 0
answered = 0
ok = 0
kinds = {}

init = function(args)
  local sets = {
    ${sets}
  }
  for i, headers in ipairs(sets) do
    requests[i] = wrk.format("POST", ${lua(url.pathname + url.search)}, headers, ${lua(spec.body)})
  end
  count = #requests
end

request = function()
  sent = sent + 1
  return requests[(sent - 1) % count + 1]
end

response = function(status, headers, body)
  answered = answered + 1
  local kind = nil
  if status < 200 or status > 299 then
    kind = "HTTP " .. status
  elseif string.find(body, '"error":{', 1, true) then
    kind = "JSON-RPC error"
  elseif string.find(body, '"isError":true', 1, true) then
    kind = "tool error"
  end
  if kind then kinds[kind] = (kinds[kind] or 0) + 1 else ok = ok + 1 end
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end

done = function(summary, latency, requests)
  local totals = { sent = 0, answered = 0, ok = 0 }
  local all = {}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do totals[name] = totals[name] + thread:get(name) end
    for kind, n in pairs(thread:get("kinds")) do all[kind] = (all[kind] or 0) + n end
  end
  local e = summary.errors
  all["socket connect"] = e.connect
  all["socket read"] = e.read
  all["socket write"] = e.write
  all["timeout"] = e.timeout
  local parts = {}
  for kind, n in pairs(all) do
    if n > 0 then table.insert(parts, string.format('%q:%d', kind, n)) end
  end
  io.write(string.format('BENCH-JSON {"sent":%d,"answered":%d,"ok":%d,"durationUs":%.0f,"p50Us":%.0f,"p99Us":%.0f,"kinds":{%s}}\\n',
    totals.sent, totals.answered, totals.ok, summary.duration, latency:percentile(50), latency:percentile(99), table.concat(parts, ",")))
end
`
}

interface WrkRun {
  sent: number
  answered: number
  ok: number
  durationUs: number
  p50Us: number
  p99Us: number
  kinds: Record<string, number>
}

async function runWrk(
  file: string,
  url: string,
  concurrency: number,
  seconds: number
): Promise<WrkRun> {
  // One thread: on two cores, a second would only take CPU from what is measured.
  const args = [
    '-t',
    '1',
    '-c',
    String(concurrency),
    '-d',
    `${seconds}s`,
    '--timeout',
    '30s',
    '-s',
    file,
    url,
  ]
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const [code] = (await once(child, 'exit')) as [number | null]
  const line = output.split('\n').find((text) => text.startsWith('BENCH-JSON '))
  if (code !== 0 || !line) throw new Error(`wrk exited with ${code}: ${output.trim()}`)
  return JSON.parse(line.slice('BENCH-JSON '.length)) as WrkRun
}

/** Requests that got no answer at all: wrk's socket errors and timeouts. */
const socketErrors = (run: WrkRun) =>
  Object.entries(run.kinds).reduce(
    (sum, [kind, n]) => sum + (kind.startsWith('socket') || kind === 'timeout' ? n : 0),
    0
  )

export async function runWrkLoad(spec: WrkSpec): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pay-gate-wrk-'))
  try {
    const file = join(dir, 'bench.lua')
    writeFileSync(file, script(spec))
    // No warm-up run when none is asked for (a profile warms up on its own, then measures).
    const none: WrkRun = {
      sent: 0,
      answered: 0,
      ok: 0,
      durationUs: 0,
      p50Us: 0,
      p99Us: 0,
      kinds: {},
    }
    const warmup =
      spec.warmupMs > 0
        ? await runWrk(
            file,
            spec.url,
            spec.concurrency,
            Math.max(1, Math.round(spec.warmupMs / 1000))
          )
        : none
    const before = spec.sample?.() ?? {}
    const run = await runWrk(
      file,
      spec.url,
      spec.concurrency,
      Math.max(1, Math.round(spec.durationMs / 1000))
    )
    const after = spec.sample?.() ?? {}
    const perRequest: Record<string, number> = {}
    if (run.answered > 0) {
      for (const [name, value] of Object.entries(after))
        perRequest[name] = (value - (before[name] ?? Number.NaN)) / run.answered
    }
    const errorKinds = new Map<string, number>()
    for (const kinds of [warmup.kinds, run.kinds]) {
      for (const [kind, n] of Object.entries(kinds))
        errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + n)
    }
    return {
      ok: run.ok,
      errors: run.answered - run.ok + socketErrors(run),
      errorKinds,
      requestsPerSecond: run.ok / (run.durationUs / 1e6),
      p50Ms: run.p50Us / 1000,
      p99Ms: run.p99Us / 1000,
      okTotal: warmup.ok + run.ok,
      unanswered: warmup.sent - warmup.answered + (run.sent - run.answered),
      perRequest,
      exhausted: false,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
