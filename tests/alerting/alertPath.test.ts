import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Ref, TestClock } from "effect"
import { AlertRows, applyAllPending } from "../../src/alerting/alertRows.ts"
import { Db } from "../../src/db/Db.ts"
import { makeEmbeddedThread } from "../../src/db/embedded.ts"
import { migrateFromDir } from "../../src/db/Migrator.ts"
import { AlertRowsMemory } from "../../src/alerting/memoryAlertRows.ts"
import type { EvaluationMsg } from "../../src/domain/pipeline.ts"
import { embeddedSeed } from "../support/harness.ts"

// The alert stage's policy path (pending evaluations → policy → alert rows and outbox) over AlertRows.Test:
// no database, TestClock for the cooldown.

const MIN = 60_000
const policy = { cooldownMs: 5 * MIN, resolveAfterWindows: 2 }
const ev = (i: number, severity: EvaluationMsg["severity"], value = 10): EvaluationMsg => ({
  metricName: "latency", serviceName: "api", operation: "", seriesKey: "latency|api|", rule: "anomaly", severity,
  windowStartMs: i * MIN, windowEndMs: (i + 1) * MIN, value, expected: 1, sd: 1, z: severity === "none" ? 0 : 9, threshold: null
})

const run = (evaluations: ReadonlyArray<EvaluationMsg>) =>
  Effect.gen(function* () {
    const rows = yield* AlertRows
    yield* rows.addPending("t1", evaluations)
    yield* applyAllPending("t1", policy)
  })

const outbox = Effect.map(Effect.flatMap(AlertRowsMemory, Ref.get), (s) => s.notifications.map((n) => `${n.eventType}:${String((n.payload.data as { action: string }).action)}`))
const alerts = Effect.map(Effect.flatMap(AlertRowsMemory, Ref.get), (s) => [...s.alerts.values()].map(({ state, severity, occurrences }) => ({ state, severity, occurrences })))

describe("alert policy path (AlertRows.Test)", () => {
  it.effect("opens, escalates, folds within the cooldown, reminds after it, resolves after quiet windows; a replay is a no-op", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(100 * MIN)
      yield* run([ev(1, "warning"), ev(2, "critical")])
      yield* run([ev(2, "critical")])
      expect(yield* outbox).toEqual(["anomaly_detected:open", "anomaly_detected:escalate"])
      yield* TestClock.adjust(MIN)
      yield* run([ev(3, "warning")])
      expect(yield* outbox).toHaveLength(2)
      yield* TestClock.adjust(5 * MIN)
      yield* run([ev(4, "warning")])
      expect(yield* outbox).toEqual(["anomaly_detected:open", "anomaly_detected:escalate", "anomaly_detected:renotify"])
      yield* run([ev(5, "none"), ev(6, "none")])
      expect((yield* outbox).at(-1)).toBe("alert_resolved:resolve")
      expect(yield* alerts).toEqual([{ state: "resolved", severity: "critical", occurrences: 4 }])
    }).pipe(Effect.provide(AlertRows.Test)))

  it.effect("an alert job that applies several detect jobs' evaluations links its span to each of them", () =>
    Effect.gen(function* () {
      const rows = yield* AlertRows
      const producers: Array<string> = []
      for (const i of [1, 2, 3]) {
        yield* rows.addPending("t1", [ev(i, "warning")]).pipe(
          Effect.zipRight(Effect.flatMap(Effect.currentSpan, (span) => Effect.sync(() => producers.push(span.spanId)))),
          Effect.withSpan("DetectStage.process")
        )
      }
      yield* rows.addPending("t1", [ev(4, "warning")]) // queued outside a trace: nothing to link
      const span = yield* applyAllPending("t1", policy).pipe(Effect.zipRight(Effect.currentSpan), Effect.withSpan("AlertStage.evaluate"))
      expect(span.links.map((l) => l.span.spanId)).toEqual(producers)
      expect(new Set(span.links.map((l) => l.span.traceId)).size).toBe(3)
    }).pipe(Effect.provide(AlertRows.Test)))

  it.effect("takes the pending evaluations in batches until none is left", () =>
    Effect.gen(function* () {
      const rows = yield* AlertRows
      for (let i = 0; i < 450; i++) yield* rows.addPending("t1", [ev(i, i % 2 === 0 ? "warning" : "none")])
      yield* applyAllPending("t1", policy)
      const state = yield* Effect.flatMap(AlertRowsMemory, Ref.get)
      expect(state.pending.get("t1")).toEqual([])
      expect(state.notifications.length).toBe(1)
    }).pipe(Effect.provide(AlertRows.Test)))
})

// The same path on the embedded database (AlertRows.Live): a batch's evaluations are planned on the state
// the one before left (the states read at once, the writes sent together), so a whole story in one
// batch ends as it does evaluation by evaluation.
const embedded = Layer.scoped(Db, Effect.tap(makeEmbeddedThread("memory://", undefined, embeddedSeed()), (db) => Effect.provideService(migrateFromDir(), Db, db)))
layer(AlertRows.Live.pipe(Layer.provideMerge(embedded)), { timeout: 120_000 })("alert policy path (AlertRows.Live, embedded database)", (it) => {
  it.effect("one batch that opens, escalates, folds and resolves an alert, and another that replays part of it", () =>
    Effect.gen(function* () {
      const db = yield* Db
      yield* db.query("INSERT INTO tenants (id, name) VALUES ('t1', 't1') ON CONFLICT DO NOTHING")
      yield* TestClock.setTime(100 * MIN)
      yield* run([ev(1, "warning"), ev(2, "critical"), ev(3, "warning"), ev(4, "none"), ev(5, "none"), ev(6, "warning")])
      yield* run([ev(2, "critical")])
      // One transaction: the notifications share its time, hence sorted here.
      const sent = yield* db.query<{ event_type: string; action: string }>(
        "SELECT event_type, payload->'data'->>'action' AS action FROM alert_notifications WHERE tenant_id = 't1'")
      expect(sent.map((n) => `${n.event_type}:${n.action}`).sort()).toEqual([
        "alert_resolved:resolve", "anomaly_detected:escalate", "anomaly_detected:open", "anomaly_detected:open"
      ])
      const stored = yield* db.query<{ state: string; severity: string; occurrences: number }>(
        "SELECT state, severity, occurrences FROM alerts WHERE tenant_id = 't1' ORDER BY last_window_start")
      expect(stored).toEqual([{ state: "resolved", severity: "critical", occurrences: 3 }, { state: "open", severity: "warning", occurrences: 1 }])
      expect(yield* db.query("SELECT 1 FROM pending_evaluations WHERE tenant_id = 't1'")).toEqual([])
    }))
})
