/**
 * What the CLI prints once the project is written: what was made, anything to
 * watch out for, and the next steps, spelled for the package manager that ran us.
 */
import { relative } from 'node:path'
import type { Context } from './cli'
import { detectPackageManager, runCommand } from './install'
import { DEFAULT_FACILITATOR } from './routes'
import type { ProjectPlan } from './scaffold'
import { palette } from './ui'
import { NETWORK_NAMES } from './validate'

/** Where `npm run dev` (wrangler dev) serves the gate. */
const LOCAL_GATE = 'http://127.0.0.1:8787'

export function summary(ctx: Context, plan: ProjectPlan, installed: boolean | undefined): void {
  const { bold, cyan, dim, green, yellow } = palette(ctx.io)
  const pm = detectPackageManager()
  const out = (line = ''): void => void ctx.io.stdout.write(`${line}\n`)
  const where = relative(ctx.cwd, plan.targetDir) || '.'
  const rails = plan.x402
    ? `${plan.rails === 'both' ? 'credits + x402' : 'x402'} on ${plan.x402.network}`
    : 'credits'
  out()
  out(`${green('✨ Created')} ${bold(where)}: a gate for an ${plan.template.displayName}`)
  out(
    dim(
      `   origin ${plan.origin}${plan.template.origin.mode === 'endpoint' ? plan.routePath : ''}, $${plan.price} a call, paid with ${rails}`
    )
  )
  if (plan.library.kind !== 'registry') {
    const what = plan.library.kind === 'folder' ? 'linked folder' : 'tarball'
    out(
      dim(
        `   pay-gate from ${relative(plan.targetDir, plan.library.path) || '.'} (${what}), not the registry`
      )
    )
  }
  if (
    plan.x402 &&
    plan.x402.network !== 'eip155:84532' &&
    plan.x402.facilitator === DEFAULT_FACILITATOR
  ) {
    out(
      yellow(
        `   ! ${DEFAULT_FACILITATOR} settles on testnets only; set a facilitator for ${NETWORK_NAMES[plan.x402.network] ?? plan.x402.network} in routes.json`
      )
    )
  }
  const major = Number(ctx.nodeVersion.split('.')[0])
  if (major < 22) {
    // The project's `node` dev dependency is Node 22, and npm scripts find it first.
    out(
      yellow(
        `   ! pay-gate needs Node.js 22 or later (this is Node ${major}.x). The project's scripts (${runCommand(pm, 'dev')}, …) run`
      )
    )
    out(
      yellow(
        '     with the Node 22 it installs in node_modules/.bin; to run pay-gate or wrangler any other way, install Node 22.'
      )
    )
  }
  out()
  const step = (command: string, why?: string): void =>
    out(`  ${why ? cyan(command.padEnd(22)) + dim(why) : cyan(command)}`)
  out('Next steps:')
  if (where !== '.') step(`cd ${where}`)
  if (installed !== true) step(`${pm} install`)
  step(runCommand(pm, 'test'), 'routes.json is valid, an unpaid call is refused')
  step(runCommand(pm, 'routes:push'), 'routes.json, validated, into the local KV namespace')
  step(runCommand(pm, 'dev'), `the gate on ${LOCAL_GATE}`)
  out(
    `  then ${cyan(`${LOCAL_GATE}/admin/ui`)} ${dim('the dashboard: sign in with ADMIN_TOKEN from .dev.vars')}`
  )
  out('Then README.md: API keys, prices, deploying, and self-hosting with pay-gate serve.')
}
