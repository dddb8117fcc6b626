import { it } from "@effect/vitest"
import { statementContention } from "../../src/db/fairGate.ts"

// The test files share their modules (vitest.config.ts: isolate false), and @effect/vitest's `layer()`
// assigns its own `effect`, `scoped`, `prop`, `flakyTest` and `layer` onto the one `it` object every file
// imports (vitest's own, node_modules/@effect/vitest/src/internal/internal.ts makeIt), where they stay
// after its file: a later file's `it.effect` would run in that layer's runtime (seen: a Test-layer test
// building another file's PostgreSQL pool). Each file starts with the methods as the package made them,
// kept from before any file ran.
const kept = ((globalThis as { __effectVitestIt?: Partial<typeof it> }).__effectVitestIt ??= {
  effect: it.effect,
  scoped: it.scoped,
  prop: it.prop,
  flakyTest: it.flakyTest,
  layer: it.layer
})
Object.assign(it, kept)

// The embedded database's contention signal is the process's (src/db/fairGate.ts statementContention:
// two tenants' statements within the last second make inserts go in small chunks). A file starts as it
// would alone: after the last file's tenants have been quiet for that second (at most 5 s waited).
for (let waited = 0; statementContention.contended() && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50))
