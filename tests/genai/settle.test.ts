import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { Db } from "../../src/db/Db.ts"
import { makeEmbeddedThread } from "../../src/db/embedded.ts"
import { migrateFromDir } from "../../src/db/Migrator.ts"
import type { SpanRow } from "../../src/domain/jobs.ts"
import { deriveGenai, settleAwaiting } from "../../src/ingest/genai/derive.ts"
import { insertSpans } from "../../src/ingest/persist.ts"
import { embeddedSeed } from "../support/harness.ts"

// A parent and its child stored at the same moment by two of the ingest stage's slots (an exporter that
// sends each span as it ends sends the model call before its agent): each batch derives before the other
// is written, so neither finds the other, and the model call would keep waiting without its agent's and
// conversation's names. settleAwaiting, run by each batch once written, gives them to it.

const hex = (n: number) => randomBytes(n).toString("hex")
const T0 = Date.now() - 60_000
const span = (traceId: string, spanId: string, parentSpanId: string | null, name: string, attributes: Record<string, unknown>): SpanRow => ({
  traceId, spanId, parentSpanId, name, kind: 1, statusCode: 0, statusMessage: null, startTimeMs: T0, endTimeMs: T0 + 100, durationMs: 100,
  serviceName: "writer-agent", scopeName: null, resourceAttributes: { "service.name": "writer-agent" }, attributes, events: [], links: []
})

const db = Layer.scoped(Db, Effect.tap(makeEmbeddedThread("memory://", undefined, embeddedSeed()), (d) => Effect.provideService(migrateFromDir(), Db, d)))

describe("GenAI names reach a child stored at the same moment as its parent", () => {
  it.scoped.each([["the child's batch settles last (it finds its parent)", "child"], ["the parent's batch settles last (it finds the waiting child)", "parent"]] as const)("%s", ([, last]) =>
    Effect.gen(function* () {
      const q = yield* Db
      const tenant = `settle-${hex(4)}`
      yield* q.query("INSERT INTO tenants (id, name) VALUES ($1, $1)", [tenant])
      const trace = hex(16)
      const agentId = hex(8)
      const agent = [span(trace, agentId, null, "writer", { "openinference.span.kind": "AGENT", "agent.name": "writer", "session.id": "s-42" })]
      const model = [span(trace, hex(8), agentId, "ChatCompletion", { "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.token_count.prompt": 10, "llm.token_count.completion": 5 })]
      // Both derive before either is written.
      const dAgent = yield* deriveGenai(q, tenant, agent, [])
      const dModel = yield* deriveGenai(q, tenant, model, [])
      expect(dModel.awaiting).toEqual([true])
      yield* insertSpans(q, tenant, model, dModel.records, dModel.awaiting)
      yield* insertSpans(q, tenant, agent, dAgent.records, dAgent.awaiting)
      const stored = () => q.query<{ genai_agent: string | null; genai_conversation: string | null; genai_awaiting: boolean | null }>(
        "SELECT genai_agent, genai_conversation, genai_awaiting FROM spans WHERE tenant_id = $1 AND span_id = $2", [tenant, model[0]!.spanId])
      // What derive alone left: the model call waiting, without its agent.
      expect(yield* stored()).toEqual([{ genai_agent: null, genai_conversation: null, genai_awaiting: true }])
      // Each batch settles once written; the one that settles last finds the other written, so each side
      // alone must end the wait (the first to settle may have run before the other's insert: not here).
      if (last === "child") yield* settleAwaiting(q, tenant, model, dModel)
      else yield* settleAwaiting(q, tenant, agent, dAgent)
      expect(yield* stored()).toEqual([{ genai_agent: "writer", genai_conversation: "s-42", genai_awaiting: null }])
    }).pipe(Effect.provide(db)), 120_000)
})
