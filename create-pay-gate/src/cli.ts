/**
 * create-pay-gate, C3-style: main(argv) → parseCliArgs → run(ctx), where run
 * answers the questions, writes the project, installs it and prints the next
 * steps. Everything it needs arrives in the context, so the tests can run it
 * in-process against the repository's own templates.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { helpText, parseCliArgs, type ParsedArgs } from './args'
import { detectPackageManager, installDependencies } from './install'
import { resolveLibrary, type LibrarySource } from './library'
import type { PayGateInfo } from './pay-gate-info'
import { chosenTemplate, resolveAnswers, type Answers } from './questions'
import { DEFAULT_FACILITATOR, type Rails } from './routes'
import { renderProject, writeProject, type ProjectPlan } from './scaffold'
import { summary } from './summary'
import { loadTemplates, type TemplateConfig } from './templates'
import { CliError, printError, processIo, type Io } from './ui'
import { projectName, splitOrigin } from './validate'

export interface Context extends ParsedArgs {
  io: Io
  cwd: string
  templates: TemplateConfig[]
  payGate: PayGateInfo
  /** process.versions.node: the generated project's tools need 22. */
  nodeVersion: string
}

/** What main reads from its surroundings; the tests replace any of it. */
export interface Environment {
  io: Io
  cwd: string
  templatesDir: string
  payGate: PayGateInfo
  version: string
  nodeVersion: string
}

// In the published package, dist/cli.js sits next to dist/pay-gate.json, and
// ../templates and ../package.json are the package's own.
function packagedEnvironment(): Environment {
  const read = (path: string): unknown =>
    JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'))
  return {
    io: processIo(),
    cwd: process.cwd(),
    templatesDir: fileURLToPath(new URL('../templates', import.meta.url)),
    payGate: read('./pay-gate.json') as PayGateInfo,
    version: (read('../package.json') as { version: string }).version,
    nodeVersion: process.versions.node,
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
      nodeVersion: environment.nodeVersion,
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
  const complete =
    overrides.cwd &&
    overrides.templatesDir &&
    overrides.payGate &&
    overrides.version &&
    overrides.nodeVersion
  return complete ? (overrides as Environment) : { ...packagedEnvironment(), ...overrides }
}

export async function run(ctx: Context): Promise<void> {
  // Checked first, so a wrong --pay-gate is refused before any question.
  const library = resolveLibrary(ctx.flags['pay-gate'], ctx.cwd)
  const answers = await resolveAnswers(ctx, ctx.io)
  const plan = planProject(ctx, answers, library)
  writeProject(plan.targetDir, renderProject(plan))
  const pm = detectPackageManager()
  const installed = ctx.flags['no-install'] ? undefined : installDependencies(plan.targetDir, pm)
  summary(ctx, plan, installed)
  if (installed === false) {
    // Until pay-gate is on the registry, `^version` cannot be installed from it.
    const local =
      library.kind === 'registry'
        ? ' If npm could not find pay-gate, make the project again with --pay-gate <folder|tarball> --force.'
        : ''
    throw new CliError(
      `${pm} install failed; the project is written.`,
      `Fix the problem above, then run ${pm} install in ${plan.targetDir}.${local}`
    )
  }
}

/** Turn the answers into everything the files are made from. */
export function planProject(ctx: Context, answers: Answers, library: LibrarySource): ProjectPlan {
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
        : {
            payTo: answers.payTo ?? '',
            network: answers.network ?? '',
            facilitator: ctx.flags.facilitator ?? DEFAULT_FACILITATOR,
          },
    payGate: ctx.payGate,
    library,
  }
}
