import { Context, Effect, Layer, Ref } from "effect"
import type { EvaluationMsg } from "../domain/pipeline.ts"
import type { AlertPolicy, AlertRows } from "./alertRows.ts"
import { planEvaluation } from "./evaluation.ts"
import type { Notification } from "./evaluation.ts"
import { initialAlertState } from "./policy.ts"
import { currentTraceparent } from "../telemetry/traceContext.ts"
import type { AlertState } from "./policy.ts"

// AlertRows' in-memory twin (AlertRows.Test): pending evaluations taken in order, each through the same
// plan as the SQL (src/alerting/evaluation.ts), the alert rows and the outbox kept in a Ref.

export interface MemoryAlert {
  readonly id: string
  readonly state: "open" | "resolved"
  readonly severity: string
  readonly occurrences: number
}

export interface AlertRowsState {
  readonly pending: ReadonlyMap<string, ReadonlyArray<{ readonly evaluations: ReadonlyArray<EvaluationMsg>; readonly traceparent: string | null }>>
  readonly policyStates: ReadonlyMap<string, AlertState>
  readonly alerts: ReadonlyMap<string, MemoryAlert>
  /** The outbox, in the order written; a message id is written once. */
  readonly notifications: ReadonlyArray<Notification & { readonly tenantId: string }>
}

export class AlertRowsMemory extends Context.Tag("alerting/AlertRowsMemory")<AlertRowsMemory, Ref.Ref<AlertRowsState>>() {}

const BATCH = 200

export const memoryAlertRows = (tag: typeof AlertRows) =>
  Layer.effectContext(Effect.gen(function* () {
    const ref = yield* Ref.make<AlertRowsState>({ pending: new Map(), policyStates: new Map(), alerts: new Map(), notifications: [] })
    const addPending = (tenantId: string, evaluations: ReadonlyArray<EvaluationMsg>) =>
      Effect.flatMap(currentTraceparent, (tp) =>
        Ref.update(ref, (s) => ({ ...s, pending: new Map(s.pending).set(tenantId, [...(s.pending.get(tenantId) ?? []), { evaluations, traceparent: tp ?? null }]) })))
    const applyPending = (tenantId: string, policy: AlertPolicy, nowMs: number) =>
      Ref.modify(ref, (s) => {
        const batches = s.pending.get(tenantId) ?? []
        const taken = batches.slice(0, BATCH)
        const policyStates = new Map(s.policyStates)
        const alerts = new Map(s.alerts)
        const notifications = [...s.notifications]
        for (const ev of taken.flatMap((b) => b.evaluations)) {
          const key = `${tenantId}|${ev.seriesKey}|${ev.rule}`
          const plan = planEvaluation(tenantId, policy, policyStates.get(key) ?? initialAlertState, ev, nowMs)
          for (const { alertId, action } of plan.writes) {
            const a = alerts.get(alertId)
            if (action._tag === "Open") {
              if (a === undefined) alerts.set(alertId, { id: alertId, state: "open", severity: action.severity, occurrences: 1 })
            } else if (a !== undefined) {
              alerts.set(alertId, action._tag === "Resolve"
                ? { ...a, state: "resolved" }
                : { ...a, occurrences: a.occurrences + 1, severity: ev.severity === "critical" ? "critical" : a.severity })
            }
          }
          for (const n of plan.notifications) if (!notifications.some((x) => x.tenantId === tenantId && x.messageId === n.messageId)) notifications.push({ ...n, tenantId })
          policyStates.set(key, plan.state)
        }
        return [{ taken: taken.length, traceparents: taken.map((b) => b.traceparent) }, { pending: new Map(s.pending).set(tenantId, batches.slice(taken.length)), policyStates, alerts, notifications }] as const
      })
    return Context.make(AlertRowsMemory, ref).pipe(Context.add(tag, { addPending, applyPending }))
  }))
