import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Db } from "../../db/Db.ts"
import { excerpt } from "../../domain/issues.ts"
import { queryGenaiGraph } from "../../query/genaiGraph.ts"
import { GENAI_GROUP_BY, queryGenaiUsage } from "../../query/genaiUsage.ts"
import { badParam, durationSeconds, parseChoice, parseRange } from "../../query/params.ts"
import { MplpApi } from "../Api.ts"
import { requireScope } from "../auth.ts"
import { dbUnavailable } from "../body.ts"

const HOUR = 3_600_000

const parseUsageBucket = (raw: string | undefined) => {
  if (raw === undefined || raw === "") return Effect.succeed(null)
  if (raw === "auto") return Effect.succeed("auto" as const)
  const s = durationSeconds(raw)
  return s === undefined ? Effect.fail(badParam("bucket", `${excerpt(raw)} is not auto or a duration such as 1m, 5m, 1h`)) : Effect.succeed(s)
}

export const GenaiLive = HttpApiBuilder.group(MplpApi, "genai", (handlers) =>
  Effect.gen(function* () {
    const db = yield* Db
    return handlers
      .handle("usage", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const range = yield* parseRange(urlParams.from, urlParams.to, Date.now(), 24 * HOUR)
          const groupBy = yield* parseChoice("groupBy", urlParams.groupBy, GENAI_GROUP_BY, "model")
          const bucket = yield* parseUsageBucket(urlParams.bucket)
          return yield* queryGenaiUsage(db, p.tenantId, { ...range, groupBy, bucket })
        }).pipe(dbUnavailable)
      )
      .handle("graph", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const range = yield* parseRange(urlParams.from, urlParams.to, Date.now(), HOUR)
          return yield* queryGenaiGraph(db, p.tenantId, range.fromMs, range.toMs)
        }).pipe(dbUnavailable)
      )
  })
)
