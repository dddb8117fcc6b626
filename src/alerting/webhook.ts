import { request as httpRequest } from "node:http"
import { request as httpsRequest } from "node:https"
import type { LookupFunction } from "node:net"
import { Clock, Data, Duration, Effect, Random } from "effect"
import { checkDestination, type CheckedDestination, type Resolver } from "./destination.ts"
import { isSealed } from "./secretBox.ts"
import { secretKey, sign } from "./signing.ts"

export interface WebhookTarget {
  readonly id: string
  readonly url: string
  readonly secret: string
}

export interface Attempt {
  readonly attempt: number
  readonly startedAt: Date
  readonly durationMs: number
  readonly statusCode: number | null
  readonly error: string | null
  readonly nextDelayMs: number | null
  /** The endpoint's Retry-After, when it sent one (for a caller that schedules retries itself). */
  readonly retryAfterMs: number | null
}

export type DeliveryOutcome = "delivered" | "failed" | "gone" | "refused"

export interface DeliveryResult {
  readonly outcome: DeliveryOutcome
  readonly attempts: ReadonlyArray<Attempt>
}

export interface DeliverWebhookOptions<E, R> {
  readonly channel: WebhookTarget
  /** Sent as `webhook-id` on every attempt so receivers can deduplicate retries. */
  readonly messageId: string
  readonly payload: object
  readonly allowPrivate: boolean
  readonly maxAttempts?: number
  readonly baseDelayMs?: number
  readonly maxDelayMs?: number
  readonly timeoutMs?: number
  readonly onAttempt?: (attempt: Attempt) => Effect.Effect<void, E, R>
  readonly resolve?: Resolver
}

class RequestFailed extends Data.TaggedError("alerting/WebhookRequestFailed")<{ readonly reason: string }> {}

interface HttpResponse {
  readonly status: number
  readonly retryAfter: string | undefined
  readonly snippet: string
}

type Verdict = DeliveryOutcome | "retry"

interface AttemptResult {
  readonly verdict: Verdict
  readonly statusCode: number | null
  readonly error: string | null
  readonly retryAfterMs?: number | undefined
}

const MAX_BODY_BYTES = 4096
const SNIPPET_CHARS = 200

/** Full-jitter exponential back-off after the `attempt`-th failure; `Retry-After` wins, capped. */
export const nextDelay = (
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  retryAfterMs: number | undefined,
  random: () => number
): number => {
  const max = Math.max(0, maxDelayMs)
  if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), max)
  const ceiling = Math.min(max, Math.max(0, baseDelayMs) * 2 ** Math.min(Math.max(attempt - 1, 0), 52))
  return Math.floor(Math.min(Math.max(random(), 0), 1) * ceiling)
}

/** `Retry-After` is either delta-seconds or an HTTP date; unparseable values are ignored. */
export const parseRetryAfter = (value: string | undefined, nowMs: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs)
}

export const classifyStatus = (status: number): Verdict => {
  if (status >= 200 && status < 300) return "delivered"
  if (status === 410) return "gone"
  if (status === 429 || (status >= 500 && status < 600)) return "retry"
  return "failed"
}

// Node's `net.connect` asks with `all: true` when autoSelectFamily is on, so both shapes are answered.
const pinnedLookup =
  (dest: CheckedDestination): LookupFunction =>
  (_host, options, callback) =>
    options.all
      ? callback(null, [{ address: dest.address, family: dest.family }])
      : callback(null, dest.address, dest.family)

const post = (dest: CheckedDestination, headers: Record<string, string>, body: string) =>
  Effect.async<HttpResponse, RequestFailed>((resume) => {
    let settled = false
    const settle = (effect: Effect.Effect<HttpResponse, RequestFailed>) => {
      if (!settled) {
        settled = true
        resume(effect)
      }
    }
    const send = dest.url.protocol === "https:" ? httpsRequest : httpRequest
    // agent: false — a pooled keep-alive socket could outlive the address check it was made for.
    const req = send(dest.url, { method: "POST", headers, agent: false, lookup: pinnedLookup(dest) }, (res) => {
      const chunks: Array<Buffer> = []
      let size = 0
      const finish = () => {
        const retryAfter = res.headers["retry-after"]
        const snippet = Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString("utf8").slice(0, SNIPPET_CHARS)
        settle(Effect.succeed({ status: res.statusCode ?? 0, retryAfter, snippet }))
      }
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk)
        size += chunk.length
        if (size >= MAX_BODY_BYTES) {
          finish()
          res.destroy()
        }
      })
      res.on("end", finish)
      res.on("error", (e) => settle(Effect.fail(new RequestFailed({ reason: e.message }))))
      res.on("close", () => settle(Effect.fail(new RequestFailed({ reason: "connection closed mid-response" }))))
    })
    req.on("error", (e) => settle(Effect.fail(new RequestFailed({ reason: e.message }))))
    req.end(body)
    return Effect.sync(() => req.destroy())
  })

const attemptOnce = (
  opts: Pick<DeliverWebhookOptions<never, never>, "channel" | "messageId" | "allowPrivate" | "resolve">,
  body: string,
  timeoutMs: number,
  nowMs: number
): Effect.Effect<AttemptResult> =>
  Effect.gen(function* () {
    const dest = yield* checkDestination(opts.channel.url, { allowPrivate: opts.allowPrivate, resolve: opts.resolve })
    const signed = sign({ id: opts.messageId, timestampSec: nowMs / 1000, body, secret: opts.channel.secret })
    const res = yield* post(dest, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      "user-agent": "mplp-trace-webhooks/1",
      ...signed
    }, body)
    const verdict = classifyStatus(res.status)
    const error =
      verdict === "delivered"
        ? null
        : res.status >= 300 && res.status < 400
          ? `HTTP ${res.status}: redirects are not followed`
          : `HTTP ${res.status}${res.snippet === "" ? "" : `: ${res.snippet}`}`
    return { verdict, statusCode: res.status, error, retryAfterMs: parseRetryAfter(res.retryAfter, nowMs) }
  }).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(timeoutMs),
      onTimeout: () => new RequestFailed({ reason: `timed out after ${timeoutMs} ms` })
    }),
    Effect.catchTags({
      "alerting/DestinationRefused": (e) =>
        Effect.succeed<AttemptResult>({ verdict: "refused", statusCode: null, error: `destination refused: ${e.reason}` }),
      "alerting/DestinationUnresolved": (e) =>
        Effect.succeed<AttemptResult>({ verdict: "retry", statusCode: null, error: `cannot resolve ${e.host}: ${String(e.cause)}` }),
      "alerting/WebhookRequestFailed": (e) =>
        Effect.succeed<AttemptResult>({ verdict: "retry", statusCode: null, error: e.reason })
    })
  )

/** A secret that cannot sign: never send a request with an empty key, or with the sealed text as the key. */
const unusableSecret = (secret: string): string | undefined =>
  isSealed(secret)
    ? "the channel's secret is encrypted with a key this process does not have (MPLP_SECRET_KEY, MPLP_SECRET_KEY_PREVIOUS)"
    : secretKey(secret).length === 0
      ? "the channel's secret gives an empty signing key (a whsec_ value must be base64 after the prefix)"
      : undefined

/**
 * Delivers one notification to one webhook channel, retrying transient failures. Never fails on
 * delivery problems: every attempt is returned for the caller to record (and `onAttempt` sees
 * each one as it happens). A fresh timestamp and signature are made per attempt.
 */
export const deliverWebhook = <E = never, R = never>(
  opts: DeliverWebhookOptions<E, R>
): Effect.Effect<DeliveryResult, E, R> =>
  Effect.gen(function* () {
    const maxAttempts = Math.max(1, opts.maxAttempts ?? 6)
    const baseDelayMs = opts.baseDelayMs ?? 500
    const maxDelayMs = opts.maxDelayMs ?? 60_000
    const timeoutMs = opts.timeoutMs ?? 5000
    const body = JSON.stringify(opts.payload)
    const attempts: Array<Attempt> = []
    const unusable = unusableSecret(opts.channel.secret)
    if (unusable !== undefined) {
      const startMs = yield* Clock.currentTimeMillis
      const attempt: Attempt = { attempt: 1, startedAt: new Date(startMs), durationMs: 0, statusCode: null, error: `refused: ${unusable}`, nextDelayMs: null, retryAfterMs: null }
      if (opts.onAttempt) yield* opts.onAttempt(attempt)
      return { outcome: "refused", attempts: [attempt] } satisfies DeliveryResult
    }
    for (let n = 1; ; n++) {
      const startMs = yield* Clock.currentTimeMillis
      const result = yield* attemptOnce(opts, body, timeoutMs, startMs)
      const endMs = yield* Clock.currentTimeMillis
      const retry = result.verdict === "retry" && n < maxAttempts
      const r = yield* Random.next
      const attempt: Attempt = {
        attempt: n,
        startedAt: new Date(startMs),
        durationMs: endMs - startMs,
        statusCode: result.statusCode,
        error: result.error,
        nextDelayMs: retry ? nextDelay(n, baseDelayMs, maxDelayMs, result.retryAfterMs, () => r) : null,
        retryAfterMs: result.retryAfterMs === undefined ? null : Math.min(result.retryAfterMs, maxDelayMs)
      }
      attempts.push(attempt)
      if (opts.onAttempt) yield* opts.onAttempt(attempt)
      if (attempt.nextDelayMs === null) {
        return { outcome: result.verdict === "retry" ? "failed" : result.verdict, attempts } satisfies DeliveryResult
      }
      yield* Effect.sleep(Duration.millis(attempt.nextDelayMs))
    }
  }).pipe(Effect.withSpan("Webhook.deliver", { attributes: { channelId: opts.channel.id, messageId: opts.messageId } }))
