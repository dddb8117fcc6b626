import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { describeRedisTarget, parseRedisTarget } from "../../src/queues/redisTarget.ts"

describe("REDIS_URL: one server or a Redis Cluster", () => {
  it("a redis:// URL is one server, unless REDIS_CLUSTER makes it a cluster's seed", () => {
    expect(parseRedisTarget("redis://127.0.0.1:6379", false)).toEqual(Either.right({ _tag: "Single", url: "redis://127.0.0.1:6379" }))
    expect(parseRedisTarget("redis://:s3cret@10.0.0.1:7000", true)).toEqual(
      Either.right({ _tag: "Cluster", nodes: [{ host: "10.0.0.1", port: 7000 }], password: "s3cret", tls: false })
    )
  })

  it("redis+cluster:// lists seed nodes (default port 6379), with credentials and TLS (rediss+cluster://)", () => {
    expect(parseRedisTarget("redis+cluster://a:7000,b,[::1]:7002", false)).toEqual(
      Either.right({ _tag: "Cluster", nodes: [{ host: "a", port: 7000 }, { host: "b", port: 6379 }, { host: "::1", port: 7002 }], tls: false })
    )
    expect(parseRedisTarget("rediss+cluster://u:p%40ss@a:7000/", false)).toEqual(
      Either.right({ _tag: "Cluster", nodes: [{ host: "a", port: 7000 }], username: "u", password: "p@ss", tls: true })
    )
  })

  it("refuses other schemes, empty node lists and bad ports", () => {
    for (const url of ["http://a:1", "redis+cluster://", "redis+cluster://a:99999", "redis+cluster://a:1,:2", "redis://a:b:c"]) {
      expect(Either.isLeft(parseRedisTarget(url, false))).toBe(true)
    }
  })

  it("messages name the nodes, never the password", () => {
    const t = parseRedisTarget("redis+cluster://u:secret@a:1,b:2", false)
    if (Either.isLeft(t)) throw new Error(t.left)
    expect(describeRedisTarget(t.right)).toBe("the Redis Cluster at a:1,b:2")
    const s = parseRedisTarget("redis://u:secret@a:1/2", false)
    if (Either.isLeft(s)) throw new Error(s.left)
    expect(describeRedisTarget(s.right)).toBe("Redis at redis://a:1/2")
  })
})
