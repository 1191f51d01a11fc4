/**
 * A real local EVM chain for the x402 tests: anvil on a loopback port, TestUSDC deployed, payers funded.
 *
 *   const chain = await startChain()
 *   ... chain.rpcUrl, chain.token.address, chain.accounts.payers[0].privateKey ...
 *   await chain.stop()
 *
 * Runs in Node only (vitest globalSetup, tsx scripts): it spawns a process and reads files.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type Abi,
  type Address,
  type Chain as ViemChain,
  type Hex,
  type PublicClient,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  toHex,
} from 'viem'
import { mnemonicToAccount } from 'viem/accounts'

/** anvil's default mnemonic: its 10 dev accounts (10 000 ETH each) derive from it. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk'
export const CHAIN_ID = 31337
export const NETWORK = 'eip155:31337' as const
/** Where every real chain has Multicall3, and where @x402/evm's facilitator looks for it. */
export const MULTICALL3_ADDRESS: Address = '0xcA11bde05977b3631167028862bE2a173976CA11'

const HERE = dirname(fileURLToPath(import.meta.url))
/** 1 000 USDC in atomic units (6 decimals). */
const DEFAULT_PAYER_BALANCE = 1_000_000_000n
/**
 * Account roles (all anvil dev accounts hold 10 000 ETH): 0 facilitator gas payer, 1..8 payers,
 * 9 payTo, 10..19 spare (e.g. the gas payer of a second facilitator; see facilitator.ts `sender`).
 */
const FACILITATOR_INDEX = 0
const PAY_TO_INDEX = 9
const ACCOUNT_COUNT = 20

export interface ChainAccount {
  address: Address
  privateKey: Hex
}

export interface ChainOptions {
  /** Payers are anvil accounts 1..payerCount (max 8; 0 is the facilitator, 9 is payTo). Default 3. */
  payerCount?: number
  /** Atomic USDC minted to each payer. Default 1 000 USDC. */
  payerBalance?: bigint
  /** EIP-712 domain of the token. Defaults "USDC" / "2", as Base Sepolia's USDC. */
  tokenName?: string
  tokenVersion?: string
  /** Default 0: anvil binds a free port itself and prints it. */
  port?: number
  /** Bound on spawn + first RPC answer. Default 20 s. */
  startupTimeoutMs?: number
  /** Echo anvil's output to stderr (debugging). */
  verbose?: boolean
}

export interface Chain {
  rpcUrl: string
  chainId: typeof CHAIN_ID
  network: typeof NETWORK
  /** A viem chain pointing at rpcUrl, with multicall3 set. */
  viemChain: ViemChain
  publicClient: PublicClient
  token: { address: Address; name: string; version: string; decimals: 6 }
  accounts: { facilitator: ChainAccount; payers: ChainAccount[]; payTo: ChainAccount }
  /** anvil's process id, so a test can check that stop() really ended it. */
  pid: number
  balanceOf(address: Address): Promise<bigint>
  /** Mints atomic USDC to `to` (the token's mint is open) and waits for the receipt. */
  mint(to: Address, amount: bigint): Promise<void>
  /**
   * Moves chain time forward (evm_increaseTime + evm_mine). Global and irreversible for the shared
   * chain. Note: @x402/evm's facilitator checks validBefore/validAfter against the wall clock, while
   * the token checks block.timestamp, so afterwards they disagree by `seconds`.
   */
  timeTravel(seconds: number): Promise<void>
  /** Ends anvil: SIGTERM, then SIGKILL after 3 s. Idempotent. */
  stop(): Promise<void>
}

interface Artefact {
  abi: Abi
  bytecode: Hex
  deployedBytecode: Hex
  sourceSha256: string
}

/** Reads a compiled artefact and refuses one older than its .sol, so a stale JSON cannot mislead a test. */
export function loadArtefact(name: 'TestUSDC' | 'Multicall3'): Artefact {
  const artefact = JSON.parse(
    readFileSync(join(HERE, 'contracts', `${name}.json`), 'utf8')
  ) as Artefact
  const source = readFileSync(join(HERE, 'contracts', `${name}.sol`), 'utf8')
  if (createHash('sha256').update(source).digest('hex') !== artefact.sourceSha256) {
    throw new Error(`test/chain/contracts/${name}.json is stale: run \`tsx test/chain/compile.ts\``)
  }
  return artefact
}

/** Account `index` of anvil's default mnemonic, with its private key (tests sign with it). */
export function anvilAccount(index: number): ChainAccount {
  const account = mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: index })
  const key = account.getHdKey().privateKey
  if (!key) throw new Error(`no private key for anvil account ${index}`)
  return { address: account.address, privateKey: toHex(key) }
}

/**
 * The platform binary from @foundry-rs/anvil-<os>-<arch>. Spawning it directly (not the
 * node_modules/.bin/anvil Node wrapper) means the pid we hold is anvil itself, so a kill ends it.
 */
function anvilBinary(): string {
  if (process.env.ANVIL_BIN) return process.env.ANVIL_BIN
  const os = process.platform === 'win32' ? 'win32' : process.platform
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const exe = process.platform === 'win32' ? 'anvil.exe' : 'anvil'
  try {
    const path = createRequire(import.meta.url).resolve(
      `@foundry-rs/anvil-${os}-${arch}/bin/${exe}`
    )
    if (existsSync(path)) return path
  } catch {
    // Not installed for this platform: fall back to PATH.
  }
  return 'anvil'
}

/** Spawns anvil and resolves with its port once it prints "Listening on host:port". */
function spawnAnvil(
  options: ChainOptions
): Promise<{ child: ChildProcess; port: number; output: string[] }> {
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(options.port ?? 0),
    '--chain-id',
    String(CHAIN_ID),
    '--accounts',
    String(ACCOUNT_COUNT),
    '--mnemonic',
    ANVIL_MNEMONIC,
  ]
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  // Keep the tail of anvil's output for error messages. Reading it forever also matters: an
  // undrained pipe would block anvil once the OS buffer fills with its per-request log lines.
  const output: string[] = []
  const remember = (chunk: Buffer) => {
    const text = chunk.toString()
    if (options.verbose) process.stderr.write(text)
    output.push(...text.split('\n').filter(Boolean))
    if (output.length > 200) output.splice(0, output.length - 200)
  }
  child.stdout!.on('data', remember)
  child.stderr!.on('data', remember)

  return new Promise((resolve, reject) => {
    const timeoutMs = options.startupTimeoutMs ?? 20_000
    const fail = (why: string) => {
      cleanup()
      child.kill('SIGKILL')
      reject(new Error(`anvil did not start: ${why}\n${output.slice(-20).join('\n')}`))
    }
    const timer = setTimeout(() => fail(`no "Listening on" after ${timeoutMs} ms`), timeoutMs)
    const onData = () => {
      const match = /Listening on [^\s:]+:(\d+)/.exec(output.join('\n'))
      if (match) {
        cleanup()
        resolve({ child, port: Number(match[1]), output })
      }
    }
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited early (code ${code}, signal ${signal})`)
    const onError = (err: Error) => fail(err.message)
    function cleanup() {
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.off('exit', onExit)
      child.off('error', onError)
    }
    child.stdout!.on('data', onData)
    child.once('exit', onExit)
    child.once('error', onError)
  })
}

/** Polls eth_chainId until anvil answers, within a bound. */
async function waitForRpc(rpcUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        signal: AbortSignal.timeout(1_000),
      })
      const body = (await res.json()) as { result?: string }
      if (body.result && Number(body.result) === CHAIN_ID) return
      lastError = new Error(`unexpected eth_chainId answer ${JSON.stringify(body)}`)
    } catch (err) {
      lastError = err
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(
    `anvil RPC at ${rpcUrl} did not answer within ${timeoutMs} ms: ${String(lastError)}`
  )
}

/** Ends the process: SIGTERM, SIGKILL after graceMs; resolves once it has exited. */
function killProcess(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(hard)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

export async function startChain(options: ChainOptions = {}): Promise<Chain> {
  const payerCount = options.payerCount ?? 3
  if (payerCount < 1 || payerCount > 8) throw new Error('payerCount must be 1..8')
  const usdc = loadArtefact('TestUSDC')
  const multicall = loadArtefact('Multicall3')

  const { child, port } = await spawnAnvil(options)
  // If the test process exits without stop() (crash, process.exit), do not leave anvil behind.
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)
  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= killProcess(child).then(() => {
      process.off('exit', killOnExit)
    })
    return stopped
  }

  try {
    const rpcUrl = `http://127.0.0.1:${port}`
    await waitForRpc(rpcUrl, options.startupTimeoutMs ?? 20_000)

    const viemChain = defineChain({
      id: CHAIN_ID,
      name: 'Anvil (pay-gate tests)',
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [rpcUrl] } },
      contracts: { multicall3: { address: MULTICALL3_ADDRESS } },
    })
    // viem polls receipts every 4 s by default; anvil mines instantly, so poll fast.
    const transport = http(rpcUrl, { timeout: 10_000 })
    const publicClient = createPublicClient({ chain: viemChain, transport, pollingInterval: 50 })
    const testClient = createTestClient({
      mode: 'anvil',
      chain: viemChain,
      transport,
      pollingInterval: 50,
    })

    const facilitator = anvilAccount(FACILITATOR_INDEX)
    const payTo = anvilAccount(PAY_TO_INDEX)
    const payers = Array.from({ length: payerCount }, (_, i) => anvilAccount(i + 1))

    // Set-up transactions come from account 0 (the facilitator's gas account) before the facilitator
    // exists, so nothing competes for its nonces. With a fresh anvil, TestUSDC always lands at
    // 0x5FbDB2315678afecb367f032d93F642f64180aa3.
    const deployer = createWalletClient({
      account: mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: FACILITATOR_INDEX }),
      chain: viemChain,
      transport,
      pollingInterval: 50,
    })

    await testClient.setCode({ address: MULTICALL3_ADDRESS, bytecode: multicall.deployedBytecode })

    const tokenName = options.tokenName ?? 'USDC'
    const tokenVersion = options.tokenVersion ?? '2'
    const deployHash = await deployer.deployContract({
      abi: usdc.abi,
      bytecode: usdc.bytecode,
      args: [tokenName, tokenVersion],
    })
    const deployReceipt = await publicClient.waitForTransactionReceipt({
      hash: deployHash,
      timeout: 10_000,
    })
    if (deployReceipt.status !== 'success' || !deployReceipt.contractAddress)
      throw new Error('TestUSDC deployment failed')
    const tokenAddress = getAddress(deployReceipt.contractAddress) // checksummed, as a 402 would carry it

    const mint = async (to: Address, amount: bigint) => {
      const hash = await deployer.writeContract({
        address: tokenAddress,
        abi: usdc.abi,
        functionName: 'mint',
        args: [to, amount],
      })
      const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 10_000 })
      if (receipt.status !== 'success') throw new Error(`mint to ${to} reverted`)
    }
    const balanceOf = async (address: Address) =>
      (await publicClient.readContract({
        address: tokenAddress,
        abi: usdc.abi,
        functionName: 'balanceOf',
        args: [address],
      })) as bigint

    const payerBalance = options.payerBalance ?? DEFAULT_PAYER_BALANCE
    for (const payer of payers) await mint(payer.address, payerBalance)

    return {
      rpcUrl,
      chainId: CHAIN_ID,
      network: NETWORK,
      viemChain,
      publicClient,
      token: { address: tokenAddress, name: tokenName, version: tokenVersion, decimals: 6 },
      accounts: { facilitator, payers, payTo },
      pid: child.pid!,
      balanceOf,
      mint,
      async timeTravel(seconds: number) {
        await testClient.increaseTime({ seconds })
        await testClient.mine({ blocks: 1 })
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
