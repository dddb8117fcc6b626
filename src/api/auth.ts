import { Effect, Layer, Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { AppConfig } from "../config/AppConfig.ts"
import { Forbidden, ServiceUnavailable, Unauthorized } from "../domain/errors.ts"
import type { Scope } from "../domain/ids.ts"
import { Quotas } from "../tenants/Quotas.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { AdminAuth, CurrentPrincipal, TenantAuth } from "./Api.ts"
import { withRetryAfter } from "./body.ts"

const dbDown = new ServiceUnavailable({ message: "the database is not answering; retry later", retryAfterSeconds: 2 })

export const TenantAuthLive = Layer.effect(
  TenantAuth,
  Effect.gen(function* () {
    const store = yield* TenantStore
    const quotas = yield* Quotas
    const check = (key: Redacted.Redacted<string>) =>
      Effect.gen(function* () {
        const principal = yield* store.authenticate(Redacted.value(key))
        const settings = yield* store.getSettings(principal.tenantId).pipe(
          Effect.catchTag("NotFound", () => new Unauthorized({ message: "the key's tenant no longer exists" }))
        )
        yield* quotas.charge(principal.tenantId, settings.quotas, 0, true)
        return principal
      }).pipe(
        Effect.catchTag("DbError", () => Effect.fail(dbDown)),
        Effect.tapErrorTag("TooManyRequests", (e) => withRetryAfter(e.retryAfterSeconds)),
        Effect.tapErrorTag("ServiceUnavailable", (e) => withRetryAfter(e.retryAfterSeconds))
      )
    return { bearer: check, apiKey: check }
  })
)

const digest = (s: string) => createHash("sha256").update(s).digest()

export const AdminAuthLive = Layer.effect(
  AdminAuth,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const expected = Option.map(config.adminToken, (t) => digest(Redacted.value(t)))
    return {
      bearer: (token) =>
        Option.match(expected, {
          onNone: () => Effect.fail(new Unauthorized({ message: "the admin API is disabled: set MPLP_ADMIN_TOKEN" })),
          onSome: (want) =>
            timingSafeEqual(digest(Redacted.value(token)), want)
              ? Effect.void
              : Effect.fail(new Unauthorized({ message: "wrong or missing admin token" }))
        })
    }
  })
)

/** The calling key must carry `scope`; a key without it gets 403, not 401. */
export const requireScope = (scope: Scope) =>
  Effect.flatMap(CurrentPrincipal, (p) =>
    p.scopes.includes(scope)
      ? Effect.succeed(p)
      : Effect.fail(new Forbidden({ message: `this API key lacks the "${scope}" scope` }))
  )
