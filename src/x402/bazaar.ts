/**
 * @module x402/bazaar
 * The bazaar discovery extension of a PaymentRequired (specs/extensions/bazaar.md),
 * so a facilitator can catalogue the gate's paid resources from the payments it
 * sees: clients echo the extension into their PaymentPayload. Built by
 * @x402/extensions, the x402 SDK's own bazaar code, rather than by hand: its
 * `info` and JSON Schema are what the SDK's facilitators validate against, and
 * the wire format is still moving (MCP's `input.tool` became `input.toolName`).
 * Only its builder is used here, never its validator (Ajv compiles schemas with
 * `new Function`, which Workers refuse, and it is large).
 */
import { bazaarResourceServerExtension, declareDiscoveryExtension } from '@x402/extensions/bazaar'
import type { RouteDiscovery } from '../pricing'
import type { ResourceInfo } from './wire'

/** How the gate names an MCP tool as an x402 resource (transports-v2/mcp.md; gate/mcp-x402 mcpResource). */
export const MCP_TOOL_RESOURCE = 'mcp://tool/'

/** What the gate's MCP routes speak (MCP Streamable HTTP). */
const MCP_TRANSPORT = 'streamable-http'

/**
 * A tool's arguments as the gate knows them: any object. Its real schema is the
 * origin's (tools/list); bazaar requires one, and this one claims nothing false.
 */
const ANY_ARGUMENTS = { type: 'object' }

/**
 * The `extensions` of a PaymentRequired for `resource`: `{ bazaar }`, or none
 * where bazaar has nothing to describe (no discovery on the terms, such as
 * buying credits; an MCP method other than `tools/call`).
 */
export function discoveryExtensions(
  discovery: RouteDiscovery | undefined,
  resource: ResourceInfo
): Record<string, unknown> | undefined {
  if (!discovery) return undefined
  if (discovery.kind === 'mcp') {
    if (!resource.url.startsWith(MCP_TOOL_RESOURCE)) return undefined
    const toolName = resource.url.slice(MCP_TOOL_RESOURCE.length)
    const { description } = resource
    return declareDiscoveryExtension({
      toolName,
      inputSchema: ANY_ARGUMENTS,
      transport: MCP_TRANSPORT,
      ...(description ? { description } : {}),
    })
  }
  const { input, output } = discovery
  const examples = {
    ...(input?.schema ? { inputSchema: input.schema } : {}),
    ...(output
      ? { output: { example: output.example, ...(output.schema ? { schema: output.schema } : {}) } }
      : {}),
  }
  const declared =
    input?.body !== undefined || input?.bodyType !== undefined
      ? declareDiscoveryExtension({
          bodyType: input.bodyType ?? 'json',
          input: input.body ?? {},
          ...examples,
        })
      : declareDiscoveryExtension({ input: input?.queryParams ?? {}, ...examples })
  const path = new URL(resource.url).pathname
  // The SDK's resource-server step, as x402HTTPResourceServer runs it per request: it sets the
  // method (in `info` and narrowed in the schema) and, for a `:param` route, the catalogue key
  // `routeTemplate` and this path's `pathParams` (bazaar.md §Dynamic Routes). It reads only these.
  const request = {
    method: discovery.method,
    path,
    adapter: { getPath: () => path },
    ...(discovery.routeTemplate ? { routePattern: discovery.routeTemplate } : {}),
  }
  return {
    bazaar:
      bazaarResourceServerExtension.enrichDeclaration?.(declared.bazaar, request) ??
      declared.bazaar,
  }
}
