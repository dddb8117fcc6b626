import { describe, expect, it } from "@effect/vitest"
import { startProcess } from "../support/processes.ts"

/** Runs a command line to its end: exit code and output. */
const run = async (entry: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const p = startProcess(entry, args, { MPLP_DATA_DIR: "memory://", LOG_LEVEL: "warn", ...env })
  const code = await p.exited
  return { code, out: p.out(), err: p.err() }
}

describe("command lines refuse what they do not know (node:util parseArgs, strict)", () => {
  it("refuses an unknown or misplaced flag, a stray argument and a bad value with exit 2 and the usage, doing nothing", async () => {
    const refused: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
      // A typo for --scopes used to create an ingest+query key without a word.
      ["scripts/tenants.ts", ["keys", "acme", "--scope", "ingest"], /Unknown option '--scope'/],
      ["scripts/tenants.ts", ["keys", "acme", "--scopes", "ingest,root"], /unknown scope "root"/],
      ["scripts/tenants.ts", ["create", "acme", "--scopes", "ingest"], /create does not take --scopes/],
      ["scripts/tenants.ts", ["create", "acme", "extra"], /create takes 1 argument, not 2/],
      ["scripts/migrate.ts", ["--force"], /Unknown option '--force'/],
      ["workers/run.ts", ["--api", "--concurency", "4"], /Unknown option '--concurency'/],
      ["workers/run.ts", ["--stage", "ingest", "aggregate"], /Unexpected argument 'aggregate'/],
      ["workers/all.ts", ["--stage", "ingest"], /Unknown option '--stage'/],
      ["workers/db.ts", ["--port", "5433"], /Unknown option '--port'/]
    ]
    const results = await Promise.all(refused.map(([entry, args]) => run(entry, args)))
    results.forEach((r, i) => {
      const [entry, args, message] = refused[i]!
      const label = `${entry} ${args.join(" ")}`
      expect(r.code, label).toBe(2)
      expect(r.err, label).toMatch(message)
      expect(r.err, label).toMatch(/usage:/)
      expect(r.out, label).toBe("")
    })
  }, 120_000)

  it("still takes what it knows: keys with --scopes query,alerts and --name goes on to the database", async () => {
    const key = await run("scripts/tenants.ts", ["keys", "nobody", "--scopes", "query,alerts", "--name", "console"])
    expect([key.code, key.err.trim()]).toEqual([1, "mplp-trace: tenant nobody not found"])
  }, 120_000)
})
