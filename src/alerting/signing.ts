import { createHmac, timingSafeEqual } from "node:crypto"
import { Data, Either } from "effect"

/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing, version `v1`:
 * `webhook-signature: v1,<base64 HMAC-SHA256(key, "${id}.${timestamp}.${body}")>`.
 *
 * Secret → key bytes: a `whsec_<base64>` secret (the spec's format) is base64-decoded after the
 * prefix; any other string is used as its UTF-8 bytes, so tenants may configure a plain shared
 * secret and verify with an ordinary HMAC.
 */
export type WebhookHeaders = {
  readonly "webhook-id": string
  readonly "webhook-timestamp": string
  readonly "webhook-signature": string
}

export type HeaderBag = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

export class WebhookVerifyError extends Data.TaggedError("alerting/WebhookVerifyError")<{
  readonly reason: "missing-header" | "invalid-timestamp" | "timestamp-too-old" | "timestamp-too-new" | "no-matching-signature"
}> {}

const SECRET_PREFIX = "whsec_"

export const secretKey = (secret: string): Buffer =>
  secret.startsWith(SECRET_PREFIX)
    ? Buffer.from(secret.slice(SECRET_PREFIX.length), "base64")
    : Buffer.from(secret, "utf8")

/** Standard Webhooks secrets are 24-64 random bytes; anything shorter is refused when settings are saved. */
export const MIN_SECRET_BYTES = 24

/**
 * Why a secret may not be configured, or undefined. A `whsec_` value must be base64 after the prefix:
 * Node's lenient decoder turns anything else into a short or empty HMAC key without complaint.
 * The message never repeats the secret.
 */
export const secretProblem = (secret: string): string | undefined => {
  if (secret.startsWith(SECRET_PREFIX)) {
    const rest = secret.slice(SECRET_PREFIX.length)
    const bytes = Buffer.from(rest, "base64")
    const canonical = /^[A-Za-z0-9+/]+={0,2}$/.test(rest) && bytes.toString("base64").replace(/=+$/, "") === rest.replace(/=+$/, "")
    if (!canonical) return "a whsec_ secret must be base64 after the prefix"
    return bytes.length < MIN_SECRET_BYTES ? `a whsec_ secret must decode to at least ${MIN_SECRET_BYTES} bytes (this one: ${bytes.length})` : undefined
  }
  const n = Buffer.byteLength(secret, "utf8")
  return n < MIN_SECRET_BYTES ? `must be at least ${MIN_SECRET_BYTES} bytes (this one: ${n}); e.g. whsec_ and the base64 of 32 random bytes` : undefined
}

const hmac = (key: Buffer, id: string, timestamp: string, body: string): Buffer =>
  createHmac("sha256", key).update(`${id}.${timestamp}.${body}`, "utf8").digest()

export const sign = (input: {
  readonly id: string
  readonly timestampSec: number
  readonly body: string
  readonly secret: string
}): WebhookHeaders => {
  const timestamp = String(Math.floor(input.timestampSec))
  const signature = hmac(secretKey(input.secret), input.id, timestamp, input.body).toString("base64")
  return { "webhook-id": input.id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${signature}` }
}

const header = (headers: HeaderBag, name: string): string | undefined => {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name)
  const value = key === undefined ? undefined : headers[key]
  return typeof value === "string" ? value : value?.[0]
}

/**
 * Accepts when any `v1,` entry of the space-separated signature header matches (senders list
 * several while rotating secrets); other versions are ignored. Timestamps outside
 * `nowSec ± toleranceSec` are rejected to bound replay.
 */
export const verify = (input: {
  readonly headers: HeaderBag
  readonly body: string
  readonly secret: string
  readonly toleranceSec?: number
  readonly nowSec: number
}): Either.Either<void, WebhookVerifyError> => {
  const id = header(input.headers, "webhook-id")
  const timestamp = header(input.headers, "webhook-timestamp")
  const signatures = header(input.headers, "webhook-signature")
  if (id === undefined || timestamp === undefined || signatures === undefined) {
    return Either.left(new WebhookVerifyError({ reason: "missing-header" }))
  }
  if (!/^\d+$/.test(timestamp)) return Either.left(new WebhookVerifyError({ reason: "invalid-timestamp" }))
  const tolerance = input.toleranceSec ?? 300
  const ts = Number(timestamp)
  if (ts < input.nowSec - tolerance) return Either.left(new WebhookVerifyError({ reason: "timestamp-too-old" }))
  if (ts > input.nowSec + tolerance) return Either.left(new WebhookVerifyError({ reason: "timestamp-too-new" }))

  const expected = hmac(secretKey(input.secret), id, timestamp, input.body)
  const matches = signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",", 2)
    if (version !== "v1" || value === undefined) return false
    const candidate = Buffer.from(value, "base64")
    return candidate.length === expected.length && timingSafeEqual(candidate, expected)
  })
  return matches ? Either.void : Either.left(new WebhookVerifyError({ reason: "no-matching-signature" }))
}

export const isValid = (input: Parameters<typeof verify>[0]): boolean => Either.isRight(verify(input))
