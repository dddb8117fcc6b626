import { describe, expect, it } from "@effect/vitest"
import { routeOf } from "../../src/api/routeOf.ts"

// Request spans are named by route, so one operation of the service is one name in its own traces.
describe("routeOf", () => {
  it("names a request by its method and API route, without ids or query", () => {
    expect(routeOf("GET", "/api/executions/0af7651916cd43dd8448eb211c80319c?x=1")).toBe("GET /api/executions/:executionId")
    expect(routeOf("POST", "/api/alerts/a1/ack")).toBe("POST /api/alerts/:id/ack")
    expect(routeOf("GET", "/api/executions?status=active")).toBe("GET /api/executions")
    expect(routeOf("POST", "/api/metrics")).toBe("POST /api/metrics")
  })

  it("keeps other paths as they are, cut to a storable name", () => {
    expect(routeOf("GET", "/assets/app.js")).toBe("GET /assets/app.js")
    expect(routeOf("GET", `/${"x".repeat(500)}`)).toHaveLength(200)
  })
})
