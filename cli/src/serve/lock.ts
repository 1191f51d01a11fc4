/**
 * One `pay-gate serve` per data folder. Two workerd processes on one folder
 * would each run their own copy of every account object over the same SQLite
 * files, and their balances would diverge; so the second one refuses to start.
 *
 * The lock is a file in the data folder holding the pid of the serve that holds
 * it. It appears whole or not at all (written aside, then hard-linked into place,
 * which fails if a lock is there), so nobody reads a half-written one. A lock
 * whose process is gone (killed, crashed, the machine restarted) is taken over.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CliError } from '../ui'

export const LOCK_FILE = 'pay-gate-serve.lock'

export interface DataLock {
  /** Remove the lock, if it is still ours. */
  release(): void
}

/** Whether a process with this pid runs (EPERM: it does, as another user). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The pid a lock file names; undefined when it is gone or holds no pid. */
function holderOf(path: string): number | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
  const pid = Number(text.trim())
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
}

const code = (error: unknown) => (error as NodeJS.ErrnoException).code

/** Put a lock naming this process in place; false when a lock is already there. */
function tryCreate(path: string): boolean {
  const aside = `${path}.${process.pid}`
  writeFileSync(aside, `${process.pid}\n`)
  try {
    linkSync(aside, path)
    return true
  } catch (error) {
    if (code(error) === 'EEXIST') return false
    throw error
  } finally {
    unlinkSync(aside)
  }
}

/**
 * Remove a lock whose holder is gone. It is moved aside first (one atomic step);
 * if what was moved names another pid, another serve took the lock over in the
 * meantime, and it is put back.
 */
function removeStale(path: string, stale: number | undefined): void {
  const moved = `${path}.stale.${process.pid}`
  try {
    renameSync(path, moved)
  } catch (error) {
    if (code(error) === 'ENOENT') return
    throw error
  }
  if (holderOf(moved) !== stale) {
    try {
      linkSync(moved, path)
    } catch {
      // Yet another lock is in place: it decides.
    }
  }
  unlinkSync(moved)
}

/**
 * Take the data folder's lock, or refuse with the pid that holds it.
 * @throws CliError when another live process holds it
 * @example const lock = lockDataFolder(dataDir); try { … } finally { lock.release() }
 */
export function lockDataFolder(dataDir: string): DataLock {
  const path = join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 5; attempt++) {
    let created: boolean
    try {
      created = tryCreate(path)
    } catch (error) {
      throw new CliError(
        `cannot lock the data folder ${dataDir}: ${code(error) ?? (error as Error).message}`,
        'pay-gate serve needs to write in its data folder.'
      )
    }
    if (created) {
      const release = () => {
        process.removeListener('exit', release)
        if (holderOf(path) === process.pid) unlinkSync(path)
      }
      // A stop that skips `finally` (a second Ctrl-C exits at once) still lets go.
      process.on('exit', release)
      return { release }
    }
    const holder = holderOf(path)
    if (holder !== undefined && holder !== process.pid && running(holder)) {
      throw new CliError(
        `the data folder ${dataDir} is in use by another pay-gate serve (pid ${holder})`,
        `Two gates on one folder would each keep their own balances. Stop that one, or pass another --data. If no pay-gate runs as pid ${holder}, delete ${path}.`
      )
    }
    removeStale(path, holder)
  }
  throw new CliError(
    `cannot lock the data folder ${dataDir}: its lock keeps changing`,
    'Is another pay-gate serve starting on it?'
  )
}
