/**
 * The SDK demo origin (scripts/demo-origin.ts: the official MCP SDK, one server and
 * transport built per stateless request) in a process of its own, for the bench's
 * `-sdk` scenarios: what the gate's figures look like in front of a real, costly
 * MCP server. In the bench's own process it would share one event loop with the
 * load generator. Prints `{"port":…}` (its MCP port) once listening; stops on
 * SIGTERM or when stdin closes (the bench died without stopping it).
 */
import { startDemoOrigin } from '../scripts/demo-origin'

const origin = await startDemoOrigin({ mcpPort: 0, apiPort: 0, quiet: true })
process.stdout.write(`${JSON.stringify({ port: origin.mcpPort })}\n`)
const stop = () => void origin.close().then(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.stdin.on('close', stop)
process.stdin.resume()
