import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { Db } from "../../db/Db.ts"
import { ReadDb } from "../../db/ReadDb.ts"
import { Conflict, NotFound } from "../../domain/errors.ts"
import { queryAlertDetail } from "../../query/alertDetail.ts"
import { acknowledgeAlert, listAlerts } from "../../query/alerts.ts"
import { MplpApi } from "../Api.ts"
import { requireScope } from "../auth.ts"
import { dbUnavailable } from "../body.ts"
import { idText } from "../../domain/issues.ts"

export const AlertsLive = HttpApiBuilder.group(MplpApi, "alerts", (handlers) =>
  Effect.gen(function* () {
    const db = yield* Db
    // Listing and reading alerts may trail the primary (DATABASE_READ_URL); acknowledging writes to the primary.
    const reads = yield* ReadDb
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          return yield* listAlerts(reads, p.tenantId, urlParams.state ?? null, urlParams.limit ?? 200)
        }).pipe(dbUnavailable)
      )
      .handle("get", ({ path }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const detail = yield* queryAlertDetail(reads, p.tenantId, path.id)
          if (Option.isNone(detail)) return yield* new NotFound({ message: `alert ${idText(path.id)} not found` })
          return detail.value
        }).pipe(dbUnavailable)
      )
      // Acknowledging is a write: it takes the "alerts" scope, which a read-only key lacks.
      .handle("ack", ({ path }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("alerts")
          const outcome = yield* acknowledgeAlert(db, p.tenantId, path.id)
          switch (outcome._tag) {
            case "NotFound":
              return yield* new NotFound({ message: `alert ${idText(path.id)} not found` })
            case "Resolved":
              return yield* new Conflict({ message: `alert ${path.id} is resolved; only open alerts can be acknowledged` })
            case "Acknowledged":
              return outcome.alert
          }
        }).pipe(dbUnavailable)
      )
  })
)
