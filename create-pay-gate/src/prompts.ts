/**
 * Questions on a terminal, with node:readline/promises: a line of text, or a
 * numbered menu. Seven questions, two of them menus, do not need a prompt library;
 * this way `npm create` downloads nothing but this package, and the tests drive
 * the prompts through plain streams.
 */
import { createInterface, type Interface } from 'node:readline/promises'
import { palette, CliError, type Io } from './ui'

export interface Choice {
  value: string
  label: string
}

export interface Prompter {
  text(
    message: string,
    options: { default?: string; validate: (value: string) => string | undefined }
  ): Promise<string>
  select(message: string, options: { choices: Choice[]; default: string }): Promise<string>
  close(): void
}

export function createPrompter(io: Io): Prompter {
  const { bold, cyan, dim, red } = palette(io)
  const readline: Interface = createInterface({
    input: io.stdin,
    output: io.stdout,
    terminal: io.interactive,
  })
  // Ctrl-C or Ctrl-D mid-question: stop, rather than leave a half-written project.
  const cancel = new AbortController()
  readline.on('SIGINT', () => cancel.abort())
  readline.on('close', () => cancel.abort())

  async function ask(prompt: string): Promise<string> {
    try {
      return (await readline.question(prompt, { signal: cancel.signal })).trim()
    } catch {
      throw new CliError('Cancelled: nothing was written.', undefined, 130)
    }
  }

  return {
    async text(message, { default: fallback, validate }) {
      const suffix = fallback ? ` ${dim(`(${fallback})`)}` : ''
      for (;;) {
        const answer = (await ask(`${cyan('?')} ${bold(message)}${suffix} `)) || fallback || ''
        const problem = validate(answer)
        if (problem === undefined) return answer
        io.stdout.write(`  ${red('✖')} ${problem}\n`)
      }
    },

    async select(message, { choices, default: fallback }) {
      io.stdout.write(`${cyan('?')} ${bold(message)}\n`)
      choices.forEach((choice, index) => io.stdout.write(`  ${index + 1}) ${choice.label}\n`))
      const defaultNumber = choices.findIndex((choice) => choice.value === fallback) + 1
      for (;;) {
        const answer =
          (await ask(`  ${dim(`Choose 1-${choices.length} (${defaultNumber}):`)} `)) ||
          String(defaultNumber)
        // A number from the menu, or the value itself (what the flag takes).
        const byNumber = /^\d+$/.test(answer) ? choices[Number(answer) - 1] : undefined
        const chosen = byNumber ?? choices.find((choice) => choice.value === answer)
        if (chosen) return chosen.value
        io.stdout.write(`  ${red('✖')} type a number from 1 to ${choices.length}\n`)
      }
    },

    close() {
      readline.close()
    },
  }
}
