import { describe, expect, it } from 'vitest'
import { helpText, parseCli } from '../src/args'
import { CliError } from '../src/ui'

describe('parseCli', () => {
  it.each([
    [[], 'help'],
    [['--help'], 'help'],
    [['keys'], 'help'],
    [['keys', '--help'], 'help'],
    [['keys', 'create', '--help'], 'help'],
    [['version'], 'version'],
    [['--version'], 'version'],
  ])('%j is %s', (argv, kind) => {
    expect(parseCli(argv).kind).toBe(kind)
  })

  it('parses a command with its positionals and flags', () => {
    expect(parseCli(['keys', 'topup', 'k_1', '--credits', '2.5', '--json'])).toEqual({
      kind: 'run',
      command: 'keys topup',
      args: ['k_1'],
      flags: { credits: '2.5', json: true },
    })
    expect(parseCli(['validate', 'r.json', '--json'])).toMatchObject({
      command: 'validate',
      args: ['r.json'],
      flags: { json: true },
    })
    expect(parseCli(['routes', 'push', '--remote', '--file', 'x.json'])).toMatchObject({
      command: 'routes push',
      flags: { remote: true, file: 'x.json' },
    })
  })

  it.each([
    [['frobnicate'], /unknown command: frobnicate/],
    [['keys', 'explode'], /unknown command: keys explode/],
    [['validate', '--nope'], /--nope/],
    [['validate', 'a.json', 'b.json'], /unexpected argument: b.json/],
    [['keys', 'topup'], /missing argument/],
    [['keys', 'create', '--name'], /--name/],
    [['routes', 'push', '--local', '--remote'], /not both/],
  ])('%j is a usage error (exit 2)', (argv, message) => {
    let caught: unknown
    try {
      parseCli(argv)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(CliError)
    expect((caught as CliError).exitCode).toBe(2)
    expect((caught as CliError).message).toMatch(message)
  })

  it('shows each command and its flags in --help', () => {
    const text = helpText()
    for (const name of [
      'validate',
      'routes push',
      'routes pull',
      'keys create',
      'keys list',
      'keys revoke',
      'version',
    ])
      expect(text).toContain(name)
    expect(helpText({ group: 'keys' })).not.toContain('validate')
    const create = parseCli(['keys', 'create', '--help'])
    expect(create.kind === 'help' && helpText(create)).toMatch(
      /--name <name>[\s\S]*--token-env <NAME>/
    )
  })
})
