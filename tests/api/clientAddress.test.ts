import { describe, expect, it } from "@effect/vitest"
import { makeClientAddress } from "../../src/api/clientAddress.ts"

describe("the client address a failed sign-in is counted against", () => {
  it("is the socket's peer, IPv4-mapped as IPv4, IPv6 by its /64; X-Forwarded-For is ignored without trusted proxies", () => {
    const direct = makeClientAddress([])
    expect(direct("203.0.113.9", "198.51.100.1")).toBe("203.0.113.9")
    expect(direct("::ffff:203.0.113.9", undefined)).toBe("203.0.113.9")
    expect(direct("2001:db8:1:2:aaaa::1", undefined)).toBe("2001:db8:1:2::/64")
    expect(direct("2001:db8:1:2:bbbb::7", undefined)).toBe(direct("2001:db8:1:2:aaaa::1", undefined))
    expect(direct("2001:db8:1:3::1", undefined)).not.toBe(direct("2001:db8:1:2::1", undefined))
    expect(direct(undefined, "198.51.100.1")).toBe("unknown")
  })

  it("behind trusted proxies: the first untrusted address from the right of X-Forwarded-For", () => {
    const behind = makeClientAddress(["10.0.0.0/8", "192.168.1.5", "fd00::/8"])
    expect(behind("10.1.1.1", "198.51.100.7")).toBe("198.51.100.7")
    // A client may prepend anything; only what the trusted proxies appended counts.
    expect(behind("10.1.1.1", "1.2.3.4, 198.51.100.7, 192.168.1.5")).toBe("198.51.100.7")
    expect(behind("::ffff:10.1.1.1", "[2001:db8::5]:443")).toBe("2001:db8:0:0::/64")
    expect(behind("10.1.1.1", "198.51.100.7:5123")).toBe("198.51.100.7")
    // Nothing usable in the header: the proxy itself.
    expect(behind("10.1.1.1", "garbage")).toBe("10.1.1.1")
    expect(behind("10.1.1.1", undefined)).toBe("10.1.1.1")
    // From an untrusted peer the header means nothing.
    expect(behind("203.0.113.9", "198.51.100.7")).toBe("203.0.113.9")
  })
})
