/**
 * A CPU profile of the whole workerd process (all its threads) with Linux perf,
 * call stacks included, when perf is installed and allowed. Unlike the V8
 * inspector's profile, which samples wall time in one isolate's thread, perf counts
 * CPU only, and sees what runs outside JavaScript (the kernel's loopback TCP,
 * workerd's HTTP and RPC, SQLite, V8's GC). workerd started with
 * --perf-basic-prof writes /tmp/perf-<pid>.map, which names JIT-compiled functions
 * ("JS:*reserveCall gate.mjs:25931:21"), so a sample's stack tells which code of
 * ours it is under (perf-attribution.ts).
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

/** What workerd needs for perf to name JavaScript frames, interpreted ones included. */
export const PERF_V8_FLAGS = ['--perf-basic-prof', '--interpreted-frames-native-stack']

export interface Frame {
  /** Symbol as perf has it: mangled C++, a C name, Builtins_…, or "JS:…" from the JIT map. */
  symbol: string
  dso: string
}

/** One sample: its stack, innermost frame first. */
export type Sample = Frame[]

const onPath = (name: string) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, name)))

export const perfAvailable = () => onPath('perf')

export const SAMPLE_HZ = 1999

export interface PerfRecording {
  /** End the recording; its samples, or undefined when perf failed. */
  stop(): Promise<Sample[] | undefined>
}

/** Start sampling `pid` (all its threads) with call stacks. */
export function recordPerf(pid: number): PerfRecording {
  const dir = mkdtempSync(join(tmpdir(), 'pay-gate-perf-'))
  const file = join(dir, 'perf.data')
  const args = [
    'record',
    '-q',
    '-g',
    '-e',
    'cpu-clock',
    '-F',
    String(SAMPLE_HZ),
    '-p',
    String(pid),
    '-o',
    file,
  ]
  const child = spawn('perf', args, { stdio: 'ignore' })
  const exited = once(child, 'exit').catch(() => undefined)
  return {
    async stop() {
      try {
        child.kill('SIGINT')
        await exited
        if (!existsSync(file)) return undefined
        // Mangled names: far shorter than workerd's demangled templates; demangle() names the few printed.
        const script = spawnSync(
          'perf',
          ['script', '-i', file, '-F', 'ip,sym,dso', '--no-demangle'],
          {
            encoding: 'utf8',
            maxBuffer: 1024 * 1024 * 1024,
          }
        )
        return script.status === 0 ? parseScript(script.stdout, newestJitNames(pid)) : undefined
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

interface JitEntry {
  start: number
  end: number
  name: string
}

/**
 * V8 appends a line to /tmp/perf-<pid>.map for each piece of code it makes, and never
 * takes one out: once code is collected, its addresses are reused by newer code, and
 * perf, given several names for one address, keeps the oldest, so a hot function
 * would be named after whatever once lived there. Samples are taken after a
 * warm-up, so the newest name for an address is the right one: JIT frames are named
 * here instead, from the newest entries (newest first, a range dropped when it
 * overlaps one already kept). Sorted by address, for lookUp.
 */
function newestJitNames(pid: number): JitEntry[] {
  const path = `/tmp/perf-${pid}.map`
  if (!existsSync(path)) return []
  const entries: JitEntry[] = []
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line)
    if (!match) continue
    const start = Number.parseInt(match[1] as string, 16)
    entries.push({
      start,
      end: start + Number.parseInt(match[2] as string, 16),
      name: match[3] as string,
    })
  }
  const kept: JitEntry[] = []
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i] as JitEntry
    const at = firstEndingAfter(kept, entry.start)
    const next = kept[at]
    if (next && next.start < entry.end) continue // overlaps newer code
    kept.splice(at, 0, entry)
  }
  return kept
}

/** Index of the first entry (sorted, not overlapping) that ends after `address`. */
function firstEndingAfter(sorted: JitEntry[], address: number): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >> 1
    if ((sorted[middle] as JitEntry).end <= address) low = middle + 1
    else high = middle
  }
  return low
}

function lookUp(sorted: JitEntry[], address: number): string | undefined {
  const entry = sorted[firstEndingAfter(sorted, address)]
  return entry && entry.start <= address ? entry.name : undefined
}

/**
 * `perf script -F ip,sym,dso`: one frame a line ("  3c259ef _ZN7workerd…+0xbcf (/path/workerd)"),
 * samples apart by blank lines. Frames in JIT code are named from `jit`, not by perf.
 */
function parseScript(text: string, jit: JitEntry[]): Sample[] {
  const samples: Sample[] = []
  let current: Sample = []
  for (const line of text.split('\n')) {
    const match = /^\s*([0-9a-f]+)\s+(.*?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)\s*$/.exec(line)
    if (match) {
      const path = match[3] as string
      const dso = path.slice(path.lastIndexOf('/') + 1)
      const jitName =
        dso.startsWith('perf-') || dso === '[unknown]'
          ? lookUp(jit, Number.parseInt(match[1] as string, 16))
          : undefined
      current.push(jitName ? { symbol: jitName, dso: 'JIT' } : { symbol: match[2] as string, dso })
    } else if (line.trim() === '' && current.length > 0) {
      samples.push(current)
      current = []
    }
  }
  if (current.length > 0) samples.push(current)
  return samples
}

/** Readable C++ names for the few symbols printed (c++filt, when there). */
export function demangle(symbols: string[]): Map<string, string> {
  const names = new Map(symbols.map((symbol) => [symbol, symbol]))
  if (!onPath('c++filt') || symbols.length === 0) return names
  const result = spawnSync('c++filt', [], { input: symbols.join('\n'), encoding: 'utf8' })
  if (result.status !== 0) return names
  result.stdout.split('\n').forEach((name, index) => {
    const symbol = symbols[index]
    if (symbol !== undefined && name !== '') names.set(symbol, name)
  })
  return names
}
