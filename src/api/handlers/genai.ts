import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Db } from "../../db/Db.ts"
import { queryGenaiGraph } from "../../query/genaiGraph.ts"
import { queryGenaiUsage } from "../../query/genaiUsage.ts"
import { MplpApi } from "../Api.ts"
import { requireScope } from "../auth.ts"
import { dbUnavailable } from "../body.ts"

export const GenaiLive = HttpApiBuilder.group(MplpApi, "genai", (handlers) =>
  Effect.gen(function* () {
    const db = yield* Db
    return handlers
      .handle("usage", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const { fromMs, toMs, groupBy = "model", bucket = null } = urlParams
          return yield* queryGenaiUsage(db, p.tenantId, { fromMs, toMs, groupBy, bucket })
        }).pipe(dbUnavailable)
      )
      .handle("graph", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          return yield* queryGenaiGraph(db, p.tenantId, urlParams.fromMs, urlParams.toMs)
        }).pipe(dbUnavailable)
      )
  })
)
