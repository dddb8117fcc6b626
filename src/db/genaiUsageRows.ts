import { LE_COLUMNS } from "../domain/histogram.ts"

// GenAI usage rows for a grouping by user or conversation, which only genai_usage_1h holds (0012): its
// whole hours and the spans of the partial ones, as the same rows. Read by GET /api/genai/usage
// (src/query/genaiUsage.ts) and by the user/conversation budgets (src/alerting/budgets.ts).

const SPAN_AS_USAGE_ROW = `start_time AS bucket, genai_kind AS kind, coalesce(genai_user, '') AS user_id, coalesce(genai_conversation, '') AS conversation,
  1::bigint AS calls, (CASE WHEN genai_error THEN 1 ELSE 0 END)::bigint AS errors,
  coalesce(genai_input_tokens, 0) AS input_tokens, coalesce(genai_output_tokens, 0) AS output_tokens, coalesce(genai_cache_read_tokens, 0) AS cache_read_tokens,
  coalesce(genai_cache_write_tokens, 0) AS cache_write_tokens, coalesce(genai_cost_usd, 0) AS cost_usd, coalesce(genai_unpriced_tokens, 0) AS unpriced_tokens,
  duration_ms AS duration_min, duration_ms AS duration_max,
  ${LE_COLUMNS.map((c) => `(CASE WHEN duration_ms <= ${Number(c.slice(3))} THEN 1 ELSE 0 END)::bigint AS ${c}`).join(", ")}`

const USAGE_ROW_COLUMNS = `bucket, kind, user_id, conversation, calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
  unpriced_tokens, duration_min, duration_max, ${LE_COLUMNS.join(", ")}`

/**
 * Usage rows of tenant $1 for a grouping by user or conversation: the hours [hours) (no end: null) from
 * genai_usage_1h, the spans of [$2, $3) ms outside them (spans_genai serves it); the same sums as one
 * aggregate would give.
 */
export const hourlyOnlyRowsSql = (hours: readonly [number, number | null]) => {
  const [h0, h1] = hours
  const spans = `SELECT ${SPAN_AS_USAGE_ROW} FROM spans
                 WHERE tenant_id = $1 AND genai_kind IS NOT NULL AND start_time >= to_timestamp($2 / 1000.0) AND start_time < to_timestamp($3 / 1000.0)`
  if (h1 !== null && h0 >= h1) return spans
  const inHours = `bucket >= to_timestamp(${h0 / 1000})${h1 === null ? "" : ` AND bucket < to_timestamp(${h1 / 1000})`}`
  return `SELECT ${USAGE_ROW_COLUMNS} FROM genai_usage_1h WHERE tenant_id = $1 AND ${inHours}
          UNION ALL ${spans} AND NOT (${inHours.replaceAll("bucket", "start_time")})`
}
