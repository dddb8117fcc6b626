import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { randomBytes } from "node:crypto"
import { isSealed, keyId, makeSecretBox } from "../../src/alerting/secretBox.ts"
import { secretKey, secretProblem } from "../../src/alerting/signing.ts"
import { deliverWebhook } from "../../src/alerting/webhook.ts"

const K1 = randomBytes(32)
const K2 = randomBytes(32)

describe("secretBox (AES-256-GCM, key id prefix)", () => {
  it("round-trips any secret, with a fresh IV each time, under the tenant as associated data", () => {
    const box = makeSecretBox(K1)
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200, unit: "binary" }), fc.stringMatching(/^[a-z0-9]{1,20}$/), (plain, tenant) => {
        const a = box.seal(plain, tenant)
        expect(a.startsWith(`mplp:enc:v1:${keyId(K1)}:`)).toBe(true)
        expect(a).not.toContain(plain.length > 3 ? plain : "\u0000never")
        expect(box.open(a, tenant)).toBe(plain)
        expect(box.seal(plain, tenant)).not.toBe(a)
        expect(box.open(a, `${tenant}x`)).toBeUndefined()
      })
    )
  })

  it("refuses a tampered value, opens with a previous key, and knows which values are current", () => {
    const old = makeSecretBox(K1)
    const sealed = old.seal("a-secret-of-twenty-four-bytes", "acme")
    const parts = sealed.split(":")
    const ct = Buffer.from(parts[5] ?? "", "base64url")
    ct[0] = (ct[0] ?? 0) ^ 1
    expect(old.open([...parts.slice(0, 5), ct.toString("base64url"), parts[6]].join(":"), "acme")).toBeUndefined()

    const rotated = makeSecretBox(K2, [K1])
    expect(rotated.open(sealed, "acme")).toBe("a-secret-of-twenty-four-bytes")
    expect(rotated.isCurrent(sealed)).toBe(false)
    expect(rotated.isCurrent(rotated.seal("x", "acme"))).toBe(true)
    expect(rotated.isCurrent("plain text")).toBe(false)
    expect(makeSecretBox(K2).open(sealed, "acme")).toBeUndefined()

    const none = makeSecretBox(undefined, [K1])
    expect(none.seal("plain", "acme")).toBe("plain")
    expect(none.open(sealed, "acme")).toBe("a-secret-of-twenty-four-bytes")
    expect(none.isCurrent("plain")).toBe(true)
    expect(isSealed(sealed)).toBe(true)
  })
})

describe("webhook secret rules", () => {
  it("refuses secrets under 24 bytes and whsec_ values that are not base64, without repeating them", () => {
    const b64 = (n: number) => randomBytes(n).toString("base64")
    expect(secretProblem(`whsec_${b64(32)}`)).toBeUndefined()
    expect(secretProblem(`whsec_${b64(24)}`)).toBeUndefined()
    expect(secretProblem(`whsec_${b64(24).replace(/=+$/, "")}`)).toBeUndefined()
    expect(secretProblem("x".repeat(24))).toBeUndefined()
    expect(secretProblem(`whsec_${b64(16)}`)).toMatch(/at least 24 bytes \(this one: 16\)/)
    expect(secretProblem("short")).toMatch(/at least 24 bytes \(this one: 5\)/)
    // Before: Buffer.from("…", "base64") made these a short or empty HMAC key without complaint.
    for (const bad of ["whsec_this is not base64 at all, but long", "whsec_", "whsec_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", `whsec_${b64(32)}#`]) {
      const problem = secretProblem(bad)
      expect(problem, bad).toMatch(/must be base64 after the prefix/)
      if (bad.length > 6) expect(problem).not.toContain(bad.slice(6))
    }
    expect(secretKey("whsec_!!!!").length).toBe(0)
  })

  it.effect("a delivery is refused, not sent, with a sealed secret this process cannot open or an empty key", () =>
    Effect.gen(function* () {
      for (const secret of [makeSecretBox(K1).seal("a-secret-of-twenty-four-bytes", "t"), "whsec_!!!!"]) {
        const result = yield* deliverWebhook({ channel: { id: "c", url: "http://127.0.0.1:9/never", secret }, messageId: "m", payload: {}, allowPrivate: true })
        expect(result.outcome).toBe("refused")
        expect(result.attempts).toHaveLength(1)
        expect(result.attempts[0]?.statusCode).toBeNull()
        expect(result.attempts[0]?.error).toMatch(/^refused: the channel's secret/)
      }
    }))
})
