/**
 * @module x402/wire
 * x402 v2 wire objects (x402-specification-v2 §5, transports-v2/http.md), with
 * zod schemas at every trust boundary: what a client sends and what a
 * facilitator answers. Ours, not @x402/core's: that package brings zod 3 and
 * Node-only code, and the gate needs only these shapes.
 */
import * as z from 'zod'

export const PaymentRequirementsSchema = z.object({
  scheme: z.string(),
  network: z.string(),
  amount: z.string(),
  asset: z.string(),
  payTo: z.string(),
  maxTimeoutSeconds: z.number(),
  extra: z.record(z.string(), z.unknown()).optional(),
})
export type PaymentRequirements = z.infer<typeof PaymentRequirementsSchema>

export const ResourceInfoSchema = z.object({
  url: z.string(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
})
export type ResourceInfo = z.infer<typeof ResourceInfoSchema>

export interface PaymentRequired {
  x402Version: 2
  error?: string
  resource: ResourceInfo
  accepts: PaymentRequirements[]
  extensions?: Record<string, unknown>
}

const Hex = (bytes: number) => z.string().regex(new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`))
const UintString = z.string().regex(/^(0|[1-9][0-9]{0,77})$/)

/** The `exact` scheme's EIP-3009 payload (scheme_exact_evm.md §EIP-3009). */
export const Eip3009PayloadSchema = z.object({
  signature: z.string().regex(/^0x([0-9a-fA-F]{2})+$/),
  authorization: z.object({
    from: Hex(20),
    to: Hex(20),
    value: UintString,
    validAfter: UintString,
    validBefore: UintString,
    nonce: Hex(32),
  }),
})
export type Eip3009Payload = z.infer<typeof Eip3009PayloadSchema>

export const PaymentPayloadSchema = z.object({
  x402Version: z.literal(2),
  resource: ResourceInfoSchema.optional(),
  accepted: PaymentRequirementsSchema,
  payload: z.record(z.string(), z.unknown()),
  extensions: z.record(z.string(), z.unknown()).optional(),
})
export type PaymentPayload = z.infer<typeof PaymentPayloadSchema>

/** What the gate answers in PAYMENT-RESPONSE and `_meta["x402/payment-response"]`. */
export interface SettlementResponse {
  success: boolean
  errorReason?: string
  payer?: string
  transaction: string
  network: string
  extra?: Record<string, unknown>
}

export const VerifyResponseSchema = z.object({
  isValid: z.boolean(),
  invalidReason: z.string().optional(),
  invalidMessage: z.string().optional(),
  payer: z.string().optional(),
})

export const SettleResponseSchema = z.object({
  success: z.boolean(),
  errorReason: z.string().optional(),
  errorMessage: z.string().optional(),
  payer: z.string().optional(),
  transaction: z.string(),
  network: z.string(),
})

/** Only ASCII: its UTF-8 bytes are its characters, so it needs no TextEncoder or TextDecoder. */
const ASCII = /^[\x00-\x7f]*$/

/** Standard base64 of UTF-8 JSON, as the x402 headers carry it. */
export function encodeHeader(value: unknown): string {
  const json = JSON.stringify(value)
  // The usual case (hex, numbers, ASCII names): btoa takes the text as it is.
  if (ASCII.test(json)) return btoa(json)
  const bytes = new TextEncoder().encode(json)
  let binary = ''
  for (let i = 0; i < bytes.length; i += 8192)
    binary += String.fromCharCode(...bytes.subarray(i, i + 8192))
  return btoa(binary)
}

/** Decode a base64 JSON header; null when it is not base64 of JSON. */
export function decodeHeader(text: string): unknown {
  const trimmed = text.trim()
  if (trimmed.length > 16_384 || !/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed)) return null
  try {
    const binary = atob(trimmed)
    if (ASCII.test(binary)) return JSON.parse(binary)
    // Anything else must be valid UTF-8 (a BOM is dropped, as TextDecoder does).
    const bytes = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
    return JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes))
  } catch {
    return null
  }
}
