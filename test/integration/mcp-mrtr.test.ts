/**
 * MCP 2026-07-28 (issue 10): multi round-trip requests. A server that needs
 * input answers with an InputRequiredResult, which ends the request without
 * answering the call; the client retries with `inputResponses`, and that
 * request is the call. So the first is never charged, the retry is charged once.
 * No session, no GET stream: nothing depends on Mcp-Session-Id.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  charges,
  createKey,
  gate,
  mcpHeaders,
  mcpMessages,
  newTag,
  putRoutes,
  settledState,
} from '../helpers'

beforeEach(async () => {
  await putRoutes([
    {
      path: '/m/*',
      origin: env.SCRIPTED_ORIGIN,
      mcp: { price: '0.001', tools: { search: '0.01' } },
    },
  ])
})

const HEADERS = {
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'tools/call',
  'mcp-name': 'search',
}

function call(path: string, id: number, params: Record<string, unknown>, key: string) {
  const body = {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'search', arguments: { q: 'x' }, ...params },
  }
  return gate(path, {
    method: 'POST',
    headers: mcpHeaders(key, newTag(), HEADERS),
    body: JSON.stringify(body),
  })
}

for (const mode of ['json', 'sse']) {
  describe(`an InputRequiredResult (${mode})`, () => {
    it('is not charged; the retry carrying the input responses is charged once, on its result', async () => {
      const { id, key } = await createKey('1')
      const [first] = await mcpMessages(await call(`/m/mrtr,${mode}/mcp`, 1, {}, key))
      expect(first).toMatchObject({
        id: 1,
        result: {
          resultType: 'input_required',
          inputRequests: { city: { method: 'elicitation/create' } },
        },
      })
      expect(charges(await settledState(id))).toEqual([])
      const retry = {
        inputResponses: { city: { result: { action: 'accept', content: { city: 'Paris' } } } },
        requestState: 'round-1',
      }
      const [final] = await mcpMessages(await call(`/m/mrtr,${mode}/mcp`, 2, retry, key))
      expect(final).toMatchObject({ id: 2, result: { content: [{ type: 'text' }] } })
      const state = await settledState(id)
      expect(charges(state)).toEqual(['-0.01'])
      expect(state.credits).toBe('0.99')
    })
  })
}
