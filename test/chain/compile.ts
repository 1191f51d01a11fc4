/**
 * Compiles the test contracts with solc-js (in-process, no network) and writes the artefacts the
 * chain harness deploys:
 *   contracts/TestUSDC.json   { contractName, abi, bytecode, ... }
 *   contracts/Multicall3.json { contractName, abi, bytecode, deployedBytecode, ... }
 * The artefacts are committed so tests never compile. Re-run after editing a .sol file:
 *
 *   tsx test/chain/compile.ts
 *
 * Each artefact records the sha256 of its source; chain.ts refuses a stale artefact.
 */
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import solc from 'solc'

const CONTRACTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'contracts')
const CONTRACTS = ['TestUSDC', 'Multicall3'] as const

// 'cancun' rather than solc's newest default, so the bytecode also runs on older anvil hardforks.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
}

interface SolcError {
  severity: 'error' | 'warning' | 'info'
  formattedMessage: string
}
interface SolcContract {
  abi: unknown[]
  evm: { bytecode: { object: string }; deployedBytecode: { object: string } }
}
interface SolcOutput {
  errors?: SolcError[]
  contracts?: Record<string, Record<string, SolcContract>>
}

export function sourceSha256(source: string): string {
  return createHash('sha256').update(source).digest('hex')
}

export function compileAll(): void {
  const sources: Record<string, { content: string }> = {}
  for (const name of CONTRACTS) {
    sources[`${name}.sol`] = { content: readFileSync(join(CONTRACTS_DIR, `${name}.sol`), 'utf8') }
  }
  const input = { language: 'Solidity', sources, settings: SETTINGS }
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput

  const problems = output.errors ?? []
  for (const p of problems) console.error(p.formattedMessage)
  if (problems.some((p) => p.severity === 'error'))
    throw new Error('solc reported errors (see above)')

  for (const name of CONTRACTS) {
    const compiled = output.contracts?.[`${name}.sol`]?.[name]
    if (!compiled) throw new Error(`solc produced no output for ${name}`)
    const artefact = {
      contractName: name,
      abi: compiled.abi,
      bytecode: `0x${compiled.evm.bytecode.object}`,
      deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
      compiler: {
        solc: solc.version() as string,
        settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion },
      },
      sourceSha256: sourceSha256(sources[`${name}.sol`]!.content),
    }
    const file = join(CONTRACTS_DIR, `${name}.json`)
    writeFileSync(file, `${JSON.stringify(artefact, null, 2)}\n`)
    console.log(`wrote ${file} (${(artefact.bytecode.length - 2) / 2} bytes of init code)`)
  }
}

// Script usage only; importing this module (for sourceSha256) must not compile.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) compileAll()
