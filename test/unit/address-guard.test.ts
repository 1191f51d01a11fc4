import { describe, expect, it } from 'vitest'
import {
  blockedHostReason,
  checkWebhookUrl,
  crossesDown,
  parseIPv4,
  parseIPv6,
} from '../../src/notify'

describe('webhook address guard', () => {
  it.each([
    // loopback, every notation
    'https://127.0.0.1/x',
    'https://127.1/x',
    'https://2130706433/x',
    'https://0x7f000001/x',
    'https://0x7f.0.0.1/x',
    'https://0177.0.0.1/x',
    'https://017700000001/x',
    'https://localhost/x',
    'https://LOCALHOST./x',
    'https://api.localhost/x',
    'https://[::1]/x',
    'https://[0:0:0:0:0:0:0:1]/x',
    'https://[::]/x',
    'https://0.0.0.0/x',
    'https://0/x',
    // private, link-local, metadata, CGNAT, multicast, reserved
    'https://10.1.2.3/x',
    'https://172.16.0.1/x',
    'https://172.31.255.255/x',
    'https://192.168.1.1/x',
    'https://169.254.169.254/latest/meta-data/',
    'https://0xa9fea9fe/x',
    'https://2852039166/x',
    'https://metadata.google.internal/x',
    'https://100.64.0.1/x',
    'https://224.0.0.1/x',
    'https://255.255.255.255/x',
    'https://[fd00::1]/x',
    'https://[fe80::1]/x',
    'https://[ff02::1]/x',
    'https://[::ffff:127.0.0.1]/x',
    'https://[::ffff:7f00:1]/x',
    'https://[::ffff:169.254.169.254]/x',
    'https://[64:ff9b::10.0.0.1]/x',
    'https://[2002:c0a8:0101::1]/x',
    'https://[::127.0.0.1]/x',
    'https://printer.local/x',
    'https://intranet/x',
  ])('refuses %s', (url) => {
    const result = checkWebhookUrl(url, false)
    expect(result.ok).toBe(false)
  })

  it.each([
    'https://hooks.example.com/pay-gate',
    'https://8.8.8.8/x',
    'https://[2606:4700::1111]/x',
    'https://[::ffff:8.8.8.8]/x',
    'https://172.32.0.1/x',
    'https://1.1.1.1:8443/x',
  ])('allows the public %s', (url) => {
    expect(checkWebhookUrl(url, false)).toMatchObject({ ok: true })
  })

  it('requires https unless private addresses are allowed, and never takes credentials', () => {
    expect(checkWebhookUrl('http://hooks.example.com/x', false)).toEqual({
      ok: false,
      reason: 'the URL must be https',
    })
    expect(checkWebhookUrl('http://127.0.0.1:8080/x', true)).toMatchObject({ ok: true })
    expect(checkWebhookUrl('https://user:pw@hooks.example.com/x', false)).toMatchObject({
      ok: false,
    })
    expect(checkWebhookUrl('ftp://hooks.example.com/x', true)).toMatchObject({ ok: false })
    expect(checkWebhookUrl('not a url', true)).toMatchObject({ ok: false })
  })

  it('parses IPv4 the way inet_aton does, independently of the URL parser', () => {
    expect(parseIPv4('127.0.0.1')).toBe(0x7f000001)
    expect(parseIPv4('2130706433')).toBe(0x7f000001)
    expect(parseIPv4('0x7f.1')).toBe(0x7f000001)
    expect(parseIPv4('0177.0.0.01')).toBe(0x7f000001)
    expect(parseIPv4('127.0.1')).toBe(0x7f000001)
    expect(parseIPv4('256.0.0.1')).toBeNull()
    expect(parseIPv4('1.2.3.4.5')).toBeNull()
    expect(parseIPv4('4294967296')).toBeNull()
    expect(parseIPv4('08.0.0.1')).toBeNull()
    expect(parseIPv4('example.com')).toBeNull()
    expect(blockedHostReason('0x7f.0x0.0x0.0x1')).not.toBeNull()
    expect(blockedHostReason('2130706433')).not.toBeNull()
  })

  it('parses IPv6, with embedded IPv4 and :: anywhere', () => {
    expect(parseIPv6('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1])
    expect(parseIPv6('fe80::')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 0])
    expect(parseIPv6('::ffff:10.0.0.1')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001])
    expect(parseIPv6('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(parseIPv6('1::2::3')).toBeNull()
    expect(parseIPv6('1:2:3:4:5:6:7:8:9')).toBeNull()
    expect(parseIPv6('12345::')).toBeNull()
  })
})

describe('low-balance crossing', () => {
  it('fires for exactly the hold that goes from at-or-above to below the threshold', () => {
    expect(crossesDown(1_200_000, 900_000, 1_000_000)).toBe(true)
    expect(crossesDown(1_000_000, 999_999, 1_000_000)).toBe(true)
    expect(crossesDown(1_300_000, 1_000_000, 1_000_000)).toBe(false)
    expect(crossesDown(900_000, 600_000, 1_000_000)).toBe(false)
    expect(crossesDown(2_000_000, 1_500_000, 1_000_000)).toBe(false)
  })
})
