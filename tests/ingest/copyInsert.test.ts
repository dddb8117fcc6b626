import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Logger, LogLevel, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { Db } from "../../src/db/Db.ts"
import type { DbClient } from "../../src/db/Db.ts"
import { migrateFromDir } from "../../src/db/Migrator.ts"
import { makeEmbeddedThread } from "../../src/db/embedded.ts"
import { makePgPool } from "../../src/db/pgPool.ts"
import { traced } from "../../src/db/traced.ts"
import type { MetricRow, SpanRow } from "../../src/domain/jobs.ts"
import { NOTHING_INHERITED, recognize } from "../../src/ingest/genai/recognize.ts"
import { CHUNK, dedupKeys, insertMetricPoints, insertSpans } from "../../src/ingest/persist.ts"
import { countingCopies, insertOnly, storedRows } from "../support/copyRows.ts"
import { timescaleSkipReason, timescaleTestUrl } from "../support/timescaleServer.ts"

// On a TimescaleDB server and embedded, the ingest stage's raw rows go by COPY (src/ingest/persist.ts, copyOrInsert):
// the rows the INSERT stores, and its dedup kept: a redelivered batch stores nothing twice and does not
// fail, a chunk holding one stored row stores its new ones once. The server's cases need TIMESCALEDB_TEST_URL
// (a database on a TimescaleDB server; migrated here) and are skipped, saying why, without it; the
// embedded database's always run.

const url = timescaleTestUrl
const skipReason = await timescaleSkipReason()
if (skipReason !== undefined) console.warn(`tests/ingest/copyInsert.test.ts: skipped: ${skipReason}`)

// What COPY's text and the array literals escape, and what neither does.
const AWKWARD = ["plain", "tab\there", "new\nline", "cr\rlf\r\n", "back\\slash", "\\N", "\\.", "quote\"d", "{brace,comma}", "é漢🙂", "\u2028", ""]
const awkward = (i: number) => `${AWKWARD[i % AWKWARD.length]}-${i % 5}`

const T0 = Date.now() - 3_600_000

const points = (n: number, from = 0): Array<MetricRow> =>
  Array.from({ length: n }, (_, k) => {
    const i = from + k
    return {
      name: awkward(i), value: i % 17 === 0 ? Number.NaN : i / 7, timeMs: T0 + i + (i % 3) * 0.0005, serviceName: awkward(i + 1),
      traceId: i % 4 === 0 ? null : awkward(i + 2), attributes: { host: awkward(i + 3), n: i % 5, nested: { s: awkward(i + 4) } }
    }
  })

/** Spans, a third of them GenAI calls (typed columns, genai_held) and some awaiting their parent. */
const spanCases = (n: number, from = 0) =>
  Array.from({ length: n }, (_, k) => {
    const i = from + k
    const attributes: Record<string, unknown> = { "http.route": awkward(i), i }
    if (i % 3 === 0) Object.assign(attributes, {
      "gen_ai.operation.name": "chat", "gen_ai.request.model": awkward(i + 1), "gen_ai.agent.name": awkward(i + 2),
      "gen_ai.usage.input_tokens": i, "gen_ai.usage.output_tokens": 2 * i
    })
    const start = T0 + i * 3 + 0.123456
    const span: SpanRow = {
      traceId: `trace-${Math.floor(i / 4)}`, spanId: `span-${i}\t${awkward(i)}`, parentSpanId: i % 4 === 0 ? null : `span-${i - 1}`,
      name: awkward(i), kind: i % 5, statusCode: i % 3, statusMessage: i % 2 === 0 ? null : awkward(i + 3),
      startTimeMs: start, endTimeMs: start + 2.5, durationMs: 2.5, serviceName: awkward(i + 4), scopeName: i % 2 === 0 ? awkward(i) : null,
      resourceAttributes: { "service.name": awkward(i + 4) }, attributes, events: [{ name: awkward(i + 5) }], links: []
    }
    const r = recognize(attributes, span.statusCode, NOTHING_INHERITED)
    return { span, genai: r === null ? undefined : { ...r, costUsd: i / 1000 }, awaiting: i % 6 === 3 }
  })

const insertCases = (q: Parameters<typeof insertSpans>[0], tenant: string, cases: ReturnType<typeof spanCases>) =>
  insertSpans(q, tenant, cases.map((c) => c.span), cases.map((c) => c.genai), cases.map((c) => c.awaiting))

/** The same cases on each database the ingest stage COPYs into: `open` makes its client as Db.Live does. */
const suite = (name: string, open: Effect.Effect<DbClient, unknown, Scope.Scope>) => () => {
  let scope: Scope.CloseableScope
  let db: DbClient
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    db = traced(await Effect.runPromise(Scope.extend(open, scope)))
    await Effect.runPromise(migrateFromDir().pipe(Effect.provideService(Db, db), Logger.withMinimumLogLevel(LogLevel.Warning)))
  }, 120_000)
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  const tenants = () => {
    const id = randomUUID().slice(0, 8)
    return { copy: `copy-${id}`, insert: `insert-${id}` }
  }

  it("metric points: the INSERT's rows; a redelivery stores nothing twice; a chunk with one stored row stores its new ones", async () => {
    const t = tenants()
    const copied = countingCopies(db)
    const batch = points(2 * CHUNK + 200)
    const keys = dedupKeys(batch, "native", `job-${t.copy}`)
    await Effect.runPromise(insertMetricPoints(copied.db, t.copy, batch, keys))
    await Effect.runPromise(insertMetricPoints(insertOnly(db), t.insert, batch, keys))
    expect(copied.copies()).toBe(3)
    const first = await storedRows(db, "metric_points", t.copy)
    expect(first).toHaveLength(batch.length)
    expect(first).toEqual(await storedRows(db, "metric_points", t.insert))

    // The job delivered again: every chunk's COPY fails on a stored row and its INSERT skips them all.
    await Effect.runPromise(insertMetricPoints(copied.db, t.copy, batch, keys))
    expect(copied.copies()).toBe(6)
    expect(await storedRows(db, "metric_points", t.copy)).toEqual(first)

    // Ten new points and one already stored, in one chunk.
    const fresh = points(10, batch.length)
    const mixed = [...fresh.slice(0, 5), batch[7]!, ...fresh.slice(5)]
    const mixedKeys = [...dedupKeys(fresh, "otlp", "").slice(0, 5), keys[7]!, ...dedupKeys(fresh, "otlp", "").slice(5)]
    await Effect.runPromise(insertMetricPoints(copied.db, t.copy, mixed, mixedKeys))
    await Effect.runPromise(insertMetricPoints(insertOnly(db), t.insert, mixed, mixedKeys))
    const after = await storedRows(db, "metric_points", t.copy)
    expect(after).toHaveLength(batch.length + 10)
    expect(after).toEqual(await storedRows(db, "metric_points", t.insert))
  }, 60_000)

  it("spans with GenAI columns: the INSERT's rows; a redelivery stores nothing twice; a chunk with one stored span stores its new ones", async () => {
    const t = tenants()
    const copied = countingCopies(db)
    const cases = spanCases(CHUNK + 100)
    await Effect.runPromise(insertCases(copied.db, t.copy, cases))
    await Effect.runPromise(insertCases(insertOnly(db), t.insert, cases))
    expect(copied.copies()).toBe(2)
    const first = await storedRows(db, "spans", t.copy)
    expect(first).toHaveLength(cases.length)
    expect(first.filter((r) => JSON.parse(r).genai_kind !== null).length).toBeGreaterThan(100)
    expect(first.filter((r) => JSON.parse(r).genai_awaiting === true).length).toBeGreaterThan(50)
    expect(first.filter((r) => JSON.parse(r).genai_held !== null).length).toBeGreaterThan(100)
    expect(first).toEqual(await storedRows(db, "spans", t.insert))

    // The same export sent again.
    await Effect.runPromise(insertCases(copied.db, t.copy, cases))
    expect(copied.copies()).toBe(4)
    expect(await storedRows(db, "spans", t.copy)).toEqual(first)

    const fresh = spanCases(10, cases.length)
    const mixed = [...fresh.slice(0, 3), cases[42]!, ...fresh.slice(3)]
    await Effect.runPromise(insertCases(copied.db, t.copy, mixed))
    await Effect.runPromise(insertCases(insertOnly(db), t.insert, mixed))
    const after = await storedRows(db, "spans", t.copy)
    expect(after).toHaveLength(cases.length + 10)
    expect(after).toEqual(await storedRows(db, "spans", t.insert))
  }, 60_000)
  it("batches of several tenants at once, one of them delivered again: every tenant's rows stored once (a server merges them into fewer COPYs)", async () => {
    const id = randomUUID().slice(0, 8)
    const cases = spanCases(300)
    const reference = `ref-${id}`
    await Effect.runPromise(insertCases(insertOnly(db), reference, cases))
    const others = Array.from({ length: 5 }, (_, i) => `at-once-${i}-${id}`)
    const again = `again-${id}`
    await Effect.runPromise(insertCases(db, again, cases))
    const points0 = points(400)
    const metricsTenant = `m-${id}`
    const keys = dedupKeys(points0, "native", `job-${metricsTenant}`)
    await Effect.runPromise(Effect.all([
      ...others.map((t) => insertCases(db, t, cases)),
      insertCases(db, again, cases),
      insertMetricPoints(db, metricsTenant, points0, keys),
      insertMetricPoints(db, metricsTenant, points0, keys)
    ], { concurrency: "unbounded", discard: true }))
    const expected = await storedRows(db, "spans", reference)
    expect(expected).toHaveLength(cases.length)
    for (const t of [...others, again]) expect(await storedRows(db, "spans", t)).toEqual(expected)
    expect(await storedRows(db, "metric_points", metricsTenant)).toHaveLength(points0.length)
  }, 60_000)

  it(`${name}: the client has a COPY path`, () => {
    expect(db.copyFrom).toBeDefined()
  })
}

describe.skipIf(skipReason !== undefined)(`inserts by COPY on a TimescaleDB server${skipReason === undefined ? "" : ` (skipped: ${skipReason})`}`,
  suite("server", makePgPool(url, 4)))

// The embedded database on its own thread (what npm start and the tests run): COPY … FROM '/dev/blob'.
describe("inserts by COPY into the embedded database", suite("embedded", makeEmbeddedThread("memory://")))
