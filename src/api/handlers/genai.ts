import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { MplpApi } from "../Api.ts"
import { requireScope } from "../auth.ts"

// Contract stubs, replaced by the GenAI query modules.
export const GenaiLive = HttpApiBuilder.group(MplpApi, "genai", (handlers) =>
  Effect.succeed(
    handlers
      .handle("usage", () => Effect.as(requireScope("query"), { from: "", to: "", groupBy: "model" as const, bucketSeconds: null, source: "", groups: [] }))
      .handle("graph", () => Effect.as(requireScope("query"), { from: "", to: "", nodes: [], edges: [] }))
  )
)
