import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, LogLevel, Option, Schema, Scope } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { Db } from "../../src/db/Db.ts"
import type { DbClient } from "../../src/db/Db.ts"
import { embeddedClient, openPglite } from "../../src/db/embedded.ts"
import { migrateFromDir } from "../../src/db/Migrator.ts"
import { makePgPool } from "../../src/db/pgPool.ts"
import { serveWire } from "../../src/db/wireServer.ts"
import { ExecutionStartJob } from "../../src/domain/jobs.ts"
import type { SpanRow } from "../../src/domain/jobs.ts"
import { startExecution } from "../../src/ingest/executions.ts"
import { upsertSpanExecutions } from "../../src/ingest/persist.ts"
import { getExecution } from "../../src/query/ExecutionReader.ts"
import { freePort } from "../support/processes.ts"
import { timescaleSkipReason, timescaleTestUrl } from "../support/timescaleServer.ts"
import { embeddedSeed } from "../support/harness.ts"

// An OTLP root span makes its trace an execution unless the trace has one (src/ingest/persist.ts,
// upsertSpanExecutions: a claim in execution_traces, migrations/0014). On the embedded database always,
// in process and over its wire server (workers/db.ts: worker processes' pools); on a TimescaleDB server too with TIMESCALEDB_TEST_URL (a database of its own: migrated here), where
// two batches store roots of one trace at the same moment.

const hex = (bytes: number) => randomBytes(bytes).toString("hex")
const T0 = Date.now() - 3_600_000

const span = (traceId: string, spanId: string, parent: string | null, startMs: number): SpanRow => ({
  traceId, spanId, parentSpanId: parent, name: parent === null ? "GET /checkout" : "SELECT carts", kind: 2, statusCode: 0, statusMessage: null,
  startTimeMs: startMs, endTimeMs: startMs + 40, durationMs: 40, serviceName: "checkout", scopeName: null,
  resourceAttributes: { "service.name": "checkout" }, attributes: { "http.route": "/checkout", n: 1 }, events: [], links: []
})

const startJob = (tenantId: string, traceId: string, spanId: string) =>
  Schema.decodeUnknownSync(ExecutionStartJob)({
    _tag: "execution-start", tenantId, receivedAtMs: T0, traceId, spanId, parentSpanId: null, startTimeMs: T0 + 5,
    request: { operationName: "plan-trip", serviceName: "planner", context: { contextId: "c", userId: "u" } }
  })

const executions = (db: DbClient, tenant: string) =>
  Effect.runPromise(db.query<{ trace_id: string; span_id: string; source: string }>(
    "SELECT trace_id, span_id, source FROM executions WHERE tenant_id = $1 ORDER BY trace_id, span_id", [tenant]
  ))

const run = <A>(e: Effect.Effect<A, unknown>) => Effect.runPromise(e)

/** What holds on either database. */
const semantics = (db: () => DbClient) => {
  it("finds an execution by its id: a root span's through its claim's start time and the primary key, a native one through executions_trace_id, which holds only those", async () => {
    const t = `roots-${randomUUID().slice(0, 8)}`
    const [fromRoot, native] = [hex(16), hex(16)]
    // A fractional millisecond (OTLP's nanoseconds): the claim and the execution round it alike.
    const root = span(fromRoot, hex(8), null, T0 + 0.4567)
    await run(upsertSpanExecutions(db(), t, [root]))
    const nativeSpan = hex(8)
    expect((await run(db().transaction((tx) => startExecution(tx, startJob(t, native, nativeSpan))))).applied).toBe(true)
    expect(Option.getOrThrow(await run(getExecution(db(), t, fromRoot)))).toMatchObject({ executionId: fromRoot, spanId: root.spanId, status: "completed" })
    expect(Option.getOrThrow(await run(getExecution(db(), t, native)))).toMatchObject({ executionId: native, spanId: nativeSpan, status: "active" })
    expect(Option.isNone(await run(getExecution(db(), `other-${t}`, fromRoot)))).toBe(true)
    expect(Option.isNone(await run(getExecution(db(), t, hex(16))))).toBe(true)
    const index = await run(db().query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE indexname = 'executions_trace_id'"))
    expect(index.map((i) => i.indexdef)).toEqual([expect.stringMatching(/\(trace_id\) WHERE \(source = 'api'::text\)$/)])
  }, 60_000)

  it("one execution per trace: of two roots in one batch, the earliest; a replayed batch doubles nothing", async () => {
    const t = `roots-${randomUUID().slice(0, 8)}`
    const [a, b] = [hex(16), hex(16)]
    const first = hex(8)
    const batch = [span(a, hex(8), null, T0 + 10), span(a, first, null, T0), span(a, hex(8), first, T0 + 1), span(b, hex(8), null, T0)]
    await run(upsertSpanExecutions(db(), t, batch))
    const stored = await executions(db(), t)
    expect(stored.filter((e) => e.trace_id === a)).toEqual([{ trace_id: a, span_id: first, source: "otlp" }])
    expect(stored).toHaveLength(2)
    await run(upsertSpanExecutions(db(), t, batch))
    await run(upsertSpanExecutions(db(), t, [span(a, hex(8), null, T0 - 100)]))
    expect(await executions(db(), t)).toEqual(stored)
  }, 60_000)

  it("a native start claims the trace of a root stored before it; a root stored after a native start makes nothing; both in transactions", async () => {
    const t = `roots-${randomUUID().slice(0, 8)}`
    const [before, after] = [hex(16), hex(16)]
    const root = span(before, hex(8), null, T0)
    await run(db().transaction((tx) => upsertSpanExecutions(tx, t, [root])))
    const native = hex(8)
    expect((await run(db().transaction((tx) => startExecution(tx, startJob(t, before, native))))).applied).toBe(true)
    await run(db().transaction((tx) => startExecution(tx, startJob(t, after, hex(8)))))
    await run(upsertSpanExecutions(db(), t, [root, span(after, hex(8), null, T0)]))
    expect((await executions(db(), t)).filter((e) => e.trace_id === before)).toEqual([{ trace_id: before, span_id: native, source: "api" }])
    expect((await executions(db(), t)).filter((e) => e.trace_id === after).map((e) => e.source)).toEqual(["api"])
  }, 60_000)
}

describe("executions from root spans on the embedded database", () => {
  let scope: Scope.CloseableScope
  let db: DbClient
  beforeAll(async () => {
    const pglite = await Effect.runPromise(openPglite("memory://", embeddedSeed()))
    scope = Effect.runSync(Scope.make())
    await Effect.runPromise(Scope.addFinalizer(scope, Effect.promise(() => pglite.close())))
    db = await Effect.runPromise(embeddedClient(pglite))
    await Effect.runPromise(migrateFromDir().pipe(Effect.provideService(Db, db), Logger.withMinimumLogLevel(LogLevel.Warning)))
  }, 120_000)
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  semantics(() => db)
})

describe("executions from root spans over the embedded database's wire server", () => {
  let scope: Scope.CloseableScope
  let db: DbClient
  beforeAll(async () => {
    const pglite = await Effect.runPromise(openPglite("memory://", embeddedSeed()))
    await Effect.runPromise(migrateFromDir().pipe(Effect.provideService(Db, await Effect.runPromise(embeddedClient(pglite))), Logger.withMinimumLogLevel(LogLevel.Warning)))
    const password = randomBytes(24).toString("base64url")
    const port = await freePort()
    const server = await serveWire(pglite, port, "127.0.0.1", password)
    scope = Effect.runSync(Scope.make())
    await Effect.runPromise(Scope.addFinalizer(scope, Effect.promise(async () => {
      await new Promise((r) => server.close(() => r(undefined)))
      await pglite.close()
    })))
    db = await Effect.runPromise(Scope.extend(makePgPool(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, 2), scope))
  }, 120_000)
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  semantics(() => db)
})

const url = timescaleTestUrl
const skipReason = await timescaleSkipReason()
if (skipReason !== undefined) console.warn(`tests/ingest/rootExecutions.test.ts: server part skipped: ${skipReason}`)

describe.skipIf(skipReason !== undefined)(`executions from root spans on a TimescaleDB server${skipReason === undefined ? "" : ` (skipped: ${skipReason})`}`, () => {
  let scope: Scope.CloseableScope
  let db: DbClient
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    db = await Effect.runPromise(Scope.extend(makePgPool(url, 4), scope))
    await Effect.runPromise(migrateFromDir().pipe(Effect.provideService(Db, db), Logger.withMinimumLogLevel(LogLevel.Warning)))
  }, 120_000)
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  semantics(() => db)

  it("two batches storing roots of one trace at the same moment give one execution", async () => {
    const t = `roots-${randomUUID().slice(0, 8)}`
    const trace = hex(16)
    const [one, other] = [hex(8), hex(8)]
    // The first batch's statement is not committed yet while the second one runs on another connection.
    await run(db.transaction((tx) =>
      Effect.gen(function* () {
        yield* upsertSpanExecutions(tx, t, [span(trace, one, null, T0)])
        const second = yield* Effect.forkDaemon(upsertSpanExecutions(db, t, [span(trace, other, null, T0 + 1)]))
        yield* Effect.sleep("300 millis")
        return second
      })
    ).pipe(Effect.flatMap(Fiber.join)))
    expect(await executions(db, t)).toEqual([{ trace_id: trace, span_id: one, source: "otlp" }])
  }, 60_000)
})
