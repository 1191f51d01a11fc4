/**
 * Runs in Node before the workerd test pool: starts the demo origin (a real MCP
 * server built with the official SDK, and a plain HTTP API) on loopback ports
 * and hands the ports to the tests' bindings. Stops it afterwards.
 */
import type { TestProject } from 'vitest/node'
import { startDemoOrigin } from '../scripts/demo-origin'

declare module 'vitest' {
  export interface ProvidedContext {
    mcpPort: number
    apiPort: number
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const origin = await startDemoOrigin({ mcpPort: 0, apiPort: 0, quiet: true })
  project.provide('mcpPort', origin.mcpPort)
  project.provide('apiPort', origin.apiPort)
  return () => origin.close()
}
