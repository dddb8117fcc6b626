// What a span says about agents, models and tools: the OpenTelemetry GenAI conventions (current and
// older names) and OpenInference's, normalised to one record. Pure: no I/O, no settings.

/** gen_ai.operation.name values of the conventions. */
export const OPERATIONS = [
  "chat", "text_completion", "embeddings", "generate_content", "invoke_agent", "create_agent", "execute_tool", "invoke_workflow", "retrieval", "plan"
] as const
export const KNOWN_OPERATION_NAMES: ReadonlySet<string> = new Set(OPERATIONS)
const MODEL_OPERATIONS: ReadonlySet<string> = new Set(["chat", "text_completion", "embeddings", "generate_content"])

/** openinference.span.kind → gen_ai.operation.name. */
const OPENINFERENCE_KINDS: Record<string, string> = {
  LLM: "chat", EMBEDDING: "embeddings", TOOL: "execute_tool", AGENT: "invoke_agent", CHAIN: "invoke_workflow", RETRIEVER: "retrieval", RERANKER: "retrieval"
}

/** What the span is in the agent graph: a model call, a tool call, an agent, or something else of an agent (workflow, retrieval). */
export type GenaiKind = "model" | "tool" | "agent" | "other"

/** The normalised record, stored in the genai_* columns of spans (src/ingest/genai/columns.ts). */
export interface GenaiRecord {
  readonly kind: GenaiKind
  readonly operation: string | null
  readonly provider: string | null
  readonly requestModel: string | null
  readonly responseModel: string | null
  /** responseModel ?? requestModel: what usage is grouped and priced by. */
  readonly model: string | null
  /** Own, or inherited from the nearest ancestor that names one. */
  readonly agentName: string | null
  readonly agentId: string | null
  /** For an agent span: the agent that invoked it (the nearest ancestor agent), for agent → agent edges. */
  readonly parentAgent: string | null
  readonly toolName: string | null
  readonly conversationId: string | null
  readonly workflowName: string | null
  readonly userId: string | null
  readonly errorType: string | null
  readonly error: boolean
  readonly inputTokens: number | null
  readonly outputTokens: number | null
  readonly cacheReadTokens: number | null
  readonly cacheWriteTokens: number | null
  /** Set by pricing: USD, null when no price matched (its tokens are then unpriced). */
  readonly costUsd: number | null
  readonly unpricedTokens: number
}

/** What a descendant inherits from its ancestors. */
export interface Inherited {
  readonly agentName: string | null
  readonly agentId: string | null
  readonly toolName: string | null
  readonly conversationId: string | null
  readonly userId: string | null
}
export const NOTHING_INHERITED: Inherited = { agentName: null, agentId: null, toolName: null, conversationId: null, userId: null }

// Token counts: the first key present wins (current, then older convention, then OpenInference).
export const INPUT_TOKEN_KEYS = ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"] as const
export const OUTPUT_TOKEN_KEYS = ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"] as const
export const CACHE_READ_KEYS = ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens", "llm.token_count.prompt_details.cache_read"] as const
export const CACHE_WRITE_KEYS = ["gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write"] as const
export const TOKEN_KEYS: ReadonlySet<string> = new Set([...INPUT_TOKEN_KEYS, ...OUTPUT_TOKEN_KEYS, ...CACHE_READ_KEYS, ...CACHE_WRITE_KEYS])

/** More tokens than this in one span is not a measurement. */
export const MAX_TOKENS = 1e9

/** A token count, or why it is not one. */
export const tokenValue = (v: unknown): number | string => {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN
  if (!Number.isFinite(n)) return `must be a number (got ${JSON.stringify(typeof v === "string" ? v.slice(0, 40) : v)})`
  if (n < 0) return `must be >= 0 (got ${n})`
  if (n > MAX_TOKENS) return `must be at most 1e9 per span (got ${n})`
  return n
}

/**
 * Message contents: prompts, completions, tool arguments and results, system instructions. Dropped at
 * ingest unless the tenant opts in (settings.genai.storeContent).
 */
export const isContentKey = (k: string): boolean => {
  const c = k.charCodeAt(0)
  if (c === 103 /* g */) {
    return k.startsWith("gen_ai.") && (
      k.startsWith("gen_ai.prompt") || k.startsWith("gen_ai.completion") || k === "gen_ai.input.messages" || k === "gen_ai.output.messages" ||
      k === "gen_ai.system_instructions" || k === "gen_ai.tool.call.arguments" || k === "gen_ai.tool.call.result"
    )
  }
  if (c === 108 /* l */) return k.startsWith("llm.input_messages") || k.startsWith("llm.output_messages") || k.startsWith("llm.prompts") || k.startsWith("llm.prompt_template.variables")
  if (c === 105 /* i */) return k === "input.value"
  if (c === 111 /* o */) return k === "output.value"
  return false
}

/** Whether the span carries any GenAI or OpenInference attribute: the cheap test run on every span. */
export const isGenaiSpan = (a: Readonly<Record<string, unknown>>): boolean => {
  for (const k in a) {
    const c = k.charCodeAt(0)
    if (c === 103 && k.startsWith("gen_ai.")) return true
    if (c === 111 && k === "openinference.span.kind") return true
    if (c === 108 && (k.startsWith("llm.model_name") || k.startsWith("llm.token_count."))) return true
  }
  return false
}

/** The first of the keys with a usable value, as text. Fixed arity: a rest parameter's array per call showed in profiles. */
const str = (a: Readonly<Record<string, unknown>>, k1: string, k2?: string, k3?: string, k4?: string): string | null =>
  strOf(a[k1]) ?? (k2 === undefined ? null : strOf(a[k2]) ?? (k3 === undefined ? null : strOf(a[k3]) ?? (k4 === undefined ? null : strOf(a[k4]))))

const strOf = (v: unknown): string | null =>
  typeof v === "string" ? (v === "" ? null : v) : typeof v === "number" || typeof v === "boolean" ? String(v) : null

// The attributes recognize() reads, each in a slot: one pass over a span's own keys finds them. A span
// has a few attributes, and looking up each of these names, most of them missing, took 0.85 µs per span
// of the genai bench's spans against 0.64 µs for the pass (scratch micro-benchmark, the same records).
// Where several names mean one thing, the earlier slot wins.
const NAMES = [
  "gen_ai.operation.name", "openinference.span.kind",
  "gen_ai.request.model", "llm.model_name", "gen_ai.response.model",
  ...INPUT_TOKEN_KEYS, ...OUTPUT_TOKEN_KEYS, ...CACHE_READ_KEYS, ...CACHE_WRITE_KEYS,
  "gen_ai.agent.name", "agent.name", "gen_ai.tool.name", "tool.name", "error.type",
  "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system",
  "gen_ai.agent.id", "agent.id", "gen_ai.conversation.id", "session.id", "gen_ai.workflow.name",
  "user.id", "enduser.id", "mplp.user.id"
] as const
type Name = (typeof NAMES)[number]
const SLOT: ReadonlyMap<string, number> = new Map(NAMES.map((n, i) => [n, i]))
const at = (n: Name): number => SLOT.get(n)!
const OP = at("gen_ai.operation.name"), OI_KIND = at("openinference.span.kind")
const REQUEST_MODEL = at("gen_ai.request.model"), LLM_MODEL = at("llm.model_name"), RESPONSE_MODEL = at("gen_ai.response.model")
const INPUT = at(INPUT_TOKEN_KEYS[0]), OUTPUT = at(OUTPUT_TOKEN_KEYS[0]), CACHE_READ = at(CACHE_READ_KEYS[0]), CACHE_WRITE = at(CACHE_WRITE_KEYS[0])
const AGENT = at("gen_ai.agent.name"), TOOL = at("gen_ai.tool.name"), ERROR_TYPE = at("error.type"), PROVIDER = at("gen_ai.provider.name")
const AGENT_ID = at("gen_ai.agent.id"), CONVERSATION = at("gen_ai.conversation.id"), WORKFLOW = at("gen_ai.workflow.name"), USER = at("user.id")

// One span at a time (recognize is synchronous): the slots are reused, the ones a span filled cleared after it.
const found: Array<unknown> = new Array(NAMES.length).fill(undefined)
const filled = new Int32Array(NAMES.length)

/** The first of `n` slots from `i` with a usable value, as text. */
const strAt = (i: number, n = 1): string | null => {
  for (let k = i; k < i + n; k++) {
    const v = strOf(found[k])
    if (v !== null) return v
  }
  return null
}

/** The first of the `keys.length` token slots from `i` whose value is a count. */
const tokensAt = (i: number, keys: ReadonlyArray<string>): number | null => {
  for (let k = i; k < i + keys.length; k++) {
    if (found[k] === undefined) continue
    const v = tokenValue(found[k])
    if (typeof v === "number") return v
  }
  return null
}

/**
 * The record of a GenAI span (null for a span that is none), its names completed from `inherited`.
 * `statusCode` 2 (ERROR) or an error.type makes the call an error.
 */
export const recognize = (a: Readonly<Record<string, unknown>>, statusCode: number, inherited: Inherited): GenaiRecord | null => {
  // isGenaiSpan and the slots in one pass over the span's own keys.
  let genai = false
  let n = 0
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue
    const c = k.charCodeAt(0)
    if (!genai && ((c === 103 && k.startsWith("gen_ai.")) || (c === 111 && k === "openinference.span.kind") ||
      (c === 108 && (k.startsWith("llm.model_name") || k.startsWith("llm.token_count."))))) genai = true
    const slot = SLOT.get(k)
    if (slot !== undefined) {
      found[slot] = a[k]
      // A name is one key of the object: each slot filled once per span, at most NAMES.length of them.
      filled[n++] = slot
    }
  }
  try {
    return genai ? recognizeFound(statusCode, inherited) : null
  } finally {
    for (let i = 0; i < n; i++) found[filled[i]!] = undefined
  }
}

const recognizeFound = (statusCode: number, inherited: Inherited): GenaiRecord => {
  const op = strAt(OP)
  const oi = op === null ? strAt(OI_KIND) : null
  const operation = op !== null ? (KNOWN_OPERATION_NAMES.has(op) ? op : null) : oi === null ? null : OPENINFERENCE_KINDS[oi.toUpperCase()] ?? null
  const requestModel = strAt(REQUEST_MODEL) ?? strAt(LLM_MODEL)
  const responseModel = strAt(RESPONSE_MODEL)
  const model = responseModel ?? requestModel
  const ownAgent = strAt(AGENT, 2)
  const ownTool = strAt(TOOL, 2)
  const kind: GenaiKind =
    operation !== null && MODEL_OPERATIONS.has(operation) ? "model"
    : operation === "execute_tool" || (operation === null && ownTool !== null) ? "tool"
    : operation === "invoke_agent" || operation === "create_agent" ? "agent"
    : operation === null && model !== null ? "model"
    : operation === null && ownAgent !== null ? "agent"
    : "other"
  const errorType = strAt(ERROR_TYPE)
  return {
    kind,
    operation,
    provider: strAt(PROVIDER, 4),
    requestModel,
    responseModel,
    model,
    agentName: ownAgent ?? inherited.agentName,
    agentId: strAt(AGENT_ID, 2) ?? (ownAgent === null ? inherited.agentId : null),
    parentAgent: kind === "agent" ? inherited.agentName : null,
    toolName: ownTool ?? inherited.toolName,
    conversationId: strAt(CONVERSATION, 2) ?? inherited.conversationId,
    workflowName: strAt(WORKFLOW),
    userId: strAt(USER, 3) ?? inherited.userId,
    errorType,
    error: statusCode === 2 || errorType !== null,
    inputTokens: tokensAt(INPUT, INPUT_TOKEN_KEYS),
    outputTokens: tokensAt(OUTPUT, OUTPUT_TOKEN_KEYS),
    cacheReadTokens: tokensAt(CACHE_READ, CACHE_READ_KEYS),
    cacheWriteTokens: tokensAt(CACHE_WRITE, CACHE_WRITE_KEYS),
    costUsd: null,
    unpricedTokens: 0
  }
}

/** What a span passes on to its descendants: its own names (recognised or plain attributes), else what it inherited. */
export const inheritedFrom = (a: Readonly<Record<string, unknown>>, own: GenaiRecord | null, inherited: Inherited): Inherited => {
  // A record holds the five names itself (an Inherited too): no object of its own per GenAI span.
  if (own !== null) return own
  const user = str(a, "mplp.user.id", "user.id", "enduser.id")
  return user === null || user === inherited.userId ? inherited : { ...inherited, userId: user }
}

/** The inheritable names of a stored record (a parent not in the batch). */
export const inheritedOfRecord = (r: Partial<GenaiRecord>): Inherited => ({
  agentName: r.agentName ?? null, agentId: r.agentId ?? null, toolName: r.toolName ?? null,
  conversationId: r.conversationId ?? null, userId: r.userId ?? null
})
