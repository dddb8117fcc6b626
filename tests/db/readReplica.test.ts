import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Either, Layer } from "effect"
import pg from "pg"
import { AppConfig, appConfig, describeConfigError } from "../../src/config/AppConfig.ts"
import { Db } from "../../src/db/Db.ts"
import { makePgPool } from "../../src/db/pgPool.ts"
import { ReadDb } from "../../src/db/ReadDb.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// DATABASE_READ_URL: the read-only query endpoints read a streaming replica; writes, the pipeline and the
// reads that must be fresh (an execution by id, keys, settings) stay on the primary. Needs a TimescaleDB
// server and a streaming replica of it: TIMESCALEDB_TEST_URL (the primary's test database) and
// TIMESCALEDB_REPLICA_URL (the same database on the replica). Skipped, saying why, without them.

const primaryUrl = process.env.TIMESCALEDB_TEST_URL ?? ""
const replicaUrl = process.env.TIMESCALEDB_REPLICA_URL ?? ""

const probe = async (url: string, name: string, wantRecovery: boolean): Promise<string | undefined> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    const { rows } = await client.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r")
    if (rows[0]?.r !== wantRecovery) return `${name} (${url}) is ${wantRecovery ? "not a replica in recovery" : "in recovery, not a primary"}`
    return undefined
  } catch (e) {
    return `${name} (${url}) is unreachable: ${e instanceof Error ? e.message : String(e)}`
  } finally {
    await client.end().catch(() => {})
  }
}

const skipReason = primaryUrl === "" || replicaUrl === ""
  ? "TIMESCALEDB_TEST_URL and TIMESCALEDB_REPLICA_URL are not both set"
  : (await probe(primaryUrl, "TIMESCALEDB_TEST_URL", false)) ?? (await probe(replicaUrl, "TIMESCALEDB_REPLICA_URL", true))
if (skipReason !== undefined) console.warn(`tests/db/readReplica.test.ts: the server tests are skipped: ${skipReason}`)
const onServer = skipReason === undefined ? "" : ` (skipped: ${skipReason})`

describe("configuration", () => {
  const load = (vars: Record<string, string>) =>
    Effect.runSync(Effect.either(Effect.withConfigProvider(appConfig, ConfigProvider.fromMap(new Map(Object.entries(vars))))))

  it("DATABASE_READ_URL without DATABASE_URL is refused, naming both", () => {
    const r = load({ DATABASE_READ_URL: "postgres://replica:5432/db" })
    expect(Either.isLeft(r)).toBe(true)
    if (Either.isLeft(r)) expect(describeConfigError(r.left)).toMatch(/DATABASE_READ_URL: needs DATABASE_URL/)
  })

  it("a DATABASE_READ_URL that is not a postgres URL is refused; empty is unset", () => {
    const bad = load({ DATABASE_URL: "postgres://p/db", DATABASE_READ_URL: "mysql://replica/db" })
    expect(Either.isLeft(bad) && describeConfigError(bad.left)).toMatch(/DATABASE_READ_URL: must be a URL starting with postgres:\/\//)
    const empty = load({ DATABASE_URL: "postgres://p/db", DATABASE_READ_URL: "" })
    expect(Either.isRight(empty) && empty.right.databaseReadUrl._tag).toBe("None")
  })
})

describe.skipIf(skipReason !== undefined)(`on a TimescaleDB primary and its streaming replica${onServer}`, () => {
  let app: TestApp
  let replica: pg.Client
  beforeAll(async () => {
    replica = new pg.Client({ connectionString: replicaUrl })
    await replica.connect()
    app = await startApp({}, { DATABASE_URL: primaryUrl, DATABASE_READ_URL: replicaUrl, MPLP_DB_POOL_MAX: "4" })
  })
  afterAll(async () => {
    await replica?.query("SELECT pg_wal_replay_resume()").catch(() => {})
    await replica?.end()
    await app?.close()
  })

  const replayPaused = async () => {
    await replica.query("SELECT pg_wal_replay_pause()")
    await eventually(async () => {
      const { rows } = await replica.query<{ s: string }>("SELECT pg_get_wal_replay_pause_state() AS s")
      return rows[0]?.s === "paused" ? true : undefined
    }, 5000, 20)
  }

  it.scopedLive("ReadDb reads the replica (in recovery); Db stays on the primary", () =>
    Effect.gen(function* () {
      const config = AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
        ["DATABASE_URL", primaryUrl], ["DATABASE_READ_URL", replicaUrl]
      ])))))
      const primary = yield* makePgPool(primaryUrl, 2)
      const reads = Context.get(yield* Layer.build(ReadDb.Live.pipe(Layer.provide(Layer.succeed(Db, primary)), Layer.provide(config))), ReadDb)
      expect(yield* reads.query("SELECT pg_is_in_recovery() AS r")).toEqual([{ r: true }])
      expect(yield* primary.query("SELECT pg_is_in_recovery() AS r")).toEqual([{ r: false }])
    })
  )

  it("while the replica trails: a new key signs in, the client's own execution reads fresh by id, search shows it once replayed", async () => {
    await replayPaused()
    try {
      // Tenant and key written after the replica stopped replaying: keys are looked up on the primary.
      const t = await app.tenant(["ingest", "query"])
      const started = await call(app, t.key, "POST", "/api/executions", { operationName: "plan", serviceName: "agent", context: { contextId: "c", userId: "u" } })
      expect(started.status).toBe(201)
      const { traceId } = (await started.json()) as { traceId: string }
      expect((await call(app, t.key, "POST", `/api/executions/${traceId}/finish`, { success: true })).status).toBe(202)
      // By id: the primary, so the finish is seen as soon as the pipeline has written it.
      const detail = await eventually(async () => {
        const res = await call(app, t.key, "GET", `/api/executions/${traceId}`)
        if (res.status !== 200) return undefined
        const body = (await res.json()) as { status: string }
        return body.status === "active" ? undefined : body
      })
      expect(detail.status).toBe("completed")
      // Search reads the replica, which has not replayed any of it yet.
      const listed = await call(app, t.key, "GET", "/api/executions?limit=10")
      expect(listed.status).toBe(200)
      expect(((await listed.json()) as { executions: Array<unknown> }).executions).toEqual([])
      await replica.query("SELECT pg_wal_replay_resume()")
      const found = await eventually(async () => {
        const page = (await (await call(app, t.key, "GET", "/api/executions?limit=10")).json()) as { executions: Array<{ executionId: string; status: string }> }
        return page.executions.length > 0 ? page.executions : undefined
      })
      expect(found.map((e) => [e.executionId, e.status])).toEqual([[traceId, "completed"]])
    } finally {
      await replica.query("SELECT pg_wal_replay_resume()")
    }
  })

  it("a replica that cannot be reached: the query endpoints read from the primary", async () => {
    const lone = await startApp({}, { DATABASE_URL: primaryUrl, DATABASE_READ_URL: "postgres://postgres@127.0.0.1:1/none", MPLP_DB_POOL_MAX: "2" })
    try {
      const t = await lone.tenant(["ingest", "query"])
      const started = await call(lone, t.key, "POST", "/api/executions", { operationName: "plan", serviceName: "agent", context: { contextId: "c", userId: "u" } })
      const { traceId } = (await started.json()) as { traceId: string }
      const found = await eventually(async () => {
        const res = await call(lone, t.key, "GET", "/api/executions?limit=10")
        expect(res.status).toBe(200)
        const page = (await res.json()) as { executions: Array<{ executionId: string }> }
        return page.executions.length > 0 ? page.executions : undefined
      })
      expect(found.map((e) => e.executionId)).toEqual([traceId])
    } finally {
      await lone.close()
    }
  })
})
