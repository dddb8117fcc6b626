import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import { envelope, hash } from "./evaluation.ts"

// The alert stage's outbox SQL: notifications waiting to be fanned out, delivery attempts, the events
// outside the window pipeline (time-outs, loops, completions), and the tenants each sweep looks at.
// The worker and delivery slots are in AlertStage.ts.

/** Recorded notifications not yet fanned out, at least `olderThanSeconds` old, oldest first. */
export const undispatched = (q: Queryable, tenantId: string, olderThanSeconds: number) =>
  q.query<{ message_id: string; event_type: string }>(
    `SELECT message_id, event_type FROM alert_notifications
     WHERE tenant_id = $1 AND dispatched_at IS NULL AND created_at <= now() - make_interval(secs => $2) ORDER BY created_at LIMIT 1000`,
    [tenantId, olderThanSeconds]
  )

export const markDispatched = (q: Queryable, tenantId: string, messageIds: ReadonlyArray<string>) =>
  q.query("UPDATE alert_notifications SET dispatched_at = now() WHERE tenant_id = $1 AND message_id = ANY($2::text[])", [tenantId, messageIds]).pipe(Effect.asVoid)

export const notification = (q: Queryable, tenantId: string, messageId: string) =>
  Effect.map(
    q.query<{ alert_id: string | null; event_type: string; payload: Record<string, unknown> }>(
      "SELECT alert_id, event_type, payload FROM alert_notifications WHERE tenant_id = $1 AND message_id = $2", [tenantId, messageId]
    ),
    (rows) => rows[0]
  )

/** One delivery attempt; a redelivered job's repeat of the same attempt is written once. */
export const recordDelivery = (q: Queryable, d: {
  tenantId: string; alertId: string; channelId: string; eventType: string; messageId: string; attemptNo: number; outcome: string
  attempt: { statusCode: number | null; error?: string | null | undefined; durationMs: number; startedAt: Date } | undefined
}) =>
  q.query(
    `INSERT INTO alert_deliveries (tenant_id, alert_id, channel_id, event_type, message_id, attempt, outcome, status_code, error, duration_ms, attempted_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
    [d.tenantId, d.alertId, d.channelId, d.eventType, d.messageId, d.attemptNo, d.outcome, d.attempt?.statusCode ?? null,
      d.attempt?.error ?? null, d.attempt?.durationMs ?? 0, d.attempt?.startedAt ?? new Date()]
  ).pipe(Effect.asVoid)

/** An event outside the window pipeline, in the caller's transaction. A timed-out execution is an alert of its own (open until acknowledged), and so is a suspected loop. */
export const recordEvent = (tx: Queryable, tenantId: string, eventType: string, key: string, payload: Record<string, unknown>) =>
  Effect.gen(function* () {
    const alertId = eventType === "execution_timeout" ? `al_${hash(`timeout|${tenantId}|${key}`)}`
      : eventType === "agent_loop_suspected" ? `al_${hash(`loop|${tenantId}|${key}`)}` : null
    if (eventType === "agent_loop_suspected" && alertId !== null) {
      yield* tx.query(
        `INSERT INTO alerts (id, tenant_id, series_key, rule, type, state, severity, service_name, trace_id, title, observed, details, last_notified_at)
         VALUES ($1, $2, $3, 'loop', 'agent_loop_suspected', 'open', 'warning', '', $4, $5, $6, $7::jsonb, now()) ON CONFLICT DO NOTHING`,
        [alertId, tenantId, `loop|${key}`, key, `execution ${key}: ${String(payload.repeated ?? "a call")} repeated ${String(payload.calls ?? "")} times (more than ${String(payload.maxRepeatedCalls ?? "")})`,
          Number(payload.calls ?? 0), JSON.stringify(payload)]
      )
    } else if (alertId !== null) {
      yield* tx.query(
        `INSERT INTO alerts (id, tenant_id, series_key, rule, type, state, severity, service_name, trace_id, title, details, last_notified_at)
         VALUES ($1, $2, $3, 'timeout', 'execution_timeout', 'open', 'warning', $4, $5, $6, $7::jsonb, now()) ON CONFLICT DO NOTHING`,
        [alertId, tenantId, `execution|${key}`, String(payload.serviceName ?? ""), key,
          `execution ${String(payload.operationName ?? key)} of ${String(payload.serviceName ?? "")} timed out`, JSON.stringify(payload)]
      )
    }
    yield* tx.query(
      `INSERT INTO alert_notifications (tenant_id, message_id, alert_id, event_type, payload) VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING`,
      [tenantId, `ev_${hash(`${eventType}|${key}`)}`, alertId, eventType, JSON.stringify(envelope(eventType, { tenantId, ...(alertId === null ? {} : { alertId }), ...payload }))]
    )
  })

const SWEEPS = {
  "stale evaluations": "SELECT DISTINCT tenant_id FROM pending_evaluations WHERE created_at <= now() - interval '10 seconds'",
  "exceeded budgets": "SELECT DISTINCT tenant_id FROM alert_policy_state WHERE rule = 'budget' AND state ->> 'status' <> 'ok'",
  "undispatched notifications": "SELECT DISTINCT tenant_id FROM alert_notifications WHERE dispatched_at IS NULL AND created_at <= now() - interval '10 seconds'"
} as const

/** The tenants a sweep looks at: evaluations whose hand-off job was lost, budgets still over, notifications never fanned out. */
export const tenantsWith = (q: Queryable, what: keyof typeof SWEEPS) => q.query<{ tenant_id: string }>(SWEEPS[what])
