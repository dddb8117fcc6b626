import { HttpServerRequest } from "@effect/platform"
import { Context, Effect, Exit, FiberRef, Layer, Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { AppConfig } from "../config/AppConfig.ts"
import { DbLane } from "../db/fairGate.ts"
import { Forbidden, ServiceUnavailable, TooManyRequests, Unauthorized } from "../domain/errors.ts"
import type { Scope } from "../domain/ids.ts"
import { Quotas } from "../tenants/Quotas.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import type { Principal } from "../tenants/TenantStore.ts"
import { AdminAuth, CurrentPrincipal, TenantAuth } from "./Api.ts"
import { makeSignInThrottle } from "./signInThrottle.ts"
import { requestBytes, withRetryAfter } from "./body.ts"

const dbDown = new ServiceUnavailable({ message: "the database is not answering; retry later", retryAfterSeconds: 2 })

/** `Authorization: Bearer <key>`, else `x-api-key: <key>`. */
const presentedKey = (headers: Readonly<Record<string, string | undefined>>): string => {
  const authorization = headers.authorization ?? ""
  const bearer = /^bearer /i.test(authorization) ? authorization.slice(7).trim() : ""
  return bearer !== "" ? bearer : (headers["x-api-key"] ?? "").trim()
}

export const TenantAuthLive = Layer.effect(
  TenantAuth,
  Effect.gen(function* () {
    const store = yield* TenantStore
    const quotas = yield* Quotas
    const throttle = yield* makeSignInThrottle
    const check = (key: string, address: string) =>
      Effect.gen(function* () {
        // No key at all is not a guess: 401 without counting.
        if (key !== "") yield* throttle.check(address)
        const principal = yield* store.authenticate(key).pipe(
          Effect.tapErrorTag("Unauthorized", () => (key === "" ? Effect.void : throttle.failed(address)))
        )
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
    // The platform tries the schemes in turn and answers with the last one's failure, which would turn
    // a bearer key's 429 or 503 into "no x-api-key" 401. So the first scheme tried checks whichever
    // header was sent, once; the other replays that answer (and the quota is charged once).
    const answered = new WeakMap<object, Exit.Exit<Principal, Unauthorized | TooManyRequests | ServiceUnavailable>>()
    const checkRequest = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const before = answered.get(request)
      if (before !== undefined) return yield* before
      const exit = yield* Effect.exit(check(presentedKey(request.headers), yield* throttle.addressOf))
      answered.set(request, exit)
      return yield* exit
    })
    return { bearer: () => checkRequest, apiKey: () => checkRequest }
  })
)

const digest = (s: string) => createHash("sha256").update(s).digest()

/** A bearer token compared in constant time, with failed attempts counted per client address. */
export const makeTokenCheck = (what: string) =>
  Effect.gen(function* () {
    const throttle = yield* makeSignInThrottle
    return (expected: Redacted.Redacted<string>, presented: string) =>
      Effect.gen(function* () {
        if (presented === "") return yield* new Unauthorized({ message: `missing ${what}` })
        const address = yield* throttle.addressOf
        yield* throttle.check(address)
        if (timingSafeEqual(digest(presented), digest(Redacted.value(expected)))) return
        yield* throttle.failed(address)
        return yield* new Unauthorized({ message: `wrong ${what}` })
      }).pipe(Effect.tapErrorTag("TooManyRequests", (e) => withRetryAfter(e.retryAfterSeconds)))
  })

export const AdminAuthLive = Layer.effect(
  AdminAuth,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const checkToken = yield* makeTokenCheck("admin token")
    return {
      bearer: (token) =>
        Option.match(config.adminToken, {
          onNone: () => Effect.fail(new Unauthorized({ message: "the admin API is disabled: set MPLP_ADMIN_TOKEN" })),
          onSome: (expected) => checkToken(expected, Redacted.value(token).trim())
        })
    }
  })
)

/** The calling key must carry `scope`; a key without it gets 403, not 401. */
/**
 * The request's principal when its key has `scope`. From here on the request's statements are its
 * tenant's work at the database (src/db/fairGate.ts): a tenant's heavy queries take turns with other
 * tenants' queries and pipeline writes instead of sharing the service's own lane with all of them.
 */
export const requireScope = (scope: Scope) =>
  Effect.flatMap(CurrentPrincipal, (p) =>
    p.scopes.includes(scope)
      ? Effect.as(FiberRef.set(DbLane, p.tenantId), p)
      : Effect.fail(new Forbidden({ message: `this API key lacks the "${scope}" scope` }))
  )

/** 429 before the body is read when the tenant's points or bytes of this second are used up. */
export const quotaPrecheck = (store: Context.Tag.Service<typeof TenantStore>, quotas: Context.Tag.Service<typeof Quotas>) =>
  (tenantId: string) =>
    Effect.all([store.getSettings(tenantId).pipe(Effect.orDie), requestBytes]).pipe(
      Effect.flatMap(([settings, bytes]) => quotas.precheck(tenantId, settings.quotas, bytes)),
      Effect.tapError((e) => withRetryAfter(e.retryAfterSeconds))
    )

/** Charges `points` data points against the tenant's per-second quota; over it: 429 with Retry-After. */
export const pointsQuota = (store: Context.Tag.Service<typeof TenantStore>, quotas: Context.Tag.Service<typeof Quotas>) =>
  (tenantId: string, points: number) =>
    Effect.all([store.getSettings(tenantId).pipe(Effect.orDie), requestBytes]).pipe(
      // Bytes as sent (Content-Length, or as received): what crossed the network, compressed or not.
      Effect.flatMap(([settings, bytes]) => quotas.charge(tenantId, settings.quotas, points, false, bytes)),
      Effect.tapError((e) => withRetryAfter(e.retryAfterSeconds))
    )
