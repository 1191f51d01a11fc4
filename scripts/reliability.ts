/**
 * `npm run test:reliability [-- --contention N] [-- vitest options]`
 *
 * Runs the reliability suite (vitest.reliability.config.ts), optionally with N
 * CPU-bound processes beside it (`--contention N`, or `RELIABILITY_CONTENTION=N`),
 * so it can be proven under load: the machine busy the way a shared CI runner
 * is. The busy processes are stopped afterwards whatever happens: on exit, on
 * Ctrl-C or SIGTERM, and by themselves if this script dies (their IPC channel
 * closes). Without the option (CI's default) nothing extra runs.
 *
 * The report (test/reliability/report.ts) prints the contention it ran under,
 * read from RELIABILITY_CONTENTION, which this script sets for it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'

const USAGE = 'usage: npm run test:reliability [-- --contention N] [-- vitest options]'

/** A child that keeps one core busy, yielding every 50 ms so it sees its parent go away. */
const BUSY_LOOP = `
process.on('disconnect', () => process.exit(0))
const spin = () => { const end = Date.now() + 50; while (Date.now() < end) {} setImmediate(spin) }
spin()
`

function parse(args: string[]): { contention: number; rest: string[] } {
  const rest: string[] = []
  let given = process.env.RELIABILITY_CONTENTION
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--contention') given = args[++i]
    else if (arg.startsWith('--contention=')) given = arg.slice('--contention='.length)
    else rest.push(arg)
  }
  const contention = Number(given ?? '0')
  if (!Number.isInteger(contention) || contention < 0 || contention > 64) {
    console.error(`--contention must be a whole number from 0 to 64 (got ${given})\n${USAGE}`)
    process.exit(2)
  }
  return { contention, rest }
}

function startBusy(count: number): ChildProcess[] {
  return Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', BUSY_LOOP], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  )
}

function stopBusy(children: ChildProcess[]): void {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

const { contention, rest } = parse(process.argv.slice(2))
const busy = startBusy(contention)
process.on('exit', () => stopBusy(busy))
if (contention > 0) {
  console.log(
    `reliability: ${contention} CPU-bound processes beside the suite, on ${availableParallelism()} cores`
  )
}

const vitest = spawn('vitest', ['run', '--config', 'vitest.reliability.config.ts', ...rest], {
  stdio: 'inherit',
  env: { ...process.env, RELIABILITY_CONTENTION: String(contention) },
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    vitest.kill(signal)
    stopBusy(busy)
  })
}
vitest.on('error', (error) => {
  console.error(`reliability: could not start vitest: ${error.message}`)
  stopBusy(busy)
  process.exit(1)
})
vitest.on('exit', (code, signal) => {
  stopBusy(busy)
  process.exit(code ?? (signal ? 1 : 0))
})
