/**
 * The questions, in order, each with the flag that answers it, its default and its
 * check. An answer comes from its flag if given, else from the user on a terminal,
 * else (with --yes, or when stdin is not a terminal) from its default.
 */
import { KNOWN_USDC } from '../../src/pricing'
import type { FlagName, Flags } from './args'
import { createPrompter, type Choice } from './prompts'
import { RAILS } from './routes'
import type { TemplateConfig } from './templates'
import { CliError, palette, type Io } from './ui'
import {
  checkAddress,
  checkDirectory,
  checkNetwork,
  checkOrigin,
  checkPrice,
  NETWORK_NAMES,
} from './validate'

export type AnswerKey =
  'directory' | 'template' | 'origin' | 'rails' | 'payTo' | 'network' | 'price'
export type Answers = Partial<Record<AnswerKey, string>>

export interface AskContext {
  cwd: string
  flags: Flags
  /** The positional argument, which answers the first question. */
  directory?: string
  templates: TemplateConfig[]
}

interface Question {
  key: AnswerKey
  /** The flag that answers it; "folder" is the positional argument. */
  flag: FlagName | 'folder'
  message(answers: Answers, ctx: AskContext): string
  /** A menu instead of a line of text. */
  choices?(ctx: AskContext): Choice[]
  default(answers: Answers, ctx: AskContext): string | undefined
  /** Why there is no default (said when nobody can be asked). */
  required?: string
  /** Asked only when this holds. */
  when?(answers: Answers): boolean
  validate(value: string, answers: Answers, ctx: AskContext): string | undefined
}

/** The template chosen so far (questions after "template" may rely on it). */
export function chosenTemplate(answers: Answers, ctx: AskContext): TemplateConfig {
  const template = ctx.templates.find((candidate) => candidate.id === answers.template)
  if (!template) throw new Error(`no template "${answers.template}"`)
  return template
}

const takesX402 = (answers: Answers): boolean => answers.rails !== 'credits'

function oneOf(values: readonly string[]): (value: string) => string | undefined {
  return (value) => (values.includes(value) ? undefined : `expected one of: ${values.join(', ')}`)
}

export const QUESTIONS: Question[] = [
  {
    key: 'directory',
    flag: 'folder',
    message: () => 'Where should the gate be created?',
    default: () => 'my-gate',
    validate: (value, _answers, ctx) => checkDirectory(value, ctx.cwd, ctx.flags.force === true),
  },
  {
    key: 'template',
    flag: 'template',
    message: () => 'What is the gate in front of?',
    choices: (ctx) =>
      ctx.templates.map((template) => ({
        value: template.id,
        label: `${template.displayName}: ${template.description}`,
      })),
    default: (_answers, ctx) => ctx.templates[0]?.id,
    validate: (value, _answers, ctx) => oneOf(ctx.templates.map((template) => template.id))(value),
  },
  {
    key: 'origin',
    flag: 'origin',
    message: (answers, ctx) => chosenTemplate(answers, ctx).origin.question,
    default: (answers, ctx) => chosenTemplate(answers, ctx).origin.default,
    validate: (value, answers, ctx) => checkOrigin(value, chosenTemplate(answers, ctx).origin.mode),
  },
  {
    key: 'rails',
    flag: 'rails',
    message: () => 'How will callers pay?',
    choices: () => [
      { value: 'credits', label: 'credits: prepaid balances on API keys you issue' },
      { value: 'x402', label: 'x402: USDC per call from a wallet, no key needed' },
      { value: 'both', label: 'both' },
    ],
    default: () => 'credits',
    validate: oneOf(RAILS),
  },
  {
    key: 'payTo',
    flag: 'pay-to',
    message: () => 'x402: the address you are paid at (0x…)',
    default: () => undefined,
    required: 'x402 needs the address you are paid at',
    when: takesX402,
    validate: checkAddress,
  },
  {
    key: 'network',
    flag: 'network',
    message: () => 'x402: the network',
    // The testnet first; any network pay-gate learns later still shows, last.
    choices: () =>
      [...new Set([...Object.keys(NETWORK_NAMES), ...Object.keys(KNOWN_USDC)])]
        .filter((id) => id in KNOWN_USDC)
        .map((id) => ({ value: id, label: `${id} ${NETWORK_NAMES[id] ?? ''}`.trim() })),
    default: () => 'eip155:84532',
    when: takesX402,
    validate: checkNetwork,
  },
  {
    key: 'price',
    flag: 'price',
    message: (answers, ctx) => chosenTemplate(answers, ctx).priceQuestion,
    default: () => '0.01',
    validate: checkPrice,
  },
]

function flagName(question: Question): string {
  return question.flag === 'folder' ? 'the folder' : `--${question.flag}`
}

function given(question: Question, ctx: AskContext): string | undefined {
  const value = question.flag === 'folder' ? ctx.directory : ctx.flags[question.flag]
  return typeof value === 'string' ? value.trim() : undefined
}

/** Answer every question, from flags, the user or the defaults. */
export async function resolveAnswers(ctx: AskContext, io: Io): Promise<Answers> {
  const { yellow } = palette(io)
  const prompter = io.interactive && ctx.flags.yes !== true ? createPrompter(io) : undefined
  const answers: Answers = {}
  try {
    for (const question of QUESTIONS) {
      const flagValue = given(question, ctx)
      if (question.when && !question.when(answers)) {
        if (flagValue !== undefined)
          io.stderr.write(
            `${yellow('!')} ${flagName(question)} is not used with rails "${answers.rails}"\n`
          )
        continue
      }
      const check = (value: string): string | undefined => question.validate(value, answers, ctx)
      if (flagValue !== undefined) {
        const problem = check(flagValue)
        if (problem) throw new CliError(`${flagName(question)} "${flagValue}": ${problem}`)
        answers[question.key] = flagValue
      } else if (prompter) {
        const message = question.message(answers, ctx)
        const fallback = question.default(answers, ctx)
        answers[question.key] = question.choices
          ? await prompter.select(message, {
              choices: question.choices(ctx),
              default: fallback ?? '',
            })
          : await prompter.text(message, { default: fallback, validate: check })
      } else {
        const fallback = question.default(answers, ctx)
        if (fallback === undefined)
          throw new CliError(`${question.required}.`, `Pass ${flagName(question)}.`)
        const problem = check(fallback)
        if (problem) throw new CliError(problem, `Pass ${flagName(question)} to choose another.`)
        answers[question.key] = fallback
      }
    }
  } finally {
    prompter?.close()
  }
  return answers
}
