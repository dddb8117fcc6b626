import { Clock, Effect } from "effect"
import { randomUUID } from "node:crypto"
import type { Queryable } from "../db/Db.ts"
import type { ChannelTestResult } from "../domain/consoleViews.ts"
import { deliverToChannel } from "./channels.ts"
import type { Channel } from "./channels.ts"

export const TEST_EVENT = "test"

/** What a test notification carries: the usual envelope, event type `test`, nothing about any alert. */
export const testPayload = (tenantId: string, channelId: string, now: Date) => ({
  type: TEST_EVENT,
  timestamp: now.toISOString(),
  data: { tenantId, channelId, message: "Test notification from MPLP Trace: this channel is reachable." }
})

/**
 * One test notification to one channel through the alert stage's delivery path (signing, SSRF guard,
 * the same 5 s timeout, one attempt), recorded in alert_deliveries like a real attempt. An operator's
 * explicit test ignores the channel's `events` filter and `enabled` flag, and a 410 here does not
 * disable the channel: only real notifications change settings.
 */
export const testChannel = (db: Queryable, tenantId: string, channel: Channel, allowPrivate: boolean) =>
  Effect.gen(function* () {
    const startMs = yield* Clock.currentTimeMillis
    const messageId = `test_${randomUUID()}`
    const result = yield* deliverToChannel({
      tenantId, channel, messageId, payload: testPayload(tenantId, channel.id, new Date(startMs)), allowPrivate, maxAttempts: 1, timeoutMs: 5000
    })
    const endMs = yield* Clock.currentTimeMillis
    const attempt = result.attempts[0]
    const view: ChannelTestResult = {
      channelId: channel.id,
      type: channel.type,
      outcome: result.outcome,
      statusCode: attempt?.statusCode ?? null,
      error: attempt?.error ?? null,
      durationMs: attempt?.durationMs ?? endMs - startMs,
      attemptedAt: (attempt?.startedAt ?? new Date(startMs)).toISOString()
    }
    yield* db.query(
      `INSERT INTO alert_deliveries (tenant_id, alert_id, channel_id, event_type, message_id, attempt, outcome, status_code, error, duration_ms, attempted_at)
       VALUES ($1, '', $2, $3, $4, 1, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
      [tenantId, channel.id, TEST_EVENT, messageId, view.outcome, view.statusCode, view.error, view.durationMs, view.attemptedAt]
    )
    return view
  }).pipe(Effect.withSpan("Alerting.testChannel", { attributes: { tenantId, channelId: channel.id } }))
