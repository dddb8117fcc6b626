import { HttpServer } from "@effect/platform"
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { ApiLayer, appLayer, Infrastructure, LoggingLive } from "../../src/App.ts"
import type { AppOptions } from "../../src/App.ts"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { Db } from "../../src/db/Db.ts"
import type { Row } from "../../src/db/Db.ts"
import type { Scope } from "../../src/domain/ids.ts"
import { STAGES } from "../../src/queues/Queues.ts"
import { deleteKeysWithPrefix } from "../../src/queues/Redis.ts"

type TestServices = Layer.Layer.Success<ReturnType<typeof appLayer>> | Layer.Layer.Success<typeof ApiLayer>

/** At least 32 characters: start-up refuses a shorter MPLP_ADMIN_TOKEN. */
export const ADMIN_TOKEN = "test-admin-token-0123456789abcdefghij"

export interface TestApp {
  readonly baseUrl: string
  readonly prefix: string
  /** The app's configuration, for worker processes that must share it (its Redis prefix, its secret key). */
  readonly env: Readonly<Record<string, string>>
  readonly runtime: ManagedRuntime.ManagedRuntime<TestServices, unknown>
  readonly sql: <R extends Row = Row>(text: string, values?: ReadonlyArray<unknown>) => Promise<ReadonlyArray<R>>
  readonly admin: (method: string, path: string, body?: unknown) => Promise<Response>
  /** A new tenant with one key holding `scopes`. */
  readonly tenant: (scopes?: ReadonlyArray<Scope>, settings?: unknown) => Promise<{ id: string; key: string; keyId: string }>
  readonly close: () => Promise<void>
}

// Imported only under vitest: elsewhere (the benches, scripts/fuzz.ts) importing it throws.
const inject = process.env.VITEST === undefined ? undefined : (await import("vitest")).inject

/**
 * The migrated database this run's test databases start from (tests/support/globalSetup.ts), for a
 * `memory://` database; undefined outside vitest (scripts/fuzz.ts starts apps from empty ones).
 */
export const embeddedSeed = (): string | undefined => inject?.("embeddedSeed")

/**
 * Test configuration: everything a test does not set explicitly. Each app gets its own Redis key prefix
 * (so its sign-in throttle counts only its own failures; the budget is raised for tests that make 401s
 * on purpose) and its own key for webhook secrets at rest.
 */
export const testEnv = (overrides: Record<string, string> = {}) => ({
  PORT: "0",
  HOST: "127.0.0.1",
  MPLP_DATA_DIR: "memory://",
  MPLP_QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
  MPLP_ADMIN_TOKEN: ADMIN_TOKEN,
  MPLP_ALLOW_PRIVATE_WEBHOOKS: "true",
  LOG_LEVEL: "Warning",
  LOG_FORMAT: "json",
  MPLP_SHUTDOWN_GRACE_MS: "100",
  MPLP_AUTH_MAX_FAILURES: "1000",
  MPLP_SECRET_KEY: randomBytes(32).toString("base64"),
  ...(embeddedSeed() === undefined ? {} : { MPLP_EMBEDDED_SEED: embeddedSeed() }),
  ...overrides
})

/** The whole service in this process: real HTTP server, real Redis, embedded TimescaleDB. */
export const startApp = async (
  options: Partial<Omit<AppOptions, "api">> = {},
  env: Record<string, string> = {}
): Promise<TestApp> => {
  const vars = testEnv(env)
  const config = AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars))))))
  const app = appLayer({ stages: STAGES, concurrency: 2, demoTenant: false, ...options, api: false })
  // The API is merged in here (not through `api: true`) so its HttpServer stays visible to the test.
  const layer = Layer.merge(app, ApiLayer.pipe(Layer.provide(Infrastructure))).pipe(Layer.provide(LoggingLive), Layer.provide(config))
  const runtime = ManagedRuntime.make(layer)
  const address = await runtime.runPromise(HttpServer.HttpServer.pipe(Effect.map((s) => s.address)))
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  const baseUrl = `http://127.0.0.1:${address.port}`
  const sql = <R extends Row = Row>(text: string, values: ReadonlyArray<unknown> = []) =>
    runtime.runPromise(Effect.flatMap(Db, (db) => db.query<R>(text, values)))
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
  const tenant = async (scopes: ReadonlyArray<Scope> = ["ingest", "query", "alerts"], settings?: unknown) => {
    const id = `t${randomUUID().replace(/-/g, "").slice(0, 12)}`
    const created = await admin("POST", "/api/admin/tenants", { id, name: id, ...(settings === undefined ? {} : { settings }) })
    if (created.status !== 201) throw new Error(`tenant: ${created.status} ${await created.text()}`)
    const k = await admin("POST", `/api/admin/tenants/${id}/keys`, { scopes })
    if (k.status !== 201) throw new Error(`key: ${k.status} ${await k.text()}`)
    const body = (await k.json()) as { key: string; keyId: string }
    return { id, key: body.key, keyId: body.keyId }
  }
  const close = async () => {
    await runtime.dispose()
    await deletePrefix(vars.MPLP_QUEUE_PREFIX, (vars as Record<string, string | undefined>).REDIS_URL)
  }
  return { baseUrl, prefix: vars.MPLP_QUEUE_PREFIX, env: vars, runtime, sql, admin, tenant, close }
}

/** Removes every Redis key a test app wrote (on every master of a cluster). */
export const deletePrefix = (prefix: string, url = "redis://127.0.0.1:6379") => deleteKeysWithPrefix(url, prefix)

/** Polls until `f` returns a value that is not undefined, or fails after `timeoutMs`. */
export const eventually = async <A>(f: () => Promise<A | undefined>, timeoutMs = 15_000, everyMs = 100): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await f()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last === undefined ? "" : `: ${String(last)}`}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** JSON request with a tenant key. */
export const call = (app: TestApp, key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
