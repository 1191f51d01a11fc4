/**
 * An MCP SDK event store for the test servers: events by stream, in order, so a
 * resumed stream replays only its own events after the given one (the SDK's
 * EventStore; server-everything's own store replays every stream's).
 */
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'

export class StreamEvents implements EventStore {
  private readonly events: Array<{ id: string; stream: string; message: JSONRPCMessage }> = []

  async storeEvent(stream: string, message: JSONRPCMessage): Promise<string> {
    const id = `${stream}.${this.events.length}`
    this.events.push({ id, stream, message })
    return id
  }

  async getStreamIdForEventId(id: string): Promise<string | undefined> {
    return this.events.find((event) => event.id === id)?.stream
  }

  async replayEventsAfter(
    last: string,
    { send }: { send: (id: string, message: JSONRPCMessage) => Promise<void> }
  ): Promise<string> {
    const at = this.events.findIndex((event) => event.id === last)
    const stream = this.events[at]?.stream ?? ''
    for (const event of this.events.slice(at + 1)) {
      // Priming events are stored empty: nothing to replay.
      if (event.stream === stream && Object.keys(event.message).length > 0)
        await send(event.id, event.message)
    }
    return stream
  }
}
