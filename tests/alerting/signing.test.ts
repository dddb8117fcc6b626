import { createHmac } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { isValid, secretKey, sign, verify } from "../../src/alerting/signing.ts"

// The published Standard Webhooks test vector (also used by the svix / standardwebhooks libraries).
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestampSec: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
} as const

const vectorHeaders = (signature: string = VECTOR.signature, timestamp = String(VECTOR.timestampSec)) => ({
  "webhook-id": VECTOR.id,
  "webhook-timestamp": timestamp,
  "webhook-signature": signature
})

const reasonOf = (input: Parameters<typeof verify>[0]) =>
  Either.match(verify(input), { onLeft: (e) => e.reason, onRight: () => "ok" })

describe("signing", () => {
  it("reproduces the Standard Webhooks test vector", () => {
    expect(sign(VECTOR)).toEqual(vectorHeaders())
  })

  it("verifies the test vector", () => {
    const base = { headers: vectorHeaders(), body: VECTOR.body, secret: VECTOR.secret, nowSec: VECTOR.timestampSec }
    expect(reasonOf(base)).toBe("ok")
    expect(reasonOf({ ...base, body: '{"test": 2432232315}' })).toBe("no-matching-signature")
    expect(reasonOf({ ...base, secret: "whsec_" + Buffer.from("other").toString("base64") })).toBe("no-matching-signature")
  })

  it("uses the UTF-8 bytes of a secret without the whsec_ prefix", () => {
    const secret = "plain shared sécret"
    const expected = createHmac("sha256", Buffer.from(secret, "utf8")).update("m1.1700000000.{}").digest("base64")
    expect(sign({ id: "m1", timestampSec: 1700000000, body: "{}", secret })["webhook-signature"]).toBe(`v1,${expected}`)
    expect(secretKey(secret)).toEqual(Buffer.from(secret, "utf8"))
  })

  it("accepts any matching v1 entry among several and ignores other versions", () => {
    const base = { body: VECTOR.body, secret: VECTOR.secret, nowSec: VECTOR.timestampSec }
    const wrong = "v1," + Buffer.alloc(32, 7).toString("base64")
    expect(reasonOf({ ...base, headers: vectorHeaders(`${wrong} v1a,abc ${VECTOR.signature}`) })).toBe("ok")
    expect(reasonOf({ ...base, headers: vectorHeaders(`${wrong} v1a,abc`) })).toBe("no-matching-signature")
    expect(reasonOf({ ...base, headers: vectorHeaders(`v2,${VECTOR.signature.slice(3)}`) })).toBe("no-matching-signature")
    expect(reasonOf({ ...base, headers: vectorHeaders("v1,short") })).toBe("no-matching-signature")
    expect(reasonOf({ ...base, headers: vectorHeaders("garbage") })).toBe("no-matching-signature")
  })

  it("enforces the timestamp tolerance (default 300 s) in both directions", () => {
    const base = { headers: vectorHeaders(), body: VECTOR.body, secret: VECTOR.secret }
    expect(reasonOf({ ...base, nowSec: VECTOR.timestampSec + 300 })).toBe("ok")
    expect(reasonOf({ ...base, nowSec: VECTOR.timestampSec + 301 })).toBe("timestamp-too-old")
    expect(reasonOf({ ...base, nowSec: VECTOR.timestampSec - 301 })).toBe("timestamp-too-new")
    expect(reasonOf({ ...base, nowSec: VECTOR.timestampSec + 1000, toleranceSec: 1000 })).toBe("ok")
    expect(reasonOf({ ...base, headers: vectorHeaders(VECTOR.signature, "12abc"), nowSec: 0 })).toBe("invalid-timestamp")
  })

  it("reads headers case-insensitively and reports missing ones", () => {
    const headers = { "Webhook-Id": VECTOR.id, "WEBHOOK-TIMESTAMP": [String(VECTOR.timestampSec)], "webhook-signature": VECTOR.signature }
    expect(isValid({ headers, body: VECTOR.body, secret: VECTOR.secret, nowSec: VECTOR.timestampSec })).toBe(true)
    const { "webhook-id": _, ...withoutId } = vectorHeaders()
    expect(reasonOf({ headers: withoutId, body: VECTOR.body, secret: VECTOR.secret, nowSec: VECTOR.timestampSec })).toBe(
      "missing-header"
    )
  })

  it("round-trips sign → verify and rejects any altered body", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.string(),
        fc.string({ minLength: 1 }),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        (id, body, secret, timestampSec) => {
          const headers = sign({ id, timestampSec, body, secret })
          expect(isValid({ headers, body, secret, nowSec: timestampSec })).toBe(true)
          expect(isValid({ headers, body: body + "x", secret, nowSec: timestampSec })).toBe(false)
        }
      )
    )
  })
})
