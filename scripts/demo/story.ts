// The demo's story, as plain data: one run of a `planner` agent that plans with an LLM, sends two or
// three `researcher` agents out (each calling an LLM and tools served by a `tool-server`, one of them a
// `vector-db` search), then writes its answer. Attributes follow the OpenTelemetry GenAI conventions.
// Pure: times are offsets from the run's start, randomness comes from the caller.

export const SERVICES = ["planner", "researcher", "tool-server", "vector-db"] as const
export type Service = (typeof SERVICES)[number]

export type Kind = "internal" | "server" | "client"
export type Attr = string | number | boolean | Array<string>

export interface SpanPlan {
  readonly id: number
  /** Index of the parent span in the run; null for the run's root. */
  readonly parent: number | null
  readonly service: Service
  readonly name: string
  readonly kind: Kind
  readonly startMs: number
  readonly durationMs: number
  readonly attributes: Readonly<Record<string, Attr>>
  readonly error: string | null
}

export interface Progress { readonly atMs: number; readonly percent: number; readonly operation: string }

export interface RunPlan {
  readonly topic: string
  readonly userId: string
  readonly conversationId: string
  readonly researchers: number
  readonly durationMs: number
  /** The researcher that failed, and why; null when the run succeeds. */
  readonly failure: string | null
  readonly spans: ReadonlyArray<SpanPlan>
  readonly progress: ReadonlyArray<Progress>
  readonly tokens: { readonly input: number; readonly output: number }
}

export type Random = () => number

/** mulberry32: a small seeded generator, so `--seed` replays the same story. */
export const seeded = (seed: number): Random => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const TOPICS = ["EU battery supply chain", "LLM inference pricing", "heat pump adoption", "open-source vector databases",
  "semiconductor export rules", "carbon capture costs", "agent evaluation methods", "grid-scale storage"]
const USERS = ["u-ana", "u-ben", "u-chen", "u-dara", "u-eli"]

/** How much slower things are during a latency spike (the LLM provider and the vector database degrade). */
export const SPIKE = { llm: 3, vector: 25 } as const

const between = (r: Random, lo: number, hi: number) => lo + (hi - lo) * r()
const int = (r: Random, lo: number, hi: number) => Math.floor(between(r, lo, hi + 1))
const pick = <A>(r: Random, xs: ReadonlyArray<A>): A => xs[Math.floor(r() * xs.length)] as A
const hex = (r: Random, n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join("")

interface Model { readonly provider: string; readonly request: string; readonly response: string }
const PLANNER_MODEL: Model = { provider: "openai", request: "gpt-4o", response: "gpt-4o-2024-08-06" }
const RESEARCHER_MODEL: Model = { provider: "anthropic", request: "claude-sonnet-4", response: "claude-sonnet-4-20250514" }

/**
 * One planner run. `spike`: it happens during a latency spike; `failures`: a fetch may fail (3 %) and a
 * researcher with it (4 % of runs). The history the demo starts with has none: a quiet baseline.
 */
export const planRun = (r: Random, spike: boolean, failures = true): RunPlan => {
  const spans: Array<SpanPlan> = []
  const progress: Array<Progress> = []
  const topic = pick(r, TOPICS)
  const userId = pick(r, USERS)
  const conversationId = `conv_${hex(r, 16)}`
  const llm = spike ? SPIKE.llm : 1
  const vector = spike ? SPIKE.vector : 1
  const tokens = { input: 0, output: 0 }
  const add = (s: Omit<SpanPlan, "id" | "error"> & { error?: string | null }) => {
    const id = spans.length
    spans.push({ ...s, id, error: s.error ?? null })
    return id
  }
  const chat = (parent: number, service: Service, model: Model, start: number, purpose: string) => {
    const input = int(r, 400, 2500)
    const output = int(r, 80, 600)
    tokens.input += input
    tokens.output += output
    const durationMs = between(r, 300, 700) * llm + output * 0.4
    add({
      parent, service, name: `chat ${model.request}`, kind: "client", startMs: start, durationMs,
      attributes: {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": model.provider, "gen_ai.request.model": model.request,
        "gen_ai.response.model": model.response, "gen_ai.usage.input_tokens": input, "gen_ai.usage.output_tokens": output,
        "gen_ai.conversation.id": conversationId, "gen_ai.response.finish_reasons": ["stop"], "demo.purpose": purpose,
        "server.address": model.provider === "openai" ? "api.openai.com" : "api.anthropic.com"
      }
    })
    return durationMs
  }
  const tool = (parent: number, name: string, start: number, work: (call: number, at: number) => number, error: string | null = null) => {
    const callId = `call_${hex(r, 12)}`
    const exec = add({
      parent, service: "researcher", name: `execute_tool ${name}`, kind: "internal", startMs: start, durationMs: 0, error,
      attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.type": "function", "gen_ai.tool.call.id": callId, "gen_ai.conversation.id": conversationId }
    })
    const call = add({
      parent: exec, service: "tool-server", name: `tools/call ${name}`, kind: "server", startMs: start + 2, durationMs: 0, error,
      attributes: { "mcp.method.name": "tools/call", "gen_ai.tool.name": name, "gen_ai.tool.call.id": callId }
    })
    const inner = work(call, start + 4)
    spans[call] = { ...(spans[call] as SpanPlan), durationMs: inner + 4 }
    spans[exec] = { ...(spans[exec] as SpanPlan), durationMs: inner + 8 }
    return inner + 8
  }

  const root = add({
    parent: null, service: "planner", name: "invoke_agent planner", kind: "internal", startMs: 0, durationMs: 0,
    attributes: {
      "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "gen_ai.agent.id": "planner-v2", "gen_ai.provider.name": PLANNER_MODEL.provider,
      "gen_ai.request.model": PLANNER_MODEL.request, "gen_ai.conversation.id": conversationId, "user.id": userId, "demo.topic": topic
    }
  })
  let t = 5
  t += chat(root, "planner", PLANNER_MODEL, t, "plan") + 5
  progress.push({ atMs: t, percent: 10, operation: `planning "${topic}"` })
  const researchers = int(r, 2, 3)
  const failing = failures && r() < 0.04 ? int(r, 0, researchers - 1) : -1
  let failure: string | null = null
  let researchEnd = t
  const done: Array<number> = []
  for (let k = 0; k < researchers; k++) {
    const start = t + between(r, 0, 40)
    const agent = add({
      parent: root, service: "researcher", name: "invoke_agent researcher", kind: "server", startMs: start, durationMs: 0,
      attributes: {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "researcher", "gen_ai.agent.id": `researcher-${k + 1}`,
        "gen_ai.provider.name": RESEARCHER_MODEL.provider, "gen_ai.request.model": RESEARCHER_MODEL.request, "gen_ai.conversation.id": conversationId
      }
    })
    let at = start + 3
    at += chat(agent, "researcher", RESEARCHER_MODEL, at, "query") + 3
    at += tool(agent, "web_search", at, () => between(r, 120, 350)) + 3
    const fetches = int(r, 1, 2)
    for (let f = 0; f < fetches; f++) {
      const broken = k === failing || (failures && r() < 0.03)
      at += tool(agent, "fetch_url", at, () => between(r, 100, 450), broken ? "HTTP 503 from upstream" : null) + 3
    }
    at += tool(agent, "vector_db", at, (call, from) => {
      const d = between(r, 20, 60) * vector
      add({
        parent: call, service: "vector-db", name: "search research-notes", kind: "server", startMs: from, durationMs: d,
        attributes: { "db.system.name": "qdrant", "db.operation.name": "search", "db.collection.name": "research-notes", "db.query.top_k": 8 }
      })
      return d + 2
    }) + 3
    if (k === failing) {
      failure = `researcher-${k + 1}: source unreachable after retries`
    } else {
      at += chat(agent, "researcher", RESEARCHER_MODEL, at, "summarize") + 3
    }
    spans[agent] = { ...(spans[agent] as SpanPlan), durationMs: at - start, error: k === failing ? failure : null }
    researchEnd = Math.max(researchEnd, at)
    done.push(at)
  }
  // The researchers run in parallel: progress moves as each one returns.
  done.sort((a, b) => a - b).forEach((at, i) =>
    progress.push({ atMs: at, percent: Math.round(10 + (80 * (i + 1)) / researchers), operation: `research ${i + 1}/${researchers} back` }))
  let end = researchEnd + 5
  if (failure === null) {
    progress.push({ atMs: end, percent: 92, operation: "writing the report" })
    end += chat(root, "planner", PLANNER_MODEL, end, "synthesize") + 5
  }
  spans[root] = { ...(spans[root] as SpanPlan), durationMs: end, error: failure }
  return { topic, userId, conversationId, researchers, durationMs: end, failure, spans, progress, tokens }
}
