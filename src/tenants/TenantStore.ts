import { Context, Effect, Either, Layer, Option, ParseResult, Redacted, Schema } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { AppConfig } from "../config/AppConfig.ts"
import { Db } from "../db/Db.ts"
import type { DbError } from "../db/Db.ts"
import { BadRequest, Conflict, messageOf, NotFound, Unauthorized } from "../domain/errors.ts"
import { TenantId } from "../domain/ids.ts"
import { describeIssues, formatParseError, idText } from "../domain/issues.ts"
import type { Scope } from "../domain/ids.ts"
import { decodeSettings } from "../domain/settings.ts"
import type { TenantSettings } from "../domain/settings.ts"
import { makeSecretBox } from "../alerting/secretBox.ts"
import { generateKey, keyIdOf, matches } from "./apiKeys.ts"
import { needsReseal, openSecrets, saveIssues, sealSecrets, unmaskSecrets } from "./settingsSecrets.ts"
import type { Issue } from "./settingsSecrets.ts"
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
/**
 * Key ids the database does not know are remembered this long, so a stream of made-up keys does not
 * cost a query each; at most a bounded number of them, so the memory they take is bounded too. A key
 * created since is known at once in this process; elsewhere, as for revocations, within this time.
 */
const UNKNOWN_KEY_MS = 5_000
const UNKNOWN_KEYS_MAX = 50_000

/** Values a tenant document got wrong are quoted only as short excerpts. */
export const settingsIssues = (error: ParseResult.ParseError) => formatParseError(error)

const makeStore = Effect.gen(function* () {
  const db = yield* Db
  const config = yield* AppConfig
  const defaultsPath = join(config.tenantsDir, "default.json")
  const defaults: unknown = yield* Effect.tryPromise({
    try: async () => JSON.parse(await readFile(defaultsPath, "utf8")) as unknown,
    catch: (e) => new Error(`cannot read default tenant settings ${defaultsPath}: ${messageOf(e)}`)
  }).pipe(Effect.orDie)
  const defaultSettings = yield* Either.match(decodeSettings({}, defaults), {
    onLeft: (e) => Effect.dieMessage(`${defaultsPath}: ${describeIssues(settingsIssues(e))}`),
    onRight: Effect.succeed
  })
  const keys = new TtlCache<CachedKey>(CACHE_MS)
  let unknownKeys = new TtlCache<true>(UNKNOWN_KEY_MS)
  const settingsCache = new TtlCache<TenantSettings>(CACHE_MS)
  const box = makeSecretBox(
    Option.getOrUndefined(Option.map(config.secretKey, Redacted.value)),
    config.secretKeysPrevious.map(Redacted.value)
  )

  const invalid = (issues: ReadonlyArray<Issue>) =>
    new BadRequest({ message: `invalid tenant settings: ${describeIssues(issues)}`, issues: [...issues] })

  const validate = (doc: unknown): Effect.Effect<TenantSettings, BadRequest> =>
    Either.match(decodeSettings(defaults, doc), {
      onLeft: (e) => Effect.fail(invalid(settingsIssues(e))),
      onRight: Effect.succeed
    })

  /** A document to save over `stored` (the tenant's current settings, if any): masked secrets kept, save-time checks applied. */
  const validateSave = (tenantId: string, doc: unknown, stored: TenantSettings | undefined) =>
    Effect.gen(function* () {
      const unmasked = unmaskSecrets(doc, stored)
      if (unmasked.issues.length > 0) return yield* invalid(unmasked.issues)
      const settings = yield* validate(unmasked.doc)
      const issues = saveIssues(settings, stored, config.allowPrivateWebhooks)
      if (issues.length > 0) return yield* invalid(issues)
      return { settings, sealed: sealSecrets(settings, box, tenantId) }
    })

  /** A stored document as the service sees it: over the defaults, secrets opened. */
  const readStored = (tenantId: string, raw: unknown) =>
    Effect.gen(function* () {
      // A stored document that no longer decodes (e.g. after a schema change) falls back to the defaults.
      const decoded = Either.getOrElse(decodeSettings(defaults, raw), () => defaultSettings)
      const opened = openSecrets(decoded, box, tenantId)
      if (opened.unreadable > 0) {
        yield* Effect.logWarning(`${opened.unreadable} webhook secret(s) of tenant ${tenantId} are encrypted with a key this process lacks: set MPLP_SECRET_KEY / MPLP_SECRET_KEY_PREVIOUS; their deliveries are refused`)
      }
      return opened.settings
    })

  const tenantExists = (id: string) =>
    db.query("SELECT 1 FROM tenants WHERE id = $1", [id]).pipe(Effect.map((r) => r.length > 0))

  const requireTenant = (id: string) =>
    Effect.flatMap(tenantExists(id), (ok) => (ok ? Effect.void : Effect.fail(new NotFound({ message: `tenant ${idText(id)} not found` }))))

  const createTenant = (id: string, name: string, settingsDoc: unknown = {}, source: "default" | "file" | "api" = "default") =>
    Effect.gen(function* () {
      yield* Schema.decodeUnknown(TenantId)(id).pipe(
        Effect.mapError((e) => new BadRequest({ message: `invalid tenant id: ${e.message}` }))
      )
      const { sealed } = yield* validateSave(id, settingsDoc, undefined)
      const rows = yield* db.query(
        `INSERT INTO tenants (id, name, settings, settings_source) VALUES ($1, $2, $3::jsonb, $4)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [id, name, JSON.stringify(sealed), source]
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
          ? Effect.fail(new NotFound({ message: `tenant ${idText(id)} not found` }))
          : Effect.succeed<TenantRecord>({ id: r.id, name: r.name, createdAt: new Date(r.created_at).toISOString(), settingsSource: r.settings_source })
      })
    )

  const listTenants = db.query<{ id: string }>("SELECT id FROM tenants ORDER BY id").pipe(Effect.map((r) => r.map((x) => x.id)))

  const listTenantRecords = db.query<{ id: string; name: string; created_at: Date; settings_source: string }>(
    "SELECT id, name, created_at, settings_source FROM tenants ORDER BY id"
  ).pipe(Effect.map((rows) => rows.map((r): TenantRecord => ({ id: r.id, name: r.name, createdAt: new Date(r.created_at).toISOString(), settingsSource: r.settings_source }))))

  /** The tenant's keys, oldest first: never the key or its hash. */
  const listKeys = (tenantId: string) =>
    Effect.gen(function* () {
      yield* requireTenant(tenantId)
      const rows = yield* db.query<{ id: string; name: string | null; scopes: Array<string>; created_at: Date; revoked_at: Date | null }>(
        "SELECT id, name, scopes, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id", [tenantId]
      )
      return rows.map((r) => ({
        keyId: r.id, name: r.name, scopes: r.scopes, createdAt: new Date(r.created_at).toISOString(),
        revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString()
      }))
    })

  const getSettings = (tenantId: string): Effect.Effect<TenantSettings, NotFound | DbError> =>
    Effect.gen(function* () {
      const hit = settingsCache.get(tenantId)
      if (hit !== undefined) return hit
      const rows = yield* db.query<{ settings: unknown }>("SELECT settings FROM tenants WHERE id = $1", [tenantId])
      const row = rows[0]
      if (row === undefined) return yield* new NotFound({ message: `tenant ${idText(tenantId)} not found` })
      const settings = yield* readStored(tenantId, row.settings)
      settingsCache.set(tenantId, settings)
      return settings
    })

  /** Replaces a tenant's settings. Secrets are compared with (and masked ones taken from) the stored document, not the cache. */
  const putSettings = (tenantId: string, doc: unknown, source: "file" | "api") =>
    Effect.gen(function* () {
      const current = yield* db.query<{ settings: unknown }>("SELECT settings FROM tenants WHERE id = $1", [tenantId])
      const row = current[0]
      if (row === undefined) return yield* new NotFound({ message: `tenant ${idText(tenantId)} not found` })
      const { settings, sealed } = yield* validateSave(tenantId, doc, yield* readStored(tenantId, row.settings))
      const rows = yield* db.query(
        "UPDATE tenants SET settings = $2::jsonb, settings_source = $3, updated_at = now() WHERE id = $1 RETURNING id",
        [tenantId, JSON.stringify(sealed), source]
      )
      if (rows.length === 0) return yield* new NotFound({ message: `tenant ${idText(tenantId)} not found` })
      settingsCache.set(tenantId, settings)
      return settings
    })

  /**
   * Rewrites every tenant's webhook secrets in the form a save would store now: sealed with the current
   * MPLP_SECRET_KEY (plain text when none is set). Secrets no configured key opens are left as they are.
   */
  const resealSecrets = Effect.gen(function* () {
    const rows = yield* db.query<{ id: string; settings: unknown }>("SELECT id, settings FROM tenants ORDER BY id")
    let rewritten = 0
    const unreadable: Array<string> = []
    for (const row of rows) {
      const decoded = decodeSettings(defaults, row.settings)
      if (Either.isLeft(decoded) || !needsReseal(decoded.right, box)) continue
      const opened = openSecrets(decoded.right, box, row.id)
      if (opened.unreadable > 0) unreadable.push(row.id)
      yield* db.query("UPDATE tenants SET settings = $2::jsonb, updated_at = now() WHERE id = $1", [row.id, JSON.stringify(sealSecrets(opened.settings, box, row.id))])
      settingsCache.delete(row.id)
      rewritten++
    }
    return { tenants: rows.length, rewritten, unreadable } as const
  })

  const createKey = (tenantId: string, scopes: ReadonlyArray<Scope>, name?: string) =>
    Effect.gen(function* () {
      yield* requireTenant(tenantId)
      const k = generateKey()
      yield* db.query("INSERT INTO api_keys (id, tenant_id, key_hash, scopes, name) VALUES ($1, $2, $3, $4, $5)", [
        k.id, tenantId, k.hash, [...scopes], name ?? null
      ])
      unknownKeys.delete(k.id)
      return { keyId: k.id, key: k.key, tenantId, scopes }
    })

  const revokeKey = (keyId: string) =>
    Effect.gen(function* () {
      const rows = yield* db.query(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id", [keyId]
      )
      keys.delete(keyId)
      if (rows.length === 0) return yield* new NotFound({ message: `key ${idText(keyId)} not found` })
    })

  const unauthorized = new Unauthorized({ message: "missing, malformed, unknown or revoked API key" })

  const authenticate = (key: string): Effect.Effect<Principal, Unauthorized | DbError> =>
    Effect.gen(function* () {
      const keyId = keyIdOf(key)
      if (keyId === undefined) return yield* unauthorized
      let entry = keys.get(keyId)
      if (entry === undefined) {
        if (unknownKeys.get(keyId) !== undefined) return yield* unauthorized
        const rows = yield* db.query<{ tenant_id: string; key_hash: Uint8Array; scopes: Array<Scope>; revoked: boolean }>(
          "SELECT tenant_id, key_hash, scopes, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = $1", [keyId]
        )
        const r = rows[0]
        if (r === undefined) {
          // Full (a flood of made-up ids): start afresh rather than grow.
          if (unknownKeys.size >= UNKNOWN_KEYS_MAX) unknownKeys = new TtlCache<true>(UNKNOWN_KEY_MS)
          unknownKeys.set(keyId, true)
          return yield* unauthorized
        }
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
    listTenantRecords,
    listKeys,
    tenantExists,
    getSettings,
    putSettings,
    resealSecrets,
    createKey,
    revokeKey,
    authenticate
  } as const
})

export class TenantStore extends Context.Tag("tenants/TenantStore")<TenantStore, Effect.Effect.Success<typeof makeStore>>() {
  static readonly Live = Layer.effect(TenantStore, makeStore)
}
