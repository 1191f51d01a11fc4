/**
 * CPU time of the processes under test, read from /proc (Linux only; elsewhere
 * the figures are simply left out). CPU per request is the steadier measure of
 * what a Worker costs when everything shares two cores: throughput moves with
 * whatever else the machine does, the work per request much less.
 */
import { readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100 // USER_HZ; 100 on every Linux we run on

/** User + system CPU seconds a process has used, or NaN when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the ")" that closes the command name: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return Number.NaN
  }
}

/**
 * CPU seconds of this process plus those of its children that have exited and been
 * waited for (cutime, cstime): the bench's own cost, with each finished wrk run's.
 */
export function ownAndChildrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (
      (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) /
      TICKS_PER_SECOND
    )
  } catch {
    const own = process.cpuUsage()
    return (own.user + own.system) / 1e6
  }
}

/** CPU seconds the whole machine has been busy (all cores: not idle, not waiting on I/O). */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    const ticks = line.trim().split(/\s+/).slice(1).map(Number)
    const total = ticks.reduce((sum, n) => sum + n, 0)
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
    return (total - idle) / TICKS_PER_SECOND
  } catch {
    return Number.NaN
  }
}
