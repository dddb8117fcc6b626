/**
 * The load generator: a separate process that talks to the service only over HTTP (plus read-only
 * BullMQ queue counts in the local Redis, for back-pressure and the "windowed" check). It reads one
 * JSON config on stdin and writes one JSON line `{ ok, result | error }` on stdout; progress goes to
 * stderr. Every mode sends a bounded number of requests to 127.0.0.1.
 */
import type { ActiveConfig } from "./loadActive.ts"
import { active } from "./loadActive.ts"
import type { AlertConfig } from "./loadAlert.ts"
import { alertLatency } from "./loadAlert.ts"
import type { ExecutionsConfig, TenantsConfig } from "./loadFootprint.ts"
import { executions, tenants } from "./loadFootprint.ts"
import type { NoisyConfig } from "./loadNoisy.ts"
import { noisyNeighbour } from "./loadNoisy.ts"
import type { ThroughputConfig } from "./loadThroughput.ts"
import { throughput } from "./loadThroughput.ts"

export type LoadgenConfig = ThroughputConfig | AlertConfig | TenantsConfig | ExecutionsConfig | NoisyConfig | ActiveConfig

const readStdin = async () => {
  const chunks: Array<Buffer> = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}

const main = async () => {
  const config = JSON.parse(await readStdin()) as LoadgenConfig
  switch (config.mode) {
    case "metrics":
    case "otlp":
    case "genai":
    case "genai-off":
      return throughput(config)
    case "alert":
      return alertLatency(config)
    case "tenants":
      return tenants(config)
    case "executions":
      return executions(config)
    case "noisy":
      return noisyNeighbour(config)
    case "active":
      return active(config)
  }
}

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`, () => process.exit(0))
  },
  (e: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: e instanceof Error ? e.stack ?? e.message : String(e) })}\n`, () => process.exit(1))
  }
)
