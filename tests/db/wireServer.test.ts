import { describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { connect } from "node:net"
import pg from "pg"
import { openPglite } from "../../src/db/embedded.ts"
import { serveWire } from "../../src/db/wireServer.ts"
import { Effect } from "effect"
import { freePort } from "../support/processes.ts"

describe("the embedded database over the wire (workers/db.ts)", () => {
  it("takes statements far over one TCP chunk, serves clients one at a time, rolls back an abandoned transaction, and wants the password", async () => {
    const db = await Effect.runPromise(openPglite("memory://"))
    const port = await freePort()
    const password = randomBytes(24).toString("base64url")
    const server = await serveWire(db, port, "127.0.0.1", password)
    const url = (pw?: string) => `postgres://postgres${pw === undefined ? "" : `:${pw}`}@127.0.0.1:${port}/postgres`
    const pools = [0, 1].map(() => new pg.Pool({ connectionString: url(password), max: 1, idleTimeoutMillis: 5 }))
    try {
      // Without the password, or with another, nothing reaches the database.
      for (const pw of ["not-the-password", `${password}x`, undefined]) {
        await expect(new pg.Client({ connectionString: url(pw) }).connect()).rejects.toThrow(/password authentication failed|client password must be a string/)
      }
      // A client that connects and never signs in does not hold the database.
      const idle = connect(port, "127.0.0.1")
      await new Promise((r) => idle.once("connect", r))
      await db.exec("CREATE TABLE t (k int8 PRIMARY KEY, v text NOT NULL)")
      // ~1 MB statements from two clients at once: the framing must reassemble every message.
      const rows = (from: number, n: number) => [Array.from({ length: n }, (_, i) => from + i), Array.from({ length: n }, (_, i) => `value-${from + i}-${"x".repeat(20)}`)]
      await Promise.all(pools.map((p, i) => p.query("INSERT INTO t SELECT * FROM unnest($1::int8[], $2::text[])", rows(i * 20_000, 20_000))))
      const total = await pools[0]?.query<{ n: string }>("SELECT count(*)::text AS n FROM t")
      expect(total?.rows[0]?.n).toBe("40000")
      const c = await pools[0]?.connect()
      await c?.query("BEGIN")
      await c?.query("INSERT INTO t VALUES (-1, 'uncommitted')")
      c?.release(true) // the client goes away mid-transaction
      const after = await pools[1]?.query<{ n: string }>("SELECT count(*)::text AS n FROM t WHERE k = -1")
      expect(after?.rows[0]?.n).toBe("0")
      const ok = await pools[1]?.query<{ n: string }>("INSERT INTO t VALUES (-2, 'later') RETURNING k::text AS n")
      expect(ok?.rows[0]?.n).toBe("-2")
      idle.destroy()
    } finally {
      await Promise.all(pools.map((p) => p.end()))
      await new Promise((r) => server.close(() => r(undefined)))
      await db.close()
    }
  }, 60_000)
})
