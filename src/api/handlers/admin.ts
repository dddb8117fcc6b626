import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { testChannel } from "../../alerting/channelTest.ts"
import { AppConfig } from "../../config/AppConfig.ts"
import { Db } from "../../db/Db.ts"
import { NotFound } from "../../domain/errors.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { MplpApi } from "../Api.ts"
import { dbUnavailable } from "../body.ts"

export const AdminLive = HttpApiBuilder.group(MplpApi, "admin", (handlers) =>
  Effect.gen(function* () {
    const store = yield* TenantStore
    const db = yield* Db
    const config = yield* AppConfig
    return handlers
      .handle("createTenant", ({ payload }) =>
        store.createTenant(payload.id, payload.name ?? payload.id, payload.settings ?? {}, payload.settings === undefined ? "default" : "api").pipe(
          Effect.zipRight(store.getTenant(payload.id).pipe(Effect.orDie)),
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
          if (channel === undefined) return yield* new NotFound({ message: `tenant ${path.id} has no channel ${path.channelId}` })
          return yield* testChannel(db, path.id, channel, config.allowPrivateWebhooks)
        }).pipe(dbUnavailable)
      )
      .handle("getTenant", ({ path }) => store.getTenant(path.id).pipe(dbUnavailable))
      .handle("createKey", ({ path, payload }) => store.createKey(path.id, payload.scopes, payload.name).pipe(dbUnavailable))
      .handle("revokeKey", ({ path }) => store.revokeKey(path.keyId).pipe(dbUnavailable))
      .handle("getSettings", ({ path }) => store.getSettings(path.id).pipe(dbUnavailable))
      .handle("putSettings", ({ path, payload }) => store.putSettings(path.id, payload, "api").pipe(dbUnavailable))
  })
)
