import { createServer, type IncomingHttpHeaders } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Logger, ParseResult, Schema, TestClock } from "effect"
import fc from "fast-check"
import { ChannelSchema, deliverToChannel, wantsEvent, type Channel } from "../../src/alerting/channels.ts"
import { checkDestination, classifyAddress, literalDestinationProblem, type Resolver } from "../../src/alerting/destination.ts"
import { isValid } from "../../src/alerting/signing.ts"
import {
  type Attempt,
  classifyStatus,
  deliverWebhook,
  type DeliverWebhookOptions,
  nextDelay,
  parseRetryAfter
} from "../../src/alerting/webhook.ts"

const SECRET = "whsec_" + Buffer.from("a-test-secret-of-32-bytes-length").toString("base64")

interface Reply {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly delayMs?: number
}

interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
  readonly verified: boolean
}

/** A real HTTP receiver on 127.0.0.1 that checks every signature; `script(n)` answers the n-th request. */
const sink = (script: (n: number) => Reply) =>
  Effect.acquireRelease(
    Effect.async<{ url: string; received: Array<Received>; close: () => Promise<void> }>((resume) => {
      const received: Array<Received> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8")
          received.push({ headers: req.headers, body, verified: isValid({ headers: req.headers, body, secret: SECRET, nowSec: Date.now() / 1000 }) })
          const reply = script(received.length)
          setTimeout(() => res.writeHead(reply.status, reply.headers).end(reply.body ?? ""), reply.delayMs ?? 0)
        })
      })
      const close = () =>
        new Promise<void>((done) => {
          server.closeAllConnections()
          server.close(() => done())
        })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/hook`, received, close }))
      })
    }),
    (s) => Effect.promise(s.close)
  )

const deliver = (url: string, overrides: Partial<DeliverWebhookOptions<never, never>> = {}) =>
  deliverWebhook({
    channel: { id: "ch-1", url, secret: SECRET },
    messageId: "msg_123",
    payload: { alert: "cpu", value: 97 },
    allowPrivate: true,
    baseDelayMs: 10,
    maxDelayMs: 50,
    timeoutMs: 1000,
    ...overrides
  })

describe("deliverWebhook (real HTTP sink)", () => {
  it.scopedLive("retries a 500 and then delivers, with the same webhook-id and valid signatures", () =>
    Effect.gen(function* () {
      const s = yield* sink((n) => (n === 1 ? { status: 500, body: "boom" } : { status: 204 }))
      const result = yield* deliver(s.url, { maxAttempts: 3 })
      expect(result.outcome).toBe("delivered")
      expect(result.attempts.map((a) => a.statusCode)).toEqual([500, 204])
      expect(result.attempts[0]?.error).toBe("HTTP 500: boom")
      expect(result.attempts[0]?.nextDelayMs).toBeGreaterThanOrEqual(0)
      expect(result.attempts[0]?.nextDelayMs).toBeLessThanOrEqual(10)
      expect(result.attempts[1]).toMatchObject({ attempt: 2, error: null, nextDelayMs: null })
      expect(s.received).toHaveLength(2)
      for (const r of s.received) {
        expect(r.verified).toBe(true)
        expect(r.headers["webhook-id"]).toBe("msg_123")
        expect(r.headers["content-type"]).toBe("application/json")
        expect(JSON.parse(r.body)).toEqual({ alert: "cpu", value: 97 })
      }
    }))

  it.scoped("honours Retry-After on 503 (driven by TestClock)", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.now())
      const s = yield* sink((n) => (n === 1 ? { status: 503, headers: { "retry-after": "2" } } : { status: 200 }))
      const first = yield* Deferred.make<Attempt>()
      const fiber = yield* Effect.fork(
        deliver(s.url, { baseDelayMs: 1, maxDelayMs: 60_000, onAttempt: (a) => Deferred.succeed(first, a) })
      )
      expect((yield* Deferred.await(first)).nextDelayMs).toBe(2000)
      yield* TestClock.adjust("1999 millis")
      yield* Effect.promise(() => new Promise((done) => setTimeout(done, 50))) // real time for a stray request to land
      expect(s.received).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      expect(result.outcome).toBe("delivered")
      expect(s.received).toHaveLength(2)
      expect(s.received.every((r) => r.verified)).toBe(true)
    }))

  it.scopedLive("caps Retry-After at maxDelayMs on 429 (real clock)", () =>
    Effect.gen(function* () {
      const s = yield* sink((n) => (n === 1 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 }))
      const result = yield* deliver(s.url, { maxDelayMs: 80 })
      expect(result.outcome).toBe("delivered")
      expect(result.attempts[0]?.nextDelayMs).toBe(80)
    }))

  it.scopedLive("400 fails after exactly one attempt, keeping only a short body snippet", () =>
    Effect.gen(function* () {
      const s = yield* sink(() => ({ status: 400, body: "x".repeat(100_000) }))
      const result = yield* deliver(s.url)
      expect(result.outcome).toBe("failed")
      expect(result.attempts).toHaveLength(1)
      expect(result.attempts[0]?.error?.startsWith("HTTP 400: xxx")).toBe(true)
      expect(result.attempts[0]?.error?.length).toBeLessThan(250)
      expect(s.received).toHaveLength(1)
    }))

  it.scopedLive("410 means gone, without retry", () =>
    Effect.gen(function* () {
      const s = yield* sink(() => ({ status: 410 }))
      const result = yield* deliver(s.url)
      expect(result).toMatchObject({ outcome: "gone", attempts: [{ statusCode: 410, nextDelayMs: null }] })
      expect(s.received).toHaveLength(1)
    }))

  it.scopedLive("never follows a 302 redirect", () =>
    Effect.gen(function* () {
      const target = yield* sink(() => ({ status: 200 }))
      const s = yield* sink(() => ({ status: 302, headers: { location: target.url } }))
      const result = yield* deliver(s.url)
      expect(result.outcome).toBe("failed")
      expect(result.attempts).toHaveLength(1)
      expect(result.attempts[0]?.error).toMatch(/redirects are not followed/)
      expect(target.received).toHaveLength(0)
    }))

  it.scopedLive("retries after a timeout", () =>
    Effect.gen(function* () {
      const s = yield* sink((n) => (n === 1 ? { status: 200, delayMs: 600 } : { status: 200 }))
      const result = yield* deliver(s.url, { timeoutMs: 150 })
      expect(result.outcome).toBe("delivered")
      expect(result.attempts[0]).toMatchObject({ statusCode: null, error: "timed out after 150 ms" })
      expect(result.attempts[1]?.statusCode).toBe(200)
    }))

  it.scopedLive("gives up as failed after maxAttempts of 5xx", () =>
    Effect.gen(function* () {
      const s = yield* sink(() => ({ status: 502 }))
      const seen: Array<number> = []
      const result = yield* deliver(s.url, { maxAttempts: 3, onAttempt: (a) => Effect.sync(() => seen.push(a.attempt)) })
      expect(result.outcome).toBe("failed")
      expect(seen).toEqual([1, 2, 3])
      expect(result.attempts[2]?.nextDelayMs).toBeNull()
      expect(s.received).toHaveLength(3)
    }))

  it.scopedLive("refuses private destinations unless allowPrivate, without any request", () =>
    Effect.gen(function* () {
      const s = yield* sink(() => ({ status: 200 }))
      for (const url of [s.url, s.url.replace("127.0.0.1", "localhost"), s.url.replace("127.0.0.1", "[::ffff:127.0.0.1]")]) {
        const refused = yield* deliver(url, { allowPrivate: false })
        expect(refused.outcome).toBe("refused")
        expect(refused.attempts).toHaveLength(1)
        expect(refused.attempts[0]?.error).toMatch(/^destination refused: .*(loopback|ipv4-mapped)/)
      }
      expect(s.received).toHaveLength(0)
      expect((yield* deliver(s.url, { allowPrivate: true })).outcome).toBe("delivered")
      expect(s.received).toHaveLength(1)
    }))

  it.scopedLive("connects to the checked address, not a fresh DNS answer", () =>
    Effect.gen(function* () {
      const s = yield* sink(() => ({ status: 200 }))
      const resolve: Resolver = () => Effect.succeed([{ address: "127.0.0.1", family: 4 }])
      const url = s.url.replace("127.0.0.1", "hooks.invalid")
      const result = yield* deliver(url, { resolve })
      expect(result.outcome).toBe("delivered")
      expect(s.received[0]?.headers.host).toBe(new URL(url).host)
    }))
})

describe("destination guard", () => {
  it("classifies addresses: only global unicast is public", () => {
    const table: ReadonlyArray<readonly [string, string]> = [
      ["8.8.8.8", "public"], ["1.1.1.1", "public"], ["127.0.0.1", "loopback"], ["127.255.0.9", "loopback"],
      ["10.1.2.3", "private"], ["172.16.0.1", "private"], ["172.31.255.255", "private"], ["172.32.0.1", "public"],
      ["192.168.1.1", "private"], ["169.254.169.254", "link-local"], ["100.64.0.1", "cgnat"],
      ["100.127.255.255", "cgnat"], ["100.128.0.1", "public"], ["0.0.0.0", "unspecified"], ["0.1.2.3", "unspecified"],
      ["224.0.0.1", "multicast"], ["239.255.255.250", "multicast"], ["255.255.255.255", "broadcast"],
      // TEST-NET-1/2/3 and the benchmarking range were public under the hand-written ranges.
      ["192.0.2.1", "reserved"], ["198.51.100.7", "reserved"], ["203.0.113.9", "reserved"], ["198.18.0.1", "reserved"], ["198.19.255.1", "reserved"],
      ["::1", "loopback"], ["::", "unspecified"], ["fc00::1", "unique-local"], ["fd12:3456::1", "unique-local"],
      ["fe80::1", "link-local"], ["fe80::1%eth0", "link-local"], ["febf::1", "link-local"], ["ff02::1", "multicast"],
      // Forms that embed an IPv4 address are refused whatever the address inside.
      ["::ffff:127.0.0.1", "ipv4-mapped"], ["::ffff:7f00:1", "ipv4-mapped"], ["::ffff:169.254.169.254", "ipv4-mapped"],
      ["::ffff:8.8.8.8", "ipv4-mapped"], ["::ffff:0:7f00:1", "ipv4-translated"], ["::7f00:1", "reserved"],
      ["64:ff9b::a00:1", "nat64"], ["64:ff9b:1::a00:1", "nat64"], ["2002:c0a8:101::1", "6to4"], ["2002:808:808::1", "6to4"],
      ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"], ["2001:2::1", "benchmarking"], ["2001:db8::1", "reserved"],
      ["100::1", "discard"], ["3fff::1", "reserved"], ["4000::1", "reserved"],
      ["2606:4700:4700::1111", "public"], ["2a00:1450:4001:80b::200e", "public"], ["[::1]", "loopback"], ["nope", "invalid"]
    ]
    for (const [address, expected] of table) expect([address, classifyAddress(address)]).toEqual([address, expected])
  })

  it("names the problem of a literal non-public webhook host, and leaves names to delivery", () => {
    expect(literalDestinationProblem("http://169.254.169.254/latest/meta-data")).toMatch(/169\.254\.169\.254 is a link-local address/)
    expect(literalDestinationProblem("http://[64:ff9b:1::a9fe:a9fe]/")).toMatch(/nat64/)
    expect(literalDestinationProblem("http://2130706433/")).toMatch(/127\.0\.0\.1 is a loopback/)
    expect(literalDestinationProblem("https://8.8.8.8/hook")).toBeUndefined()
    expect(literalDestinationProblem("https://localhost/hook")).toBeUndefined()
    expect(literalDestinationProblem("https://hooks.example.com/x")).toBeUndefined()
  })

  it.effect("refuses bad schemes, credentials and mixed DNS answers; returns the checked address", () =>
    Effect.gen(function* () {
      const resolve: Resolver = (host) =>
        Effect.succeed(host === "mixed.test" ? [{ address: "93.184.216.34", family: 4 }, { address: "10.0.0.5", family: 4 }] : [{ address: "93.184.216.34", family: 4 }])
      const reason = (url: string) =>
        checkDestination(url, { allowPrivate: false, resolve }).pipe(
          Effect.match({ onFailure: (e) => (e._tag === "alerting/DestinationRefused" ? e.reason : e._tag), onSuccess: (d) => d.address })
        )
      expect(yield* reason("ftp://example.test/x")).toMatch(/scheme ftp:/)
      expect(yield* reason("file:///etc/passwd")).toMatch(/scheme file:/)
      expect(yield* reason("https://user:pw@example.test/")).toMatch(/credentials/)
      expect(yield* reason("not a url")).toBe("invalid URL")
      expect(yield* reason("https://mixed.test/")).toMatch(/10\.0\.0\.5 \(private\)/)
      expect(yield* reason("http://169.254.169.254/latest/meta-data")).toMatch(/link-local/)
      expect(yield* reason("http://2130706433/")).toMatch(/loopback/) // WHATWG URL normalises to 127.0.0.1
      expect(yield* reason("http://[64:ff9b:1::a9fe:a9fe]/")).toMatch(/nat64/)
      expect(yield* reason("https://public.test/")).toBe("93.184.216.34")
    }))
})

describe("pure delivery rules", () => {
  it("nextDelay stays within [0, maxDelayMs] and honours Retry-After", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 120_000 }),
        fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, max, retryAfter, r) => {
          const d = nextDelay(attempt, base, max, retryAfter, () => r)
          expect(d).toBeGreaterThanOrEqual(0)
          expect(d).toBeLessThanOrEqual(max)
          if (retryAfter !== undefined) expect(d).toBe(Math.min(retryAfter, max))
        }
      )
    )
  })

  it("nextDelay grows exponentially in expectation until the cap", () => {
    const mean = (attempt: number) => {
      let sum = 0
      for (let i = 0; i < 1000; i++) sum += nextDelay(attempt, 100, 60_000, undefined, () => (i + 0.5) / 1000)
      return sum / 1000
    }
    // Uniform jitter means E[delay] = ceiling / 2, with ceiling = min(max, base · 2^(attempt-1)).
    for (let attempt = 1; attempt <= 9; attempt++) {
      expect(Math.abs(mean(attempt) / ((100 * 2 ** (attempt - 1)) / 2) - 1)).toBeLessThan(0.02)
    }
    expect(Math.abs(mean(12) / 30_000 - 1)).toBeLessThan(0.02)
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (a, r) => {
        expect(nextDelay(a + 1, 500, 60_000, undefined, () => r)).toBeGreaterThanOrEqual(nextDelay(a, 500, 60_000, undefined, () => r))
      })
    )
  })

  it("parses Retry-After and classifies statuses", () => {
    const now = Date.parse("2025-01-01T00:00:00Z")
    expect(parseRetryAfter("3", now)).toBe(3000)
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:10 GMT", now)).toBe(10_000)
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now)).toBe(0)
    expect(parseRetryAfter("soon", now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect([200, 299, 301, 302, 400, 404, 410, 429, 500, 503].map(classifyStatus)).toEqual(
      ["delivered", "delivered", "failed", "failed", "failed", "failed", "gone", "retry", "retry", "retry"]
    )
  })
})

describe("channels", () => {
  const decode = (raw: unknown) =>
    Either.mapLeft(Schema.decodeUnknownEither(ChannelSchema)(raw), (e) => ParseResult.TreeFormatter.formatErrorSync(e))

  it("decodes channel documents and names the failing field", () => {
    expect(Either.isRight(decode({ id: "w", type: "webhook", url: "https://x.test/h", secret: "s", events: ["alert.fired"] }))).toBe(true)
    expect(decode({ id: "l", type: "log" })).toEqual(Either.right({ id: "l", type: "log" }))
    const urlError = Either.flip(decode({ id: "w", type: "webhook", url: "ftp://x.test", secret: "s" }))
    expect(Either.getOrThrow(urlError)).toMatch(/\["url"\][\s\S]*url must use http or https, not ftp:/)
    const secretError = Either.flip(decode({ id: "w", type: "webhook", url: "https://x.test", secret: "" }))
    expect(Either.getOrThrow(secretError)).toMatch(/\["secret"\][\s\S]*secret must not be empty/)
  })

  it("wantsEvent: no list means all events; disabled webhooks want none", () => {
    const log: Channel = { id: "l", type: "log" }
    const hook: Channel = { id: "w", type: "webhook", url: "https://x.test", secret: "s", events: ["alert.fired"] }
    expect(wantsEvent(log, "anything")).toBe(true)
    expect(wantsEvent(hook, "alert.fired")).toBe(true)
    expect(wantsEvent(hook, "alert.resolved")).toBe(false)
    expect(wantsEvent({ ...hook, enabled: false }, "alert.fired")).toBe(false)
  })

  it.effect("a log channel logs the notification annotated with tenant and channel", () =>
    Effect.gen(function* () {
      const logs: Array<{ message: unknown; annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ message, annotations }) => {
        logs.push({ message, annotations: Object.fromEntries(annotations) })
      })
      const result = yield* deliverToChannel({
        tenantId: "t-1", channel: { id: "l-1", type: "log" }, messageId: "m-1", payload: { alert: "cpu" }, allowPrivate: false
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      expect(result).toEqual({ outcome: "delivered", attempts: [] })
      expect(logs).toHaveLength(1)
      expect(logs[0]?.annotations).toMatchObject({ tenantId: "t-1", channelId: "l-1", messageId: "m-1" })
      expect(logs[0]?.message).toEqual(["alert notification", { alert: "cpu" }])
    }))
})
