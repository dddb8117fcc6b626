import { HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, Schema } from "effect"
import type { ParseResult } from "effect"
import { promisify } from "node:util"
import { brotliDecompress, gunzip, inflate } from "node:zlib"
import { DbError } from "../db/Db.ts"
import { QUERY_CANCELED } from "../db/QueryDb.ts"
import { BadRequest, PayloadTooLarge, ServiceUnavailable, TooManyRequests, UnsupportedMediaType } from "../domain/errors.ts"
import { fastDecoder } from "../domain/fastDecode.ts"
import { describeIssues, excerpt, formatParseError } from "../domain/issues.ts"
import type { Issue } from "../domain/issues.ts"
import { parseBoundedJson } from "./safeJson.ts"

const decompressors = {
  gzip: promisify(gunzip),
  "x-gzip": promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress)
} as const

const tooLarge = (limit: number) =>
  new PayloadTooLarge({ message: `request body is larger than ${limit} bytes (after decompression)`, limitBytes: limit })

const received = new WeakMap<object, number>()

/**
 * The request's size as sent: its Content-Length, or the bytes readBody received when it had none (a
 * chunked body), so the byte quota and the backlog's byte share count every body. 0 before the body is read.
 */
const bytesSent = (request: HttpServerRequest.HttpServerRequest): number =>
  Math.max(0, Number(request.headers["content-length"] ?? "0") || 0, received.get(NodeHttpServerRequest.toIncomingMessage(request)) ?? 0)

/** bytesSent of the request being served (0 where there is none: a job queued by the service itself). */
export const requestBytes = Effect.map(Effect.serviceOption(HttpServerRequest.HttpServerRequest), (r) => (r._tag === "None" ? 0 : bytesSent(r.value)))

/**
 * The request body, decompressed, refused with 413 as soon as it (or its expansion) passes `limit`:
 * the check counts bytes as they arrive, so an oversized body is never held whole in memory.
 */
export const readBody = (limit: number) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const declared = Number(request.headers["content-length"] ?? "0")
    if (declared > limit) return yield* tooLarge(limit)
    const source = NodeHttpServerRequest.toIncomingMessage(request)
    const raw = yield* Effect.async<Buffer, PayloadTooLarge | BadRequest>((resume) => {
      const chunks: Array<Buffer> = []
      let size = 0
      const onData = (c: Buffer) => {
        size += c.length
        if (size > limit) {
          cleanup()
          source.resume()
          resume(Effect.fail(tooLarge(limit)))
        } else chunks.push(c)
      }
      const onEnd = () => {
        cleanup()
        received.set(source, size)
        resume(Effect.succeed(Buffer.concat(chunks, size)))
      }
      const onError = (e: Error) => {
        cleanup()
        resume(Effect.fail(new BadRequest({ message: `could not read the request body: ${e.message}` })))
      }
      const cleanup = () => {
        source.off("data", onData)
        source.off("end", onEnd)
        source.off("error", onError)
      }
      source.on("data", onData)
      source.on("end", onEnd)
      source.on("error", onError)
      return Effect.sync(cleanup)
    })
    const encoding = (request.headers["content-encoding"] ?? "identity").trim().toLowerCase()
    if (encoding === "identity" || encoding === "") return raw
    const inflateWith = decompressors[encoding as keyof typeof decompressors]
    if (inflateWith === undefined) {
      return yield* new UnsupportedMediaType({ message: `unsupported content-encoding "${encoding}" (gzip, deflate, br or identity)` })
    }
    return yield* Effect.tryPromise({
      try: () => inflateWith(raw, { maxOutputLength: limit }),
      catch: (e) =>
        e instanceof RangeError || (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE"
          ? tooLarge(limit)
          : new BadRequest({ message: `request body is not valid ${encoding} data` })
    })
  })

/** The issues of a failed decode, each naming its field; the client's values appear only as short excerpts. */
export const formatIssues = (error: ParseResult.ParseError) => formatParseError(error)

export const badRequestFrom = (error: ParseResult.ParseError, what = "request body") => {
  const issues = formatIssues(error)
  return new BadRequest({ message: `invalid ${what}: ${describeIssues(issues)}`, issues })
}

/** A 400 naming every field of `issues`, or nothing when there is none. */
export const rejectIssues = (issues: ReadonlyArray<Issue>, what = "request body"): Effect.Effect<void, BadRequest> =>
  issues.length === 0 ? Effect.void : Effect.fail(new BadRequest({ message: `invalid ${what}: ${describeIssues(issues)}`, issues }))

/** A JSON body, nested at most MAX_JSON_DEPTH levels, its strings made storable (see safeJson.ts). */
export const parseJson = (buf: Uint8Array): Effect.Effect<unknown, BadRequest> =>
  Effect.suspend(() => {
    const parsed = parseBoundedJson(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("utf8"))
    return parsed.ok ? Effect.succeed(parsed.value) : Effect.fail(new BadRequest({ message: parsed.message }))
  })

export const decodeWith = <A, I>(schema: Schema.Schema<A, I>, value: unknown, what?: string): Effect.Effect<A, BadRequest> => {
  // A body valid as it stands is taken without the schema's copy (src/domain/fastDecode.ts); the
  // schema decodes (and explains) everything else.
  const taken = fastDecoder(schema)?.(value)
  return taken !== undefined
    ? Effect.succeed(taken)
    : Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })(value).pipe(Effect.mapError((e) => badRequestFrom(e, what)))
}

/** Reads, decompresses, parses and decodes a JSON body. */
export const readJson = <A, I>(schema: Schema.Schema<A, I>, limit: number) =>
  readBody(limit).pipe(Effect.flatMap(parseJson), Effect.flatMap((json) => decodeWith(schema, json)))

/** Adds `Retry-After` to whatever response this request ends with (429 and 503 carry it). */
export const withRetryAfter = (seconds: number) =>
  HttpApp.appendPreResponseHandler((_req, res) =>
    Effect.succeed(HttpServerResponse.setHeader(res, "retry-after", String(Math.max(1, Math.ceil(seconds)))))
  )

/**
 * A database that does not answer is the client's 503 (retry later), not a 500, and so is a read that
 * ran past the statement timeout; every 503 (and 429) carries Retry-After. A data exception (SQLSTATE class 22: a
 * time out of range, a NUL in a path or query parameter) comes from what the client sent: a 400.
 */
export const dbUnavailable = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, DbError> | ServiceUnavailable | BadRequest, R> =>
  (Effect.catchIf(self, (e): e is Extract<E, DbError> => e instanceof DbError, (e) =>
    Effect.fail(
      e.code === QUERY_CANCELED
        ? new ServiceUnavailable({
          message: "the query ran longer than the statement timeout (MPLP_QUERY_TIMEOUT_MS) and was abandoned: narrow the time range or the filters, or retry later",
          retryAfterSeconds: 5
        })
        : e.code?.startsWith("22") === true
          ? new BadRequest({ message: `a value of this request is out of range or cannot be stored: ${excerpt(e.message, 120)}` })
          : new ServiceUnavailable({ message: "the database is not answering; retry later", retryAfterSeconds: 2 })
    )
  ) as Effect.Effect<A, Exclude<E, DbError> | ServiceUnavailable | BadRequest, R>).pipe(
    Effect.tapError((e) => (e instanceof ServiceUnavailable || e instanceof TooManyRequests ? withRetryAfter(e.retryAfterSeconds) : Effect.void))
  )
