import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { checkDecoders, decoderInput } from "./check.ts"

// A bounded run of the decoder fuzzer (`npm run fuzz -- --runs N` runs millions): generated OTLP
// requests, protobuf and JSON, valid and mutated. A decoder refuses a body or returns storable rows.
describe("OTLP decoders under generated input", () => {
  it("never throw anything but OtlpDecodeError, and every row they return can be stored", () => {
    fc.assert(fc.property(decoderInput, (input) => {
      expect(checkDecoders(input)).toBeUndefined()
    }), { numRuns: 1_500 })
  })
})
