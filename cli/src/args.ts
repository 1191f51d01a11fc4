/**
 * The command line: `pay-gate <command> [subcommand] [args] [flags]`. One table of
 * commands, each with its flags, drives both the parser (node:util parseArgs,
 * strict) and --help.
 */
import { parseArgs } from 'node:util'
import { CliError } from './ui'

export interface Flag {
  type: 'string' | 'boolean'
  short?: string
  /** Shown after the flag in --help, e.g. `<url>`. */
  value?: string
  help: string
}

const HELP: Flag = { type: 'boolean', short: 'h', help: 'show this help' }
const JSON_FLAG: Flag = { type: 'boolean', help: 'print machine-readable JSON' }
const LOCAL: Flag = { type: 'boolean', help: 'the local KV of `wrangler dev` (default)' }
const REMOTE: Flag = { type: 'boolean', help: 'the deployed KV namespace' }
const FILE: Flag = { type: 'string', value: 'file', help: 'the routes file (default: routes.json)' }
const BINDING: Flag = {
  type: 'string',
  value: 'name',
  help: 'the KV binding in wrangler.toml (default: ROUTES)',
}
const NAMESPACE: Flag = {
  type: 'string',
  value: 'id',
  help: 'the KV namespace id, instead of the binding',
}
const URL_FLAG: Flag = {
  type: 'string',
  value: 'url',
  help: 'the gate (default: http://127.0.0.1:8787)',
}
const TOKEN_ENV: Flag = {
  type: 'string',
  value: 'NAME',
  help: 'env var holding the admin token (default: PAY_GATE_ADMIN_TOKEN)',
}
const CREDITS: Flag = {
  type: 'string',
  value: 'dollars',
  help: 'credits in dollars, e.g. 5 or "0.50"',
}

export interface CommandSpec {
  /** e.g. `keys topup` */
  name: string
  usage: string
  summary: string
  /** How many positionals: [min, max]. */
  positionals: [number, number]
  flags: Record<string, Flag>
}

const KEY_FLAGS = { url: URL_FLAG, 'token-env': TOKEN_ENV, json: JSON_FLAG, help: HELP }

export const COMMANDS: CommandSpec[] = [
  {
    name: 'validate',
    usage: 'validate [routes.json]',
    summary: 'check a routes file: schema and overlapping routes',
    positionals: [0, 1],
    flags: { json: JSON_FLAG, help: HELP },
  },
  {
    name: 'routes push',
    usage: 'routes push',
    summary: 'validate, upload to KV, and show what changed',
    positionals: [0, 0],
    flags: {
      file: FILE,
      local: LOCAL,
      remote: REMOTE,
      binding: BINDING,
      'namespace-id': NAMESPACE,
      json: JSON_FLAG,
      help: HELP,
    },
  },
  {
    name: 'routes pull',
    usage: 'routes pull',
    summary: 'write the live route table to a file',
    positionals: [0, 0],
    flags: {
      file: FILE,
      local: LOCAL,
      remote: REMOTE,
      binding: BINDING,
      'namespace-id': NAMESPACE,
      help: HELP,
    },
  },
  {
    name: 'keys create',
    usage: 'keys create --name <name> --credits <dollars>',
    summary: 'create an API key (its secret is shown once)',
    positionals: [0, 0],
    flags: {
      name: { type: 'string', value: 'name', help: 'a label for the key' },
      credits: CREDITS,
      ...KEY_FLAGS,
    },
  },
  {
    name: 'keys list',
    usage: 'keys list',
    summary: 'list keys and balances',
    positionals: [0, 0],
    flags: {
      limit: { type: 'string', value: 'n', help: 'page size (default: 50)' },
      after: { type: 'string', value: 'id', help: 'start after this key id' },
      ...KEY_FLAGS,
    },
  },
  {
    name: 'keys show',
    usage: 'keys show <id>',
    summary: 'show one key and its recent ledger',
    positionals: [1, 1],
    flags: {
      ledger: { type: 'string', value: 'n', help: 'ledger rows (default: 20)' },
      ...KEY_FLAGS,
    },
  },
  {
    name: 'keys topup',
    usage: 'keys topup <id> --credits <dollars>',
    summary: 'add credits to a key',
    positionals: [1, 1],
    flags: { credits: CREDITS, ...KEY_FLAGS },
  },
  {
    name: 'keys suspend',
    usage: 'keys suspend <id>',
    summary: 'stop a key until it is resumed',
    positionals: [1, 1],
    flags: KEY_FLAGS,
  },
  {
    name: 'keys resume',
    usage: 'keys resume <id>',
    summary: 'resume a suspended key',
    positionals: [1, 1],
    flags: KEY_FLAGS,
  },
  {
    name: 'keys revoke',
    usage: 'keys revoke <id>',
    summary: 'revoke a key for good',
    positionals: [1, 1],
    flags: KEY_FLAGS,
  },
  {
    name: 'keys rotate',
    usage: 'keys rotate <id>',
    summary: 'new secret for the same account; the old one stops working',
    positionals: [1, 1],
    flags: KEY_FLAGS,
  },
  {
    name: 'keys plan',
    usage: 'keys plan <id> --plan <name|none>',
    summary: 'put a key on a plan from routes.json',
    positionals: [1, 1],
    flags: {
      plan: {
        type: 'string',
        value: 'name',
        help: 'a plan routes.json defines, or "none" for list prices',
      },
      ...KEY_FLAGS,
    },
  },
  {
    name: 'keys grant',
    usage: 'keys grant <id> --credits <dollars> --expires <ISO time>',
    summary: 'grant credits that expire (a trial)',
    positionals: [1, 1],
    flags: {
      credits: CREDITS,
      expires: {
        type: 'string',
        value: 'time',
        help: 'when they expire, e.g. 2026-12-31T23:59:59Z',
      },
      ...KEY_FLAGS,
    },
  },
  {
    name: 'serve',
    usage: 'serve',
    summary: 'run the gate on this host (workerd), storage on local disk',
    positionals: [0, 0],
    flags: {
      routes: {
        type: 'string',
        value: 'file',
        help: 'the routes file, loaded at start (default: routes.json)',
      },
      port: {
        type: 'string',
        value: 'n',
        help: 'port to listen on; 0 picks a free one (default: 8787)',
      },
      host: { type: 'string', value: 'addr', help: 'address to listen on (default: 127.0.0.1)' },
      data: {
        type: 'string',
        value: 'dir',
        help: 'where balances, keys and KV are kept (default: ./pay-gate-data)',
      },
      config: {
        type: 'string',
        value: 'file',
        help: 'the wrangler config of the gate (default: wrangler.toml)',
      },
      'env-file': {
        type: 'string',
        value: 'file',
        help: "KEY=value secrets and settings (ADMIN_TOKEN, upstream credentials, …), added to the environment's",
      },
      help: HELP,
    },
  },
  {
    name: 'version',
    usage: 'version',
    summary: 'print the version',
    positionals: [0, 0],
    flags: { help: HELP },
  },
]

export type Parsed =
  | { kind: 'help'; command?: CommandSpec; group?: string }
  | { kind: 'version' }
  | {
      kind: 'run'
      command: string
      args: string[]
      flags: Record<string, string | boolean | undefined>
    }

/** @throws CliError (exit code 2) on an unknown command or flag, a missing value, too many arguments */
export function parseCli(argv: string[]): Parsed {
  const [first, second] = argv
  if (first === undefined || first === '--help' || first === '-h' || first === 'help')
    return { kind: 'help' }
  if (first === '--version' || first === '-v') return { kind: 'version' }
  const groups = new Set(
    COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0])
  )
  let spec: CommandSpec | undefined
  let rest: string[]
  if (groups.has(first)) {
    if (second === undefined || second === '--help' || second === '-h')
      return { kind: 'help', group: first }
    spec = COMMANDS.find((c) => c.name === `${first} ${second}`)
    if (!spec)
      throw new CliError(`unknown command: ${first} ${second}`, `Run pay-gate ${first} --help.`, 2)
    rest = argv.slice(2)
  } else {
    spec = COMMANDS.find((c) => c.name === first)
    if (!spec)
      throw new CliError(`unknown command: ${first}`, 'Run pay-gate --help to see the commands.', 2)
    rest = argv.slice(1)
  }
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: spec.flags, allowPositionals: true, strict: true })
  } catch (error) {
    throw new CliError(
      (error as Error).message,
      `Run pay-gate ${spec.name} --help to see the options.`,
      2
    )
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>
  if (flags.help) return { kind: 'help', command: spec }
  const [min, max] = spec.positionals
  if (parsed.positionals.length < min)
    throw new CliError(`missing argument: usage: pay-gate ${spec.usage}`, undefined, 2)
  if (parsed.positionals.length > max)
    throw new CliError(
      `unexpected argument: ${parsed.positionals[max]}`,
      `usage: pay-gate ${spec.usage}`,
      2
    )
  if (flags.local && flags.remote)
    throw new CliError('give --local or --remote, not both', undefined, 2)
  if (spec.name === 'version') return { kind: 'version' }
  return { kind: 'run', command: spec.name, args: parsed.positionals, flags }
}

function flagRows(flags: Record<string, Flag>): string[] {
  return Object.entries(flags).map(([name, flag]) => {
    const short = flag.short ? `-${flag.short}, ` : '    '
    const left = `${short}--${name}${flag.value ? ` <${flag.value}>` : ''}`
    return `  ${left.padEnd(30)} ${flag.help}`
  })
}

export function helpText(target: { command?: CommandSpec; group?: string } = {}): string {
  if (target.command) {
    const c = target.command
    return [
      `usage: pay-gate ${c.usage} [options]`,
      '',
      c.summary,
      '',
      'options:',
      ...flagRows(c.flags),
      '',
    ].join('\n')
  }
  const list = target.group
    ? COMMANDS.filter((c) => c.name.startsWith(`${target.group} `))
    : COMMANDS
  return [
    `usage: pay-gate ${target.group ?? '<command>'} ${target.group ? '<subcommand> ' : ''}[options]`,
    '',
    'commands:',
    ...list.map((c) => `  ${c.usage.padEnd(46)} ${c.summary}`),
    '',
    'Run pay-gate <command> --help for its options.',
    'keys commands read the admin token from $PAY_GATE_ADMIN_TOKEN (or --token-env NAME).',
    "serve reads the gate's secrets (ADMIN_TOKEN, …) from its environment and --env-file.",
    '',
  ].join('\n')
}
