import { expect } from "@effect/vitest"
import { Either, Schema } from "effect"
import { fastDecoder } from "../../src/domain/fastDecode.ts"
import { ingestJobOfWire, IngestJobWire } from "../../src/domain/ingestWire.ts"
import type { IngestJob } from "../../src/domain/jobs.ts"

// A stage job's way through Redis, as the ingest worker takes it: the schema's decoder and the fast path.

export const decodeWire = Schema.decodeUnknownEither(IngestJobWire)
export const fastWire = fastDecoder(IngestJobWire)!

/** Through Redis: the job's JSON, parsed by the worker, decoded (fast path and schema must agree). */
export const viaRedis = (data: unknown): IngestJob => {
  const parsed: unknown = JSON.parse(JSON.stringify(data))
  const decoded = decodeWire(parsed)
  if (Either.isLeft(decoded)) throw new Error(String(decoded.left))
  expect(fastWire(parsed)).toEqual(decoded.right)
  return ingestJobOfWire(decoded.right)
}
