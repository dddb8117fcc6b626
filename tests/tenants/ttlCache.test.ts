import { describe, expect, it } from "@effect/vitest"
import { TtlCache } from "../../src/tenants/TtlCache.ts"

describe("TtlCache (API keys and tenant settings per process)", () => {
  it("an entry counts for its ttl after it is set, then is read again from the source", () => {
    const c = new TtlCache<string>(5_000)
    c.set("k", "v", 1_000)
    expect(c.get("k", 5_999)).toBe("v")
    expect(c.get("k", 6_000)).toBeUndefined()
    c.set("k", "w", 6_000)
    expect(c.get("k", 10_999)).toBe("w")
    c.delete("k")
    expect(c.get("k", 7_000)).toBeUndefined()
  })

  it("keys seen once do not pile up: a million keys over time leave about twice those in use", () => {
    const c = new TtlCache<number>(5_000)
    let peak = 0
    // 1,000 new keys per second for 1,000 s, as from a churning fleet of tenants or keys.
    for (let i = 0; i < 1_000_000; i++) {
      c.set(`key-${i}`, i, i)
      peak = Math.max(peak, c.size)
    }
    expect(peak).toBeLessThanOrEqual(2 * 5_000 + 1)
    expect(c.get("key-999999", 999_999)).toBe(999_999)
  })
})
