/**
 * The command line: one table of flags drives both the parser (node:util
 * parseArgs) and --help. Every question has a flag, so the CLI can run unattended.
 */
import { parseArgs } from 'node:util'
import { CliError } from './ui'

interface Flag {
  type: 'string' | 'boolean'
  short?: string
  /** Shown after the flag in --help, e.g. `<url>`. */
  value?: string
  help: string
}

export const FLAGS = {
  template: {
    type: 'string',
    short: 't',
    value: 'mcp|api',
    help: 'what the gate is in front of: an MCP server or an HTTP API',
  },
  origin: {
    type: 'string',
    value: 'url',
    help: "your MCP server's endpoint, or your API's base URL",
  },
  rails: { type: 'string', value: 'credits|x402|both', help: 'how callers pay (default: credits)' },
  'pay-to': {
    type: 'string',
    value: 'address',
    help: 'x402: the address that is paid (EIP-55 checksummed)',
  },
  network: {
    type: 'string',
    value: 'eip155:id',
    help: 'x402: the network (default: eip155:84532, Base Sepolia)',
  },
  facilitator: {
    type: 'string',
    value: 'url',
    help: 'x402: the facilitator (default: https://x402.org/facilitator)',
  },
  price: {
    type: 'string',
    value: 'dollars',
    help: 'the price of a call or tool call (default: 0.01)',
  },
  'pay-gate': {
    type: 'string',
    value: 'folder|tarball',
    help: 'take the pay-gate library from a checkout or an `npm pack` tarball, not the registry',
  },
  force: { type: 'boolean', help: 'write into a folder that is not empty' },
  'no-install': { type: 'boolean', help: 'do not install dependencies' },
  yes: { type: 'boolean', short: 'y', help: 'take the default for every question no flag answers' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  version: { type: 'boolean', short: 'v', help: 'show the version' },
} as const satisfies Record<string, Flag>

export type FlagName = keyof typeof FLAGS

/** Values of the string flags, and whether each boolean flag was given. */
export type Flags = {
  [K in FlagName]?: (typeof FLAGS)[K]['type'] extends 'string' ? string : boolean
}

export interface ParsedArgs {
  flags: Flags
  /** The positional argument: the folder to create. */
  directory?: string
}

/** @throws CliError (exit code 2) on an unknown flag, a missing value or a second folder */
export function parseCliArgs(argv: string[]): ParsedArgs {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true })
  } catch (error) {
    throw new CliError(
      (error as Error).message,
      'Run create-pay-gate --help to see the options.',
      2
    )
  }
  if (parsed.positionals.length > 1) {
    throw new CliError(
      `one folder at a time, not ${parsed.positionals.join(' and ')}`,
      'Run create-pay-gate --help.',
      2
    )
  }
  return { flags: parsed.values as Flags, directory: parsed.positionals[0] }
}

export function helpText(): string {
  const rows = Object.entries(FLAGS).map(([name, flag]: [string, Flag]) => {
    const short = flag.short ? `-${flag.short}, ` : '    '
    const value = flag.value ? ` <${flag.value}>` : ''
    return [`  ${short}--${name}${value}`, flag.help]
  })
  const width = Math.max(...rows.map(([left = '']) => left.length)) + 2
  return [
    'Create a pay-gate: a Cloudflare Worker that charges for calls to your MCP server or HTTP API.',
    '',
    'Usage: npm create pay-gate@latest [folder] -- [options]',
    '       create-pay-gate [folder] [options]',
    '',
    'Options:',
    ...rows.map(([left = '', help = '']) => left.padEnd(width) + help),
    '',
    'Questions no flag answers are asked on a terminal. With --yes, or when stdin is',
    'not a terminal (CI), their defaults are taken instead.',
    '',
  ].join('\n')
}
