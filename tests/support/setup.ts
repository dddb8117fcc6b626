import { it } from "@effect/vitest"

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
