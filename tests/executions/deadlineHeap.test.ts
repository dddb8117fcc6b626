import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { DeadlineHeap } from "../../src/executions/DeadlineHeap.ts"

const op = fc.oneof(
  fc.record({ push: fc.integer({ min: 0, max: 1_000 }), tenant: fc.constantFrom("a", "b", "c"), trace: fc.string({ maxLength: 3 }) }),
  fc.constant("pop" as const),
  fc.constant("clear" as const)
)

describe("DeadlineHeap", () => {
  it("pops entries in deadline order, each with its own tenant and trace", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const heap = new DeadlineHeap()
        let model: Array<{ at: number; key: string }> = []
        for (const o of ops) {
          if (o === "clear") {
            heap.clear()
            model = []
          } else if (o === "pop") {
            const min = model.reduce((m, e) => Math.min(m, e.at), Number.POSITIVE_INFINITY)
            expect(heap.topAt()).toBe(min)
            const got = heap.pop((at, tenant, trace) => ({ at, key: `${tenant}/${trace}` }))
            if (model.length === 0) expect(got).toBeUndefined()
            else {
              expect(got?.at).toBe(min)
              const i = model.findIndex((e) => e.at === got?.at && e.key === got.key)
              expect(i).toBeGreaterThanOrEqual(0)
              model.splice(i, 1)
            }
          } else {
            heap.push(o.push, o.tenant, o.trace)
            model.push({ at: o.push, key: `${o.tenant}/${o.trace}` })
          }
          expect(heap.size).toBe(model.length)
        }
      })
    )
  })
})
