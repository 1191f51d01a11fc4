/**
 * The demo origin in a process of its own, for the bench. In the bench's own
 * process it would share one event loop with the load generator, and each would
 * slow the other down in ways that have nothing to do with the gate.
 * Prints `{"mcpPort":…}` once listening; stops on SIGTERM or when stdin closes
 * (the bench died without stopping it).
 */
import { startDemoOrigin } from '../scripts/demo-origin'

const origin = await startDemoOrigin({ mcpPort: 0, apiPort: 0, quiet: true })
process.stdout.write(`${JSON.stringify({ mcpPort: origin.mcpPort, apiPort: origin.apiPort })}\n`)
const stop = () => void origin.close().then(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.stdin.on('close', stop)
process.stdin.resume()
