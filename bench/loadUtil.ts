import { percentile } from "./stats.ts"

// Shared by the load generator's modes.

/** Where the service is, and how to reach its admin API and its queues. */
export interface Common {
  readonly baseUrl: string
  readonly adminToken: string
  readonly queuePrefix: string
  readonly redisUrl: string
}

export const log = (msg: string) => process.stderr.write(`[loadgen] ${msg}\n`)

/** `concurrency` workers each call `next` until it returns false (a closed-loop load: one request in flight per worker). */
export const pool = async (concurrency: number, next: () => Promise<boolean>) => {
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (await next()) {
      // keep going
    }
  }))
}

export const retryAfterMs = (res: Response) => {
  const s = Number(res.headers.get("retry-after") ?? "1")
  return (Number.isFinite(s) && s > 0 ? s : 1) * 1000
}

export const latencyStats = (xs: ReadonlyArray<number>) => ({
  p50: percentile(xs, 50), p90: percentile(xs, 90), p99: percentile(xs, 99), max: xs.length === 0 ? Number.NaN : Math.max(...xs)
})
