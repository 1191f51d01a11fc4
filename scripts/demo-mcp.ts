/**
 * The demo origin's MCP server: a handful of tools that exercise what the gate
 * meters (a priced call, a free one, progress notifications, tool errors, a
 * thrown error, a slow call), plus one resource and one prompt. Built with the
 * official SDK so the gate is tested against real MCP behaviour, not our idea of it.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'

/** Resolve after `ms`, or early when the caller cancels the request. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] })

/** A new server; the SDK needs one per connected transport (session or stateless request). */
export function buildMcpServer(): McpServer {
  const server = new McpServer({ name: 'pay-gate-demo-origin', version: '1.0.0' })

  server.registerTool(
    'search',
    {
      description: 'Search the demo corpus (returns 3 fake results).',
      inputSchema: { query: z.string() },
    },
    async ({ query }) =>
      text(
        [1, 2, 3]
          .map((n) => `${n}. Result ${n} for "${query}" - https://example.com/${n}`)
          .join('\n')
      )
  )

  server.registerTool(
    'generate-report',
    {
      description:
        'Write a report with the given number of sections, reporting progress per section.',
      inputSchema: { topic: z.string(), sections: z.number().int().min(1).max(50).default(3) },
    },
    async ({ topic, sections }, extra) => {
      const progressToken = extra._meta?.progressToken
      const parts: string[] = []
      for (let i = 1; i <= sections; i++) {
        await sleep(20, extra.signal)
        parts.push(`## Section ${i}\nNotes on ${topic}, part ${i}.`)
        // Only a caller that asked for progress (sent a progressToken) gets it.
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: {
              progressToken,
              progress: i,
              total: sections,
              message: `section ${i} of ${sections}`,
            },
          })
        }
      }
      return text(`# Report: ${topic}\n\n${parts.join('\n\n')}`)
    }
  )

  server.registerTool(
    'echo',
    { description: 'Return the text unchanged.', inputSchema: { text: z.string() } },
    async (args) => text(args.text)
  )

  server.registerTool(
    'fail',
    { description: 'Always answers with a tool error (isError: true).', inputSchema: {} },
    async () => ({
      ...text('this tool always fails'),
      isError: true,
    })
  )

  server.registerTool('crash', { description: 'Always throws.', inputSchema: {} }, async () => {
    throw new Error('the crash tool crashed, as it always does')
  })

  server.registerTool(
    'slow',
    {
      description: 'Wait ms milliseconds, then answer "done".',
      inputSchema: { ms: z.number().int().min(0).max(600_000) },
    },
    async ({ ms }, extra) => {
      await sleep(ms, extra.signal)
      return text('done')
    }
  )

  server.registerResource(
    'readme',
    'demo://readme',
    { title: 'Demo README', description: 'What this demo origin is.', mimeType: 'text/markdown' },
    async (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'text/markdown',
          text: '# pay-gate demo origin\n\nA tiny MCP server used to try and test pay-gate locally.',
        },
      ],
    })
  )

  server.registerPrompt(
    'summarize',
    { description: 'Ask for a short summary of a text.', argsSchema: { text: z.string() } },
    async (args) => ({
      messages: [
        {
          role: 'user',
          content: { type: 'text', text: `Summarize in one sentence:\n\n${args.text}` },
        },
      ],
    })
  )

  return server
}
