/**
 * @module gate/key-tool-filter
 * A key's allow- and deny-lists also shape what it is shown: a `tools/list`
 * answer to a caller presenting a key lists only the tools that key may call.
 * MCP clients send their key with every request, so the lists are remembered per
 * isolate for a few seconds rather than asked of the key's account on every
 * listing. Listing is free and never a payment: a list changed moments ago, or
 * a key that cannot be read, at worst shows a tool whose calls the key's account
 * object refuses anyway.
 */
import {
  hashApiKey,
  keyToolLists,
  looksLikeApiKey,
  toolVisible,
  type AccountNamespace,
  type Caller,
  type KeyPolicy,
} from '../credits'

type ToolLists = Pick<KeyPolicy, 'allowTools' | 'denyTools'>

/** How long a key's lists are used before its account is asked again. */
const LISTS_TTL_MS = 10_000
const LISTS_REMEMBERED = 1024

const remembered = new Map<string, { lists: ToolLists | null; until: number }>()

async function listsOf(namespace: AccountNamespace, keyHash: string): Promise<ToolLists | null> {
  const now = Date.now()
  const known = remembered.get(keyHash)
  if (known && known.until > now) return known.lists
  const lists = await keyToolLists(namespace, keyHash)
  if (remembered.size >= LISTS_REMEMBERED) remembered.clear()
  remembered.set(keyHash, { lists, until: now + LISTS_TTL_MS })
  return lists
}

/** The filter for the caller's key's tools (an OAuth token's: its key's), or undefined when it sees them all. */
export async function keyToolFilter(
  namespace: AccountNamespace,
  presented: Caller
): Promise<((tool: string) => boolean) | undefined> {
  if (presented.kind === 'none' || (presented.kind === 'key' && !looksLikeApiKey(presented.key)))
    return undefined
  let lists
  try {
    lists = await listsOf(
      namespace,
      presented.kind === 'token' ? presented.keyHash : await hashApiKey(presented.key)
    )
  } catch {
    return undefined
  }
  if (!lists || (lists.allowTools === null && lists.denyTools.length === 0)) return undefined
  return (tool) => toolVisible(lists, tool)
}
