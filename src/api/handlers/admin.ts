import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { NotFound } from "../../domain/errors.ts"
import { maskSecrets } from "../../tenants/settingsSecrets.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { MplpApi } from "../Api.ts"
import { dbUnavailable } from "../body.ts"

export const AdminLive = HttpApiBuilder.group(MplpApi, "admin", (handlers) =>
  Effect.gen(function* () {
    const store = yield* TenantStore
    return handlers
      .handle("createTenant", ({ payload }) =>
        store.createTenant(payload.id, payload.name ?? payload.id, payload.settings ?? {}, payload.settings === undefined ? "default" : "api").pipe(
          Effect.zipRight(store.getTenant(payload.id).pipe(Effect.orDie)),
          dbUnavailable
        )
      )
      .handle("listTenants", () => Effect.succeed({ tenants: [] }))
      .handle("listKeys", () => Effect.succeed({ keys: [] }))
      .handle("testChannel", ({ path }) => Effect.fail(new NotFound({ message: `channel ${path.channelId} not found` })))
      .handle("getTenant", ({ path }) => store.getTenant(path.id).pipe(dbUnavailable))
      .handle("createKey", ({ path, payload }) => store.createKey(path.id, payload.scopes, payload.name).pipe(dbUnavailable))
      .handle("revokeKey", ({ path }) => store.revokeKey(path.keyId).pipe(dbUnavailable))
      // Webhook secrets are write-only: answered masked; the masked value sent back keeps the stored one.
      .handle("getSettings", ({ path }) => store.getSettings(path.id).pipe(Effect.map(maskSecrets), dbUnavailable))
      .handle("putSettings", ({ path, payload }) => store.putSettings(path.id, payload, "api").pipe(Effect.map(maskSecrets), dbUnavailable))
  })
)
