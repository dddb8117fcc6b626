import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // One migrated embedded database, dumped; each test database starts from it (MPLP_EMBEDDED_SEED).
    globalSetup: ["tests/support/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: integration files each boot an embedded TimescaleDB (WASM); more forks only thrash.
    pool: "forks",
    // The files of a fork share their modules (each file's own imports are evaluated once per fork, not
    // once per file: 460 → 304 s for the suite here). Each test already has its own tenant, Redis prefix
    // and database; tests/support/setup.ts undoes what @effect/vitest's layer() leaves behind.
    isolate: false,
    setupFiles: ["tests/support/setup.ts"],
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
