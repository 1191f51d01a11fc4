/**
 * Runs in Node before the workerd test pool, and hands plain values to the
 * tests' bindings:
 * - the demo origin: a real MCP server built with the official SDK, and a plain
 *   HTTP API, on loopback ports;
 * - a real chain (anvil) with an EIP-3009 USDC-like token, and two x402
 *   facilitators built on @x402/evm's own verify/settle code: one for the normal
 *   paths, one whose faults the fault tests switch (its own gas account, so the
 *   two never race for transaction nonces).
 * - the MCP project's reference server, @modelcontextprotocol/server-everything,
 *   as a child process (test/origins/everything.ts);
 * - an operator-webhook receiver that checks signatures (test/webhook-receiver.ts);
 * - this machine's host name when it resolves to a loopback address (as
 *   /etc/hosts usually makes it), with a server listening on that address, for
 *   the test that a name, not an address, pointing at a private host is
 *   refused; empty otherwise.
 * Everything is stopped afterwards.
 */
import { lookup } from 'node:dns/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import type { TestProject } from 'vitest/node'
import { startDemoOrigin } from '../scripts/demo-origin'
import { anvilAccount, startChain } from './chain/chain'
import { startFacilitator } from './chain/facilitator'
import { startEverything } from './origins/everything'
import { startScriptedOrigin } from './origins/scripted-mcp'
import { startSdkPollingOrigin } from './origins/sdk-polling'
import { startWebhookReceiver } from './webhook-receiver'

export interface ChainContext {
  rpcUrl: string
  network: string
  token: { address: string; name: string; version: string; decimals: number }
  payerKeys: string[]
  payTo: string
  facilitatorUrl: string
  faultyFacilitatorUrl: string
  faultyControlUrl: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    mcpPort: number
    scriptedPort: number
    pollingPort: number
    everythingOrigin: string
    apiPort: number
    chain: ChainContext
    webhookPort: number
    loopbackHostname: string
    loopbackHostnamePort: number
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const origin = await startDemoOrigin({ mcpPort: 0, apiPort: 0, quiet: true })
  const chain = await startChain({ payerCount: 8 })
  const facilitator = await startFacilitator({ chain })
  const faulty = await startFacilitator({ chain, sender: anvilAccount(10) })
  project.provide('mcpPort', origin.mcpPort)
  // The MCP origin that frames and chunks its answers as each test asks (test/origins/scripted-mcp.ts).
  const scripted = await startScriptedOrigin()
  project.provide('scriptedPort', scripted.port)
  // An SDK server that closes its POST streams and answers on resumed ones (test/origins/sdk-polling.ts).
  const polling = await startSdkPollingOrigin()
  project.provide('pollingPort', polling.port)
  // A server no one here wrote: the MCP project's "everything" reference server.
  const everything = await startEverything()
  project.provide('everythingOrigin', everything.url)
  project.provide('apiPort', origin.apiPort)
  // The operator-webhook receiver (test/webhook-receiver.ts).
  const webhooks = await startWebhookReceiver()
  project.provide('webhookPort', webhooks.port)
  const named = await startNamedLoopbackServer()
  project.provide('loopbackHostname', named.name)
  project.provide('loopbackHostnamePort', named.port)
  project.provide('chain', {
    rpcUrl: chain.rpcUrl,
    network: chain.network,
    token: chain.token,
    payerKeys: chain.accounts.payers.map((payer) => payer.privateKey),
    payTo: chain.accounts.payTo.address,
    facilitatorUrl: facilitator.url,
    faultyFacilitatorUrl: faulty.url,
    faultyControlUrl: faulty.controlUrl,
  })
  return async () => {
    await faulty.close()
    await facilitator.close()
    await chain.stop()
    await origin.close()
    await scripted.close()
    await polling.close()
    await everything.close()
    await webhooks.close()
    await named.close()
  }
}

/**
 * This machine's name, if it resolves to one IPv4 loopback address (127.0.0.1,
 * or 127.0.1.1 as Debian's /etc/hosts has it), with a server listening there that
 * answers 200: the test checks that plain fetch reaches it by name and the
 * public-only network refuses it. The name is empty where it resolves otherwise.
 */
async function startNamedLoopbackServer(): Promise<{
  name: string
  port: number
  close: () => Promise<void>
}> {
  const none = { name: '', port: 0, close: async () => {} }
  const name = hostname()
  if (/^localhost$/i.test(name)) return none
  const addresses = await lookup(name, { all: true }).catch(() => [])
  const [first] = addresses
  if (
    !first ||
    first.family !== 4 ||
    !first.address.startsWith('127.') ||
    addresses.some(({ address }) => address !== first.address)
  )
    return none
  const server = createServer((_request, response) => response.end('ok'))
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(0, first.address, () => resolve(true))
  })
  if (!listening) return none
  const { port } = server.address() as AddressInfo
  return { name, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}
