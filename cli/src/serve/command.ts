/**
 * `pay-gate serve`: the gate of this project on our own host, on workerd, the
 * runtime Cloudflare runs it on. Same code as the deployment: wrangler builds
 * it as `wrangler deploy` would; same bindings, stored on local disk.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { processWrangler, type Wrangler } from '../routes'
import { CliError, out, palette, type Io } from '../ui'
import { checkRoutesText } from '../validate'
import { bundleWorker } from './bundle'
import { applyD1Migrations } from './d1'
import { startGate } from './gate'
import { lockDataFolder } from './lock'
import { collectSecrets, readEnvFile } from './secrets'
import { loadToolchain } from './toolchain'

type Flags = Record<string, string | boolean | undefined>

/**
 * How long a stop waits before shutting workerd down: the gate's settlement
 * queue sends every waiting settlement within 2 s (MAX_WAIT_MS in
 * src/gate/settlement-queue.ts); stopping sooner would let holds expire
 * uncharged instead of committed.
 */
export const DRAIN_MS = 2_500

/** The KV binding the gate reads its route table from (src/env.ts). */
const ROUTES_BINDING = 'ROUTES'

/**
 * CLIENT_IP_HEADER unless the operator sets it (src/admin/auth): on workerd a
 * client may send its own CF-Connecting-IP (only Cloudflare's edge replaces it),
 * so no header is believed and every caller shares the admin API's allowance of
 * wrong tokens. Behind a reverse proxy, name the header it sets (X-Real-IP).
 */
export const SELF_HOSTED_CLIENT_IP_HEADER = 'none'

function stringFlag(flags: Flags, name: string, fallback: string): string {
  const value = flags[name]
  return typeof value === 'string' ? value : fallback
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535)
    throw new CliError(`--port must be a port number (0–65535), not "${text}"`, undefined, 2)
  return Number(text)
}

/** The first SIGINT or SIGTERM; a second one exits at once. */
function processStopSignal(): Promise<string> {
  return new Promise((resolveStop) => {
    let stopping = false
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(130)
      stopping = true
      resolveStop(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms))

/** Why workerd did not start, as a CliError: Miniflare's own errors carry a stack nobody needs. */
function startFailure(error: unknown, host: string, port: number): CliError {
  const { code, message } = error as { code?: string; message?: string }
  if (code === 'ERR_ADDRESS_IN_USE')
    return new CliError(
      `${host}:${port} is already in use`,
      'Stop what listens there, or pass another --port.'
    )
  return new CliError(`the gate did not start: ${(message ?? String(error)).split('\n')[0]}`)
}

/** Validated routes.json text, or the same report as `pay-gate validate` and exit 1. */
function readRoutes(
  routesPath: string,
  shown: string
): { text: string; routes: ReturnType<typeof checkRoutesText> } {
  let text: string
  try {
    text = readFileSync(routesPath, 'utf8')
  } catch (error) {
    throw new CliError(
      `cannot read ${shown}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      'Pass the routes file: pay-gate serve --routes path/to/routes.json'
    )
  }
  return { text, routes: checkRoutesText(text) }
}

/**
 * Runs until SIGINT or SIGTERM, then stops cleanly and returns 0.
 * @param runWrangler tests may pass their own; default: the project's wrangler
 * @throws CliError when the gate cannot start (nothing is left running)
 */
export async function serve(io: Io, flags: Flags, runWrangler?: Wrangler): Promise<number> {
  const { red, green, yellow, dim, bold } = palette(io)
  const routesShown = stringFlag(flags, 'routes', 'routes.json')
  const configPath = resolve(io.cwd, stringFlag(flags, 'config', 'wrangler.toml'))
  const dataDir = resolve(io.cwd, stringFlag(flags, 'data', './pay-gate-data'))
  const host = stringFlag(flags, 'host', '127.0.0.1')
  const port = parsePort(stringFlag(flags, 'port', '8787'))

  const { text: routesText, routes } = readRoutes(resolve(io.cwd, routesShown), routesShown)
  if (!routes.ok) {
    io.stderr.write(`${red('✖')} ${bold(routesShown)}: ${routes.issues.length} problem(s)\n`)
    for (const issue of routes.issues) io.stderr.write(`  ${dim(issue.path)}: ${issue.message}\n`)
    io.stderr.write('not started\n')
    return 1
  }
  try {
    readFileSync(configPath)
  } catch {
    throw new CliError(
      `no wrangler config at ${configPath}`,
      'Run pay-gate serve in the gate project, or pass --config path/to/wrangler.toml'
    )
  }
  const envFile =
    typeof flags['env-file'] === 'string'
      ? readEnvFile(resolve(io.cwd, flags['env-file']))
      : undefined
  const projectDir = dirname(configPath)
  const toolchain = await loadToolchain(projectDir)
  const { bindings, missing } = collectSecrets(io.env, envFile, routes.file)

  mkdirSync(dataDir, { recursive: true })
  // Before anything touches the folder's storage: a second serve on it refuses here.
  const lock = lockDataFolder(dataDir)
  const tmpDir = mkdtempSync(join(tmpdir(), 'pay-gate-serve-'))
  try {
    // Wrangler's telemetry stays off on a server unless the operator turned it on.
    process.env.WRANGLER_SEND_METRICS ??= 'false'
    const wrangler = runWrangler ?? processWrangler(projectDir)
    const config = toolchain.wrangler.unstable_readConfig(
      { config: configPath },
      { hideWarnings: true }
    )
    if (!config.kv_namespaces.some((kv: { binding: string }) => kv.binding === ROUTES_BINDING)) {
      throw new CliError(
        `${relative(io.cwd, configPath)} binds no KV namespace as ${ROUTES_BINDING}: the gate reads its route table there`,
        'Add the [[kv_namespaces]] block of the pay-gate template.'
      )
    }
    const modules = bundleWorker(wrangler, configPath, join(tmpDir, 'bundle'))
    const migrated = applyD1Migrations(wrangler, config.d1_databases, configPath, dataDir)
    const name = config.name ?? 'worker'
    const gateBindings = { CLIENT_IP_HEADER: SELF_HOSTED_CLIENT_IP_HEADER, ...bindings }
    const gate = await startGate({
      toolchain,
      configPath,
      name,
      modules,
      dataDir,
      tmpDir,
      host,
      port,
      bindings: gateBindings,
      routesText,
      routesBinding: ROUTES_BINDING,
    }).catch((error: unknown) => {
      throw startFailure(error, host, port)
    })
    const where = relative(io.cwd, dataDir) || '.'
    // One write, so whoever watches the output (a test, the journal) sees the whole block at once.
    const lines = [
      `${green('✔')} pay-gate is serving ${bold(gate.url.href.replace(/\/$/, ''))}`,
      dim(
        `  routes: ${routesShown} (${routes.file.routes.length} route(s))  data: ${where.startsWith('..') ? dataDir : where}  workerd via wrangler ${toolchain.wranglerVersion}`
      ),
    ]
    if (migrated.length > 0) lines.push(dim(`  D1 migrations up to date: ${migrated.join(', ')}`))
    out(io, lines.join('\n'))
    for (const name of missing)
      io.stderr.write(
        `${yellow('!')} ${name} is not set${name === 'ADMIN_TOKEN' ? ': the admin API refuses every request' : ''}\n`
      )
    const signal = await processStopSignal()
    out(io, dim(`${signal}: stopping (letting queued settlements reach their accounts)…`))
    await sleep(DRAIN_MS)
    await gate.stop()
    out(io, 'stopped')
    return 0
  } finally {
    rmSync(tmpDir, { recursive: true, force: true })
    lock.release()
  }
}
