import { HttpApiBuilder } from "@effect/platform"
import { Effect, Schema } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { NotFound } from "../../domain/errors.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { CreateKeyRequest, CreateTenantRequest, MplpApi } from "../Api.ts"
import { dbUnavailable, readJson } from "../body.ts"

export const AdminLive = HttpApiBuilder.group(MplpApi, "admin", (handlers) =>
  Effect.gen(function* () {
    const store = yield* TenantStore
    const { maxBodyBytes } = yield* AppConfig
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
      .handle("listTenants", () => Effect.succeed({ tenants: [] }))
      .handle("listKeys", () => Effect.succeed({ keys: [] }))
      .handle("testChannel", ({ path }) => Effect.fail(new NotFound({ message: `channel ${path.channelId} not found` })))
      .handle("getTenant", ({ path }) => store.getTenant(path.id).pipe(dbUnavailable))
      .handleRaw("createKey", ({ path }) =>
        readJson(CreateKeyRequest, maxBodyBytes).pipe(Effect.flatMap((payload) => store.createKey(path.id, payload.scopes, payload.name)), dbUnavailable)
      )
      .handle("revokeKey", ({ path }) => store.revokeKey(path.keyId).pipe(dbUnavailable))
      .handle("getSettings", ({ path }) => store.getSettings(path.id).pipe(dbUnavailable))
      .handleRaw("putSettings", ({ path }) =>
        readJson(Schema.Unknown, maxBodyBytes).pipe(Effect.flatMap((doc) => store.putSettings(path.id, doc, "api")), dbUnavailable)
      )
  })
)
