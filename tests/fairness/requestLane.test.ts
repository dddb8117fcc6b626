import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, FiberRef } from "effect"
import { CurrentPrincipal } from "../../src/api/Api.ts"
import { requireScope } from "../../src/api/auth.ts"
import { DbLane } from "../../src/db/fairGate.ts"

// A request's statements are its tenant's work at the database: once the key's scope is checked, the
// fair gate sees the tenant's lane (tests/fairness/fairGate.test.ts: lanes take turns), so one
// tenant's heavy queries take turns with the others' work.
const as = (tenantId: string, scopes: ReadonlyArray<"ingest" | "query" | "alerts">) =>
  Effect.provideService(CurrentPrincipal, { tenantId, keyId: "k", scopes })

describe("the database lane of a request", () => {
  it.effect("is the tenant's after its scope is checked, and stays the service's when refused", () =>
    Effect.gen(function* () {
      expect(yield* FiberRef.get(DbLane)).toBe("")
      const lane = yield* requireScope("query").pipe(Effect.zipRight(FiberRef.get(DbLane)), as("tenant-q", ["query"]))
      expect(lane).toBe("tenant-q")
      const refused = yield* Effect.gen(function* () {
        const exit = yield* Effect.exit(requireScope("alerts"))
        return { exit, lane: yield* FiberRef.get(DbLane) }
      }).pipe(Effect.locally(DbLane, ""), as("tenant-r", ["query"]))
      expect(Exit.isFailure(refused.exit)).toBe(true)
      expect(refused.lane).toBe("")
    }))

})
