import { Context, Effect, Either, Layer, ParseResult, Schema } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { AppConfig } from "../config/AppConfig.ts"
import { Db } from "../db/Db.ts"
import type { DbError } from "../db/Db.ts"
import { BadRequest, Conflict, NotFound, Unauthorized } from "../domain/errors.ts"
import { TenantId } from "../domain/ids.ts"
import { describeIssues, formatParseError } from "../domain/issues.ts"
import type { Scope } from "../domain/ids.ts"
import { decodeSettings } from "../domain/settings.ts"
import type { TenantSettings } from "../domain/settings.ts"
import { generateKey, keyIdOf, matches } from "./apiKeys.ts"
import { TtlCache } from "./TtlCache.ts"

export interface Principal {
  readonly tenantId: string
  readonly keyId: string
  readonly scopes: ReadonlyArray<Scope>
}

export interface TenantRecord {
  readonly id: string
  readonly name: string
  readonly createdAt: string
  readonly settingsSource: string
}

interface CachedKey {
  readonly tenantId: string
  readonly hash: Uint8Array
  readonly scopes: ReadonlyArray<Scope>
  readonly revoked: boolean
}

/** Keys and settings are read on every request; other processes' changes are seen within this time. */
const CACHE_MS = 5_000

/** Values a tenant document got wrong are quoted only as short excerpts. */
export const settingsIssues = (error: ParseResult.ParseError) => formatParseError(error)

const makeStore = Effect.gen(function* () {
  const db = yield* Db
  const config = yield* AppConfig
  const defaultsPath = join(config.tenantsDir, "default.json")
  const defaults: unknown = yield* Effect.tryPromise({
    try: async () => JSON.parse(await readFile(defaultsPath, "utf8")) as unknown,
    catch: (e) => new Error(`cannot read default tenant settings ${defaultsPath}: ${e instanceof Error ? e.message : String(e)}`)
  }).pipe(Effect.orDie)
  const defaultSettings = yield* Either.match(decodeSettings({}, defaults), {
    onLeft: (e) => Effect.dieMessage(`${defaultsPath}: ${describeIssues(settingsIssues(e))}`),
    onRight: Effect.succeed
  })
  const keys = new TtlCache<CachedKey>(CACHE_MS)
  const settingsCache = new TtlCache<TenantSettings>(CACHE_MS)

  const validate = (doc: unknown): Effect.Effect<TenantSettings, BadRequest> =>
    Either.match(decodeSettings(defaults, doc), {
      onLeft: (e) => {
        const issues = settingsIssues(e)
        return Effect.fail(new BadRequest({ message: `invalid tenant settings: ${describeIssues(issues)}`, issues }))
      },
      onRight: Effect.succeed
    })

  const tenantExists = (id: string) =>
    db.query("SELECT 1 FROM tenants WHERE id = $1", [id]).pipe(Effect.map((r) => r.length > 0))

  const requireTenant = (id: string) =>
    Effect.flatMap(tenantExists(id), (ok) => (ok ? Effect.void : Effect.fail(new NotFound({ message: `tenant ${id} not found` }))))

  const createTenant = (id: string, name: string, settingsDoc: unknown = {}, source: "default" | "file" | "api" = "default") =>
    Effect.gen(function* () {
      yield* Schema.decodeUnknown(TenantId)(id).pipe(
        Effect.mapError((e) => new BadRequest({ message: `invalid tenant id: ${e.message}` }))
      )
      const settings = yield* validate(settingsDoc)
      const rows = yield* db.query(
        `INSERT INTO tenants (id, name, settings, settings_source) VALUES ($1, $2, $3::jsonb, $4)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [id, name, JSON.stringify(settings), source]
      )
      if (rows.length === 0) return yield* new Conflict({ message: `tenant ${id} already exists` })
      return { id, name }
    })

  const getTenant = (id: string) =>
    db.query<{ id: string; name: string; created_at: Date; settings_source: string }>(
      "SELECT id, name, created_at, settings_source FROM tenants WHERE id = $1", [id]
    ).pipe(
      Effect.flatMap((rows) => {
        const r = rows[0]
        return r === undefined
          ? Effect.fail(new NotFound({ message: `tenant ${id} not found` }))
          : Effect.succeed<TenantRecord>({ id: r.id, name: r.name, createdAt: new Date(r.created_at).toISOString(), settingsSource: r.settings_source })
      })
    )

  const listTenants = db.query<{ id: string }>("SELECT id FROM tenants ORDER BY id").pipe(Effect.map((r) => r.map((x) => x.id)))

  const getSettings = (tenantId: string): Effect.Effect<TenantSettings, NotFound | DbError> =>
    Effect.gen(function* () {
      const hit = settingsCache.get(tenantId)
      if (hit !== undefined) return hit
      const rows = yield* db.query<{ settings: unknown }>("SELECT settings FROM tenants WHERE id = $1", [tenantId])
      const row = rows[0]
      if (row === undefined) return yield* new NotFound({ message: `tenant ${tenantId} not found` })
      // A stored document that no longer decodes (e.g. after a schema change) falls back to the defaults.
      const settings = Either.getOrElse(decodeSettings(defaults, row.settings), () => defaultSettings)
      settingsCache.set(tenantId, settings)
      return settings
    })

  const putSettings = (tenantId: string, doc: unknown, source: "file" | "api") =>
    Effect.gen(function* () {
      const settings = yield* validate(doc)
      const rows = yield* db.query(
        "UPDATE tenants SET settings = $2::jsonb, settings_source = $3, updated_at = now() WHERE id = $1 RETURNING id",
        [tenantId, JSON.stringify(settings), source]
      )
      if (rows.length === 0) return yield* new NotFound({ message: `tenant ${tenantId} not found` })
      settingsCache.set(tenantId, settings)
      return settings
    })

  const createKey = (tenantId: string, scopes: ReadonlyArray<Scope>, name?: string) =>
    Effect.gen(function* () {
      yield* requireTenant(tenantId)
      const k = generateKey()
      yield* db.query("INSERT INTO api_keys (id, tenant_id, key_hash, scopes, name) VALUES ($1, $2, $3, $4, $5)", [
        k.id, tenantId, k.hash, [...scopes], name ?? null
      ])
      return { keyId: k.id, key: k.key, tenantId, scopes }
    })

  const revokeKey = (keyId: string) =>
    Effect.gen(function* () {
      const rows = yield* db.query(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id", [keyId]
      )
      keys.delete(keyId)
      if (rows.length === 0) return yield* new NotFound({ message: `key ${keyId} not found` })
    })

  const unauthorized = new Unauthorized({ message: "missing, malformed, unknown or revoked API key" })

  const authenticate = (key: string): Effect.Effect<Principal, Unauthorized | DbError> =>
    Effect.gen(function* () {
      const keyId = keyIdOf(key)
      if (keyId === undefined) return yield* unauthorized
      let entry = keys.get(keyId)
      if (entry === undefined) {
        const rows = yield* db.query<{ tenant_id: string; key_hash: Uint8Array; scopes: Array<Scope>; revoked: boolean }>(
          "SELECT tenant_id, key_hash, scopes, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = $1", [keyId]
        )
        const r = rows[0]
        if (r === undefined) return yield* unauthorized
        entry = { tenantId: r.tenant_id, hash: r.key_hash, scopes: r.scopes, revoked: r.revoked }
        keys.set(keyId, entry)
      }
      if (entry.revoked || !matches(key, entry.hash)) return yield* unauthorized
      return { tenantId: entry.tenantId, keyId, scopes: entry.scopes }
    })

  return {
    defaults,
    defaultSettings,
    validate,
    createTenant,
    getTenant,
    listTenants,
    tenantExists,
    getSettings,
    putSettings,
    createKey,
    revokeKey,
    authenticate
  } as const
})

export class TenantStore extends Context.Tag("tenants/TenantStore")<TenantStore, Effect.Effect.Success<typeof makeStore>>() {
  static readonly Live = Layer.effect(TenantStore, makeStore)
}
