import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Scope } from "effect"
import fc from "fast-check"
import pg from "pg"
import { randomUUID } from "node:crypto"
import type { DbClient, DbError, Queryable } from "../../src/db/Db.ts"
import { makeEmbeddedThread } from "../../src/db/embedded.ts"
import { makePgPool } from "../../src/db/pgPool.ts"
import { insertMetricPoints, insertSpans } from "../../src/ingest/persist.ts"
import { countingCopies, insertOnly, metricRow, spanCase, storedRows } from "../support/copyRows.ts"

// COPY's text (src/ingest/copyText.ts) against the INSERT it replaces (src/ingest/persist.ts), on a server and embedded:
// the same rows, through both paths, store the same values, or both fail with the same SQLSTATE. Needs a
// plain PostgreSQL (no TimescaleDB): POSTGRES_TEST_URL, by default the CI machine's 127.0.0.1:5432/test;
// the tables are made, with the migrations' column types and keys, in a schema of the test's own, dropped after.
// Skipped, saying why, when that server cannot be reached. The embedded database's cases always run.

const url = process.env.POSTGRES_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `copy_text_${randomUUID().slice(0, 8)}`

const admin = async <A>(f: (c: pg.Client) => Promise<A>): Promise<A> => {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await c.connect()
    return await f(c)
  } finally {
    await c.end().catch(() => {})
  }
}

const skipReason = await admin(async () => undefined).catch((e: unknown) => `POSTGRES_TEST_URL (${url}) is unreachable: ${e instanceof Error ? e.message : String(e)}`)
if (skipReason !== undefined) console.warn(`tests/ingest/copyText.test.ts: skipped: ${skipReason}`)

const TABLES = `
  CREATE SCHEMA ${schema};
  CREATE TABLE ${schema}.metric_points (
    tenant_id text NOT NULL, time timestamptz NOT NULL, name text NOT NULL, value double precision NOT NULL,
    service_name text NOT NULL DEFAULT '', trace_id text, attributes jsonb NOT NULL DEFAULT '{}'::jsonb, dedup_key bigint NOT NULL,
    PRIMARY KEY (tenant_id, name, time, dedup_key));
  CREATE TABLE ${schema}.spans (
    tenant_id text NOT NULL, trace_id text NOT NULL, span_id text NOT NULL, parent_span_id text, name text NOT NULL,
    kind smallint NOT NULL DEFAULT 0, status_code smallint NOT NULL DEFAULT 0, status_message text, service_name text NOT NULL,
    scope_name text, start_time timestamptz NOT NULL, end_time timestamptz NOT NULL, duration_ms double precision NOT NULL,
    resource_attributes jsonb NOT NULL DEFAULT '{}'::jsonb, attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
    events jsonb NOT NULL DEFAULT '[]'::jsonb, links jsonb NOT NULL DEFAULT '[]'::jsonb,
    genai_kind text, genai_operation text, genai_provider text, genai_request_model text, genai_response_model text,
    genai_agent text, genai_agent_id text, genai_parent_agent text, genai_tool text, genai_conversation text,
    genai_workflow text, genai_user text, genai_error_type text, genai_error boolean,
    genai_input_tokens double precision, genai_output_tokens double precision, genai_cache_read_tokens double precision,
    genai_cache_write_tokens double precision, genai_cost_usd double precision, genai_unpriced_tokens double precision,
    genai_awaiting boolean, genai_held integer,
    PRIMARY KEY (tenant_id, trace_id, span_id, start_time));`

/**
 * The properties on one database: `open` gives a client whose statements find the tables unqualified
 * (made with TABLES), `drop` removes them. `runs`: fast-check cases per property.
 */
const properties = (name: string, open: Effect.Effect<DbClient, unknown, Scope.Scope>, drop: () => Promise<unknown>, runs: number) => () => {
  let scope: Scope.CloseableScope
  let db: DbClient
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    db = await Effect.runPromise(Scope.extend(open, scope))
  }, 120_000)
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await drop()
  })

  let n = 0
  // Awkward tenants too: a tab, a backslash (COPY escapes its tenant_id field per row).
  const tenants = () => (n++, { copy: `c\t${n}\\`, insert: `i\t${n}\\` })

  const code = (e: Exit.Exit<void, DbError>) => (Exit.isSuccess(e) ? "ok" : Option.match(Cause.failureOption(e.cause), { onNone: () => "defect", onSome: (x) => x.code ?? "no SQLSTATE" }))

  /**
   * Both paths on the same rows: the same stored rows, and the same outcome (`sameCode`: the same SQLSTATE;
   * else both failing is enough: the INSERT checks a parameter's encoding before any row, COPY row by row).
   */
  const same = async (table: "spans" | "metric_points", run: (q: Queryable, tenant: string) => Effect.Effect<void, DbError>, sameCode = true) => {
    const t = tenants()
    const copied = countingCopies(db)
    const viaCopy = code(await Effect.runPromiseExit(run(copied.db, t.copy)))
    const viaInsert = code(await Effect.runPromiseExit(run(insertOnly(db), t.insert)))
    if (sameCode) expect(viaCopy).toBe(viaInsert)
    else expect([viaCopy === "ok", viaInsert === "ok"]).toEqual([false, false])
    expect(await storedRows(db, table, t.copy)).toEqual(await storedRows(db, table, t.insert))
    return copied.copies()
  }

  it("metric points", async () => {
    let copies = 0
    await fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(metricRow(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })), { maxLength: 40 }),
      async (rows) => {
        copies += await same("metric_points", (q, tenant) => insertMetricPoints(q, tenant, rows.map(([p]) => p), rows.map(([, k]) => String(k))))
      }
    ), { numRuns: runs })
    // Without COPY on the server pool both sides ran the INSERT: the property said nothing. Not every
    // case goes by COPY (an empty batch, a time out of copyTimestamp's range): about a third to a half of
    // the 150 do, a random number; 50 was reached exactly once in a CI run (the spans' case), 20 is far below.
    expect(db.copyFrom).toBeDefined()
    expect(copies).toBeGreaterThan(runs / 7)
  }, 120_000)

  it("spans, GenAI columns among them", async () => {
    let copies = 0
    await fc.assert(fc.asyncProperty(fc.array(spanCase(), { maxLength: 25 }), async (cases) => {
      copies += await same("spans", (q, tenant) =>
        insertSpans(q, tenant, cases.map((c) => c.span), cases.map((c) => c.genai), cases.map((c) => c.awaiting)))
    }), { numRuns: runs })
    expect(db.copyFrom).toBeDefined()
    expect(copies).toBeGreaterThan(runs / 7)
  }, 120_000)

  it.skipIf(name !== "server")("a COPY refused before it reads its data (written behind the statement) leaves its connection usable", async () => {
    const one = await Effect.runPromise(Scope.extend(makePgPool(url, 1), scope))
    for (let i = 0; i < 2; i++) {
      const e = code(await Effect.runPromiseExit(one.copyFrom!(`${schema}.no_such_table`, ["a"], Buffer.from("x\n".repeat(50_000)))))
      expect(e).toBe("42P01")
      expect(await Effect.runPromise(one.query("SELECT 1 AS one"))).toEqual([{ one: 1 }])
    }
  })

  it("a NUL character fails both paths alike, storing nothing (the OTLP decoder replaces it before)", async () => {
    await fc.assert(fc.asyncProperty(fc.array(metricRow(true), { minLength: 1, maxLength: 10 }), fc.array(spanCase(true), { minLength: 1, maxLength: 10 }), async (points, cases) => {
      const withNul = (s: string) => `${s}\u0000`
      await same("metric_points", (q, tenant) => insertMetricPoints(q, tenant, points.map((p, i) => (i === 0 ? { ...p, name: withNul(p.name) } : p)), points.map((_, i) => String(i))), false)
      await same("spans", (q, tenant) => insertSpans(q, tenant, cases.map((c, i) => (i === 0 ? { ...c.span, name: withNul(c.span.name) } : c.span)), cases.map((c) => c.genai), cases.map((c) => c.awaiting)), false)
    }), { numRuns: Math.ceil(runs / 4) })
  }, 120_000)
}

describe.skipIf(skipReason !== undefined)(`COPY text and INSERT … unnest store the same rows${skipReason === undefined ? "" : ` (skipped: ${skipReason})`}`, properties(
  "server",
  Effect.promise(() => admin((c) => c.query(TABLES))).pipe(Effect.zipRight(makePgPool(`${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, 2))),
  () => admin((c) => c.query(`DROP SCHEMA ${schema} CASCADE`)),
  150
))

// The embedded database (PGlite on its own thread: COPY … FROM '/dev/blob'), its one session set to the schema.
describe("COPY text and INSERT … unnest store the same rows, embedded", properties(
  "embedded",
  Effect.tap(makeEmbeddedThread("memory://"), (db) => db.exec(`${TABLES}; SET search_path TO ${schema}`)),
  async () => {},
  150
))
