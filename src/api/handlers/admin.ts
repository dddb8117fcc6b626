import { HttpApiBuilder } from "@effect/platform"
import { Effect, Schema } from "effect"
import { testChannel } from "../../alerting/channelTest.ts"
import { AppConfig } from "../../config/AppConfig.ts"
import { Db } from "../../db/Db.ts"
import { NotFound } from "../../domain/errors.ts"
import { maskSecrets } from "../../tenants/settingsSecrets.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { CreateKeyRequest, CreateTenantRequest, MplpApi } from "../Api.ts"
import { dbUnavailable, readJson } from "../body.ts"
import { idText } from "../../domain/issues.ts"

export const AdminLive = HttpApiBuilder.group(MplpApi, "admin", (handlers) =>
  Effect.gen(function* () {
    const store = yield* TenantStore
    const db = yield* Db
    const config = yield* AppConfig
    const { maxBodyBytes } = config
    // Bodies are read by the API's own parser (nesting bounded, strings storable): through the platform's,
    // a deeply nested one overflowed the error formatter (a 500).
    return handlers
      .handleRaw("createTenant", () =>
        readJson(CreateTenantRequest, maxBodyBytes).pipe(
          Effect.flatMap((payload) =>
            store.createTenant(payload.id, payload.name ?? payload.id, payload.settings ?? {}, payload.settings === undefined ? "default" : "api").pipe(
              Effect.zipRight(store.getTenant(payload.id).pipe(Effect.orDie))
            )
          ),
          dbUnavailable
        )
      )
      .handle("listTenants", () => store.listTenantRecords.pipe(Effect.map((tenants) => ({ tenants })), dbUnavailable))
      .handle("listKeys", ({ path }) => store.listKeys(path.id).pipe(Effect.map((keys) => ({ keys })), dbUnavailable))
      .handle("testChannel", ({ path }) =>
        Effect.gen(function* () {
          // The stored settings themselves (with the real webhook secret), never a masked API response.
          const settings = yield* store.getSettings(path.id)
          const channel = settings.channels.find((c) => c.id === path.channelId)
          if (channel === undefined) return yield* new NotFound({ message: `tenant ${idText(path.id)} has no channel ${idText(path.channelId)}` })
          return yield* testChannel(db, path.id, channel, config.allowPrivateWebhooks)
        }).pipe(dbUnavailable)
      )
      .handle("getTenant", ({ path }) => store.getTenant(path.id).pipe(dbUnavailable))
      .handleRaw("createKey", ({ path }) =>
        readJson(CreateKeyRequest, maxBodyBytes).pipe(Effect.flatMap((payload) => store.createKey(path.id, payload.scopes, payload.name)), dbUnavailable)
      )
      .handle("revokeKey", ({ path }) => store.revokeKey(path.keyId).pipe(dbUnavailable))
      // Webhook secrets are write-only: answered masked; the masked value sent back keeps the stored one.
      .handle("getSettings", ({ path }) => store.getSettings(path.id).pipe(Effect.map(maskSecrets), dbUnavailable))
      .handleRaw("putSettings", ({ path }) =>
        readJson(Schema.Unknown, maxBodyBytes).pipe(Effect.flatMap((doc) => store.putSettings(path.id, doc, "api")), Effect.map(maskSecrets), dbUnavailable)
      )
  })
)
