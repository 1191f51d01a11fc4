import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  checkAddress,
  checkDirectory,
  checkNetwork,
  checkOrigin,
  checkPrice,
  projectName,
  splitOrigin,
} from '../../src/validate'
import { useTempDir } from '../helpers'

// USDC on Base Sepolia, with its EIP-55 checksum.
const CHECKSUMMED = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'

describe('checkPrice', () => {
  it.each(['0.01', '1', '0.000001', '999'])('accepts %s', (price) => {
    expect(checkPrice(price)).toBeUndefined()
  })
  it.each(['0.0000001', '-1', '1e-3', '$1', '01', '0.1.2', ''])(
    'rejects %j with pay-gate’s message',
    (price) => {
      expect(checkPrice(price)).toMatch(/at most 6 decimals/)
    }
  )
  it('rejects 0: a default price of nothing is a free gate', () => {
    expect(checkPrice('0')).toMatch(/more than 0/)
    expect(checkPrice('0.000000')).toMatch(/more than 0/)
  })
})

describe('checkAddress', () => {
  it('accepts a checksummed address', () => {
    expect(checkAddress(CHECKSUMMED)).toBeUndefined()
  })
  it('rejects an all-lowercase address (no checksum catches a typo in it), showing the checksummed form', () => {
    expect(checkAddress(CHECKSUMMED.toLowerCase())).toMatch(/fails its EIP-55 checksum/)
    expect(checkAddress(CHECKSUMMED.toLowerCase())).toContain(CHECKSUMMED)
    // A mistyped last character: refused, not written into routes.json.
    expect(checkAddress(`${CHECKSUMMED.toLowerCase().slice(0, -1)}f`)).toMatch(
      /fails its EIP-55 checksum/
    )
  })
  it('rejects a mixed-case address whose checksum does not match, showing the checksummed form', () => {
    const typo = CHECKSUMMED.replace('CbD', 'Cbd')
    expect(checkAddress(typo)).toMatch(/fails its EIP-55 checksum/)
    expect(checkAddress(typo)).toContain(CHECKSUMMED)
  })
  it.each(['0x1234', 'abc', `${CHECKSUMMED}00`, CHECKSUMMED.slice(2)])(
    'rejects %j as not an address',
    (text) => {
      expect(checkAddress(text)).toMatch(/0x and 40 hex digits/)
    }
  )
  it('rejects the zero address', () => {
    expect(checkAddress(`0x${'0'.repeat(40)}`)).toMatch(/zero address/)
  })
})

describe('checkNetwork', () => {
  it.each(['eip155:84532', 'eip155:8453', 'eip155:1', 'eip155:43114'])('accepts %s', (network) => {
    expect(checkNetwork(network)).toBeUndefined()
  })
  it('rejects a network whose USDC pay-gate does not know, saying what to do', () => {
    expect(checkNetwork('eip155:10')).toMatch(/knows USDC on .*"asset"/)
  })
  it.each(['base', 'eip155:', 'eip155:0', 'solana:mainnet'])(
    'rejects %j as not an EVM CAIP-2 id',
    (network) => {
      expect(checkNetwork(network)).toMatch(/CAIP-2/)
    }
  )
})

describe('checkOrigin', () => {
  it.each([
    ['https://api.example.com', 'base'],
    ['http://127.0.0.1:8080/v1/', 'base'],
    ['http://127.0.0.1:3001/mcp', 'endpoint'],
    ['https://mcp.example.com/', 'endpoint'],
  ] as const)('accepts %s as %s', (url, mode) => {
    expect(checkOrigin(url, mode)).toBeUndefined()
  })
  it.each([
    ['api.example.com', /absolute http\(s\) URL/],
    ['ftp://example.com', /http:\/\/ or https:\/\//],
    ['localhost:3001/mcp', /e\.g\. "http:\/\/localhost:3001\/mcp"/],
    ['https://user:secret@example.com', /credentials/],
    ['https://example.com/?key=1', /query/],
  ])('rejects %s', (url, message) => {
    expect(checkOrigin(url, 'base')).toMatch(message)
  })
  it('rejects an MCP endpoint on a path the gate serves itself', () => {
    expect(checkOrigin('https://mcp.example.com/pricing', 'endpoint')).toMatch(/gate serves itself/)
  })
})

describe('splitOrigin', () => {
  it('serves an MCP endpoint under its own path, forwarding to its host', () => {
    expect(splitOrigin('https://mcp.example.com:8443/v1/mcp/', 'endpoint')).toEqual({
      origin: 'https://mcp.example.com:8443',
      path: '/v1/mcp',
    })
    expect(splitOrigin('https://mcp.example.com', 'endpoint').path).toBe('/')
  })
  it('forwards every API path to the base URL, base path included', () => {
    expect(splitOrigin('https://api.example.com/v1/', 'base')).toEqual({
      origin: 'https://api.example.com/v1',
      path: '/*',
    })
  })
})

describe('projectName', () => {
  it.each([
    ['my-gate', 'my-gate'],
    ['My Gate!', 'my-gate'],
    ['/srv/apps/Foo_Bar', 'foo-bar'],
    ['x'.repeat(80), 'x'.repeat(63)],
    ['!!!', ''],
  ])('%s → %j', (directory, name) => {
    expect(projectName(directory, '/tmp')).toBe(name)
  })
})

describe('checkDirectory', () => {
  const tempDir = useTempDir()

  it('accepts a folder that does not exist, or is empty apart from .git', () => {
    const cwd = tempDir()
    expect(checkDirectory('new-gate', cwd, false)).toBeUndefined()
    mkdirSync(join(cwd, 'cloned', '.git'), { recursive: true })
    expect(checkDirectory('cloned', cwd, false)).toBeUndefined()
  })

  it('refuses a folder with files in it, unless forced', () => {
    const cwd = tempDir()
    mkdirSync(join(cwd, 'busy'))
    writeFileSync(join(cwd, 'busy', 'notes.txt'), 'mine')
    expect(checkDirectory('busy', cwd, false)).toMatch(/not empty.*--force/)
    expect(checkDirectory('busy', cwd, true)).toBeUndefined()
  })

  it('refuses a file, and a name with nothing to name the project after', () => {
    const cwd = tempDir()
    writeFileSync(join(cwd, 'file'), '')
    expect(checkDirectory('file', cwd, true)).toMatch(/is a file/)
    expect(checkDirectory('___', cwd, false)).toMatch(/letter or a digit/)
  })
})
