/**
 * `npx tsx bench/commits.ts`: how many storage commits and SQL statements the
 * credits path costs per call, against the one-debit floor. workerd's SQLite
 * commits every implicit transaction with one WAL write and, durably, one
 * fdatasync/fsync; perf counts those system calls in the workerd process while
 * wrk drives each scenario, and dividing by the calls served gives commits per
 * call. Needs perf with syscall tracepoints (Linux, root or perf_event_paranoid ≤ 1).
 *
 *   npx tsx bench/commits.ts [--duration 5] [--warmup 1] [--concurrency 16] [--only regex]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { parseArgs } from 'node:util'
import { scenarios } from './scenarios'
import { createKeys, startStack } from './stack'
import { runWrkLoad } from './wrk'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    only: { type: 'string', default: '^(debit-1|gate-1|gate-n)$' },
  },
})

const EVENTS = ['fdatasync', 'fsync', 'pwrite64', 'pwritev', 'write'].map(
  (name) => `syscalls:sys_enter_${name}`
)

function perfStat(pid: number): { child: ChildProcess; counts: Promise<Map<string, number>> } {
  const child = spawn('perf', ['stat', '-x', ',', '-e', EVENTS.join(','), '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let text = ''
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()))
  const counts = new Promise<Map<string, number>>((resolve) =>
    child.on('exit', () => {
      const counts = new Map<string, number>()
      for (const line of text.split('\n')) {
        const [value, , event] = line.split(',')
        if (event?.startsWith('syscalls:'))
          counts.set(event.replace('syscalls:sys_enter_', ''), Number(value))
      }
      resolve(counts)
    })
  )
  return { child, counts }
}

const stack = await startStack()
try {
  const [one, ...rest] = await createKeys(stack.gateUrl, 51)
  const many = [one!, ...rest]
  const pattern = new RegExp(args.only)
  console.log(
    `commits: ${args.duration} s per scenario, ${args.concurrency} concurrent callers; per call: system calls of workerd counted by perf`
  )
  console.log(['scenario'.padEnd(40), 'calls', 'fdatasync', 'fsync', 'pwrite', 'write'].join('\t'))
  for (const scenario of scenarios(50)) {
    if (!pattern.test(scenario.id) || scenario.keys === 'none') continue
    const url = `${scenario.target === 'gate' ? stack.gateUrl : stack.debitUrl}${scenario.path ?? '/mcp-json'}`
    const base = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...scenario.headers,
    }
    const headerSets = (scenario.keys === 'one' ? [one!] : many).map((key) => ({
      ...base,
      authorization: `Bearer ${key.key}`,
    }))
    let perf: ReturnType<typeof perfStat> | undefined
    const result = await runWrkLoad({
      url,
      body: scenario.body,
      headerSets,
      concurrency: Number(args.concurrency),
      warmupMs: Number(args.warmup) * 1000,
      durationMs: Number(args.duration) * 1000,
      sample: () => {
        if (!perf) perf = perfStat(stack.pids.workerd)
        else perf.child.kill('SIGINT')
        return {}
      },
    })
    const counts = await perf!.counts
    const calls = result.ok + result.errors
    const per = (name: string) => ((counts.get(name) ?? 0) / calls).toFixed(3)
    console.log(
      [
        scenario.label.padEnd(40),
        String(calls),
        per('fdatasync'),
        per('fsync'),
        per('pwrite64'),
        per('write'),
      ].join('\t')
    )
  }
} finally {
  await stack.close()
}
process.exit(0)
