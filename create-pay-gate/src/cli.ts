/**
 * create-pay-gate, C3-style: main(argv) → parseCliArgs → run(ctx), where run
 * answers the questions, writes the project, installs it and prints the next
 * steps. Everything it needs arrives in the context, so the tests can run it
 * in-process against the repository's own templates.
 */
import { readFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { helpText, parseCliArgs, type ParsedArgs } from './args'
import { detectPackageManager, installDependencies, runCommand } from './install'
import type { PayGateInfo } from './pay-gate-info'
import { chosenTemplate, resolveAnswers, type Answers } from './questions'
import { DEFAULT_FACILITATOR, type Rails } from './routes'
import { renderProject, writeProject, type ProjectPlan } from './scaffold'
import { loadTemplates, type TemplateConfig } from './templates'
import { CliError, palette, printError, processIo, type Io } from './ui'
import { projectName, splitOrigin, NETWORK_NAMES } from './validate'

export interface Context extends ParsedArgs {
  io: Io
  cwd: string
  templates: TemplateConfig[]
  payGate: PayGateInfo
}

/** What main reads from its surroundings; the tests replace any of it. */
export interface Environment {
  io: Io
  cwd: string
  templatesDir: string
  payGate: PayGateInfo
  version: string
}

// In the published package, dist/cli.js sits next to dist/pay-gate.json, and
// ../templates and ../package.json are the package's own.
function packagedEnvironment(): Environment {
  const read = (path: string): unknown => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'))
  return {
    io: processIo(),
    cwd: process.cwd(),
    templatesDir: fileURLToPath(new URL('../templates', import.meta.url)),
    payGate: read('./pay-gate.json') as PayGateInfo,
    version: (read('../package.json') as { version: string }).version,
  }
}

/** @returns the process exit code */
export async function main(argv: string[], overrides: Partial<Environment> = {}): Promise<number> {
  const io = overrides.io ?? processIo()
  try {
    const args = parseCliArgs(argv)
    if (args.flags.help) {
      io.stdout.write(helpText())
      return 0
    }
    const environment = { ...lazyEnvironment(overrides), io }
    if (args.flags.version) {
      io.stdout.write(`${environment.version}\n`)
      return 0
    }
    const ctx: Context = {
      ...args,
      io,
      cwd: environment.cwd,
      templates: loadTemplates(environment.templatesDir),
      payGate: environment.payGate,
    }
    await run(ctx)
    return 0
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    printError(io, error)
    return error.exitCode
  }
}

/** The packaged environment, read only if the caller did not supply all of it. */
function lazyEnvironment(overrides: Partial<Environment>): Environment {
  const complete = overrides.cwd && overrides.templatesDir && overrides.payGate && overrides.version
  return complete ? (overrides as Environment) : { ...packagedEnvironment(), ...overrides }
}

export async function run(ctx: Context): Promise<void> {
  const answers = await resolveAnswers(ctx, ctx.io)
  const plan = planProject(ctx, answers)
  writeProject(plan.targetDir, renderProject(plan))
  const pm = detectPackageManager()
  const installed = ctx.flags['no-install'] ? undefined : installDependencies(plan.targetDir, pm)
  summary(ctx, plan, installed)
  if (installed === false) {
    throw new CliError(`${pm} install failed; the project is written.`, `Fix the problem above, then run ${pm} install in ${plan.targetDir}.`)
  }
}

/** Turn the answers into everything the files are made from. */
export function planProject(ctx: Context, answers: Answers): ProjectPlan {
  const directory = answers.directory ?? ''
  const template = chosenTemplate(answers, ctx)
  const { origin, path } = splitOrigin(answers.origin ?? '', template.origin.mode)
  const rails = (answers.rails ?? 'credits') as Rails
  return {
    targetDir: resolve(ctx.cwd, directory),
    name: projectName(directory, ctx.cwd),
    template,
    origin,
    routePath: path,
    price: answers.price ?? '',
    rails,
    x402:
      rails === 'credits'
        ? undefined
        : { payTo: answers.payTo ?? '', network: answers.network ?? '', facilitator: ctx.flags.facilitator ?? DEFAULT_FACILITATOR },
    payGate: ctx.payGate,
  }
}

function summary(ctx: Context, plan: ProjectPlan, installed: boolean | undefined): void {
  const { bold, cyan, dim, green, yellow } = palette(ctx.io)
  const pm = detectPackageManager()
  const out = (line = ''): void => void ctx.io.stdout.write(`${line}\n`)
  const where = relative(ctx.cwd, plan.targetDir) || '.'
  const rails = plan.x402 ? `${plan.rails === 'both' ? 'credits + x402' : 'x402'} on ${plan.x402.network}` : 'credits'
  out()
  out(`${green('✨ Created')} ${bold(where)}: a gate for an ${plan.template.displayName}`)
  out(dim(`   origin ${plan.origin}${plan.template.origin.mode === 'endpoint' ? plan.routePath : ''}, $${plan.price} a call, paid with ${rails}`))
  if (plan.x402 && plan.x402.network !== 'eip155:84532' && plan.x402.facilitator === DEFAULT_FACILITATOR) {
    out(yellow(`   ! ${DEFAULT_FACILITATOR} settles on testnets only; set a facilitator for ${NETWORK_NAMES[plan.x402.network] ?? plan.x402.network} in routes.json`))
  }
  out()
  const step = (command: string, why?: string): void => out(`  ${why ? cyan(command.padEnd(22)) + dim(why) : cyan(command)}`)
  out('Next steps:')
  if (where !== '.') step(`cd ${where}`)
  if (installed !== true) step(`${pm} install`)
  step(runCommand(pm, 'test'), 'routes.json is valid, an unpaid call is refused')
  step(runCommand(pm, 'routes:push'), 'routes.json into the local KV namespace')
  step(runCommand(pm, 'dev'), 'the gate on http://127.0.0.1:8787')
  out('Then README.md: making API keys, setting prices, deploying.')
}
