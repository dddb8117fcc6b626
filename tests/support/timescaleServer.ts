import pg from "pg"

/** A database on a TimescaleDB server for the tests that need one (TIMESCALEDB_TEST_URL); they skip, saying why, without it. */
export const timescaleTestUrl = process.env.TIMESCALEDB_TEST_URL ?? ""

/** Why the server tests cannot run (undefined: they can): the URL unset or unreachable, or its database without timescaledb. */
export const timescaleSkipReason = async (url = timescaleTestUrl): Promise<string | undefined> => {
  if (url === "") return "TIMESCALEDB_TEST_URL is not set"
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await c.connect()
    const { rows } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'timescaledb'")
    return rows[0]?.n === 1 ? undefined : `TIMESCALEDB_TEST_URL (${url}) has no timescaledb extension`
  } catch (e) {
    return `TIMESCALEDB_TEST_URL (${url}) is unreachable: ${e instanceof Error ? e.message : String(e)}`
  } finally {
    await c.end().catch(() => {})
  }
}
