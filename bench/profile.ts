/**
 * `npx tsx bench/profile.ts`: only the profiles of `npm run bench -- --profile`
 * (profiles.ts): where the gate's CPU above its floors goes, for the credits path
 * and the free path, from a V8 profile of the Worker's isolate and (with perf
 * installed) a native profile of workerd.
 *
 *   npx tsx bench/profile.ts [--seconds 6] [--warmup 2] [--concurrency 16] [--port 9230] [--load wrk|node] [--no-perf]
 */
import { parseArgs } from 'node:util'
import { printProfiles } from './profiles'
import { wrkAvailable } from './wrk'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
    port: { type: 'string', default: '9230' },
    load: { type: 'string' },
    'no-perf': { type: 'boolean', default: false },
  },
})

const useWrk = args.load === 'node' ? false : args.load === 'wrk' || wrkAvailable()
printProfiles({
  seconds: Number(args.seconds),
  warmupS: Number(args.warmup),
  concurrency: Number(args.concurrency),
  useWrk,
  inspectorPort: Number(args.port),
  perf: !args['no-perf'],
}).then(
  () => process.exit(0),
  (error: Error) => {
    console.error('profile: failed:', error.stack ?? error.message)
    process.exit(1)
  }
)
