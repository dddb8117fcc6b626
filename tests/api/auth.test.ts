import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { request } from "node:http"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { Db } from "../../src/db/Db.ts"
import type { Row } from "../../src/db/Db.ts"
import { TenantStore } from "../../src/tenants/TenantStore.ts"
import { ADMIN_TOKEN, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

const MAX = 5
const METRICS_TOKEN = "metrics-token-for-the-scraper"
let app: TestApp
beforeAll(async () => {
  app = await startApp({ stages: [] }, { MPLP_AUTH_MAX_FAILURES: String(MAX), MPLP_METRICS_TOKEN: METRICS_TOKEN })
})
afterAll(async () => {
  await app.close()
})

interface Answer {
  readonly status: number
  readonly retryAfter: number | undefined
  readonly body: string
}

/**
 * A request sent from `from` (any 127.x address is loopback): the harness's own calls come from
 * 127.0.0.1, so each test throttles an address of its own and leaves the others alone.
 */
const send = (target: TestApp, from: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
  new Promise<Answer>((resolve, reject) => {
    const url = new URL(path, target.baseUrl)
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, localAddress: from, headers: { ...headers, ...(payload === undefined ? {} : { "content-type": "application/json" }) } },
      (res) => {
        let text = ""
        res.on("data", (c: Buffer) => (text += c.toString()))
        res.on("end", () => {
          const ra = res.headers["retry-after"]
          resolve({ status: res.statusCode ?? 0, retryAfter: ra === undefined ? undefined : Number(ra), body: text })
        })
      }
    )
    req.on("error", reject)
    req.end(payload)
  })

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const madeUpKey = () => `mplp_${randomBytes(6).toString("hex")}_${randomBytes(32).toString("base64url")}`
const point = { points: [{ name: "cpuUsagePercent", value: 1 }] }

describe("failed sign-ins are throttled per client address", () => {
  it(`after ${MAX} failures an address gets 429 + Retry-After, even with a valid key or the admin token; other addresses go on`, async () => {
    const t = await app.tenant()
    const attacker = "127.0.0.2"
    for (let i = 0; i < MAX; i++) expect((await send(app, attacker, "GET", "/api/alerts", bearer(madeUpKey()))).status).toBe(401)
    const throttled = await send(app, attacker, "GET", "/api/alerts", bearer(madeUpKey()))
    expect(throttled.status).toBe(429)
    expect(throttled.retryAfter).toBeGreaterThanOrEqual(1)
    expect(throttled.retryAfter).toBeLessThanOrEqual(60)
    expect(JSON.parse(throttled.body)).toMatchObject({ _tag: "TooManyRequests" })
    // Once over, nothing it presents is checked: not a valid key, not the admin token, not as x-api-key.
    expect((await send(app, attacker, "POST", "/api/metrics", bearer(t.key), point)).status).toBe(429)
    expect((await send(app, attacker, "GET", "/api/alerts", { "x-api-key": t.key })).status).toBe(429)
    expect((await send(app, attacker, "GET", "/api/admin/tenants/x", bearer(ADMIN_TOKEN))).status).toBe(429)
    // X-Forwarded-For is not believed from a client that is not a trusted proxy.
    expect((await send(app, attacker, "GET", "/api/alerts", { ...bearer(t.key), "x-forwarded-for": "198.51.100.23" })).status).toBe(429)
    // Another address is not locked out by it.
    const other = "127.0.0.3"
    expect((await send(app, other, "POST", "/api/metrics", bearer(t.key), point)).status).toBe(202)
    expect((await send(app, other, "GET", "/api/alerts", bearer(madeUpKey()))).status).toBe(401)
    expect((await send(app, other, "GET", `/api/admin/tenants/${t.id}`, bearer(ADMIN_TOKEN))).status).toBe(200)
  })

  it("wrong admin tokens count the same", async () => {
    const t = await app.tenant()
    const guesser = "127.0.0.4"
    for (let i = 0; i < MAX; i++) expect((await send(app, guesser, "GET", "/api/admin/tenants/x", bearer(`guess-${i}-${"x".repeat(32)}`))).status).toBe(401)
    const throttled = await send(app, guesser, "GET", `/api/admin/tenants/${t.id}`, bearer(ADMIN_TOKEN))
    expect(throttled.status).toBe(429)
    expect(throttled.retryAfter).toBeGreaterThanOrEqual(1)
    expect((await send(app, guesser, "GET", "/api/alerts", bearer(t.key))).status).toBe(429)
    expect((await app.admin("GET", `/api/admin/tenants/${t.id}`)).status).toBe(200)
  })

  it("a request without any key is a 401 that does not count", async () => {
    const browser = "127.0.0.5"
    for (let i = 0; i < MAX + 3; i++) expect((await send(app, browser, "GET", "/api/alerts")).status).toBe(401)
    const t = await app.tenant()
    expect((await send(app, browser, "GET", "/api/alerts", bearer(t.key))).status).toBe(200)
  })

  it("counts across API processes sharing the Redis prefix; X-Forwarded-For only from MPLP_TRUSTED_PROXIES", async () => {
    const proxy = "127.0.0.9"
    const second = await startApp({ stages: [] }, { MPLP_QUEUE_PREFIX: app.prefix, MPLP_AUTH_MAX_FAILURES: String(MAX), MPLP_TRUSTED_PROXIES: `${proxy},10.0.0.0/8` })
    try {
      const client = "127.0.0.6"
      for (let i = 0; i < 3; i++) expect((await send(app, client, "GET", "/api/alerts", bearer(madeUpKey()))).status).toBe(401)
      for (let i = 0; i < MAX - 3; i++) expect((await send(second, client, "GET", "/api/alerts", bearer(madeUpKey()))).status).toBe(401)
      expect((await send(app, client, "GET", "/api/alerts", bearer(madeUpKey()))).status).toBe(429)
      expect((await send(second, client, "GET", "/api/alerts", bearer(madeUpKey()))).status).toBe(429)

      // Behind the trusted proxy (and a trusted hop 10.1.2.3), the client is the first untrusted address from the right.
      const via = (xff: string) => send(second, proxy, "GET", "/api/alerts", { ...bearer(madeUpKey()), "x-forwarded-for": xff })
      for (let i = 0; i < MAX; i++) expect((await via(`192.0.2.1, 203.0.113.50, 10.1.2.3`)).status).toBe(401)
      expect((await via("192.0.2.99, 203.0.113.50")).status).toBe(429)
      expect((await via("203.0.113.51")).status).toBe(401)
      // The proxy's own address was never counted.
      expect((await send(second, proxy, "GET", "/api/admin/tenants/x", bearer(ADMIN_TOKEN))).status).toBe(404)
    } finally {
      await second.runtime.dispose()
    }
  }, 60_000)
})

describe("unknown key ids", () => {
  it("reach the database once, not on every request", async () => {
    const statements = await app.runtime.runPromise(
      Effect.gen(function* () {
        const db = yield* Db
        let keyLookups = 0
        const counting = Layer.succeed(Db, {
          ...db,
          query: <R extends Row = Row>(text: string, values?: ReadonlyArray<unknown>) => {
            if (text.includes("FROM api_keys")) keyLookups++
            return db.query<R>(text, values)
          }
        })
        const config = AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(app.env))))))
        const store = yield* Effect.provide(TenantStore, TenantStore.Live.pipe(Layer.provide([counting, config])))
        const key = madeUpKey()
        for (let i = 0; i < 20; i++) expect((yield* Effect.flip(store.authenticate(key)))._tag).toBe("Unauthorized")
        return keyLookups
      })
    )
    expect(statements).toBe(1)
  })
})

describe("scopes", () => {
  it("acknowledging an alert takes the alerts scope: a query-only key gets 403", async () => {
    const reader = await app.tenant(["query"])
    const res = await send(app, "127.0.0.1", "POST", "/api/alerts/al_missing/ack", bearer(reader.key))
    expect(res.status).toBe(403)
    expect(JSON.parse(res.body).message).toContain('"alerts" scope')
    expect((await send(app, "127.0.0.1", "GET", "/api/alerts", bearer(reader.key))).status).toBe(200)
    const operator = await app.tenant(["alerts"])
    expect((await send(app, "127.0.0.1", "POST", "/api/alerts/al_missing/ack", bearer(operator.key))).status).toBe(404)
    const created = await app.admin("POST", `/api/admin/tenants/${reader.id}/keys`, { scopes: ["query", "alerts"] })
    expect(created.status).toBe(201)
    expect(((await created.json()) as { scopes: Array<string> }).scopes).toEqual(["query", "alerts"])
  })
})

describe("/metrics with MPLP_METRICS_TOKEN", () => {
  it("answers the Prometheus text only to the bearer of the token", async () => {
    expect((await send(app, "127.0.0.1", "GET", "/metrics")).status).toBe(401)
    expect((await send(app, "127.0.0.8", "GET", "/metrics", bearer("not-the-token"))).status).toBe(401)
    const ok = await send(app, "127.0.0.1", "GET", "/metrics", bearer(METRICS_TOKEN))
    expect(ok.status).toBe(200)
    expect(ok.body).toMatch(/mplp_http_request_duration_ms/)
  })
})
