import { rmSync } from "node:fs"
import { startDbHost } from "../tests/support/processes.ts"
import { rssOf } from "./stats.ts"

/**
 * The embedded TimescaleDB in a process of its own (workers/db.ts, serving the PG wire protocol, as
 * the tests' startDbHost runs it), so that a service process using it over DATABASE_URL holds only
 * the service's own memory.
 */
export interface DbProcess {
  readonly pid: number
  /** What the service process needs to use this database (as in the README's multi-process setup). */
  readonly env: Record<string, string>
  readonly rss: () => number | undefined
  readonly stop: () => Promise<void>
}

export const startDbProcess = async (): Promise<DbProcess> => {
  const host = await startDbHost()
  const pid = host.proc.child.pid ?? 0
  return {
    pid,
    env: host.env,
    rss: () => rssOf(pid),
    stop: async () => {
      await host.proc.stop(30_000)
      rmSync(host.dataDir, { recursive: true, force: true })
    }
  }
}
