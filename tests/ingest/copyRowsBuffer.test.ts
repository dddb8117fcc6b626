import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { CopyRows } from "../../src/ingest/copyText.ts"

// The ingest stage writes a COPY's rows into one growing buffer (src/ingest/copyText.ts, CopyRows): its bytes
// must be the rows' UTF-8, in order, whatever the first guess of their size.
describe("CopyRows", () => {
  it("holds the UTF-8 of every row in order, past its first size and across multi-byte characters", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary", maxLength: 700 }), { maxLength: 40 }), fc.integer({ min: 0, max: 4096 }), (rows, hint) => {
        const out = new CopyRows(hint)
        for (const r of rows) out.push(r)
        expect(out.bytes().equals(Buffer.from(rows.join("")))).toBe(true)
      }),
      { numRuns: 300 }
    )
  })

  it("grows when a row needs its exact length (3-byte characters filling the room left)", () => {
    const out = new CopyRows(1024)
    const row = "\u20ac".repeat(300) // 900 bytes
    out.push(row)
    out.push(row) // 1,800 > 1,024: the buffer grows and keeps the first row
    expect(out.bytes().toString("utf8")).toBe(row + row)
    expect(out.bytes().length).toBe(1800)
  })
})
