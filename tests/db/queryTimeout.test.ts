import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { Db } from "../../src/db/Db.ts"
import { makePgPool } from "../../src/db/pgPool.ts"
import { QUERY_CANCELED, QueryDbLive, withStatementTimeout } from "../../src/db/QueryDb.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// MPLP_QUERY_TIMEOUT_MS: the read endpoints' statements are abandoned past it (a 503); the pipeline's are not.

const elapsed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const t0 = Date.now()
    const exit = yield* Effect.exit(self)
    return { exit, ms: Date.now() - t0 }
  })

const codeOf = (exit: { _tag: string }) =>
  exit._tag === "Failure" ? (exit as unknown as { cause: { error?: { code?: string } } }).cause.error?.code : "success"

let app: TestApp
beforeAll(async () => {
  app = await startApp({}, { MPLP_QUERY_TIMEOUT_MS: "5" })
})
afterAll(async () => {
  await app.close()
})

describe("on the embedded database (PGlite cannot interrupt a statement)", () => {
  it("answers at the timeout, refuses further reads while the abandoned statement runs, then reads again", () =>
    app.runtime.runPromise(Effect.gen(function* () {
      const db = yield* Db
      const reads = withStatementTimeout(db, db, 300)
      const slow = yield* elapsed(reads.query("SELECT pg_sleep(1.5)"))
      expect(codeOf(slow.exit)).toBe(QUERY_CANCELED)
      expect(slow.ms).toBeLessThan(1_200)
      const refused = yield* elapsed(reads.query("SELECT 1"))
      expect(codeOf(refused.exit)).toBe(QUERY_CANCELED)
      // At once, not after the abandoned sleep's remaining ~1.2 s (bound generous for a loaded machine).
      expect(refused.ms).toBeLessThan(600)
      // The pipeline's statements have no timeout: this one waits for the sleep to end, then runs.
      expect(yield* db.query<{ n: number }>("SELECT 2 AS n")).toEqual([{ n: 2 }])
      yield* Effect.sleep("50 millis")
      expect(yield* reads.query<{ n: number }>("SELECT 3 AS n")).toEqual([{ n: 3 }])
    }))
  )
})

describe("on a PostgreSQL server", () => {
  const url = "postgres://postgres@127.0.0.1:5432/test"
  const config = AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
    ["DATABASE_URL", url], ["MPLP_QUERY_TIMEOUT_MS", "300"]
  ])))))

  it.scopedLive("the read pool's sessions carry statement_timeout, so the server cancels the statement; the pipeline's do not", () =>
    Effect.gen(function* () {
      const pipeline = yield* makePgPool(url, 2)
      const context = yield* Layer.build(QueryDbLive.pipe(Layer.provide(Layer.succeed(Db, pipeline)), Layer.provide(config)))
      const reads = Context.get(context, Db)
      expect(yield* reads.query("SHOW statement_timeout")).toEqual([{ statement_timeout: "300ms" }])
      expect(yield* pipeline.query("SHOW statement_timeout")).toEqual([{ statement_timeout: "0" }])
      const slow = yield* elapsed(reads.query("SELECT pg_sleep(3)"))
      expect(codeOf(slow.exit)).toBe(QUERY_CANCELED)
      // Cancelled by the server (at 300 ms), not by the client-side backstop (at 1,300 ms).
      expect(slow.ms).toBeLessThan(1_200)
      expect(yield* pipeline.query("SELECT 1 AS n FROM pg_sleep(0.5)")).toEqual([{ n: 1 }])
    })
  )
})

describe("through the API", () => {
  it("a read over the timeout is a 503 with a clear message, while ingestion goes on", async () => {
    const t = await app.tenant()
    // 50,000 raw points: aggregating them takes far longer than 5 ms.
    await app.sql(
      `INSERT INTO metric_points (tenant_id, time, name, value, dedup_key)
       SELECT $1, now() - make_interval(secs => g / 20.0), 'load', g, g FROM generate_series(1, 50000) g`, [t.id])
    const res = await call(app, t.key, "GET", "/api/metrics/series?name=load&from=now-1h&bucket=1m&source=raw")
    expect(res.status).toBe(503)
    expect(res.headers.get("retry-after")).not.toBeNull()
    expect(((await res.json()) as { message: string }).message).toMatch(/MPLP_QUERY_TIMEOUT_MS/)
    expect((await call(app, t.key, "POST", "/api/metrics", { points: [{ name: "fresh", value: 1 }] })).status).toBe(202)
    await eventually(async () => {
      const rows = await app.sql("SELECT 1 FROM metric_points WHERE tenant_id = $1 AND name = 'fresh'", [t.id])
      return rows.length === 1 ? true : undefined
    })
  })
})
