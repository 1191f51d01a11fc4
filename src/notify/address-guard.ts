/**
 * @module notify/address-guard
 * Where operator webhooks may go. Without `OPERATOR_WEBHOOK_ALLOW_PRIVATE=1` a
 * webhook URL must be https and its host must not be a private, loopback,
 * link-local, metadata or otherwise special address, so a webhook setting can
 * never be turned into a request to the gate's own network (SSRF).
 *
 * IP literals are recognised in every spelling a resolver accepts: the WHATWG URL
 * parser already turns `http://2130706433/`, `http://0x7f.1/` and `http://0177.0.0.1/`
 * into `127.0.0.1`, and `hostAddress` parses the inet_aton forms again itself, so
 * the check does not depend on the parser having done so. IPv6 literals are
 * checked with their embedded IPv4 (mapped, NAT64, 6to4).
 *
 * Limit: DNS names are not resolved here (Workers have no resolver API), so a
 * public name whose record points at a private address is not caught by this check.
 */

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string }

/** IPv4 ranges that are not the public internet (RFC 6890 and friends): [network, prefix length]. */
const BLOCKED_V4: Array<[number, number]> = [
  [0x00000000, 8], // 0.0.0.0/8 "this network"
  [0x0a000000, 8], // 10/8 private
  [0x64400000, 10], // 100.64/10 carrier-grade NAT
  [0x7f000000, 8], // 127/8 loopback
  [0xa9fe0000, 16], // 169.254/16 link-local, cloud metadata (169.254.169.254)
  [0xac100000, 12], // 172.16/12 private
  [0xc0000000, 24], // 192.0.0/24 IETF protocol assignments
  [0xc0000200, 24], // 192.0.2/24 documentation
  [0xc0586300, 24], // 192.88.99/24 6to4 relay anycast
  [0xc0a80000, 16], // 192.168/16 private
  [0xc6120000, 15], // 198.18/15 benchmarking
  [0xc6336400, 24], // 198.51.100/24 documentation
  [0xcb007100, 24], // 203.0.113/24 documentation
  [0xe0000000, 4], // 224/4 multicast
  [0xf0000000, 4], // 240/4 reserved, and 255.255.255.255
]

/** Names that are, or commonly resolve to, the local machine or cloud metadata. */
const BLOCKED_NAMES =
  /^(localhost|metadata|metadata\.google\.internal|instance-data|ip6-localhost|ip6-loopback)$|\.(localhost|local|internal|localdomain|home\.arpa)$/

function inRange(address: number, [network, bits]: [number, number]): boolean {
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
  return (address & mask) >>> 0 === network
}

/** True when an IPv4 address (as a 32-bit number) is not a public unicast address. */
export function isBlockedIPv4(address: number): boolean {
  return BLOCKED_V4.some((range) => inRange(address, range))
}

/**
 * Parse an IPv4 literal the way inet_aton does: 1 to 4 parts, each decimal, octal
 * (leading 0) or hex (0x), the last part filling the remaining bytes. Null when
 * the text is not such a literal.
 */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.')
  if (parts.length > 4 || parts.some((part) => part === '')) return null
  const values: number[] = []
  for (const part of parts) {
    let value: number
    if (/^0x[0-9a-f]*$/i.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16)
    else if (/^0[0-7]+$/.test(part)) value = parseInt(part, 8)
    else if (/^(0|[1-9][0-9]*)$/.test(part)) value = Number(part)
    else return null
    if (!Number.isSafeInteger(value)) return null
    values.push(value)
  }
  const last = values.pop() as number
  if (values.some((value) => value > 255)) return null
  if (last >= 2 ** (8 * (4 - values.length))) return null
  let address = 0
  values.forEach((value, index) => {
    address += value * 2 ** (8 * (3 - index))
  })
  return address + last
}

/** Parse an IPv6 literal (no brackets, no zone) into 8 16-bit groups; null when malformed. */
export function parseIPv6(text: string): number[] | null {
  let body = text
  let tail: number[] = []
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    const address = /^(\d{1,3}\.){3}\d{1,3}$/.test(v4[2] as string)
      ? parseIPv4(v4[2] as string)
      : null
    if (address === null) return null
    body = (v4[1] as string).endsWith('::') ? (v4[1] as string) : (v4[1] as string).slice(0, -1)
    tail = [address >>> 16, address & 0xffff]
  }
  const halves = body.split('::')
  if (halves.length > 2) return null
  const groups = (half: string): number[] | null => {
    if (half === '') return []
    const out: number[] = []
    for (const group of half.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(group)) return null
      out.push(parseInt(group, 16))
    }
    return out
  }
  const head = groups(halves[0] as string)
  const rest = halves.length === 2 ? groups(halves[1] as string) : []
  if (head === null || rest === null) return null
  const known = head.length + rest.length + tail.length
  if (halves.length === 1) return known === 8 ? [...head, ...tail] : null
  if (known > 7) return null
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail]
}

/** True when an IPv6 address is not a public unicast address (or embeds a blocked IPv4). */
export function isBlockedIPv6(groups: number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups
  const embedded = ((g6 << 16) | g7) >>> 0
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0) {
    // IPv4-mapped ::ffff:a.b.c.d is that IPv4 address; the rest of ::/80 (::, ::1,
    // the deprecated IPv4-compatible form) is never a public destination.
    return g5 === 0xffff ? isBlockedIPv4(embedded) : true
  }
  if (g0 === 0x64 && g1 === 0xff9b) return isBlockedIPv4(embedded) // NAT64 64:ff9b::/96 (and /48 local use)
  if (g0 === 0x2002) return isBlockedIPv4(((g1 << 16) | g2) >>> 0) // 6to4
  if ((g0 & 0xfe00) === 0xfc00) return true // fc00::/7 unique local
  if ((g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0) return true // link-local, site-local
  if ((g0 & 0xff00) === 0xff00) return true // multicast
  if (g0 === 0x2001 && g1 === 0x0db8) return true // documentation
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return true // discard-only
  if (g0 === 0x2001 && g1 < 0x200) return true // IETF protocol assignments, Teredo
  return false
}

/** Why a URL host is not allowed, or null when it may be called. */
export function blockedHostReason(hostname: string): string | null {
  const host = hostname.toLowerCase().replace(/\.$/, '')
  if (host === '') return 'the URL has no host'
  if (host.startsWith('[')) {
    const groups = parseIPv6(host.slice(1, -1).replace(/%.*$/, ''))
    if (groups === null) return 'the host is not a valid IPv6 address'
    return isBlockedIPv6(groups)
      ? 'the host is a private, loopback, link-local or reserved IPv6 address'
      : null
  }
  const v4 = parseIPv4(host)
  if (v4 !== null)
    return isBlockedIPv4(v4)
      ? 'the host is a private, loopback, link-local or reserved IPv4 address'
      : null
  // Anything else that looks numeric is a literal some resolver might still take.
  if (/^[0-9.]+$/.test(host) || /^(0x[0-9a-f]*\.?)+$/i.test(host))
    return 'the host is an unusual IP literal'
  if (BLOCKED_NAMES.test(host)) return 'the host is a local or metadata name'
  if (!host.includes('.'))
    return 'the host is a single-label name, which resolves on local networks only'
  return null
}

/**
 * Check a webhook URL: https, no credentials, a public host; with `allowPrivate`,
 * http and any host are allowed (for a receiver on the operator's own machine).
 */
export function checkWebhookUrl(text: string, allowPrivate: boolean): UrlCheck {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return { ok: false, reason: 'not a valid URL' }
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) {
    return {
      ok: false,
      reason: allowPrivate ? 'the URL must be http or https' : 'the URL must be https',
    }
  }
  if (url.username || url.password)
    return { ok: false, reason: 'the URL must not carry credentials' }
  if (allowPrivate) return { ok: true, url }
  const reason = blockedHostReason(url.hostname)
  return reason ? { ok: false, reason } : { ok: true, url }
}
