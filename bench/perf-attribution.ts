/**
 * Whose CPU each perf sample is (perf.ts). Two views of the same samples:
 * - owner: the innermost frame of ours on the stack (a src/ folder, a library bundled
 *   in, or the bench's own Worker), so each owner's figure includes what its code
 *   calls (SQL under src/credits, the fetch set-up under src/proxy); a sample with no
 *   frame of ours is the runtime's, named by what its stack is doing (HTTP, RPC, GC…);
 * - kind: the innermost frame whatever called it (JavaScript, V8 builtins, SQLite,
 *   the kernel…): what sort of work the CPU did.
 * The heuristics read symbol names (mangled C++, "Builtins_…", "JS:…" from the JIT
 * map); a sample they do not place lands in an "other" row, never nowhere.
 */
import { groupOfModule, moduleOfLine } from './profile-groups'
import type { Frame, Sample } from './perf'

export interface Attribution {
  samples: number
  byOwner: Map<string, number>
  byKind: Map<string, number>
  /** Innermost function of ours, with what it calls: "name  module". */
  byFunction: Map<string, number>
  /** The same, split by what it called: "name  module → callee" (symbol, mangled; "(its own code)" when none). */
  byCallee: Map<string, number>
  /** Innermost frame (self time), by symbol. */
  bySymbol: Map<string, number>
}

/** A JIT map name: "JS:^insertHold gate.mjs:25612:20" (~ ^ + * mark the tier); "Script:~ x.mjs:1:1" for top-level code. */
const JS_FRAME = /^(?:JS|Script):\W*(\S*)\s+(\S+):(\d+):\d+$/

/** First name of a mangled C++ symbol: _ZN7workerd3api… → "workerd"; _ZNK2kj… → "kj"; _ZZN2v8… → "v8". */
function namespaceOf(symbol: string): string | undefined {
  const match = /^_Z+N?[KVrL]*(\d+)/.exec(symbol)
  if (!match) return undefined
  const length = Number(match[1])
  const start = (match.index ?? 0) + match[0].length
  return symbol.slice(start, start + length)
}

const isKernel = (frame: Frame) => frame.dso.includes('kernel')
const isJs = (frame: Frame) => frame.symbol.startsWith('JS:') || frame.symbol.startsWith('Script:')
const V8_GC =
  /Heap|Scaveng|MarkCompact|Sweeper|cppgc|GarbageCollect|ConcurrentMarking|MinorMS|Evacuat/
const V8_COMPILER = /compiler|maglev|Maglev|turboshaft|Compiler|baseline|Sparkplug|Compile/

/** The kind of code of one frame. */
function kindOfFrame(frame: Frame): string {
  const { symbol, dso } = frame
  if (isKernel(frame)) return 'kernel (syscalls, loopback TCP, scheduling)'
  if (isJs(frame)) return 'JavaScript (JIT-compiled and interpreted code)'
  if (/^(Builtins?_|Builtin:|BytecodeHandler:|Stub:|RegExp:)/.test(symbol))
    return 'V8 builtins (interpreter, ICs, JSON, strings)'
  if (/sqlite3/.test(symbol)) return 'SQLite'
  if (/tcmalloc|^(malloc|free|cfree|calloc|realloc)$|^_int_/.test(symbol)) return 'malloc and free'
  const ns = namespaceOf(symbol)
  if (ns === 'v8') return 'V8 runtime (API glue, objects, handles)'
  if (ns === 'kj') return 'KJ (promises, event loop, async I/O)'
  if (ns === 'capnp') return "Cap'n Proto (RPC, messages)"
  if (ns === 'workerd') return 'workerd (APIs, jsg glue, I/O context)'
  if (/hyper|tokio|kj_rs|^_R|core\d|alloc\d/.test(symbol)) return 'Rust (hyper HTTP, tokio)'
  if (/^lib(c|m|pthread|stdc\+\+)[.-]/.test(dso) || dso.startsWith('ld-linux'))
    return 'libc (memcpy, strings, locks)'
  return `other native (${dso})`
}

/** The kind of a whole sample: GC and compiling win over the frame they happen to be in. */
function kindOf(sample: Sample): string {
  const native = sample.filter(
    (frame) => !isJs(frame) && !isKernel(frame) && namespaceOf(frame.symbol) === 'v8'
  )
  if (native.some((frame) => V8_GC.test(frame.symbol))) return 'V8 garbage collector'
  if (native.some((frame) => V8_COMPILER.test(frame.symbol))) return 'V8 compiler (JIT)'
  return kindOfFrame(sample[0] as Frame)
}

/** What the runtime is doing in a sample with no frame of ours. */
function runtimeActivity(sample: Sample, kind: string): string {
  if (kind.startsWith('V8 garbage') || kind.startsWith('V8 compiler')) return `runtime: ${kind}`
  const has = (pattern: RegExp) =>
    sample.some((frame) => !isJs(frame) && pattern.test(frame.symbol))
  if (has(/sqlite3/)) return 'runtime: SQLite outside JS (commits, WAL)'
  if (has(/JsRpc|Rpc|5capnp/)) return 'runtime: RPC between Worker and Durable Object'
  if (has(/Http|http|hyper/)) return 'runtime: HTTP server and client'
  if (sample.every(isKernel)) return 'runtime: kernel only (interrupts, scheduling)'
  if (sample.some(isJs) || has(/^Builtins_/))
    return 'runtime: JS not ours (promise jobs, runtime JS)'
  return 'runtime: event loop and the rest'
}

/** Frames between our code and what it really calls: call trampolines and jsg's argument-unwrapping glue. */
const GLUE =
  /^(Builtins_(Call|JSEntry|InterpreterEntry|ArgumentsAdaptor|Construct|JSBuiltinsConstructStub|AsyncFunction|Await|InterpreterPush|RunMicrotasks|PromiseFulfill|Baseline|CEntry)|_ZZ?N7workerd3jsg14MethodCallback|_ZZ?N7workerd3jsg\d+(Constructor|Getter|Setter|Property|Static)|_ZN2v88internal12_GLOBAL__N_16Invoke|_ZN2v88internal25FunctionCallbackArguments|_ZN2v88internalL?\d+(Builtin_)?HandleApi)/

/** What the innermost frame of ours (at `index`) called: the first frame inside it that is not glue. */
function calleeOf(sample: Sample, index: number): string {
  for (let i = index - 1; i >= 0; i--) {
    const frame = sample[i] as Frame
    if (!GLUE.test(frame.symbol))
      return isKernel(frame) ? 'kernel' : frame.symbol || `(unnamed code in ${frame.dso})`
  }
  return '(its own code)'
}

/** Attribute samples; `sources` holds each bundle's text by its file name ("gate.mjs"). */
export function attribute(samples: Sample[], sources: Map<string, string>): Attribution {
  const modules = new Map([...sources].map(([name, text]) => [name, moduleOfLine(text)]))
  const byOwner = new Map<string, number>()
  const byKind = new Map<string, number>()
  const byFunction = new Map<string, number>()
  const byCallee = new Map<string, number>()
  const bySymbol = new Map<string, number>()
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)
  for (const sample of samples) {
    if (sample.length === 0) continue
    const kind = kindOf(sample)
    add(byKind, kind)
    add(bySymbol, `${(sample[0] as Frame).symbol}  [${(sample[0] as Frame).dso}]`)
    let owner: string | undefined
    for (const [index, frame] of sample.entries()) {
      const js = JS_FRAME.exec(frame.symbol)
      const moduleOf = js ? modules.get(js[2] as string) : undefined
      if (!js || !moduleOf) continue
      const module = moduleOf(Number(js[3]) - 1)
      owner = groupOfModule(module)
      const name = `${js[1] || '(anonymous)'}  ${module}`
      add(byFunction, name)
      add(byCallee, `${name} → ${calleeOf(sample, index)}`)
      break
    }
    add(byOwner, owner ?? runtimeActivity(sample, kind))
  }
  return { samples: samples.length, byOwner, byKind, byFunction, byCallee, bySymbol }
}
