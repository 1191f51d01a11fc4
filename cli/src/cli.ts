/**
 * `pay-gate`: the command line of the library. `main` never exits the process;
 * it returns the exit code, so tests can run it in-process with their own Io.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { helpText, parseCli } from './args'
import { callAdmin, formatKeys, keyRequest, type KeyAction } from './keys'
import { serve } from './serve/command'
import {
  diffRoutes,
  processWrangler,
  readLive,
  upload,
  type KvTarget,
  type Wrangler,
} from './routes'
import { CliError, out, palette, printError, processIo, type Io } from './ui'
import { checkRoutesText } from './validate'

declare const __PAY_GATE_VERSION__: string | undefined

export const VERSION = typeof __PAY_GATE_VERSION__ === 'string' ? __PAY_GATE_VERSION__ : '0.0.0-dev'

export interface Deps {
  wrangler?: Wrangler
  fetch?: typeof fetch
}

type Flags = Record<string, string | boolean | undefined>

function readText(io: Io, file: string): string {
  try {
    return readFileSync(resolve(io.cwd, file), 'utf8')
  } catch (error) {
    throw new CliError(
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      'Pass the routes file: pay-gate validate path/to/routes.json'
    )
  }
}

function validate(io: Io, file: string, json: boolean): number {
  const result = checkRoutesText(readText(io, file))
  const { red, green, dim, bold } = palette(io)
  if (json) {
    out(io, JSON.stringify({ ok: result.ok, file, issues: result.issues }, null, 2))
  } else if (result.ok) {
    out(io, `${green('✔')} ${file}: valid, ${result.file.routes.length} route(s)`)
  } else {
    io.stderr.write(`${red('✖')} ${bold(file)}: ${result.issues.length} problem(s)\n`)
    for (const issue of result.issues) io.stderr.write(`  ${dim(issue.path)}: ${issue.message}\n`)
  }
  return result.ok ? 0 : 1
}

function target(flags: Flags): KvTarget {
  return {
    remote: flags.remote === true,
    binding: typeof flags.binding === 'string' ? flags.binding : undefined,
    namespaceId: typeof flags['namespace-id'] === 'string' ? flags['namespace-id'] : undefined,
  }
}

function push(io: Io, flags: Flags, wrangler: Wrangler): number {
  const file = typeof flags.file === 'string' ? flags.file : 'routes.json'
  const text = readText(io, file)
  const check = checkRoutesText(text)
  if (!check.ok) {
    validate(io, file, flags.json === true)
    io.stderr.write('nothing uploaded\n')
    return 1
  }
  const kv = target(flags)
  const liveText = readLive(wrangler, kv)
  let live: { routes?: unknown } | undefined
  try {
    live = liveText === undefined ? undefined : (JSON.parse(liveText) as { routes?: unknown })
  } catch {
    live = undefined
  }
  upload(wrangler, kv, text, io.cwd)
  // Both sides as written (not as zod normalised them), so an unchanged route compares equal.
  const diff = diffRoutes(live, JSON.parse(text) as { routes: unknown })
  const where = kv.remote ? 'remote' : 'local'
  if (flags.json) {
    out(
      io,
      JSON.stringify(
        { ok: true, file, target: where, previous: live !== undefined, ...diff },
        null,
        2
      )
    )
    return 0
  }
  const { green, yellow, red, dim } = palette(io)
  out(io, `${green('✔')} uploaded ${file} to KV key "pay-gate/routes" (${where})`)
  if (live === undefined) out(io, dim('  there was no live route table before'))
  for (const k of diff.added) out(io, `  ${green('+')} ${k}`)
  for (const k of diff.changed) out(io, `  ${yellow('~')} ${k}`)
  for (const k of diff.removed) out(io, `  ${red('-')} ${k}`)
  if (live !== undefined && diff.added.length + diff.changed.length + diff.removed.length === 0)
    out(io, dim('  no route changed'))
  return 0
}

function pull(io: Io, flags: Flags, wrangler: Wrangler): number {
  const file = typeof flags.file === 'string' ? flags.file : 'routes.json'
  const kv = target(flags)
  const text = readLive(wrangler, kv)
  if (text === undefined)
    throw new CliError(
      `no route table in KV (${kv.remote ? 'remote' : 'local'})`,
      'Upload one with: pay-gate routes push'
    )
  let pretty: string
  try {
    pretty = `${JSON.stringify(JSON.parse(text), null, 2)}\n`
  } catch {
    throw new CliError(
      'the live route table is not JSON',
      'Push a valid one with: pay-gate routes push'
    )
  }
  writeFileSync(resolve(io.cwd, file), pretty)
  out(io, `${palette(io).green('✔')} wrote the live route table to ${file}`)
  return 0
}

async function keys(
  io: Io,
  action: KeyAction,
  args: string[],
  flags: Flags,
  deps: Deps
): Promise<number> {
  const tokenEnv =
    typeof flags['token-env'] === 'string' ? flags['token-env'] : 'PAY_GATE_ADMIN_TOKEN'
  const token = io.env[tokenEnv]
  if (!token)
    throw new CliError(
      `no admin token: $${tokenEnv} is not set`,
      `export ${tokenEnv}=<the gate's ADMIN_TOKEN secret>`
    )
  const request = keyRequest(action, args[0], flags)
  const url = typeof flags.url === 'string' ? flags.url : 'http://127.0.0.1:8787'
  const body = await callAdmin({ url, token, fetch: deps.fetch }, request)
  out(io, flags.json ? JSON.stringify(body, null, 2) : formatKeys(action, body))
  return 0
}

export async function main(argv: string[], io: Io = processIo(), deps: Deps = {}): Promise<number> {
  try {
    const parsed = parseCli(argv)
    if (parsed.kind === 'help') {
      io.stdout.write(helpText(parsed))
      return 0
    }
    if (parsed.kind === 'version') {
      out(io, VERSION)
      return 0
    }
    const { command, args, flags } = parsed
    const wrangler = deps.wrangler ?? processWrangler(io.cwd)
    if (command === 'validate') return validate(io, args[0] ?? 'routes.json', flags.json === true)
    if (command === 'routes push') return push(io, flags, wrangler)
    if (command === 'routes pull') return pull(io, flags, wrangler)
    if (command.startsWith('keys '))
      return await keys(io, command.slice(5) as KeyAction, args, flags, deps)
    if (command === 'serve') return await serve(io, flags, deps.wrangler)
    throw new CliError(`unknown command: ${command}`, undefined, 2)
  } catch (error) {
    if (error instanceof CliError) {
      printError(io, error)
      return error.exitCode
    }
    throw error
  }
}
