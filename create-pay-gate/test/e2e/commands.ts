/**
 * Running commands in the e2e test the way a user's shell would: npm, npx and
 * the generated project's scripts, each timed; and `pay-gate serve` as a child
 * process that is stopped the way systemd stops it.
 */
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { promisify } from 'node:util'

const exec = promisify(execFile)

// The outer `npm run` sets npm_* variables (the workspace, the config) that
// would leak into the inner npm commands; they must behave as in a fresh shell.
// Tarballs come from the npm cache; the registry is asked only for the package
// documents the cache lacks (an install without a lockfile needs them).
export const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))),
  npm_config_prefer_offline: 'true',
  WRANGLER_SEND_METRICS: 'false',
  NO_COLOR: '1',
}

export interface Outcome {
  code: number
  stdout: string
  stderr: string
}

/** Run a command to its end, whatever its exit code, timing it. */
export async function attempt(
  command: string,
  args: string[],
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {}
): Promise<Outcome> {
  const started = Date.now()
  let outcome: Outcome
  try {
    const { stdout, stderr } = await exec(command, args, {
      cwd,
      env: { ...env, ...extraEnv },
      maxBuffer: 64 * 1024 * 1024,
    })
    outcome = { code: 0, stdout, stderr }
  } catch (error) {
    const {
      code,
      stdout = '',
      stderr = '',
    } = error as { code?: unknown; stdout?: string; stderr?: string }
    outcome = { code: typeof code === 'number' ? code : -1, stdout, stderr }
  }
  console.log(
    `  ${((Date.now() - started) / 1000).toFixed(1)} s  ${command} ${args.join(' ')}  → ${outcome.code}`
  )
  return outcome
}

/** Run a command that must succeed; on failure, show what it printed. */
export async function run(
  command: string,
  args: string[],
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {}
): Promise<string> {
  const outcome = await attempt(command, args, cwd, extraEnv)
  if (outcome.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}\n${outcome.stdout.slice(-4000)}\n${outcome.stderr.slice(-4000)}`
    )
  }
  return outcome.stdout
}

/** `npm pack` prints the tarball's file name last. */
export async function pack(dir: string, destination: string): Promise<string> {
  const name =
    (await run('npm', ['pack', '--pack-destination', destination], dir)).trim().split('\n').pop() ??
    ''
  return join(destination, name)
}

export interface Serving {
  url: string
  /** SIGTERM (as systemd sends it), then the exit code. */
  stop(): Promise<number | null>
}

/**
 * `pay-gate serve --port 0` in a project, through the bin npm linked (what `npx
 * pay-gate` runs), on this Node 22; resolves with the URL it prints.
 */
export function serve(
  project: string,
  args: string[],
  extraEnv: NodeJS.ProcessEnv
): Promise<Serving> {
  const bin = join(project, 'node_modules', '.bin', 'pay-gate')
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], {
    cwd: project,
    env: { ...env, ...extraEnv },
  })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  let output = ''
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += String(chunk)
      // The URL line and the summary line under it.
      const url = /serving (http:\/\/127\.0\.0\.1:\d+)\n[^\n]*\n/.exec(output)?.[1]
      if (url) {
        resolve({
          url,
          stop: async () => {
            child.kill('SIGTERM')
            return exited
          },
        })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exited.then((code) =>
      reject(new Error(`pay-gate serve exited (${code}) before listening:\n${output}`))
    )
  })
}
