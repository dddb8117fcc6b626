import { HttpApiBuilder, HttpApiError, HttpServerResponse } from "@effect/platform"
import { Cause, Effect, Option } from "effect"
import { BadRequest } from "../domain/errors.ts"
import { describeIssues } from "../domain/issues.ts"

// The HttpApi decodes path, headers and query parameters before a handler runs and answers a bad one with
// its own HttpApiDecodeError. Every 400 of this API has one shape, the request bodies' (src/api/body.ts):
// `{ _tag: "BadRequest", message: "limit: must be …", issues: [{ path: "limit", message }] }`.

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s)

export const badRequestOf = (error: HttpApiError.HttpApiDecodeError): BadRequest => {
  const issues = error.issues.slice(0, 10).map((i) => ({ path: clip(i.path.map(String).join("."), 200), message: clip(i.message, 300) }))
  return new BadRequest({ message: describeIssues(issues), issues })
}

/** An HttpApi-level middleware: an HttpApiDecodeError becomes the house's BadRequest. */
export const DecodeErrorsLive = HttpApiBuilder.middleware((app) =>
  Effect.catchAllCause(app, (cause) =>
    Option.match(Cause.failureOption(cause as Cause.Cause<unknown>), {
      onNone: () => Effect.failCause(cause),
      onSome: (e) => {
        if (!(e instanceof HttpApiError.HttpApiDecodeError)) return Effect.failCause(cause)
        const { _tag, message, issues } = badRequestOf(e)
        return Effect.succeed(HttpServerResponse.unsafeJson({ _tag, message, issues }, { status: 400 }))
      }
    })
  )
)
