import { HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { idText } from "../domain/issues.ts"

// The router matches a path parameter of at most 100 characters (find-my-way's maxParamLength): a
// longer id, like a path no endpoint has, matched no route and was answered 404 with an empty body.
// An /api or /v1 path no endpoint takes gets the JSON error body of every other 404, quoting the
// path only by its start and length.
const notFound = (request: HttpServerRequest.HttpServerRequest) => {
  const path = request.url.split("?")[0] ?? ""
  return HttpServerResponse.unsafeJson(
    { _tag: "NotFound", message: `no endpoint answers ${request.method} ${idText(path)} (an id in a path has at most 100 characters)` },
    { status: 404 }
  )
}

const isApi = (request: HttpServerRequest.HttpServerRequest) => request.url.startsWith("/api/") || request.url.startsWith("/v1/")

/**
 * Middleware: an unmatched /api or /v1 request is a 404 with a message, not an empty body. The
 * server turns the router's RouteNotFound into its response inside the middleware chain, so this
 * is a pre-response handler (it sees error responses too), not a catch.
 */
export const explainUnmatched = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  HttpApp.withPreResponseHandler(app, (request, response) =>
    Effect.succeed(isApi(request) && response.status === 404 && response.body._tag === "Empty" ? notFound(request) : response)
  )
