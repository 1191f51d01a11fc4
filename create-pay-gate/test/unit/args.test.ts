import { describe, expect, it } from 'vitest'
import { FLAGS, helpText, parseCliArgs } from '../../src/args'
import { QUESTIONS } from '../../src/questions'

describe('parseCliArgs', () => {
  it('reads the folder and the flags, in any order and either spelling', () => {
    const args = parseCliArgs([
      '--template',
      'api',
      'my-gate',
      '--price=0.05',
      '-y',
      '--no-install',
    ])
    expect(args).toEqual({
      directory: 'my-gate',
      flags: { template: 'api', price: '0.05', yes: true, 'no-install': true },
    })
  })

  it('rejects an unknown flag with usage exit code 2', () => {
    expect(() => parseCliArgs(['--colour'])).toThrow(
      expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--colour') })
    )
  })

  it('rejects a flag without its value', () => {
    expect(() => parseCliArgs(['--origin'])).toThrow(expect.objectContaining({ exitCode: 2 }))
  })

  it('rejects a second folder', () => {
    expect(() => parseCliArgs(['a', 'b'])).toThrow(/one folder at a time/)
  })
})

describe('flags and questions', () => {
  it('every question has a flag (or is the folder argument)', () => {
    for (const question of QUESTIONS) {
      expect(question.flag === 'folder' || question.flag in FLAGS, question.key).toBe(true)
    }
  })

  it('--help lists every flag', () => {
    const help = helpText()
    for (const name of Object.keys(FLAGS)) expect(help).toContain(`--${name}`)
  })
})
