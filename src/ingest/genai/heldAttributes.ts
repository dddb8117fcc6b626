import type { GenaiColumns } from "./columns.ts"
import { CACHE_READ_KEYS, CACHE_WRITE_KEYS, INPUT_TOKEN_KEYS, OUTPUT_TOKEN_KEYS } from "./recognize.ts"
import type { GenaiRecord } from "./recognize.ts"

// The recognised attributes of a GenAI span are not stored twice: one whose value its genai_* column
// holds exactly (same value, same JSON type) leaves the span's attributes jsonb, and a bit of
// spans.genai_held (migrations/0011_genai_held.sql) says so; readers put it back from the column
// (spanAttributesSql), so the attributes read are the attributes sent. Any other value (a number sent as
// text, a name inherited from a parent, a second convention's key with another value) stays in the jsonb.

type Held = readonly [key: string, column: keyof GenaiColumns, json: "string" | "number", value: (r: GenaiRecord) => string | number | null]

/**
 * Bit i of genai_held is HELD[i]: stored data, so append only (never reorder, never remove); 31 at most.
 * Agent ids only beside an agent name: the back-fill of a span stored before its parent rewrites the id
 * of a span without one (src/ingest/genai/derive.ts), and then the column no longer holds what was sent.
 */
const HELD: ReadonlyArray<Held> = [
  ["gen_ai.operation.name", "genai_operation", "string", (r) => r.operation],
  ["gen_ai.provider.name", "genai_provider", "string", (r) => r.provider],
  ["gen_ai.system", "genai_provider", "string", (r) => r.provider],
  ["gen_ai.request.model", "genai_request_model", "string", (r) => r.requestModel],
  ["llm.model_name", "genai_request_model", "string", (r) => r.requestModel],
  ["gen_ai.response.model", "genai_response_model", "string", (r) => r.responseModel],
  ["gen_ai.agent.name", "genai_agent", "string", (r) => r.agentName],
  ["agent.name", "genai_agent", "string", (r) => r.agentName],
  ["gen_ai.agent.id", "genai_agent_id", "string", (r) => (r.agentName === null ? null : r.agentId)],
  ["agent.id", "genai_agent_id", "string", (r) => (r.agentName === null ? null : r.agentId)],
  ["gen_ai.tool.name", "genai_tool", "string", (r) => r.toolName],
  ["tool.name", "genai_tool", "string", (r) => r.toolName],
  ["gen_ai.conversation.id", "genai_conversation", "string", (r) => r.conversationId],
  ["session.id", "genai_conversation", "string", (r) => r.conversationId],
  ["gen_ai.workflow.name", "genai_workflow", "string", (r) => r.workflowName],
  ["user.id", "genai_user", "string", (r) => r.userId],
  ["enduser.id", "genai_user", "string", (r) => r.userId],
  ["error.type", "genai_error_type", "string", (r) => r.errorType],
  ...INPUT_TOKEN_KEYS.map((k): Held => [k, "genai_input_tokens", "number", (r) => r.inputTokens]),
  ...OUTPUT_TOKEN_KEYS.map((k): Held => [k, "genai_output_tokens", "number", (r) => r.outputTokens]),
  ...CACHE_READ_KEYS.map((k): Held => [k, "genai_cache_read_tokens", "number", (r) => r.cacheReadTokens]),
  ...CACHE_WRITE_KEYS.map((k): Held => [k, "genai_cache_write_tokens", "number", (r) => r.cacheWriteTokens])
]

const BIT = new Map<string, number>(HELD.map(([k], i) => [k, i]))

/** The recognised keys a GenAI span's columns may hold, in bit order. */
export const HELD_KEYS: ReadonlyArray<string> = HELD.map(([k]) => k)

/**
 * The attributes to store for a span of record `r` (the same object when the columns hold none of them)
 * and its genai_held bits (null: none held).
 */
export const holdAttributes = (a: Readonly<Record<string, unknown>>, r: GenaiRecord | undefined): { attributes: Readonly<Record<string, unknown>>; held: number | null } => {
  if (r === undefined) return { attributes: a, held: null }
  let held = 0
  for (const k in a) {
    const i = BIT.get(k)
    if (i === undefined) continue
    const [, , json, value] = HELD[i]!
    const v = a[k]
    if (typeof v === json && v === value(r)) held |= 1 << i
  }
  if (held === 0) return { attributes: a, held: null }
  const out: Record<string, unknown> = {}
  for (const k in a) {
    const i = BIT.get(k)
    if (i === undefined || (held & (1 << i)) === 0) out[k] = a[k]
  }
  return { attributes: out, held }
}

/**
 * The attributes of a span as sent: the stored jsonb with the held ones put back from their columns, as
 * a SQL expression over the spans row `alias` (every reader that shows or filters a span's attributes).
 */
export const spanAttributesSql = (alias?: string): string => {
  const c = (column: string) => (alias === undefined ? column : `${alias}.${column}`)
  const pairs = HELD.map(([k, column], i) => `'${k}', CASE WHEN ${c("genai_held")} & ${1 << i} <> 0 THEN to_jsonb(${c(column)}) END`)
  return `(CASE WHEN ${c("genai_held")} IS NULL THEN ${c("attributes")} ELSE ${c("attributes")} || jsonb_strip_nulls(jsonb_build_object(${pairs.join(", ")})) END)`
}
