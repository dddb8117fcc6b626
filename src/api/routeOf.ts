import { HttpApi } from "@effect/platform"
import { MplpApi } from "./Api.ts"

interface Route {
  readonly method: string
  readonly pattern: RegExp
  readonly path: string
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const routes: ReadonlyArray<Route> = (() => {
  const out: Array<Route> = []
  HttpApi.reflect(MplpApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      const source = endpoint.path.split("/").map((part) => (part.startsWith(":") ? "[^/]+" : escape(part))).join("/")
      out.push({ method: endpoint.method, pattern: new RegExp(`^${source}$`), path: endpoint.path })
    }
  })
  // Literal paths first: `/api/executions/live` is not `/api/executions/:executionId`.
  return out.sort((a, b) => a.path.split(":").length - b.path.split(":").length)
})()

/**
 * A request's span name: its method and its API route (`GET /api/executions/:executionId`), so one
 * operation is one name whatever the ids; other paths (the console's files) as they are, without the query.
 */
export const routeOf = (method: string, url: string): string => {
  const path = url.split("?")[0] ?? ""
  const route = routes.find((r) => r.method === method && r.pattern.test(path))
  // Cut: a span name is at most 256 characters where spans are stored (MAX_NAME_LENGTH).
  return `${method} ${route?.path ?? path}`.slice(0, 200)
}
