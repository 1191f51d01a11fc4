/**
 * @module gate/key-tool-filter
 * A key's allow- and deny-lists also shape what it is shown: a `tools/list`
 * answer to a caller presenting a key lists only the tools that key may call.
 * Listing is free and never a payment, so when the key cannot be read the list
 * is shown whole; the calls themselves are refused by the key's account object.
 */
import { hashApiKey, holderView, looksLikeApiKey, presentedKey, toolVisible, type AccountNamespace } from '../credits'

/** The filter for the presented key's tools, or undefined when it sees them all. */
export async function keyToolFilter(namespace: AccountNamespace, headers: Headers): Promise<((tool: string) => boolean) | undefined> {
  const presented = presentedKey(headers)
  if (presented.kind === 'none' || !looksLikeApiKey(presented.key)) return undefined
  let view
  try {
    view = await holderView(namespace, await hashApiKey(presented.key))
  } catch {
    return undefined
  }
  const policy = view?.account.policy
  if (!policy || (policy.allowTools === null && policy.denyTools.length === 0)) return undefined
  return (tool) => toolVisible(policy, tool)
}
