import type { GenaiKind, GenaiRecord } from "./recognize.ts"

// A GenAI record as the typed columns of spans (migrations/0009_genai_columns.sql): written as one
// array per column (INSERT … unnest), read back into the record. The model is not stored: it is
// coalesce(genai_response_model, genai_request_model).

type Text = string | null
type Num = number | null

/** The columns of one span, as a query returns them (all null for a plain span). */
export type GenaiColumns = {
  readonly genai_kind: Text; readonly genai_operation: Text; readonly genai_provider: Text
  readonly genai_request_model: Text; readonly genai_response_model: Text
  readonly genai_agent: Text; readonly genai_agent_id: Text; readonly genai_parent_agent: Text
  readonly genai_tool: Text; readonly genai_conversation: Text; readonly genai_workflow: Text; readonly genai_user: Text
  readonly genai_error_type: Text; readonly genai_error: boolean | null
  readonly genai_input_tokens: Num; readonly genai_output_tokens: Num; readonly genai_cache_read_tokens: Num; readonly genai_cache_write_tokens: Num
  readonly genai_cost_usd: Num; readonly genai_unpriced_tokens: Num; readonly genai_awaiting: boolean | null
}


/** Column, its SQL array type, and its value in a record. */
const COLUMNS: ReadonlyArray<readonly [keyof GenaiColumns, "text" | "float8" | "bool", (r: GenaiRecord) => string | number | boolean | null]> = [
  ["genai_kind", "text", (r) => r.kind],
  ["genai_operation", "text", (r) => r.operation],
  ["genai_provider", "text", (r) => r.provider],
  ["genai_request_model", "text", (r) => r.requestModel],
  // A record whose model came from neither field (not produced by recognize) keeps it as the response model.
  ["genai_response_model", "text", (r) => r.responseModel ?? (r.requestModel === null ? r.model : null)],
  ["genai_agent", "text", (r) => r.agentName],
  ["genai_agent_id", "text", (r) => r.agentId],
  ["genai_parent_agent", "text", (r) => r.parentAgent],
  ["genai_tool", "text", (r) => r.toolName],
  ["genai_conversation", "text", (r) => r.conversationId],
  ["genai_workflow", "text", (r) => r.workflowName],
  ["genai_user", "text", (r) => r.userId],
  ["genai_error_type", "text", (r) => r.errorType],
  // false and 0 are stored as NULL (read back as false and 0): a batch without an error, or with every
  // call priced, sends neither column.
  ["genai_error", "bool", (r) => (r.error ? true : null)],
  ["genai_input_tokens", "float8", (r) => r.inputTokens],
  ["genai_output_tokens", "float8", (r) => r.outputTokens],
  ["genai_cache_read_tokens", "float8", (r) => r.cacheReadTokens],
  ["genai_cache_write_tokens", "float8", (r) => r.cacheWriteTokens],
  ["genai_cost_usd", "float8", (r) => r.costUsd],
  ["genai_unpriced_tokens", "float8", (r) => (r.unpricedTokens === 0 ? null : r.unpricedTokens)],
]

/** The columns of a record (genai_awaiting, which a plain span may have too, is apart). */
export const GENAI_COLUMN_NAMES: ReadonlyArray<keyof GenaiColumns> = COLUMNS.map(([c]) => c)
export const GENAI_COLUMN_TYPES: ReadonlyArray<string> = COLUMNS.map(([, t]) => t)

/** The columns for a SELECT list, of table alias `alias` when given. */
export const genaiSelect = (alias?: string): string => [...GENAI_COLUMN_NAMES, "genai_awaiting"].map((c) => (alias === undefined ? c : `${alias}.${c}`)).join(", ")

/** One array per column (in GENAI_COLUMN_NAMES order), a null where the span is not a GenAI span. */
export const genaiArrays = (records: ReadonlyArray<GenaiRecord | undefined>): Array<Array<string | number | boolean | null>> =>
  COLUMNS.map(([, , get]) => records.map((r) => (r === undefined ? null : get(r))))

/**
 * The columns that have a value for some record, with their values (a null where the span has none),
 * genai_awaiting where a span is stored before its parent, and genai_held where `held` has bits; none for a batch without a GenAI span. Columns left out of an INSERT stay NULL, and each array sent
 * costs its parse: the conventions' rarer fields (cache tokens, workflow, error type…) mostly are not.
 */
export const genaiValues = (records: ReadonlyArray<GenaiRecord | undefined>, awaiting: ReadonlyArray<boolean>, held: ReadonlyArray<number | null> = []) => {
  const out: Array<{ readonly column: string; readonly type: string; readonly values: Array<string | number | boolean | null> }> = []
  if (awaiting.some((a) => a)) out.push({ column: "genai_awaiting", type: "bool", values: records.map((_, i) => (awaiting[i] === true ? true : null)) })
  if (!records.some((r) => r !== undefined)) return out
  // Which recognised attributes the columns hold instead of the attributes jsonb (src/ingest/genai/heldAttributes.ts).
  if (held.some((h) => h !== null)) out.push({ column: "genai_held", type: "int4", values: records.map((_, i) => held[i] ?? null) })
  const n = records.length
  for (const [column, type, get] of COLUMNS) {
    // Most columns have no value in a batch (the conventions' rarer fields): found without an array for them.
    let first = -1
    for (let i = 0; i < n; i++) {
      const r = records[i]
      if (r !== undefined && get(r) !== null) {
        first = i
        break
      }
    }
    if (first < 0) continue
    const values = new Array<string | number | boolean | null>(n).fill(null, 0, first)
    for (let i = first; i < n; i++) {
      const r = records[i]
      values[i] = r === undefined ? null : get(r)
    }
    out.push({ column, type, values })
  }
  return out
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
const text = (v: unknown): string | null => (typeof v === "string" ? v : null)

/** The record of a row's columns; null for a plain span (or a row without the columns). */
export const recordOfColumns = (r: Partial<GenaiColumns>): GenaiRecord | null => {
  const kind = text(r.genai_kind)
  if (kind === null) return null
  const requestModel = text(r.genai_request_model)
  const responseModel = text(r.genai_response_model)
  return {
    kind: kind as GenaiKind,
    operation: text(r.genai_operation), provider: text(r.genai_provider), requestModel, responseModel, model: responseModel ?? requestModel,
    agentName: text(r.genai_agent), agentId: text(r.genai_agent_id), parentAgent: text(r.genai_parent_agent), toolName: text(r.genai_tool),
    conversationId: text(r.genai_conversation), workflowName: text(r.genai_workflow), userId: text(r.genai_user),
    errorType: text(r.genai_error_type), error: r.genai_error === true,
    inputTokens: num(r.genai_input_tokens), outputTokens: num(r.genai_output_tokens),
    cacheReadTokens: num(r.genai_cache_read_tokens), cacheWriteTokens: num(r.genai_cache_write_tokens),
    costUsd: num(r.genai_cost_usd), unpricedTokens: num(r.genai_unpriced_tokens) ?? 0
  }
}
